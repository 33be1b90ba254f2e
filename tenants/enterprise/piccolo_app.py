"""Piccolo app registration for the enterprise servers table."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenants.enterprise.tables import EnterpriseServer, EnterpriseServerRequest

APP_CONFIG = AppConfig(
    app_name="enterprise",
    migrations_folder_path=Path(__file__).resolve().parent.parent.parent
    / "migrations"
    / "enterprise",
    table_classes=[EnterpriseServer, EnterpriseServerRequest],
    migration_dependencies=["tenants.piccolo_app"],
)
