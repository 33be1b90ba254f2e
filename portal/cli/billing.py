"""Plans, usage, month close and invoice corrections (docs/billing.md).

Amounts are typed and shown in yuan with two decimals; the services keep integer fen.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import click

from portal.cli import main, run_async


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@main.group(help="Billing plans (the node's price list) and who is on which.")
def plan() -> None:
    pass


@plan.command("create", help="Create a plan. Amounts in yuan (two decimals).")
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--monthly-fee", required=True, help="yuan, e.g. 100.00")
@click.option("--included-registrations", type=click.IntRange(0), required=True)
@click.option("--included-resolutions", type=click.IntRange(0), required=True)
@click.option("--registration-price", required=True, help="yuan per registration")
@click.option("--resolution-price-per-1000", required=True, help="yuan per 1,000 resolutions")
@click.option(
    "--registration-cap",
    type=click.IntRange(0),
    default=None,
    help="registrations a month past which writes are refused (rc 604)",
)
@click.option("--currency", default="CNY", show_default=True)
def plan_create(
    code: str,
    name: str,
    monthly_fee: str,
    included_registrations: int,
    included_resolutions: int,
    registration_price: str,
    resolution_price_per_1000: str,
    registration_cap: int | None,
    currency: str,
) -> None:
    from billing.money import parse_yuan
    from billing.plans.service import create_plan

    async def make() -> Any:
        return await create_plan(
            code,
            name,
            monthly_fee_fen=parse_yuan(monthly_fee, field="monthly-fee"),
            included_registrations=included_registrations,
            included_resolutions=included_resolutions,
            registration_price_fen=parse_yuan(registration_price, field="registration-price"),
            resolution_price_per_1000_fen=parse_yuan(
                resolution_price_per_1000, field="resolution-price-per-1000"
            ),
            registration_cap=registration_cap,
            currency=currency,
            actor="cli",
        )

    info = run_async(make)
    _echo_json(_plan_out(info))


def _plan_out(info: Any) -> dict[str, Any]:
    from billing.money import format_yuan

    out = info.as_dict()
    for key in ("monthly_fee", "registration_price", "resolution_price_per_1000"):
        out[key] = format_yuan(out.pop(f"{key}_fen"))
    return out


@plan.command("list", help="List plans.")
def plan_list() -> None:
    from billing.plans.service import list_plans

    _echo_json([_plan_out(p) for p in run_async(list_plans)])


@plan.command("assign", help="Put a tenant on a plan from a day (default: today, Shanghai).")
@click.option("--tenant", "prefix", required=True)
@click.option("--plan", "code", required=True)
@click.option("--from", "effective_from", type=click.DateTime(["%Y-%m-%d"]), default=None)
def plan_assign(prefix: str, code: str, effective_from: datetime | None) -> None:
    from billing.plans.service import assign_plan

    day: date | None = effective_from.date() if effective_from else None
    _, info, start = run_async(lambda: assign_plan(prefix, code, effective_from=day, actor="cli"))
    click.echo(f"{prefix}\t{info.code}\tfrom {start.isoformat()}")


@main.group("billing", help="Usage, invoices and month close.")
def billing_group() -> None:
    pass


def _month_option(f: Any) -> Any:
    return click.option(
        "--month", default=None, help="YYYY-MM (Asia/Shanghai); default: this month"
    )(f)


@billing_group.command("usage", help="A tenant's usage and charges of a month, as JSON.")
@click.option("--tenant", "prefix", required=True)
@_month_option
def billing_usage(prefix: str, month: str | None) -> None:
    from billing.metering.report import usage_for_prefix

    _echo_json(run_async(lambda: usage_for_prefix(prefix, month)))


@billing_group.command("close", help="Issue the invoices of a finished month (idempotent).")
@click.option("--month", default=None, help="YYYY-MM; default: last month")
def billing_close(month: str | None) -> None:
    from billing.invoices.service import close_month, previous_month
    from core import usage

    chosen = month or previous_month(usage.now())
    result = run_async(lambda: close_month(chosen, actor="cli"))
    _echo_json(
        {
            "month": result.month,
            "created": result.created,
            "existing": result.existing,
            "empty": result.empty,
        }
    )


@billing_group.command("invoices", help="List invoices (all tenants, or one), as JSON.")
@click.option("--tenant", "prefix", default=None)
@_month_option
def billing_invoices(prefix: str | None, month: str | None) -> None:
    from billing.invoices.service import list_invoices, staff_invoices
    from tenants.accounts.services.tenants import get_by_prefix

    async def run() -> Any:
        if prefix:
            rows = await list_invoices((await get_by_prefix(prefix)).id)
            return [r for r in rows if month is None or r["month"] == month]
        return await staff_invoices(month)

    _echo_json(run_async(run))


@billing_group.command("void", help="Void an unpaid invoice (audited).")
@click.argument("number")
@click.option("--reason", required=True)
def billing_void(number: str, reason: str) -> None:
    from billing.invoices.service import void_invoice

    _echo_json(run_async(lambda: void_invoice(number, reason=reason, actor="cli")))


@billing_group.command("credit", help="Issue a credit note against an invoice (audited).")
@click.argument("number")
@click.option("--amount", required=True, help="yuan, e.g. 12.50")
@click.option("--reason", required=True)
def billing_credit(number: str, amount: str, reason: str) -> None:
    from billing.invoices.service import credit_note
    from billing.money import parse_yuan

    async def run() -> Any:
        return await credit_note(
            number, parse_yuan(amount, field="amount"), reason=reason, actor="cli"
        )

    _echo_json(run_async(run))
