"""Client for the national top-level node (国家顶级节点): templates in, escrow out.

The top-level node sends secondary nodes their core and industry metadata templates
(标识模板). This module fetches them; what to do with them lives in
``tenants.templates.services.sync`` (core imports nothing else).

Assumption, to correct when the docking guide's exact API is in hand: the top-level
node serves templates the way secondary nodes (ours included) serve them in the SNMS v5
API, ``GET {IDNEST_UPSTREAM_URL}/snms/api/v5/template`` answering
``{status, message, data: [template, ...]}`` (status 1 is success), and accepts either a
bearer token (``IDNEST_UPSTREAM_TOKEN``) or an SNMS login (``POST /identity/token`` with
``{username, password}`` answering ``data.token``). The paths are the constants below.

Connection errors, timeouts, HTTP 429 and 5xx are retried with exponential backoff
(tenacity, ``IDNEST_UPSTREAM_ATTEMPTS``); anything else fails at once. Every failure is
an ``UpstreamError`` that names the URL and what was wrong, and nothing is returned
until the whole answer has been read and checked, so a caller never acts on half of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from core.errors import UpstreamError
from core.settings import Settings

TEMPLATE_PATH = "/snms/api/v5/template"
# What a failure of a push means for the message (core.delivery).
UNREACHABLE, REFUSED = "unreachable", "refused"
LOGIN_PATH = "/identity/token"
# Escrow (docs/escrow.md): PUT {ESCROW_PATH}/{node prefix}/{set}/{file}, the manifest last.
ESCROW_PATH = "/snms/api/v5/escrow"
_STATUS = {-1: "not logged in", -2: "business error", -3: "no permission", -4: "internal error"}


class _Retryable(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text[:120] + ("..." if len(text) > 120 else "")


async def _call(client: httpx.AsyncClient, settings: Settings, method: str, path: str,
                **kwargs: Any) -> Any:  # fmt: skip
    """One SNMS call with retries: the envelope's ``data``, or UpstreamError."""
    where = f"{method} {str(client.base_url).rstrip('/')}{path}"
    attempts = max(1, settings.upstream_attempts)
    wait = max(0.0, settings.upstream_retry_wait)
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(multiplier=wait, max=30.0, jitter=wait),
        retry=retry_if_exception_type((httpx.TransportError, _Retryable)),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                response = await client.request(method, path, **kwargs)
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Retryable(response)
    except httpx.TimeoutException as exc:
        raise UpstreamError(
            f"top-level node: {where} did not answer within {settings.upstream_timeout:g} s "
            f"({attempts} attempts)"
        ) from exc
    except httpx.TransportError as exc:
        raise UpstreamError(
            f"top-level node unreachable: {where} failed after {attempts} attempts: "
            f"{exc or type(exc).__name__}"
        ) from exc
    except _Retryable as exc:
        raise UpstreamError(
            f"top-level node: {where} answered HTTP {exc.response.status_code} "
            f"{attempts} times: {_snippet(exc.response.text)}"
        ) from exc
    return _envelope_data(where, response)


