"""The GS1 Digital Link resolver, answered below the web framework.

Paths whose first segment is a numeric GS1 Application Identifier (``/01/...``,
``/00/...``, ``/414/...``, ``/8003/...``) and ``/.well-known/gs1resolver`` come here
from ``resolver.fastpath``. It behaves as the GS1-Conformant Resolver standard asks
(REFERENCE.md §5, docs/schemes.md): GET, HEAD and OPTIONS with CORS; 400 on a syntax
error and never 200 for an error; 307 to the default link or to the ``linkType`` asked
for, chosen by ``context``, ``Accept-Language`` and ``Accept``; walk-up from
qualifiers to the primary key; 404 when the link type is absent; RFC 9264 link sets
for ``linkType=linkset|all`` or ``Accept: application/linkset+json``; a ``Link``
header to the link set; the query string passed on.

It is raw ASGI for speed: a cached plain GET is one dictionary look-up and two sends.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote

import msgspec

from core.errors import rc_for_http_status
from core.http import problem_document
from core.schemes import SchemeError
from core.schemes.gs1 import QUALIFIER_CHAINS, DigitalLinkKey, parse_digital_link_path
from core.schemes.gs1_vocab import compact
from core.settings import get_settings
from resolver.cache import Missing
from resolver.gs1.cache import GS1Entry, Link, scheme_cache
from resolver.gs1.links import (
    LINKSET,
    choose,
    default_candidates,
    linkset_body,
    parse_accept,
    parse_accept_language,
    pass_query,
)
from resolver.service import DB_ERRORS, Resolver

WELL_KNOWN = "/.well-known/gs1resolver"
_DIGITS = frozenset("0123456789")
_json = msgspec.json.Encoder()
CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"Link, Location, Content-Type"),
]
PREFLIGHT = [
    (b"allow", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-headers", b"Accept, Accept-Language, Content-Type, Authorization"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]
_VARY = (b"vary", b"Accept, Accept-Language")
#: With every linkset, the JSON-LD context that turns it into JSON-LD. GS1-Conformant
#: Resolver 1.2, artefacts: "An HTTP Link header pointing to this file with an @rel
#: value of http://www.w3.org/ns/json-ld#context, when included in the response to a
#: request for a linkset ..." (https://ref.gs1.org/standards/resolver/artefacts); GS1's
#: conformance suite looks for exactly this rel and type="application/ld+json".
JSONLD_CONTEXT = (
    b"<https://ref.gs1.org/standards/resolver/linkset-context>; "
    b'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
)
_URI_SAFE = ":/?#[]@!$&'()*+,;=%~"


def _uri(text: str) -> bytes:
    """An IRI as an ASCII URI for a header (non-ASCII percent-encoded as UTF-8)."""
    return quote(text, safe=_URI_SAFE).encode("ascii")


class GS1Door:
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.cache = scheme_cache(resolver.cache)
        self.node_prefix = resolver.node_prefix
        self.base = get_settings().public_base_url.rstrip("/")

    def claims(self, path: str) -> bool:
        if len(path) < 2 or path[1] not in _DIGITS:
            return path == WELL_KNOWN
        end = path.find("/", 1)
        segment = path[1:end] if end > 0 else path[1:]
        return segment.isdigit() and segment.isascii() and segment != self.node_prefix

    # -- ASGI -----------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            await self._send(send, 204, PREFLIGHT, b"", head=True)
            return
        if method not in ("GET", "HEAD"):
            await self._problem(
                send,
                405,
                "Method not allowed",
                f"{method} is not allowed here",
                head=False,
                extra=[(b"allow", b"GET, HEAD, OPTIONS")],
            )
            return
        head = method == "HEAD"
        if scope["path"] == WELL_KNOWN:
            await self._send(
                send,
                200,
                [(b"content-type", b"application/json"), *CORS],
                self._description(scope),
                head=head,
            )
            return
        raw = scope.get("raw_path") or scope["path"].encode("utf-8")
        path = raw.split(b"?", 1)[0].decode("latin-1")
        query: bytes = scope["query_string"]
        accept = accept_language = None
        for name, value in scope["headers"]:
            if name == b"accept":
                accept = value
            elif name == b"accept-language":
                accept_language = value
        if not query and (accept is None or b"linkset" not in accept):
            entry = self.cache.get_gs1(path)
            if (
                isinstance(entry, GS1Entry)
                and entry.plain_headers is not None
                and (entry.plain_any_header or (accept is None and accept_language is None))
            ):
                self.cache.hits += 1
                self.resolver.counters.hit(entry.tenant_id)
                await send(
                    {"type": "http.response.start", "status": 307, "headers": entry.plain_headers}
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await self._resolve(
            scope, send, path, query.decode("latin-1"), accept, accept_language, head
        )

    async def _resolve(
        self,
        scope: dict[str, Any],
        send: Any,
        path: str,
        query: str,
        accept: bytes | None,
        accept_language: bytes | None,
        head: bool,
    ) -> None:
        try:
            if not path.isascii():
                raise SchemeError(
                    "non-ASCII characters in the path must be percent-encoded", code="charset"
                )
            dl = parse_digital_link_path(path)
        except SchemeError as exc:
            await self._problem(send, 400, "Invalid GS1 Digital Link URI", exc.message, head=head)
            return
        params = dict(parse_qsl(query, keep_blank_values=True))
        link_type = params.get("linkType")
        accept_text = accept.decode("latin-1") if accept else ""
        want_linkset = link_type in ("linkset", "all") or (
            link_type is None and LINKSET in accept_text
        )
        if link_type is not None and not want_linkset:
            link_type = compact(link_type)
            if not (link_type.startswith("gs1:") and link_type[4:].isalnum()) and not (
                link_type.startswith(("http://", "https://"))
            ):
                await self._problem(
                    send,
                    400,
                    "Invalid linkType",
                    f"linkType {params['linkType']!r} is not gs1:<type>, "
                    "an absolute URI, linkset or all",
                    head=head,
                )
                return
        entry = self.cache.get_gs1(path)
        if entry is None:
            self.cache.misses += 1
            try:
                entry = await self._load(path, dl)
            except DB_ERRORS:
                await self._problem(
                    send,
                    503,
                    "Service unavailable",
                    "the registry database is unreachable",
                    head=head,
                )
                return
        if isinstance(entry, Missing):
            await self._problem(
                send,
                404,
                "Not found",
                f"{dl.canonical_path()} has no links on this resolver",
                head=head,
            )
            return
        self.resolver.counters.hit(entry.tenant_id)
        level_path = entry.levels[0][0]
        link_header = self._link_header(level_path)
        if want_linkset:
            if entry.items is None:
                try:
                    entry.items = await self.cache.load_items(entry.tenant_id, dl.walk_up_paths())
                except DB_ERRORS:
                    await self._problem(
                        send, 503, "Service unavailable", "the registry database is unreachable",
                        head=head,
                    )  # fmt: skip
                    return
            body = linkset_body(self._base(scope), entry.levels, entry.items)
            with_context = (b"link", link_header[1] + b", " + JSONLD_CONTEXT)
            await self._send(
                send, 200, [(b"content-type", LINKSET.encode()), with_context, _VARY, *CORS], body,
                head=head,
            )  # fmt: skip
            return
        languages = parse_accept_language(
            accept_language.decode("latin-1") if accept_language else ""
        )
        context = params.get("context", "")
        media = parse_accept(accept_text)
        chosen: Link | None = None
        if link_type is None:
            chosen = choose(default_candidates(entry.levels[0][1]), languages, context, media)
        else:
            for _, links in entry.levels:
                candidates = [x for x in links if x.link_type == link_type]
                if candidates:
                    chosen = choose(candidates, languages, context, media)
                    break
        if chosen is None:
            await self._problem(
                send,
                404,
                "Link type not found",
                f"{dl.canonical_path()} has no {link_type} link",
                head=head,
                extra=[link_header],
            )
            return
        location = _uri(pass_query(chosen.href, query))
        await self._send(
            send, 307, [(b"location", location), link_header, _VARY, *CORS], b"", head=head
        )

    # -- loading --------------------------------------------------------------------
    async def _owner(self, dl: DigitalLinkKey) -> int | None:
        digits = dl.key.company_prefix_digits
        if dl.primary_ai == "8004":
            digits = digits[: len(digits) - len(digits.lstrip("0123456789"))]
        owners = await self.cache.owners("gs1")
        for n in range(min(12, len(digits)), 3, -1):
            tenant = owners.get(digits[:n])
            if tenant is not None and (dl.primary_ai != "8004" or len(dl.primary_value) > n):
                return tenant
        return None

    async def _load(self, path: str, dl: DigitalLinkKey) -> GS1Entry | Missing:
        generation = self.cache.generation
        paths = dl.walk_up_paths()
        tenant_id = await self._owner(dl)
        levels = await self.cache.load_links(tenant_id, paths) if tenant_id is not None else []
        entry: GS1Entry | Missing
        if tenant_id is None or not levels:
            entry = self.cache.missing()
        else:
            entry = GS1Entry(tenant_id, levels)
            candidates = default_candidates(levels[0][1])
            default = choose(candidates, [], "", [])
            entry.plain_headers = [
                (b"location", _uri(default.href)),
                self._link_header(levels[0][0]),
                _VARY,
                *CORS,
                (b"content-length", b"0"),
            ]
            entry.plain_any_header = len(candidates) == 1
        self.cache.put_gs1(path, paths[-1], entry, generation)
        return entry

    # -- answers --------------------------------------------------------------------
    def _link_header(self, level_path: str) -> tuple[bytes, bytes]:
        target = f"{self.base}{level_path}?linkType=linkset"
        # A comma would split the header for clients that split it naively.
        uri = _uri(target).replace(b",", b"%2C")
        return (b"link", b"<" + uri + b'>; rel="linkset"; type="' + LINKSET.encode() + b'"')

    def _base(self, scope: dict[str, Any]) -> str:
        if self.base:
            return self.base
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        return f"{scope.get('scheme', 'http')}://{host or 'localhost'}"

    def _description(self, scope: dict[str, Any]) -> bytes:
        settings = get_settings()
        return _json.encode(
            {
                "name": f"{settings.node_name} GS1 Digital Link resolver",
                "resolverRoot": self._base(scope),
                "supportedLinkType": [
                    {
                        "namespace": "https://gs1.org/voc/",
                        "prefix": "gs1:",
                        "profile": "https://gs1.org/voc/?show=linktypes",
                    }
                ],
                "supportedPrimaryKeys": sorted(QUALIFIER_CHAINS),
                "linkTypeDefaultCanBeLinkset": True,
                "linkTypeDefaultCanBeAll": True,
                "supportedContextValuesEnumerated": [],
                "resolverBehaviour": "GS1-Conformant Resolver 1.2: 307 redirects, walk-up, "
                "RFC 9264 linksets (application/linkset+json)",
            }
        )

    async def _problem(
        self,
        send: Any,
        status: int,
        title: str,
        detail: str,
        *,
        head: bool,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        body = _json.encode(problem_document(status, title, detail, rc=rc_for_http_status(status)))
        headers = [(b"content-type", b"application/problem+json"), *CORS, *(extra or [])]
        await self._send(send, status, headers, body, head=head)

    @staticmethod
    async def _send(
        send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes, *, head: bool
    ) -> None:
        if not any(name == b"content-length" for name, _ in headers):
            headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})
