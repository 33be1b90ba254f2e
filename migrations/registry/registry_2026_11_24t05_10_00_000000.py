"""Search moves from the stored JSON values to identifiers.search_text.

Fills search_text for existing records, then on PostgreSQL replaces the two trigram
indexes (handle_key, whole "values" JSON) with one over search_text: a bulk load
spent more time in the JSON's trigram index than in everything else together.
Hand-written (raw SQL and a backfill), because Piccolo's auto-migrations do neither.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

ID = "2026-11-24T05:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search_text trigram index replaces the trigram indexes on handle_key and values"

POSTGRES = [
    "DROP INDEX IF EXISTS identifiers_values_trgm",
    "DROP INDEX IF EXISTS identifiers_handle_key_trgm",
    "CREATE INDEX IF NOT EXISTS identifiers_search_trgm ON identifiers "
    "USING gin (search_text gin_trgm_ops)",
]
_BATCH = 2000


async def _backfill() -> None:
    from core import db
    from core.values import load_values
    from tenants.identifiers.services.search import index_text
    from tenants.identifiers.tables import Identifier

    last = 0
    while True:
        rows = (
            await Identifier.select(Identifier.id, Identifier.handle_key, Identifier.values)
            .where(Identifier.id > last)
            .order_by(Identifier.id)
            .limit(_BATCH)
            .run()
        )
        if not rows:
            return
        last = rows[-1]["id"]
        async with db.engine().transaction():
            for r in rows:
                text = index_text(r["handle_key"], load_values(r["values"]))
                await (
                    Identifier.update({Identifier.search_text: text})
                    .where(Identifier.id == r["id"])
                    .run()
                )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="registry", description=DESCRIPTION)

    async def run():
        from core import db

        await _backfill()
        eng = db.engine()
        if isinstance(eng, PostgresEngine):
            for sql in POSTGRES:
                await eng.run_ddl(sql)

    manager.add_raw(run)
    return manager
