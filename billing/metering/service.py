"""A tenant's month, priced: usage from core/usage.py (the one source), plans from
billing/plans. The same figures are the running month's preview, the invoice the month
close makes, and what the usage API and CLI show.

Pricing rules (docs/billing.md):
- The monthly fee is prorated by day: each plan's fee times the days the tenant was on it,
  over the days of the month, rounded half-up to fen.
- Included amounts and unit prices are those of the plan in force on the month's last
  day (for the running month: today), applied to the whole month's usage.
- Registration overage: (registrations - included) x price per registration.
- Resolution overage: (resolutions - included) x price per 1,000 / 1,000, rounded half-up
  to fen once, on the month's total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from billing.money import divide_half_up
from billing.plans.service import PlanInfo, Segment, segments
from core import usage
from core.usage import Usage


@dataclass(frozen=True, slots=True)
class Line:
    kind: str  # fee, included_registrations, included_resolutions, *_overage
    description_en: str
    description_zh: str
    quantity: int
    unit_price_fen: int
    unit: int
    amount_fen: int
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MonthBill:
    tenant_id: int
    month: str
    usage: Usage
    plan: PlanInfo | None
    lines: list[Line]
    through: date  # the last day the figures cover

    @property
    def fee_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines if line.kind == "fee")

    @property
    def overage_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines if line.kind.endswith("_overage"))

    @property
    def total_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    def as_dict(self, prefix: str | None = None) -> dict[str, Any]:
        plan = self.plan
        out: dict[str, Any] = {
            "month": self.month,
            "through": self.through.isoformat(),
            "registrations": self.usage.registrations,
            "resolutions": self.usage.resolutions,
            "not_found": self.usage.not_found,
            "plan": plan.code if plan else None,
            "currency": plan.currency if plan else "CNY",
            "included_registrations": plan.included_registrations if plan else 0,
            "included_resolutions": plan.included_resolutions if plan else 0,
            "registration_cap": plan.registration_cap if plan else None,
            "fee_fen": self.fee_fen,
            "overage_fen": self.overage_fen,
            "total_fen": self.total_fen,
            "lines": [
                {
                    "kind": li.kind,
                    "description": li.description_en,
                    "description_zh": li.description_zh,
                    "quantity": li.quantity,
                    "unit_price_fen": li.unit_price_fen,
                    "amount_fen": li.amount_fen,
                }
                for li in self.lines
            ],
        }
        if prefix is not None:
            out = {"prefix": prefix, **out}
        return out


def fee_lines(parts: list[Segment], days_in_month: int) -> list[Line]:
    lines = []
    for seg in parts:
        if seg.plan is None or seg.plan.monthly_fee_fen == 0:
            continue
        amount = divide_half_up(seg.plan.monthly_fee_fen * seg.days, days_in_month)
        span = f"{seg.first.isoformat()}..{seg.last.isoformat()}"
        lines.append(
            Line(
                "fee",
                f"Monthly fee, plan {seg.plan.name}, {span} ({seg.days}/{days_in_month} days)",
                f"月费（{seg.plan.name}），{span}（{seg.days}/{days_in_month} 天）",
                seg.days,
                seg.plan.monthly_fee_fen,
                days_in_month,
                amount,
                {
                    "plan": seg.plan.code,
                    "first": seg.first.isoformat(),
                    "last": seg.last.isoformat(),
                },
            )
        )
    return lines


def usage_lines(plan: PlanInfo, used: Usage) -> list[Line]:
    regs_in = min(used.registrations, plan.included_registrations)
    res_in = min(used.resolutions, plan.included_resolutions)
    regs_over = used.registrations - regs_in
    res_over = used.resolutions - res_in
    lines = [
        Line(
            "included_registrations",
            "Registrations included in the plan",
            "套餐内标识注册",
            regs_in,
            0,
            1,
            0,
        ),
        Line(
            "included_resolutions",
            "Resolutions included in the plan",
            "套餐内标识解析",
            res_in,
            0,
            1000,
            0,
        ),
    ]
    if regs_over:
        lines.append(
            Line(
                "registration_overage",
                "Registrations beyond the plan",
                "超出套餐的标识注册",
                regs_over,
                plan.registration_price_fen,
                1,
                regs_over * plan.registration_price_fen,
            )
        )
    if res_over:
        amount = divide_half_up(res_over * plan.resolution_price_per_1000_fen, 1000)
        lines.append(
            Line(
                "resolution_overage",
                "Resolutions beyond the plan (per 1,000)",
                "超出套餐的标识解析（每千次）",
                res_over,
                plan.resolution_price_per_1000_fen,
                1000,
                amount,
            )
        )
    return lines


def price(
    tenant_id: int, month: str, parts: list[Segment], used: Usage, through: date
) -> MonthBill:
    """The bill for a month from its plan segments and usage (no database: testable)."""
    days = usage.month_days(month)
    # Fees only for days up to ``through``: a preview does not charge days to come.
    covered = [s for s in parts if s.first <= through]
    covered = [Segment(s.plan, s.first, min(s.last, through)) for s in covered]
    plan = covered[-1].plan if covered else None
    lines = fee_lines(covered, len(days))
    if plan is not None:
        lines += usage_lines(plan, used)
    return MonthBill(tenant_id, month, used, plan, lines, through)


async def month_bill(tenant_id: int, month: str, *, through: date | None = None) -> MonthBill:
    """The month priced as it stands: a closed month in full, the running one up to today
    (a preview). ``through`` overrides the last day (the month close passes the last)."""
    days = usage.month_days(month)
    today = usage.shanghai_day(usage.now())
    last = through or min(days[-1], max(today, days[0]))
    parts = await segments(tenant_id, month)
    used = await usage.tenant_month(tenant_id, month)
    return price(tenant_id, month, parts, used, last)
