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

    async def seal_and_verify() -> audit_log.Verdict:
        await audit_log.seal()  # PostgreSQL: link what has committed, then walk it all
        return await audit_log.verify()

    verdict = run_async(seal_and_verify)
    if verdict.holds:
        later = f" ({verdict.unlinked} written since, not linked yet)" if verdict.unlinked else ""
        click.echo(f"audit chain holds: {verdict.entries} entries{later}")
        return
    where = f"entry id {verdict.broken_id}" if verdict.broken_id is not None else "the head"
    click.echo(f"audit chain BROKEN at {where}: {verdict.reason}", err=True)
    sys.exit(1)


@main.group(help="Keys that encrypt personal data at rest.")
def keys() -> None:
    pass


@keys.command("rotate", help="Add a new key, make it current and re-encrypt what exists.")
def rotate() -> None:
    import json

    from core import crypto

    async def run() -> dict[str, object]:
        from tenants.onboarding.services.pii import reencrypt_all

        crypto.add_key()
        return await reencrypt_all(actor="cli")

    try:
        result = run_async(run)
    except RuntimeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(json.dumps(result))
