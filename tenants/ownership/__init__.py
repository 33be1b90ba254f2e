"""Tenant data ownership: export archives, import, offboarding and verified erasure.

Everything here walks the tenancy declaration (core/tenancy.py), so a tenant table added
later is exported, imported and erased without new code. docs/ownership.md.
"""
