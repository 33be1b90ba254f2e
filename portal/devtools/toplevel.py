"""A stand-in national top-level node (国家顶级节点) for development and tests:
``idnest devtools toplevel --port P``, or ``FakeTopLevelNode().start()`` in a test.

A real HTTP server (stdlib, threaded) that:

- serves metadata templates as idnest pulls them: ``POST /identity/token`` with
  ``{username, password}`` answers ``data.token`` (status -1 on wrong credentials, HTTP
  200, as SNMS does); ``GET /snms/api/v5/template[?version=]`` answers the templates;
- takes what a secondary node pushes, ``POST /upstream/v1/{kind}`` (REFERENCE §4): every
  event is checked against ``core.upstream_messages``; a malformed one makes the whole
  request answer status -2 (nothing is stored); a well-formed one is stored once per
  ``eventId`` (a repeat counts in ``duplicates``), in arrival order;
- fails on demand: ``fail_next = N`` (HTTP 503 N times), ``mode`` ``down`` (503 always),
  ``slow`` (store, then answer after ``delay`` s: a sender killed meanwhile never hears
  the answer), ``timeout`` (answer nothing for ``delay`` s, store nothing), ``drop``
  (close the connection without an answer), ``raw_reply`` (this answer to everything);
- is driven from outside its process through ``/_devtools/``: ``GET received`` (events,
  duplicates, hits), ``POST fault`` ``{mode, delay, fail_next}``, ``POST templates``
  (a list), ``POST reset``.

Routes are a table (``ROUTES``: method and path, or path prefix ending in ``/``, to a
method name), so a new upstream API is one entry and one method. What it does not
emulate: the real node's exact paths, its signature scheme, TLS, pagination, rate limits
(docs/upstream.md).
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from core.upstream_messages import SYNC_PATH, problems

Reply = tuple[int, str, str]
CONTROL = "/_devtools/"
ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/identity/token"): "login",
    ("GET", "/snms/api/v5/template"): "templates_get",
    ("POST", SYNC_PATH): "push",
    ("PUT", "/snms/api/v5/escrow/"): "escrow_put",
    ("GET", f"{CONTROL}received"): "control_received",
    ("POST", f"{CONTROL}fault"): "control_fault",
    ("POST", f"{CONTROL}templates"): "control_templates",
    ("POST", f"{CONTROL}reset"): "control_reset",
}
MODES = ("", "down", "slow", "timeout", "drop")


class _Dropped(Exception):
    """Close the connection without an answer."""


class FakeTopLevelNode:
    def __init__(
        self,
        *,
        username: str | None = "node-88.100",
        password: str = "top-secret-1",  # noqa: S107 - a fake's default login
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        store: str | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.token = token
        self.host, self.port, self.store = host, port, store
        self._session = secrets.token_hex(16)
        self._lock = threading.Lock()
        self.templates: list[dict[str, Any]] = []
        self.fail_next = 0
        self.mode = ""
        self.delay = 0.0
        self.raw_reply: Reply | None = None
        self.hits: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.duplicates = 0
        # Escrow files as uploaded (PUT /snms/api/v5/escrow/{node}/{set}/{file}); the real
        # node's path and checks are an assumption (docs/escrow.md).
        self.escrow: dict[tuple[str, str, str], bytes] = {}
        self._seen: set[str] = set()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> FakeTopLevelNode:
        self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://{self.host}:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def serve_forever(self) -> None:
        self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://{self.host}:{self._server.server_address[1]}"
        self._server.serve_forever()

    def stop(self) -> None:
        """Close the port: from now on connections are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTopLevelNode:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    # --- what tests read -----------------------------------------------------------

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e["kind"] == kind]

    # --- dispatch ----------------------------------------------------------------

    def answer(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        url = urlsplit(target)
        self.hits.append(f"{method} {url.path}")
        if url.path.startswith(CONTROL):
            return self._route(method, url.path, url.query, headers, body)
        if self.fail_next > 0:
            self.fail_next -= 1
            return 503, "<html>503 Service Temporarily Unavailable</html>", "text/html"
        if self.mode == "down":
            return 503, "<html>503 Service Temporarily Unavailable</html>", "text/html"
        if self.mode == "drop":
            raise _Dropped
        if self.mode == "timeout":
            time.sleep(self.delay)
            raise _Dropped
        if self.raw_reply is not None:
            return self.raw_reply
        return self._route(method, url.path, url.query, headers, body)

    def _route(self, method: str, path: str, query: str, headers: Any, body: bytes) -> Reply:
        name = ROUTES.get((method, path))
        if name is None:
            name = next(
                (n for (m, p), n in ROUTES.items()
                 if m == method and p.endswith("/") and path.startswith(p)),
                None,
            )  # fmt: skip
        if name is None:
            return (
                404,
                json.dumps({"status": -2, "message": f"no route {path}"}),
                "application/json",
            )
        handler = getattr(self, name)
        return handler(path=path, query=query, headers=headers, body=body)

    # --- the top-level node's API ----------------------------------------------------

    def _authorised(self, header: str) -> bool:
        if self.username is None and self.token is None:
            return True
        given = header.removeprefix("Bearer ").strip()
        return given in {t for t in (self.token, self._session) if t}

    def login(self, *, body: bytes, **_: Any) -> Reply:
        try:
            creds = json.loads(body or b"{}")
        except ValueError:
            return envelope(-2, "send JSON {username, password}")
        if creds.get("username") == self.username and creds.get("password") == self.password:
            return envelope(1, "success", {"token": self._session})
        return envelope(-1, "wrong username or password")

    def templates_get(self, *, query: str, headers: Any, **_: Any) -> Reply:
        if not self._authorised(headers.get("Authorization", "")):
            return envelope(-1, "not logged in")
        version = parse_qs(query).get("version", [""])[0]
        found = [t for t in self.templates if not version or t.get("version") == version]
        return envelope(1, "success", found)

    def escrow_put(self, *, path: str, headers: Any, body: bytes, **_: Any) -> Reply:
        if not self._authorised(headers.get("Authorization", "")):
            return envelope(-1, "not logged in")
        parts = path.removeprefix("/snms/api/v5/escrow/").split("/")
        if len(parts) != 3 or not all(parts):
            return envelope(-2, "PUT /snms/api/v5/escrow/{node}/{set}/{file}")
        with self._lock:
            self.escrow[(parts[0], parts[1], parts[2])] = body
        return envelope(1, "success")

    def push(self, *, path: str, body: bytes, **_: Any) -> Reply:
        kind = path.removeprefix(SYNC_PATH)
        try:
            message = json.loads(body or b"{}")
        except ValueError:
            return envelope(-2, "the body must be JSON")
        events = message.get("events") if isinstance(message, dict) else None
        if not isinstance(events, list) or not events:
            return envelope(-2, "send {node, events: [...]} with at least one event")
        wrong = [f"event {n}: {p}" for n, e in enumerate(events, 1) for p in problems(e)]
        wrong += [f"event {n}: kind is not {kind}" for n, e in enumerate(events, 1)
                  if isinstance(e, dict) and e.get("kind") != kind]  # fmt: skip
        if wrong:
            return envelope(-2, "; ".join(wrong[:5]))
        self._keep(message, events)
        if self.mode == "slow":
            time.sleep(self.delay)
        return envelope(1, "success", {"taken": len(events)})

    def _keep(self, message: dict[str, Any], events: list[dict[str, Any]]) -> None:
        with self._lock:
            self.requests.append({"node": message.get("node"), "count": len(events)})
            fresh = [e for e in events if e["eventId"] not in self._seen]
            self.duplicates += len(events) - len(fresh)
            for e in fresh:
                self._seen.add(e["eventId"])
                e["receivedAt"] = time.time()
                self.events.append(e)
            if self.store and fresh:
                with open(self.store, "a", encoding="utf-8") as f:
                    f.writelines(json.dumps(e, ensure_ascii=False) + "\n" for e in fresh)

    # --- control, for tests in another process -------------------------------------------

    def control_received(self, **_: Any) -> Reply:
        with self._lock:
            data = {"events": self.events, "duplicates": self.duplicates, "hits": self.hits}
            return envelope(1, "success", data)

    def control_fault(self, *, body: bytes, **_: Any) -> Reply:
        try:
            fault = json.loads(body or b"{}")
            mode = str(fault.get("mode") or "")
            delay = float(fault.get("delay") or 0)
            fail_next = int(fault.get("fail_next") or 0)
        except (ValueError, TypeError, AttributeError):
            return envelope(-2, "send {mode, delay, fail_next}")
        if mode not in MODES:
            return envelope(-2, f"mode must be one of {', '.join(m or '(none)' for m in MODES)}")
        self.mode, self.delay, self.fail_next = mode, delay, fail_next
        return envelope(1, "success", {"mode": mode, "delay": delay, "fail_next": fail_next})

    def control_templates(self, *, body: bytes, **_: Any) -> Reply:
        try:
            templates = json.loads(body or b"[]")
        except ValueError:
            return envelope(-2, "send a JSON list of templates")
        if not isinstance(templates, list):
            return envelope(-2, "send a JSON list of templates")
        self.templates = templates
        return envelope(1, "success", {"templates": len(templates)})

    def control_reset(self, **_: Any) -> Reply:
        with self._lock:
            self.events, self.requests, self.hits, self.duplicates = [], [], [], 0
            self._seen = set()
        self.mode, self.delay, self.fail_next, self.raw_reply = "", 0.0, 0, None
        return envelope(1, "success")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    status, text, ctype = fake.answer(self.command, self.path, self.headers, body)
                except _Dropped:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


def envelope(status: int, message: str, data: Any = None) -> Reply:
    body = json.dumps({"status": status, "message": message, "data": data}, ensure_ascii=False)
    return 200, body, "application/json; charset=utf-8"


def item(index: int, name: str, id_type: str, kind: str = "string", *, required: bool = False,
         state: int = 1, **meta: Any) -> dict[str, Any]:  # fmt: skip
    """One template item in the SNMS v5 shape."""
    return {
        "name": name, "idType": id_type, "idIndex": index, "required": required,
        "state": state, "metadata": {"type": kind, **meta},
    }  # fmt: skip


def template(code: str, items: list[dict[str, Any]], *, version: str = "v1.0",
             industry: tuple[str, str, str, str] = ("", "", "", ""), **extra: Any,
             ) -> dict[str, Any]:  # fmt: skip
    """One template as the top-level node is assumed to send it."""
    return {
        "code": code,
        "name": extra.pop("name", f"{code} template"),
        "version": version,
        "industryCategory": industry[0],
        "industrySpecific": industry[1],
        "industryTrade": industry[2],
        "industrySubclass": industry[3],
        "type": extra.pop("type", 2),
        "items": items,
        **extra,
    }
