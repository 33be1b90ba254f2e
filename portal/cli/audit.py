"""``idnest audit verify``: walk the audit chain (core/audit.py) and say whether it holds,
and ``idnest keys rotate``: re-encrypt personal data under a new key (core/crypto.py)."""

from __future__ import annotations

import sys

import click

from portal.cli import main, run_async


@main.group(help="The tamper-evident audit log.")
def audit() -> None:
    pass


@audit.command("verify", help="Check every link of the audit chain; exit 1 naming the first break.")
def verify() -> None:
    from core import audit as audit_log

    verdict = run_async(audit_log.verify)
    if verdict.holds:
        click.echo(f"audit chain holds: {verdict.entries} entries")
        return
    where = f"entry id {verdict.broken_id}" if verdict.broken_id is not None else "the head"
    click.echo(f"audit chain BROKEN at {where}: {verdict.reason}", err=True)
    sys.exit(1)
