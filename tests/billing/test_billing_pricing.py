"""Pricing without a database: proration by day, rounding to fen, yuan in and out."""

from __future__ import annotations

from datetime import date

import pytest

from billing.metering.service import price
from billing.money import divide_half_up, format_yuan, parse_yuan
from billing.plans.service import PlanInfo, Segment
from core.errors import InvalidValue
from core.usage import Usage


def plan(code: str = "p", fee: int = 10000, regs: int = 2, res: int = 10, reg_price: int = 5,
         res_price: int = 1000, cap: int | None = None) -> PlanInfo:  # fmt: skip
    return PlanInfo(0, code, code.upper(), "CNY", fee, regs, res, reg_price, res_price, cap, True)


def test_fee_is_prorated_by_day_across_a_plan_change():
    basic, pro = plan("basic", fee=3100), plan("pro", fee=6200)
    # November has 30 days: 10 on basic, 20 on pro.
    parts = [Segment(basic, date(2026, 11, 1), date(2026, 11, 10)),
             Segment(pro, date(2026, 11, 11), date(2026, 11, 30))]  # fmt: skip
    bill = price(1, "2026-11", parts, Usage(), date(2026, 11, 30))
    fees = [li.amount_fen for li in bill.lines if li.kind == "fee"]
    # 3100 * 10 / 30 = 1033.33 -> 1033; 6200 * 20 / 30 = 4133.33 -> 4133
    assert fees == [1033, 4133]
    assert bill.plan is pro  # allowances and prices: the plan in force at the end
    assert bill.total_fen == 1033 + 4133


def test_days_on_no_plan_cost_nothing_and_a_preview_charges_no_future_days():
    p = plan(fee=3000)
    parts = [Segment(None, date(2026, 11, 1), date(2026, 11, 15)),
             Segment(p, date(2026, 11, 16), date(2026, 11, 30))]  # fmt: skip
    assert price(1, "2026-11", parts, Usage(), date(2026, 11, 30)).fee_fen == 1500
    preview = price(1, "2026-11", parts, Usage(), date(2026, 11, 20))  # 16..20: 5 days
    assert preview.fee_fen == 500
    assert price(1, "2026-11", parts[:1], Usage(), date(2026, 11, 30)).lines == []


def test_overage_as_the_contract_check_counts_it():
    bill = price(1, "2026-12", [Segment(plan(fee=0), date(2026, 12, 1), date(2026, 12, 31))],
                 Usage(registrations=3, resolutions=25), date(2026, 12, 31))  # fmt: skip
    # 1 registration over x 5 fen + 15 resolutions over x 10.00 yuan / 1000 = 20 fen
    assert bill.overage_fen == 20 and bill.total_fen == 20


def test_resolution_overage_rounds_half_up_once_on_the_month():
    one = [Segment(plan(res=0, res_price=5), date(2026, 12, 1), date(2026, 12, 31))]
    # 5 fen per 1000: 100 over = 0.5 fen -> 1; 99 over = 0.495 -> 0; 300 over = 1.5 -> 2
    for over, fen in ((100, 1), (99, 0), (300, 2), (1000, 5)):
        bill = price(1, "2026-12", one, Usage(resolutions=over), date(2026, 12, 31))
        assert bill.overage_fen == fen, over


def test_half_up_division_in_integers():
    assert [divide_half_up(n, 2) for n in (1, 3, 5, -1, -3)] == [1, 2, 3, -1, -2]
    assert divide_half_up(2, 3) == 1 and divide_half_up(1, 3) == 0


def test_yuan_in_and_out():
    assert parse_yuan("100.00") == 10000 and parse_yuan("0.05") == 5 and parse_yuan("7") == 700
    assert format_yuan(10000) == "100.00" and format_yuan(5) == "0.05"
    assert format_yuan(-1250) == "-12.50"
    for bad in ("1.001", "-1", "abc", "", "NaN", "Infinity", "１.00", "1e30"):
        with pytest.raises(InvalidValue):
            parse_yuan(bad)
