"""Piccolo app registration for the kernel tables (audit log, outbox, job leases, escrow log)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from core.tables import (
    AuditLog,
    EscrowChange,
    EscrowSet,
    NodeProfile,
    Outbox,
    ScheduledJob,
    TemplateRequest,
    UsageEntry,
)

APP_CONFIG = AppConfig(
    app_name="core",
    migrations_folder_path=Path(__file__).resolve().parent.parent / "migrations" / "core",
    table_classes=[
        AuditLog,
        Outbox,
        ScheduledJob,
        UsageEntry,
        EscrowChange,
        EscrowSet,
        NodeProfile,
        TemplateRequest,
    ],
)
