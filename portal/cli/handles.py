"""``idnest handle``: an identifier's status and validity window from the command line."""

from __future__ import annotations

from typing import Any

import click

from portal.cli import main, run_async


@main.group(help="Identifiers: status and validity (docs/registry.md, lifecycle).")
def handle() -> None:
    pass


@handle.command("status", help="Show a handle's status, or change it (audited as 'cli').")
@click.argument("handle_text", metavar="HANDLE")
@click.option("--status", "status", default=None,
              help="active, suspended, revoked (final) or expired")  # fmt: skip
@click.option("--reason", default=None, help="why (shown with the status)")
@click.option("--valid-from", default=None, help="YYYY-MM-DD (Asia/Shanghai) or ISO date-time")
@click.option("--valid-until", default=None, help="YYYY-MM-DD: through the end of that day")
@click.option("--clear-window", is_flag=True, help="remove the validity window")
def handle_status(handle_text: str, status: str | None, reason: str | None,
                  valid_from: str | None, valid_until: str | None,
                  clear_window: bool) -> None:  # fmt: skip
    from core.auth import Principal
    from core.errors import NotFound
    from core.identifiers import parse_handle
    from tenants.accounts.services.tenants import find_by_prefix
    from tenants.identifiers.services import lifecycle

    body: dict[str, Any] = {}
    if status is not None:
        body["status"] = status
        if reason is not None:
            body["reason"] = reason
    if clear_window:
        body["validFrom"] = body["validUntil"] = None
    if valid_from is not None:
        body["validFrom"] = valid_from
    if valid_until is not None:
        body["validUntil"] = valid_until

    async def run() -> dict[str, Any]:
        prefix = parse_handle(handle_text).prefix
        tenant = None
        while prefix and tenant is None:  # a derived prefix belongs to its parent's tenant
            tenant = await find_by_prefix(prefix)
            prefix = prefix.rpartition(".")[0]
        if tenant is None:
            raise NotFound(f"no tenant holds {handle_text}", field="handle")
        principal = Principal(
            actor="cli", tenant_id=tenant.id, tenant_prefix=tenant.prefix,
            scopes=frozenset({"read", "write"}),
        )  # fmt: skip
        if not body:
            return await lifecycle.get_lifecycle(principal, handle_text)
        change = lifecycle.parse_change(body)
        return await lifecycle.set_lifecycle(principal, handle_text, change, via="cli")

    view = run_async(run)
    for key in ("handle", "status", "state", "since", "reason", "validFrom", "validUntil"):
        if view.get(key):
            click.echo(f"{key}: {view[key]}")
