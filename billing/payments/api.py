"""HTTP doors of payments (thin): the Stripe webhook endpoint.

``POST /api/billing/stripe/webhook`` is public by nature (Stripe calls it); what makes a
call count is the signature, checked in ``services.webhooks`` before anything is read.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post

from billing.payments.services import webhooks
from billing.schemas import WebhookAnswer
from core.errors import InvalidValue
from core.settings import get_settings


@post(
    "/api/billing/stripe/webhook",
    tags=["Billing"],
    summary="Stripe webhook (signed with the endpoint's secret)",
    status_code=200,
)
async def stripe_webhook(request: Request[Any, Any, Any]) -> Response[WebhookAnswer]:
    length = request.headers.get("content-length")
    if length and (not length.isascii() or not length.isdigit() or int(length) > webhooks.MAX_BODY):
        raise InvalidValue("webhook body too large", field="body")
    body = await request.body()
    outcome = await webhooks.receive(body, request.headers.get("stripe-signature"), get_settings())
    return Response(WebhookAnswer(True, outcome))


ROUTES = [stripe_webhook]
