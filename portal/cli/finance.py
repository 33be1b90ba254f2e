"""Finance from the command line: exports, bank transfers and statement imports.

``idnest billing export`` writes the file to stdout (or ``--out``); XLSX is binary, so it
goes to ``--out`` or a pipe, never a terminal.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from portal.cli import main, run_async


def _billing_group() -> click.Group:
    """One ``billing`` group, whichever module makes it first (plans and month close add
    their commands to it as well)."""
    found = main.commands.get("billing")
    if isinstance(found, click.Group):
        return found

    @main.group("billing", help="Billing: usage, invoices, payments and finance exports.")
    def billing() -> None:
        pass

    return billing


billing_group = _billing_group()
KINDS = click.Choice(["invoices", "lines", "payments", "usage", "fapiao"])


@billing_group.command("export", help="Export invoices, lines, payments, usage or fapiao rows.")
@click.option("--kind", required=True, type=KINDS)
@click.option("--format", "fmt", default="csv", type=click.Choice(["csv", "xlsx"]))
@click.option("--month", default=None, help="YYYY-MM (Asia/Shanghai); usage: this month")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def export(kind: str, fmt: str, month: str | None, out: Path | None) -> None:
    from billing.finance.exports import export as build
    from core.settings import get_settings

    data = run_async(lambda: build(kind, fmt, month, get_settings()))
    if out is not None:
        out.write_bytes(data)
    elif fmt == "xlsx" and sys.stdout.isatty():
        raise click.UsageError("XLSX is binary: give --out FILE or pipe it")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@billing_group.command(
    "transfer", help="Record a received bank transfer (对公转账); prints the match."
)
@click.option("--amount", required=True, help="yuan, e.g. 1234.50")
@click.option("--date", "day", default=None, help="YYYY-MM-DD (default: today)")
@click.option("--payer", required=True)
@click.option("--reference", default="", help="the transfer's remark: the invoice number")
def transfer(amount: str, day: str | None, payer: str, reference: str) -> None:
    from billing.payments.services import bank

    t = bank.TransferIn(
        amount_fen=bank.parse_yuan(amount, "amount"),
        received_on=bank.parse_day(day, "date") if day else date.today(),
        payer=payer.strip()[:255],
        reference=reference.strip()[:128],
    )
    done: Any = run_async(lambda: bank.record_transfers([t], actor="cli"))
    click.echo(f"recorded {done.recorded}, matched {done.matched}, skipped {done.skipped}")


@billing_group.command(
    "import-statement", help="Import a bank statement CSV (date,amount,payer,reference)."
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_statement(file: Path) -> None:
    from billing.payments.services import bank

    if file.stat().st_size > bank.MAX_STATEMENT_BYTES:
        raise click.UsageError(f"the statement is larger than {bank.MAX_STATEMENT_BYTES} bytes")
    data = file.read_bytes()
    done: Any = run_async(lambda: bank.import_statement(data, actor="cli"))
    click.echo(f"recorded {done.recorded}, matched {done.matched}, skipped {done.skipped}")