def _envelope_data(where: str, response: httpx.Response) -> Any:
    if response.status_code in (401, 403):
        raise UpstreamError(
            f"top-level node: {where} refused our credentials (HTTP {response.status_code}); "
            "check IDNEST_UPSTREAM_TOKEN or IDNEST_UPSTREAM_USERNAME/PASSWORD"
        )
    if response.status_code != 200:
        raise UpstreamError(
            f"top-level node: {where} answered HTTP {response.status_code}: "
            f"{_snippet(response.text)}"
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise UpstreamError(
            f"top-level node: {where} did not answer JSON: {_snippet(response.text)!r}"
        ) from exc
    if not isinstance(body, dict) or "status" not in body:
        raise UpstreamError(
            f"top-level node: {where} did not answer an SNMS envelope {{status, message, data}}: "
            f"{_snippet(response.text)!r}"
        )
    status = body["status"]
    if status != 1:
        meaning = _STATUS.get(status, "unknown status") if isinstance(status, int) else "?"
        raise UpstreamError(
            f"top-level node: {where} answered status {status!r} ({meaning}): "
            f"{_snippet(str(body.get('message') or ''))}"
        )
    return body.get("data")


async def _auth_headers(client: httpx.AsyncClient, settings: Settings) -> dict[str, str]:
    if settings.upstream_token:
        return {"Authorization": f"Bearer {settings.upstream_token}"}
    if not settings.upstream_username:
        return {}
    data = await _call(
        client, settings, "POST", LOGIN_PATH,
        json={"username": settings.upstream_username, "password": settings.upstream_password},
    )  # fmt: skip
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise UpstreamError(f"top-level node: the login at {LOGIN_PATH} answered no data.token")
    return {"Authorization": f"Bearer {token}"}


def base_url(settings: Settings, url: str | None = None) -> str:
    base = (url or settings.upstream_url).strip().rstrip("/")
    if not base:
        raise UpstreamError("no top-level node configured: set IDNEST_UPSTREAM_URL or pass --url")
    if not base.startswith(("http://", "https://")):
        raise UpstreamError(f"the top-level node URL must start with http:// or https://: {base!r}")
    return base


async def fetch_templates(settings: Settings, *, url: str | None = None) -> list[dict[str, Any]]:
    """Every template the top-level node offers, as raw SNMS v5 objects.

    Only the answer's shape is checked here (a list of objects); each template's
    content is checked by whoever saves it, so one bad template need not stop the rest.
    """
    base = base_url(settings, url)
    timeout = httpx.Timeout(settings.upstream_timeout)
    headers = {"Accept": "application/json", "User-Agent": "idnest"}
    async with httpx.AsyncClient(base_url=base, timeout=timeout, headers=headers) as client:
        auth = await _auth_headers(client, settings)
        data = await _call(client, settings, "GET", TEMPLATE_PATH, headers=auth)
    where = f"GET {base}{TEMPLATE_PATH}"
    if not isinstance(data, list):
        raise UpstreamError(
            f"top-level node: {where}: data must be a list of templates, got {type(data).__name__}"
        )
    for n, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise UpstreamError(
                f"top-level node: {where}: template {n} must be an object, "
                f"got {type(item).__name__}"
            )
    return data


class _FileBody:
    """A file's bytes as an upload body that a retry can send again from the start."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with open(self.path, "rb") as fh:  # noqa: ASYNC230 - local file, 1 MiB reads
            while block := fh.read(1 << 20):
                yield block


async def upload_escrow_set(settings: Settings, set_dir: str, node: str) -> None:
    """Send one escrow set: every file, then the manifest and its signature.

    Streamed from disk (memory stays at one block); an attempt that fails is sent again
    from the start of that file, as every call here is retried.
    """
    directory = Path(set_dir)
    names = _upload_order(directory)
    base = base_url(settings)
    timeout = httpx.Timeout(settings.upstream_timeout)
    headers = {"Accept": "application/json", "User-Agent": "idnest"}
    async with httpx.AsyncClient(base_url=base, timeout=timeout, headers=headers) as client:
        auth = await _auth_headers(client, settings)
        for name in names:
            path = directory / name
            await _call(
                client, settings, "PUT", f"{ESCROW_PATH}/{node}/{directory.name}/{name}",
                content=_FileBody(path),
                headers={**auth, "Content-Type": "application/octet-stream",
                         "Content-Length": str(path.stat().st_size)},
            )  # fmt: skip


_MANIFEST = ("manifest.sig", "manifest.json")


def _upload_order(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in _MANIFEST) + list(_MANIFEST)


class PushError(UpstreamError):
    """A push the top-level node did not take: ``reason`` is UNREACHABLE (try again later,
    it is not the message's fault) or REFUSED (the node read the message and said no)."""

    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason


def push_client(settings: Settings) -> httpx.AsyncClient:
    """One client for a delivery run: keep-alive to the top-level node, our credentials."""
    headers = {"Accept": "application/json", "User-Agent": "idnest"}
    if settings.upstream_token:
        headers["Authorization"] = f"Bearer {settings.upstream_token}"
    return httpx.AsyncClient(
        base_url=base_url(settings), timeout=httpx.Timeout(settings.upstream_timeout),
        headers=headers,
    )  # fmt: skip


async def push(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    """One POST of messages, without retries (the outbox row holds the retry schedule)."""
    where = f"POST {str(client.base_url).rstrip('/')}{path}"
    try:
        response = await client.post(path, json=body)
    except httpx.TransportError as exc:
        raise PushError(
            f"top-level node unreachable: {where}: {exc or type(exc).__name__}", UNREACHABLE
        ) from exc
    # Credentials are the node's problem, not the message's: wait, do not dead-letter.
    if response.status_code in (401, 403, 408, 429) or response.status_code >= 500:
        raise PushError(
            f"top-level node: {where} answered HTTP {response.status_code}: "
            f"{_snippet(response.text)}",
            UNREACHABLE,
        )
    try:
        _envelope_data(where, response)
    except UpstreamError as exc:
        raise PushError(exc.detail, REFUSED) from exc
