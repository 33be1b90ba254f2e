"""Domain operations on templates. No HTTP."""
