"""The ASGI entry point Hypercorn workers import: ``portal.asgi:app``."""

from core.logging import configure_logging
from portal.app import create_app

configure_logging()
app = create_app()
