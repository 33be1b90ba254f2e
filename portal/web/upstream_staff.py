"""The staff console's view of what the node owes the top-level node: the outbox backlog
and its dead letters, each of which can be sent again (docs/upstream.md)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from core import delivery
from core.limits import DbId
from portal.web.common import flash, page, pop_flash, redirect, require_staff


@get("/staff/outbox", include_in_schema=False)
async def outbox_page(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, "operator")
    return await page(
        request,
        "staff/outbox.html",
        backlog=await delivery.backlog(),
        dead=await delivery.dead_letters(limit=200),
        flash=pop_flash(request),
    )


@post("/staff/outbox/{outbox_id:int}/resend", include_in_schema=False)
async def outbox_resend(request: Request[Any, Any, Any], outbox_id: DbId) -> Response[Any]:
    await require_staff(request, "operator")
    if await delivery.resend(outbox_id):
        flash(request, "The message is queued to be sent again.")
    else:
        flash(request, "That message is not a dead letter.")
    return redirect("/staff/outbox")


ROUTES = [outbox_page, outbox_resend]
