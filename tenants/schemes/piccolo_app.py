"""Piccolo app registration for the schemes tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenants.schemes.tables import CodeMapping, GS1Item, GS1Link, SchemeCode, SchemeNamespace

APP_CONFIG = AppConfig(
    app_name="schemes",
    migrations_folder_path=Path(__file__).resolve().parent.parent.parent / "migrations" / "schemes",
    table_classes=[SchemeNamespace, SchemeCode, GS1Link, GS1Item, CodeMapping],
    migration_dependencies=["tenants.piccolo_app"],
)
