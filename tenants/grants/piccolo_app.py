"""Piccolo app registration for the grants table."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenants.grants.tables import Grant

APP_CONFIG = AppConfig(
    app_name="grants",
    migrations_folder_path=Path(__file__).resolve().parent.parent.parent / "migrations" / "grants",
    table_classes=[Grant],
    migration_dependencies=["tenants.piccolo_app"],
)
