"""Piccolo app registration for the registry tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenants.identifiers.tables import BulkJob, BulkJobFailure, IdempotencyKey, SnmsAccount
from tenants.templates.tables import MetadataTemplate

APP_CONFIG = AppConfig(
    app_name="registry",
    migrations_folder_path=Path(__file__).resolve().parent.parent.parent
    / "migrations"
    / "registry",
    table_classes=[MetadataTemplate, SnmsAccount, IdempotencyKey, BulkJob, BulkJobFailure],
    migration_dependencies=["tenants.piccolo_app"],
)
