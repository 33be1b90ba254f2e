"""Bank transfers (对公转账): recorded by finance or imported from a bank statement, and
matched to invoices.

An invoice carries the node's payee account and its number as the transfer reference
(docs/payments.md). A transfer is matched when its reference names an open invoice
(``INV-…``/``CN-…``, anywhere in the text, any case); failing that, when exactly one open
invoice is owed exactly the transferred amount. Anything else stays unmatched and is
shown to finance, who can match it by hand. A match writes the tenant's payment row,
raises the invoice's ``paid_fen`` (``paid`` once it is covered) and closes the tenant's
dunning case, all in one transaction.

A statement import is all or nothing: the whole file is checked first (size, rows,
columns, every value), and one bad row refuses the file with the row and column named,
writing nothing. A transfer already recorded (same bank transaction id, or the same
date, amount, payer and reference) is skipped, so a statement imported twice adds nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from billing.invoices.tables import STATUS_ISSUED, STATUS_PAID, Invoice
from billing.payments.services import dunning
from billing.payments.tables import BankTransfer, Payment
from core import audit
from core.errors import InvalidValue, NotFound
from core.settings import Settings
from core.tenancy import cross_tenant, tenant_transaction

MAX_STATEMENT_BYTES = 1024 * 1024
MAX_STATEMENT_ROWS = 5000
REFERENCE = re.compile(r"\b((?:INV|CN)-\d{6}-\d+(?:-\d+)?)\b", re.IGNORECASE)
COLUMNS = {"date", "amount", "payer", "reference"}
OPTIONAL = {"payer_account", "transaction_id", "currency"}


def payee_text(settings: Settings, lang: str) -> str:
    """The node's payee account as an invoice prints it ("" until staff configure it)."""
    if not settings.payee_account:
        return ""
    if lang == "zh":
        return (
            f"收款单位：{settings.payee_name}　开户行：{settings.payee_bank}　"
            f"账号：{settings.payee_account}"
        )
    return (
        f"Payee: {settings.payee_name}; bank: {settings.payee_bank}; "
        f"account: {settings.payee_account}"
    )


@dataclass(frozen=True)
class TransferIn:
    amount_fen: int
    received_on: date
    payer: str
    reference: str
    payer_account: str = ""
    bank_ref: str = ""
    currency: str = "CNY"


def parse_yuan(text: str, field: str) -> int:
    """A received amount in fen: yuan as banks print it (``1,234.50``, ``¥1234.5``), at
    most two decimals, more than zero."""
    raw = text.strip().replace(",", "").lstrip("¥￥")
    if not re.fullmatch(r"\d{1,11}(\.\d{1,2})?", raw):
        raise InvalidValue(
            f"{field}: {text[:40]!r} is not an amount in yuan (e.g. 1234.50)", field=field
        )
    whole, _, part = raw.partition(".")
    fen = int(whole) * 100 + int((part + "00")[:2])
    if fen <= 0:
        raise InvalidValue(f"{field}: a received amount is more than zero", field=field)
    return fen


def parse_day(text: str, field: str) -> date:
    """``2026-12-01``, ``2026/12/01`` or ``20261201``."""
    raw = text.strip().replace("/", "-")
    if re.fullmatch(r"\d{8}", raw):
        raw = f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidValue(
            f"{field}: {text[:40]!r} is not a date (YYYY-MM-DD)", field=field
        ) from exc


