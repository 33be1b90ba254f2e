"""Piccolo app registration for billing tables."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from billing.invoices.tables import Invoice, InvoiceLine
from billing.plans.tables import Plan, Subscription

APP_CONFIG = AppConfig(
    app_name="billing",
    migrations_folder_path=Path(__file__).resolve().parent.parent / "migrations" / "billing",
    table_classes=[Plan, Subscription, Invoice, InvoiceLine],
    migration_dependencies=["tenants.piccolo_app"],
)
