"""HTTP doors onto the identifiers services (thin Litestar handlers)."""
