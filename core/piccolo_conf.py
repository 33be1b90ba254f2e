"""Piccolo configuration, built from idnest settings.

Piccolo finds its engine through the module named by ``PICCOLO_CONF``; ``core.db``
points it here so the piccolo CLI (``piccolo migrations new --auto``) and idnest share
one engine definition. The app registry lists every package that owns tables.
"""

from piccolo.conf.apps import AppRegistry

from core.db import build_engine
from core.settings import get_settings

DB = build_engine(get_settings())

APP_REGISTRY = AppRegistry(
    apps=[
        "core.piccolo_app",
        "tenants.piccolo_app",
        "resolver.piccolo_app",
        "tenants.schemes.piccolo_app",
        "tenants.onboarding.piccolo_app",
        "tenants.identifiers.piccolo_app",
        "tenants.ownership.piccolo_app",
        "tenants.clients.piccolo_app",
        "tenants.grants.piccolo_app",
        "tenants.enterprise.piccolo_app",
        "billing.payments.piccolo_app",
        "billing.piccolo_app",
    ]
)
