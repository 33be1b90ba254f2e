"""Domain operations of payments (no HTTP, no templates)."""
