"""Piccolo app registration for tenant tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenants.accounts.tables import ApiKey, Membership, Tenant, User
from tenants.identifiers.tables import Identifier

APP_CONFIG = AppConfig(
    app_name="tenants",
    migrations_folder_path=Path(__file__).resolve().parent.parent / "migrations" / "tenants",
    table_classes=[Tenant, User, Membership, ApiKey, Identifier],
    migration_dependencies=["core.piccolo_app"],
)
