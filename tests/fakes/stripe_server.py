"""A fake Stripe: a real HTTP server on a free loopback port that speaks the few parts of
Stripe's v1 API idnest calls, so the ``stripe`` library itself is exercised end to end.

What it emulates (form-encoded requests, JSON answers, as Stripe's API):

- ``POST /v1/customers`` and ``POST /v1/customers/{id}``: create and update a customer.
- ``POST /v1/billing/meter_events``: a Billing Meter event; Stripe's rule that one
  ``identifier`` is one event is kept (a second event with it is refused with 400).
- ``POST /v1/invoiceitems``, ``POST /v1/invoices``, ``POST /v1/invoices/{id}/finalize``,
  ``GET /v1/invoices`` (``status``, ``limit``): enough to push an invoice and list it.
- ``Idempotency-Key``: a request repeated with the same key gets the first answer again
  and changes nothing, as at Stripe.
- ``Authorization: Bearer <key>`` must be the key the fake was made with (401 otherwise).
- Faults on demand: ``fail_next = N`` answers the next N requests with HTTP 500.
- ``requests`` records every request: method, path, form fields, idempotency key.
- ``signed(event, secret)`` makes a webhook body and its ``Stripe-Signature`` header with
  stripe's own helper (``stripe.WebhookSignature.generate_signature_header``).

What it does not emulate: Stripe's object model beyond the fields idnest reads, payment
itself (card, Alipay, WeChat Pay confirmation happens at Stripe's hosted page, which the
fake has none of), meter aggregation and the invoices Stripe would make from meters,
pagination (``has_more`` is always false), test clocks, rate limits, API versions, Connect
accounts, and sending webhooks: tests post the events themselves. docs/payments.md
repeats this list.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``payload[value]=3`` style fields as nested dicts (lists as dicts by index)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


class FakeStripe:
    def __init__(self, api_key: str = "sk_test_idnest") -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.customers: dict[str, dict[str, Any]] = {}
        self.meter_events: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.fail_next = 0
        self._answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # -- what tests read -------------------------------------------------------------
    def calls(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    @staticmethod
    def signed(event: dict[str, Any], secret: str, timestamp: int | None = None) -> tuple[str, str]:
        payload = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(
            payload, secret, timestamp=timestamp or int(time.time())
        )
        return payload, header

    # -- the API ---------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        # Random, as Stripe's: the test database outlives one fake.
        return f"{prefix}_fake{next(self._ids):04d}{secrets.token_hex(6)}"

    def handle(self, method: str, path: str, form: dict[str, Any], key: str) -> tuple[int, Any]:
        with self._lock:
            self.requests.append({"method": method, "path": path, "form": form, "key": key})
            if self.fail_next > 0:
                self.fail_next -= 1
                return 500, {"error": {"type": "api_error", "message": "fake outage"}}
            if key and key in self._answers:
                return self._answers[key]
            answer = self._route(method, path, form)
            if key and answer[0] < 500:
                self._answers[key] = answer
            return answer

    def _route(self, method: str, path: str, form: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")[1:]  # without "v1"
        if method == "POST" and parts == ["customers"]:
            cid = self._new_id("cus")
            self.customers[cid] = {"id": cid, "object": "customer", **form}
            return 200, self.customers[cid]
        if method == "POST" and len(parts) == 2 and parts[0] == "customers":
            if parts[1] not in self.customers:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
            self.customers[parts[1]].update(form)
            return 200, self.customers[parts[1]]
        if method == "POST" and parts == ["billing", "meter_events"]:
            ident = form.get("identifier", "")
            if ident in self.meter_events:
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"identifier {ident} already used",
                    }
                }
            event = {"object": "billing.meter_event", "livemode": False, **form}
            self.meter_events[ident] = event
            return 200, event
        if method == "POST" and parts == ["invoiceitems"]:
            item = {"id": self._new_id("ii"), "object": "invoiceitem", **form}
            if form.get("invoice") in self.invoices:
                inv = self.invoices[form["invoice"]]
                inv["amount_due"] = inv.get("amount_due", 0) + int(form.get("amount", 0))
            return 200, item
        if method == "POST" and parts == ["invoices"]:
            iid = self._new_id("in")
            self.invoices[iid] = {"id": iid, "object": "invoice", "status": "draft", **form}
            return 200, self.invoices[iid]
        if method == "POST" and len(parts) == 3 and parts[0] == "invoices":
            if parts[1] not in self.invoices:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
            self.invoices[parts[1]]["status"] = "open"
            self.invoices[parts[1]]["hosted_invoice_url"] = f"{self.url}/pay/{parts[1]}"
            return 200, self.invoices[parts[1]]
        if method == "GET" and parts == ["invoices"]:
            status = form.get("status")
            rows = [i for i in self.invoices.values() if status in (None, i["status"])]
            return 200, {"object": "list", "data": rows, "has_more": False, "url": "/v1/invoices"}
        return 404, {"error": {"type": "invalid_request_error", "message": f"no route {path}"}}

    # -- the server ------------------------------------------------------------------
    def start(self) -> FakeStripe:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._send(
                        401,
                        {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}},
                    )
                    return
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else url.query
                form = _nest(parse_qsl(body, keep_blank_values=True))
                key = self.headers.get("Idempotency-Key") or ""
                self._send(*fake.handle(self.command, url.path, form, key))

            do_GET = do_POST = do_DELETE = _serve

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_fake")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
