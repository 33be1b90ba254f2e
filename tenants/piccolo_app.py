"""Piccolo app registration for tenant tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenants.tables import ApiKey, Identifier, Membership, Tenant, User

APP_CONFIG = AppConfig(
    app_name="tenants",
    migrations_folder_path=Path(__file__).resolve().parent.parent / "migrations" / "tenants",
    table_classes=[Tenant, User, Membership, ApiKey, Identifier],
    migration_dependencies=["core.piccolo_app"],
)
