"""Fixtures of the machine-client tests (clients_support.py)."""

from clients_support import from_address, local  # noqa: F401