def _text(value: str | None, field: str, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise InvalidValue(f"{field}: at most {limit} printable characters", field=field)
    return value


def _bank_ref(t: TransferIn) -> str:
    if t.bank_ref:
        return f"bank:{t.bank_ref}"
    seed = f"{t.received_on}|{t.amount_fen}|{t.payer}|{t.reference}|{t.payer_account}"
    return "row:" + hashlib.sha256(seed.encode()).hexdigest()[:40]


def parse_statement(data: bytes) -> list[TransferIn]:
    """The transfers of a bank statement CSV, or InvalidValue naming the first bad cell."""
    if len(data) > MAX_STATEMENT_BYTES:
        raise InvalidValue(
            f"the statement is larger than {MAX_STATEMENT_BYTES} bytes", field="file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidValue("the statement is not UTF-8 text", field="file") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = {(h or "").strip().lower() for h in reader.fieldnames or []}
    if not header >= COLUMNS:
        raise InvalidValue(
            f"the statement needs columns {sorted(COLUMNS)} (optional: {sorted(OPTIONAL)})",
            field="file",
        )
    found: list[TransferIn] = []
    try:
        for n, raw in enumerate(reader, start=2):
            if n - 1 > MAX_STATEMENT_ROWS:
                raise InvalidValue(f"more than {MAX_STATEMENT_ROWS} rows", field="file")
            row = {(k or "").strip().lower(): v for k, v in raw.items() if k is not None}
            if None in raw:
                raise InvalidValue(f"row {n}: more cells than columns", field="file")
            found.append(_row(row, n))
    except csv.Error as exc:
        raise InvalidValue(f"the statement is not valid CSV: {exc}", field="file") from exc
    return found


def _row(row: dict[str, Any], n: int) -> TransferIn:
    currency = _text(row.get("currency"), f"row {n} currency", 3).upper() or "CNY"
    if currency != "CNY":
        raise InvalidValue(f"row {n} currency: only CNY transfers are taken", field="currency")
    return TransferIn(
        amount_fen=parse_yuan(row.get("amount") or "", f"row {n} amount"),
        received_on=parse_day(row.get("date") or "", f"row {n} date"),
        payer=_text(row.get("payer"), f"row {n} payer", 255),
        reference=_text(row.get("reference"), f"row {n} reference", 128),
        payer_account=_text(row.get("payer_account"), f"row {n} payer_account", 64),
        bank_ref=_text(row.get("transaction_id"), f"row {n} transaction_id", 100),
    )


# -- recording and matching -------------------------------------------------------------
@dataclass
class Recorded:
    recorded: int = 0
    skipped: int = 0
    matched: int = 0


async def _open_invoices() -> list[dict[str, Any]]:
    return list(
        await Invoice.select(
            Invoice.id, Invoice.tenant_id, Invoice.number, Invoice.total_fen, Invoice.paid_fen
        ).where(Invoice.status == STATUS_ISSUED)
    )


def _choose(t: dict[str, Any], invoices: list[dict[str, Any]]) -> dict[str, Any] | None:
    by_number = {i["number"].upper(): i for i in invoices}
    for ref in REFERENCE.findall(t["reference"] or ""):
        if ref.upper() in by_number:
            return by_number[ref.upper()]
    owed = [i for i in invoices if int(i["total_fen"]) - int(i["paid_fen"]) == t["amount_fen"]]
    return owed[0] if len(owed) == 1 else None


async def _apply(t: dict[str, Any], inv: dict[str, Any], actor: str) -> None:
    """Inside the caller's cross-tenant transaction: pay ``inv`` with transfer ``t``."""
    tenant_id = int(inv["tenant_id"])
    paid = int(inv["paid_fen"]) + int(t["amount_fen"])
    status = STATUS_PAID if paid >= int(inv["total_fen"]) else STATUS_ISSUED
    now = datetime.now(UTC)
    await BankTransfer.update(
        {
            BankTransfer.tenant_id: tenant_id,
            BankTransfer.status: "matched",
            BankTransfer.invoice_number: inv["number"],
        }
    ).where((BankTransfer.id == t["id"]) & (BankTransfer.status == "unmatched"))
    async with tenant_transaction(tenant_id):
        await Payment.insert(
            Payment(
                tenant_id=tenant_id,
                invoice_number=inv["number"],
                method="bank",
                amount_fen=t["amount_fen"],
                currency=t["currency"],
                paid_on=t["received_on"],
                payer=t["payer"],
                reference=t["reference"],
                external_id=f"bank:{t['id']}",
                created_at=now,
            )
        ).run()
        await Invoice.update({Invoice.paid_fen: paid, Invoice.status: status}).where(
            (Invoice.id == inv["id"]) & (Invoice.tenant_id == tenant_id)
        )
        await audit.record(
            actor=actor,
            action="billing.payment.received",
            target=inv["number"],
            tenant_id=tenant_id,
            detail={"method": "bank", "amount_fen": t["amount_fen"], "transfer": t["id"]},
        )
        if status == STATUS_PAID:
            await dunning.close_cases(tenant_id, why=f"bank transfer {t['id']}", now=now)
    inv["paid_fen"] = paid


async def record_transfers(transfers: list[TransferIn], *, actor: str) -> Recorded:
    """Record transfers (skipping ones already recorded) and match what can be matched."""
    done = Recorded()
    now = datetime.now(UTC)
    async with cross_tenant("payments", write=True):
        known = {
            r["bank_ref"]
            for r in await BankTransfer.select(BankTransfer.bank_ref).where(
                BankTransfer.bank_ref.is_in([_bank_ref(t) for t in transfers] or [""])
            )
        }
        invoices = await _open_invoices()
        for t in transfers:
            ref = _bank_ref(t)
            if ref in known:
                done.skipped += 1
                continue
            known.add(ref)
            [row] = await BankTransfer.insert(
                BankTransfer(
                    amount_fen=t.amount_fen,
                    currency=t.currency,
                    received_on=t.received_on,
                    payer=t.payer,
                    payer_account=t.payer_account,
                    reference=t.reference,
                    bank_ref=ref,
                    status="unmatched",
                    recorded_by=actor,
                    created_at=now,
                )
            ).returning(*BankTransfer.all_columns())
            done.recorded += 1
            await audit.record(
                actor=actor,
                action="billing.transfer.recorded",
                target=str(row["id"]),
                detail={"amount_fen": t.amount_fen},
            )
            inv = _choose(row, invoices)
            if inv is not None:
                await _apply(row, inv, actor)
                invoices = [i for i in invoices if int(i["paid_fen"]) < int(i["total_fen"])]
                done.matched += 1
    return done


async def import_statement(data: bytes, *, actor: str) -> Recorded:
    return await record_transfers(parse_statement(data), actor=actor)


async def match_by_hand(transfer_id: int, invoice_number: str, *, actor: str) -> None:
    """Finance matches an unmatched transfer to an open invoice."""
    async with cross_tenant("payments", write=True):
        t = await BankTransfer.select().where(BankTransfer.id == transfer_id).first()
        if t is None or t["status"] != "unmatched":
            raise NotFound("no unmatched transfer with this id")
        inv = next((i for i in await _open_invoices() if i["number"] == invoice_number), None)
        if inv is None:
            raise InvalidValue("no open invoice with this number", field="invoice")
        await _apply(t, inv, actor)


async def transfers(status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    async with cross_tenant("payments"):
        q = BankTransfer.select().order_by(BankTransfer.id, ascending=False).limit(limit)
        if status:
            q = q.where(BankTransfer.status == status)
        return list(await q)
