"""Invoices as billing's month close writes them, for the payments and finance tests
(tests/billing and tests/portal both use them)."""

from __future__ import annotations


async def make_invoice(
    tenant_id: int,
    number: str,
    total_fen: int,
    *,
    month: str = "2026-11",
    due_on: str = "2026-12-15",
    lines: tuple[int, ...] | None = None,
) -> int:
    """An issued invoice with its lines (default: one fee line for the total), written
    as billing's month close writes them."""
    from datetime import UTC, date, datetime

    from billing.invoices.tables import Invoice, InvoiceLine
    from core.tenancy import tenant_transaction

    async with tenant_transaction(tenant_id):
        [row] = await Invoice.insert(
            Invoice(
                tenant_id=tenant_id,
                number=number,
                kind="invoice",
                month=month,
                status="issued",
                currency="CNY",
                total_fen=total_fen,
                paid_fen=0,
                issued_at=datetime.now(UTC),
                due_on=date.fromisoformat(due_on),
                close_key=f"test:{number}",
            )
        ).returning(Invoice.id)
        for pos, amount in enumerate(lines or (total_fen,)):
            await InvoiceLine.insert(
                InvoiceLine(
                    tenant_id=tenant_id,
                    invoice=row["id"],
                    position=pos,
                    kind="fee",
                    description_en="fee",
                    description_zh="月费",
                    quantity=1,
                    unit_price_fen=amount,
                    unit=1,
                    amount_fen=amount,
                )
            )
    return int(row["id"])


async def invoice_state(tenant_id: int, number: str) -> tuple[str, int]:
    from billing.invoices.tables import Invoice
    from core.tenancy import tenant_transaction

    async with tenant_transaction(tenant_id, write=False):
        row = (
            await Invoice.select(Invoice.status, Invoice.paid_fen)
            .where((Invoice.tenant_id == tenant_id) & (Invoice.number == number))
            .first()
        )
    assert row is not None
    return row["status"], int(row["paid_fen"])
