"""Piccolo app registration for machine clients and signing keys."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenants.clients.tables import OAuthClient, SigningKey

APP_CONFIG = AppConfig(
    app_name="clients",
    migrations_folder_path=Path(__file__).resolve().parent.parent.parent / "migrations" / "clients",
    table_classes=[OAuthClient, SigningKey],
    migration_dependencies=["tenants.piccolo_app"],
)
