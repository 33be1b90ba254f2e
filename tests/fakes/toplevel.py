"""A fake national top-level node (国家顶级节点): a real HTTP server on a free loopback
port that serves metadata templates the way idnest expects to pull them.

What it emulates:

- ``POST /identity/token`` with ``{username, password}`` answers
  ``{status: 1, message, data: {token}}``; wrong credentials answer status -1 (HTTP 200,
  as SNMS does).
- ``GET /snms/api/v5/template[?version=code@N]`` answers ``{status: 1, message, data:
  [template, ...]}`` in the SNMS v5 shape idnest itself serves (code, name, version,
  industry levels, type, items). When credentials are set, a missing or wrong bearer
  token answers status -1; ``token`` is also accepted as a fixed bearer token.
- ``PUT /snms/api/v5/escrow/{node}/{set}/{file}`` stores the body in
  ``escrow[(node, set, file)]`` and answers status 1 (idnest's escrow upload; the real
  node's path and any checks it makes are an assumption, docs/escrow.md).
- Faults on demand: ``fail_next = N`` answers the next N requests with HTTP 503 (for
  retries); ``raw_reply = (status, body, content type)`` answers every request with that
  instead (bad JSON, wrong shapes); ``stop()`` closes the port (the node is down).
- ``hits`` records each request as ``"METHOD /path"``.

What it does not emulate: the real node's exact URL paths, its login and signature
scheme, TLS, pagination, rate limits, slow answers, or anything a secondary node sends
up (sync data, statistics, monthly reports) beyond storing escrow files. Those paths and
shapes are an assumption, taken from the SNMS v5 template API (REFERENCE §3), the same one
``core.upstream`` is written against; see docs/registry.md.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeTopLevelNode:
    def __init__(
        self, *, username: str | None = "node-88.100", password: str = "top-secret-1",
        token: str | None = None,
    ) -> None:  # fmt: skip
        self.username = username
        self.password = password
        self.token = token
        self._session = secrets.token_hex(16)
        self.templates: list[dict[str, Any]] = []
        self.fail_next = 0
        self.raw_reply: tuple[int, str, str] | None = None
        self.hits: list[str] = []
        self.escrow: dict[tuple[str, str, str], bytes] = {}
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> FakeTopLevelNode:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

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

    # --- behaviour ---------------------------------------------------------------

    def _authorised(self, header: str) -> bool:
        if self.username is None and self.token is None:
            return True
        given = header.removeprefix("Bearer ").strip()
        return given in {t for t in (self.token, self._session) if t}

    def answer(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, str, str]:
        self.hits.append(f"{method} {urlsplit(target).path}")
        if self.fail_next > 0:
            self.fail_next -= 1
            return 503, "<html>503 Service Temporarily Unavailable</html>", "text/html"
        if self.raw_reply is not None:
            return self.raw_reply
        url = urlsplit(target)
        if method == "POST" and url.path == "/identity/token":
            return self._login(body)
        if method == "GET" and url.path == "/snms/api/v5/template":
            if not self._authorised(headers.get("Authorization", "")):
                return _envelope(-1, "not logged in")
            version = parse_qs(url.query).get("version", [""])[0]
            found = [t for t in self.templates if not version or t.get("version") == version]
            return _envelope(1, "success", found)
        if method == "PUT" and url.path.startswith("/snms/api/v5/escrow/"):
            return self._escrow(url.path, headers, body)
        return (
            404,
            json.dumps({"status": -2, "message": f"no route {url.path}"}),
            "application/json",
        )

    def _escrow(self, path: str, headers: Any, body: bytes) -> tuple[int, str, str]:
        if not self._authorised(headers.get("Authorization", "")):
            return _envelope(-1, "not logged in")
        parts = path.removeprefix("/snms/api/v5/escrow/").split("/")
        if len(parts) != 3 or not all(parts):
            return _envelope(-2, "expected /snms/api/v5/escrow/{node}/{set}/{file}")
        self.escrow[(parts[0], parts[1], parts[2])] = body
        return _envelope(1, "success")

    def _login(self, body: bytes) -> tuple[int, str, str]:
        try:
            creds = json.loads(body or b"{}")
        except ValueError:
            return _envelope(-2, "send JSON {username, password}")
        if creds.get("username") == self.username and creds.get("password") == self.password:
            return _envelope(1, "success", {"token": self._session})
        return _envelope(-1, "wrong username or password")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, text, ctype = fake.answer(self.command, self.path, self.headers, body)
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


def _envelope(status: int, message: str, data: Any = None) -> tuple[int, str, str]:
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
