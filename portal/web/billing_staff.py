"""The staff console's billing page: plans (create, withdraw), who is on which, the
month's invoices with void and credit note (each audited by billing/). Admin and finance.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from billing.invoices.service import credit_note, staff_invoices, void_invoice
from billing.metering.report import checked_month
from billing.money import format_yuan, parse_yuan
from billing.plans.service import assign_plan, create_plan, list_plans, set_plan_active
from core.errors import IdnestError, InvalidValue
from portal.web.common import describe_error, flash, page, pop_flash, redirect, require_staff

BILLING = ("finance",)
HOME = "/staff/billing"


def _actor(viewer: Any) -> str:
    return f"staff:{viewer.id}"


def _count(form: Any, name: str, *, optional: bool = False) -> int | None:
    raw = str(form.get(name) or "").strip()
    if not raw and optional:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 13:
        raise InvalidValue(f"{name}: a whole number of 0 or more", field=name)
    return int(raw)


@get(HOME, include_in_schema=False)
async def billing_home(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, *BILLING)
    month = checked_month(request.query_params.get("month", "")[:7] or None)
    return await page(
        request,
        "staff/billing.html",
        plans=await list_plans(),
        invoices=await staff_invoices(month, limit=200),
        month=month,
        yuan=format_yuan,
        flash=pop_flash(request),
    )


async def _do(request: Request[Any, Any, Any], done: str, action: Any) -> Response[Any]:
    try:
        await action()
    except IdnestError as exc:
        flash(request, describe_error(request, exc))
    else:
        flash(request, done)
    return redirect(HOME)


@post(f"{HOME}/plans", include_in_schema=False)
async def billing_plan_create(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await require_staff(request, *BILLING)
    form = await request.form()

    async def run() -> None:
        await create_plan(
            str(form.get("code") or "").strip(),
            str(form.get("name") or ""),
            monthly_fee_fen=parse_yuan(str(form.get("monthly_fee") or ""), field="monthly_fee"),
            included_registrations=_count(form, "included_registrations") or 0,
            included_resolutions=_count(form, "included_resolutions") or 0,
            registration_price_fen=parse_yuan(
                str(form.get("registration_price") or ""), field="registration_price"
            ),
            resolution_price_per_1000_fen=parse_yuan(
                str(form.get("resolution_price_per_1000") or ""), field="resolution_price_per_1000"
            ),
            registration_cap=_count(form, "registration_cap", optional=True),
            actor=_actor(viewer),
        )

    return await _do(request, "The plan has been created.", run)


@post(f"{HOME}/plans/{{code:str}}/active", include_in_schema=False)
async def billing_plan_active(
    request: Request[Any, Any, Any], code: FromPath[str]
) -> Response[Any]:
    viewer = await require_staff(request, *BILLING)
    active = str((await request.form()).get("active") or "") == "1"

    async def run() -> None:
        await set_plan_active(code[:64], active, actor=_actor(viewer))

    return await _do(request, "The plan has been changed.", run)


@post(f"{HOME}/assign", include_in_schema=False)
async def billing_assign(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await require_staff(request, *BILLING)
    form = await request.form()

    async def run() -> None:
        raw = str(form.get("effective_from") or "").strip()
        try:
            day = date.fromisoformat(raw) if raw else None
        except ValueError:
            raise InvalidValue(
                "effective_from: a day, YYYY-MM-DD", field="effective_from"
            ) from None
        await assign_plan(
            str(form.get("prefix") or "").strip()[:64],
            str(form.get("plan") or "").strip()[:64],
            effective_from=day,
            actor=_actor(viewer),
        )

    return await _do(request, "The tenant's plan has been set.", run)


@post(f"{HOME}/invoices/{{number:str}}/void", include_in_schema=False)
async def billing_void(request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any]:
    viewer = await require_staff(request, *BILLING)
    reason = str((await request.form()).get("reason") or "")[:500]

    async def run() -> None:
        await void_invoice(number[:64], reason=reason, actor=_actor(viewer))

    return await _do(request, "The invoice has been voided.", run)


@post(f"{HOME}/invoices/{{number:str}}/credit", include_in_schema=False)
async def billing_credit(request: Request[Any, Any, Any], number: FromPath[str]) -> Response[Any]:
    viewer = await require_staff(request, *BILLING)
    form = await request.form()

    async def run() -> None:
        amount = parse_yuan(str(form.get("amount") or ""), field="amount")
        await credit_note(
            number[:64], amount, reason=str(form.get("reason") or "")[:500], actor=_actor(viewer)
        )

    return await _do(request, "The credit note has been issued.", run)


ROUTES = [
    billing_home,
    billing_plan_create,
    billing_plan_active,
    billing_assign,
    billing_void,
    billing_credit,
]
