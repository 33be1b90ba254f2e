"""Piccolo app registration for the payments tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from billing.payments.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="payments",
    migrations_folder_path=Path(__file__).resolve().parents[2] / "migrations" / "payments",
    table_classes=list(TABLES),
    migration_dependencies=["tenants.piccolo_app"],
)
