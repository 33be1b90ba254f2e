"""Piccolo app registration for onboarding tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenants.onboarding.tables import Application, EmailToken, Upload, UserTotp

APP_CONFIG = AppConfig(
    app_name="onboarding",
    migrations_folder_path=Path(__file__).resolve().parent.parent.parent
    / "migrations"
    / "onboarding",
    table_classes=[Application, Upload, EmailToken, UserTotp],
    migration_dependencies=["tenants.piccolo_app"],
)
