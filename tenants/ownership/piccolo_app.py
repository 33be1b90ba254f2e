"""Piccolo app registration for the ownership tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenants.ownership.tables import TenantClosure, TenantExport, TenantImport

APP_CONFIG = AppConfig(
    app_name="ownership",
    migrations_folder_path=Path(__file__).resolve().parent.parent.parent
    / "migrations"
    / "ownership",
    table_classes=[TenantExport, TenantClosure, TenantImport],
    migration_dependencies=["tenants.piccolo_app"],
)
