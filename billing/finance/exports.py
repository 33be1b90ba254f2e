"""Finance exports: invoices, invoice lines, payments, usage and fapiao rows, as CSV
(the ``csv`` module) or XLSX (openpyxl in write-only mode, so a large export streams
rows instead of building a workbook in memory). Columns are lower-case and documented in
docs/payments.md; money columns are yuan with two decimals (``*_yuan``) beside integer
fen (``*_fen``), so a spreadsheet and a program read the same figure."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook

from billing.finance import service
from billing.money import format_yuan
from billing.payments.services import fapiao
from core.errors import InvalidValue
from core.settings import Settings

KINDS = ("invoices", "lines", "payments", "usage", "fapiao")
FORMATS = ("csv", "xlsx")


def _money(row: dict[str, Any], *names: str) -> None:
    for n in names:
        row[n.replace("_fen", "_yuan")] = format_yuan(int(row[n]))


INVOICE_COLS = [
    "number",
    "prefix",
    "kind",
    "month",
    "status",
    "currency",
    "total_fen",
    "total_yuan",
    "paid_fen",
    "paid_yuan",
    "issued_at",
    "due_on",
]
LINE_COLS = [
    "invoice_number",
    "prefix",
    "month",
    "position",
    "kind",
    "description_en",
    "description_zh",
    "quantity",
    "unit",
    "unit_price_fen",
    "unit_price_yuan",
    "amount_fen",
    "amount_yuan",
]
PAYMENT_COLS = [
    "paid_on",
    "prefix",
    "invoice_number",
    "method",
    "currency",
    "amount_fen",
    "amount_yuan",
    "payer",
    "reference",
    "external_id",
]
USAGE_COLS = ["prefix", "name", "month", "registrations", "resolutions", "not_found"]
FAPIAO_COLS = [
    "invoice_number",
    "kind",
    "month",
    "buyer_name",
    "taxpayer_id",
    "address_phone",
    "bank_account",
    "item_name",
    "quantity",
    "amount_excl_tax_yuan",
    "tax_rate",
    "tax_yuan",
    "total_yuan",
]


async def _invoices(month: str | None, settings: Settings) -> tuple[list[str], list[dict]]:
    rows = await service.invoices(month)
    for r in rows:
        _money(r, "total_fen", "paid_fen")
    return INVOICE_COLS, rows


async def _lines(month: str | None, settings: Settings) -> tuple[list[str], list[dict]]:
    rows = await service.lines(month)
    for r in rows:
        _money(r, "unit_price_fen", "amount_fen")
    return LINE_COLS, rows


async def _payments(month: str | None, settings: Settings) -> tuple[list[str], list[dict]]:
    rows = await service.payments(month)
    for r in rows:
        _money(r, "amount_fen")
    return PAYMENT_COLS, rows


async def _usage(month: str | None, settings: Settings) -> tuple[list[str], list[dict]]:
    from core.usage import month_of, now

    return USAGE_COLS, await service.usage_rows(month or month_of(now()))


async def _fapiao(month: str | None, settings: Settings) -> tuple[list[str], list[dict]]:
    rows = []
    for inv in await service.invoices(month):
        if inv["status"] == "void":
            continue
        d = await fapiao.details(int(inv["tenant_id"]))
        excl, tax = fapiao.split_tax(int(inv["total_fen"]), settings.fapiao_tax_rate)
        rows.append(
            {
                "invoice_number": inv["number"],
                "kind": inv["kind"],
                "month": inv["month"],
                "buyer_name": d.buyer_name,
                "taxpayer_id": d.taxpayer_id,
                "address_phone": d.address_phone,
                "bank_account": d.bank_account,
                "item_name": fapiao.ITEM_NAME,
                "quantity": 1,
                "amount_excl_tax_yuan": format_yuan(excl),
                "tax_rate": f"{settings.fapiao_tax_rate / 100:.2f}",
                "tax_yuan": format_yuan(tax),
                "total_yuan": format_yuan(int(inv["total_fen"])),
            }
        )
    return FAPIAO_COLS, rows


_BUILDERS: dict[str, Callable[..., Any]] = {
    "invoices": _invoices,
    "lines": _lines,
    "payments": _payments,
    "usage": _usage,
    "fapiao": _fapiao,
}


def check_month(month: str | None) -> str | None:
    if month is None or month == "":
        return None
    from core.usage import parse_month

    try:
        parse_month(month)
    except ValueError as exc:
        raise InvalidValue(f"month: {month[:20]!r} is not YYYY-MM", field="month") from exc
    return month


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


async def export(kind: str, fmt: str, month: str | None, settings: Settings) -> bytes:
    """The export as file bytes (CSV: UTF-8, no byte-order mark, so any CSV reader
    sees the first column's name as it is)."""
    if kind not in KINDS:
        raise InvalidValue(f"kind: one of {', '.join(KINDS)}", field="kind")
    if fmt not in FORMATS:
        raise InvalidValue("format: csv or xlsx", field="format")
    columns, rows = await _BUILDERS[kind](check_month(month), settings)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_cell(r.get(c, "")) for c in columns])
        return out.getvalue().encode("utf-8")
    book = Workbook(write_only=True)
    sheet = book.create_sheet(kind)
    sheet.append(columns)
    for r in rows:
        sheet.append([_cell(r.get(c, "")) for c in columns])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
