"""Domain operations on tenants and their data. No HTTP, no templates.

Every door (REST, SNMS API, console, wire protocol, CLI, bulk jobs) calls these, so
each write checks permissions, writes its audit row and outbox rows, and invalidates
caches in exactly one place.
"""
