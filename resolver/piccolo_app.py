"""Piccolo app registration for resolver tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from resolver.observability.tables import (
    AbnormalEvent,
    DoorMinute,
    MaintenanceWindow,
    ProbeResult,
    ResolutionLogEntry,
)
from resolver.tables import ResolutionCount

APP_CONFIG = AppConfig(
    app_name="resolver",
    migrations_folder_path=Path(__file__).resolve().parent.parent / "migrations" / "resolver",
    table_classes=[
        ResolutionCount,
        ResolutionLogEntry,
        ProbeResult,
        DoorMinute,
        MaintenanceWindow,
        AbnormalEvent,
    ],
    migration_dependencies=["tenants.piccolo_app"],
)
