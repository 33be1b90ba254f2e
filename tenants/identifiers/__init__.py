"""Identifiers: records and their one write path, batch and bulk writes, idempotency keys,
search and reverse look-up, and the SNMS-compatible door."""
