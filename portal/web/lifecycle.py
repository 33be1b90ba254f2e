"""The identifier page's lifecycle part: status, validity window, the change form, and
the identifier's resolutions per day (usage feedback, resolver.identifier_usage).

The form posts to the one write path (services/lifecycle.py) with the member's
Principal, so a viewer is refused there as well as by the hidden form; the tenant's
policy for suspended and expired identifiers is set on the same page.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, Response, post
from litestar.params import FromPath
from markupsafe import Markup

from core.errors import IdnestError
from core.lifecycle import POLICIES, STATUSES
from portal.web.chart import bar_chart
from portal.web.common import describe_error, flash, gettext_for, redirect, require_member
from resolver.identifier_usage import usage_by_day
from tenants.identifiers.services import lifecycle, policy

USAGE_DAYS = 30


async def identifier_extras(request: Request[Any, Any, Any], m: Any, row: dict[str, Any]
                            ) -> dict[str, Any]:  # fmt: skip
    """What the identifier page shows of the lifecycle and of the identifier's usage."""
    _ = gettext_for(request)
    used = await usage_by_day(m.principal(), row["handle"], USAGE_DAYS)
    counts = {date.fromisoformat(d["day"]): d["resolutions"] for d in used["byDay"]}
    today = date.fromisoformat(used["byDay"][-1]["day"])
    title = _("Resolutions of this identifier per day, last 30 days")
    chart: Markup = bar_chart(counts, today=today, days=USAGE_DAYS, title=title)
    return {
        "lifecycle": lifecycle.describe(row),
        "statuses": STATUSES,
        "policies": POLICIES,
        "policy": await policy.get_policy(m.principal()),
        "usage": used,
        "usage_chart": chart,
    }


def _edge(form: Any, name: str) -> str | None:
    text = str(form.get(name) or "").strip()
    return text or None


@post("/console/{prefix:str}/identifier/status", include_in_schema=False)
async def change_status(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    form = await request.form()
    suffix = str(form.get("suffix") or "").strip()
    body: dict[str, Any] = {
        "status": str(form.get("status") or ""),
        "reason": str(form.get("reason") or "")[:1000],
        "validFrom": _edge(form, "validFrom"),
        "validUntil": _edge(form, "validUntil"),
    }
    try:
        change = lifecycle.parse_change(body)
        await lifecycle.set_lifecycle(m.principal(), f"{m.prefix}/{suffix}", change, via="console")
    except IdnestError as exc:
        flash(request, describe_error(request, exc))
        return redirect(f"/console/{m.prefix}/identifier?h={suffix}")
    flash(request, "Status saved.")
    return redirect(f"/console/{m.prefix}/identifier?h={suffix}")


@post("/console/{prefix:str}/lifecycle-policy", include_in_schema=False)
async def change_policy(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    form = await request.form()
    suffix = str(form.get("suffix") or "").strip()
    raw = {k: str(form.get(k) or "") for k in ("suspended", "expired")}
    try:
        await policy.set_policy(m.principal(), raw)
    except IdnestError as exc:
        flash(request, describe_error(request, exc))
        return redirect(f"/console/{m.prefix}/identifier?h={suffix}")
    flash(request, "Policy saved.")
    return redirect(f"/console/{m.prefix}/identifier?h={suffix}")


ROUTES = [change_status, change_policy]
