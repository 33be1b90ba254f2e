"""Observability commands: the monthly report, one probe round."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from portal.cli import main, run_async


@main.group(help="Reports owed to the top-level node and to staff.")
def report() -> None:
    pass


@report.command("monthly", help="The monthly SLA report of an Asia/Shanghai month.")
@click.option("--month", default=None, help="YYYY-MM (default: this month, Asia/Shanghai)")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text")
def report_monthly(month: str | None, fmt: str) -> None:
    from core.settings import get_settings
    from resolver.observability.report import as_csv, as_dict, as_text, build_report, month_bounds

    month = month or datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    try:
        month_bounds(month)
    except ValueError:
        click.echo(f"error: --month must be YYYY-MM, not {month!r}", err=True)
        sys.exit(2)
    settings = get_settings()
    result = run_async(lambda: build_report(month, settings.prober_interval or 60.0))
    if fmt == "json":
        click.echo(json.dumps(as_dict(result), ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(as_csv(result), nl=False)
    else:
        click.echo(as_text(result), nl=False)


@main.command(help="One probe round through every door; run it from outside the cluster too.")
@click.option("--http", "http_url", default=None, help="base URL (default: this node, loopback)")
@click.option("--wire", default=None, help="HOST:PORT of the wire door (default: loopback)")
@click.option("--handle", default=None, help="the canary (default: IDNEST_PROBER_HANDLE)")
@click.option("--record", is_flag=True, help="also record the round (as the built-in prober)")
def probe(http_url: str | None, wire: str | None, handle: str | None, record: bool) -> None:
    from core.settings import get_settings
    from resolver.observability.prober import (
        Targets,
        default_canary,
        local_targets,
        probe_round,
        record_round,
        summary,
    )  # fmt: skip

    settings = get_settings()

    async def run() -> list[dict[str, object]]:
        canary = handle or await default_canary(settings)
        if not canary:
            raise click.UsageError("no canary: pass --handle or set IDNEST_PROBER_HANDLE")
        targets = local_targets(settings, canary)
        if http_url:
            targets = Targets([("ipv6" if "[" in http_url else "ipv4", http_url.rstrip("/"))],
                              targets.wire, canary, targets.gs1_path)  # fmt: skip
        if wire:
            host, _, port = wire.rpartition(":")
            host = host.strip("[]")
            targets = Targets(targets.http, [("ipv6" if ":" in host else "ipv4", host, int(port))],
                              canary, targets.gs1_path)  # fmt: skip
        probes = await probe_round(targets, settings.prober_timeout)
        if record:
            await record_round(probes, datetime.now(UTC))
        return summary(probes)

    rows = run_async(run)
    for row in rows:
        click.echo("\t".join(str(row[k]) for k in ("door", "family", "ok", "ms", "detail")))
    sys.exit(0 if all(r["ok"] for r in rows) else 1)
