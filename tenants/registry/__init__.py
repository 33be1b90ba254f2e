"""Registry features on top of the identifier write path: metadata templates (标识模板),
the SNMS-compatible API, idempotency keys, bulk registration jobs and search."""
