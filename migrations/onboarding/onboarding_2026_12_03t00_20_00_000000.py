"""Contact mobile numbers encrypted at rest (tenants/onboarding/services/pii.py).

Adds ``contact_mobile_enc``; every existing number is encrypted into it under the
keyring's current key, and ``contact_mobile`` keeps only its mask (138****8000).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T00:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "onboarding_applications.contact_mobile_enc; existing numbers encrypted"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="onboarding", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Application",
        tablename="onboarding_applications",
        column_name="contact_mobile_enc",
        db_column_name="contact_mobile_enc",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    async def encrypt_existing():
        from tenants.onboarding.services.pii import is_masked, mobile_columns
        from tenants.onboarding.tables import Application

        rows = await Application.select(Application.id, Application.contact_mobile).run()
        for row in rows:
            mobile = row["contact_mobile"] or ""
            if mobile and not is_masked(mobile):
                await (
                    Application.update(mobile_columns(mobile))
                    .where(Application.id == row["id"])
                    .run()
                )

    manager.add_raw(encrypt_existing)
    return manager
