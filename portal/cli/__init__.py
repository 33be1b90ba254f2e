"""The ``idnest`` command: the group, and the helper every command runs through.

Commands live by subject in ``server`` (serve, wire, worker, migrate), ``tenants``
(tenants, keys, staff, demo) and ``registry`` (namespaces, mappings, templates, SNMS).

Commands print their answer (a prefix, a key) alone on stdout, so scripts can capture
it; progress and logs go to stderr. Every command that touches the database applies
pending migrations first, so a fresh checkout works with any command first.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from core.errors import IdnestError
from core.logging import configure_logging

T = TypeVar("T")


def run_async(make: Callable[[], Awaitable[T]], *, migrate: bool = True) -> T:
    """Run one async database operation with the engine started and the schema current."""

    async def main() -> T:
        from core import audit as audit_log
        from core import db
        from core.bus import get_bus
        from core.migrate import migrate as apply

        await db.start()
        bus = get_bus()
        try:
            if migrate:
                await apply()
            return await make()
        finally:
            await audit_log.flush()  # link this command's audit entries before it exits
            await bus.stop()
            await db.stop()

    try:
        return asyncio.run(main())
    except IdnestError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(2)


@click.group(help="idnest: a secondary node of the industrial internet identifier system.")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING (default from settings)")
def main(log_level: str | None) -> None:
    configure_logging(log_level)


# Importing the command modules registers their commands on ``main``.
from portal.cli import (  # noqa: E402, F401
    audit,
    backup,
    billing,
    clients,
    database,
    devtools,
    escrow,
    finance,
    grants,
    handles,
    observability,
    ownership,
    processes,
    registry,
    server,
    tenants,
)
