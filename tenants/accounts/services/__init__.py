"""Domain operations on tenants, users and API keys. No HTTP, no templates.

Every door calls these, so each write checks permissions, writes its audit row and
outbox rows, and invalidates caches in exactly one place.
"""
