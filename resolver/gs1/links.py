"""Choosing a link and writing link sets (RFC 9264), per the GS1-Conformant Resolver
standard: the default link unless a link type is asked for; among candidates, the best
match for ``context``, ``Accept-Language`` and ``Accept``; the default wins ties.

Link sets are written to validate against GS1's linkset JSON schema
(https://ref.gs1.org/standards/resolver/linkset-schema) and to pass GS1's resolver
conformance suite: one entry per walk-up level that has links (the most specific
first, as the standard asks for qualified requests), each with an absolute ``anchor``
and an ``itemDescription``; every link with ``href`` and ``title``; the default link
repeated under ``gs1:defaultLink`` with no optional attributes (href and title only)."""

from __future__ import annotations

from typing import Any

import msgspec

from core.schemes import SchemeError
from core.schemes.gs1 import AI_NAMES, parse_digital_link_path
from core.schemes.gs1_vocab import GS1_VOC, expand, link_type
from resolver.gs1.cache import Items, Link

DEFAULT_LINK = GS1_VOC + "defaultLink"
LINKSET = "application/linkset+json"
_json = msgspec.json.Encoder()


def parse_accept_language(header: str) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for part in header.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        if not tag or tag == "*":
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if q > 0:
            out.append((tag, q))
    return out


def parse_accept(header: str) -> list[str]:
    types = []
    for part in header.split(",")[:20]:
        media = part.split(";")[0].strip().lower()
        if media and "*" not in media:
            types.append(media)
    return types


def _language_score(link: Link, languages: list[tuple[str, float]]) -> float:
    if not languages:
        return 0.0
    if not link.language:
        return 0.001  # language-neutral: better than a language nobody asked for
    best = 0.0
    primary = link.language.split("-")[0]
    for tag, q in languages:
        if tag == link.language:
            best = max(best, q)
        elif tag.split("-")[0] == primary:
            best = max(best, q * 0.9)
    return best


def choose(
    candidates: list[Link], languages: list[tuple[str, float]], context: str, accept: list[str]
) -> Link:
    def score(link: Link) -> tuple[int, float, int, int]:
        ctx = (
            0 if not context else (2 if link.context == context else (1 if not link.context else 0))
        )
        media = 1 if accept and link.media_type in accept else 0
        return (ctx, _language_score(link, languages), media, 1 if link.is_default else 0)

    return max(candidates, key=score)


def default_candidates(links: list[Link]) -> list[Link]:
    """The default link and its variants (same link type: other languages, contexts)."""
    default = next((x for x in links if x.is_default), links[0])
    return [x for x in links if x.link_type == default.link_type]


def link_title(link: Link) -> str:
    """The link's own title, else the vocabulary's label of its type (the schema and
    the standard require a title on every link), else the type itself."""
    if link.title:
        return link.title
    known = link_type(link.link_type)
    return known.label if known is not None else link.link_type


def item_description(path: str, items: Items) -> str:
    """What `path` identifies: its own description; else the nearest described key
    above it with the qualifiers below that named ("Risotto rice 411 g, lot L1"); else
    the tenant's name and the key ("Alpha Foods GTIN 09506000134352, lot L1")."""
    try:
        dl = parse_digital_link_path(path)
    except SchemeError:
        return items.tenant_name or path
    walk = dl.walk_up_paths()  # walk[i] drops the last i qualifiers
    described = next((i for i, p in enumerate(walk) if p in items.descriptions), None)
    if described is None:
        head = f"{items.tenant_name} {AI_NAMES[dl.primary_ai]} {dl.primary_value}".strip()
        rest = dl.qualifiers
    else:
        head = items.descriptions[walk[described]]
        rest = dl.qualifiers[len(dl.qualifiers) - described :]
    return ", ".join([head, *(f"{AI_NAMES.get(ai, 'AI ' + ai)} {v}" for ai, v in rest)])


def _target(link: Link) -> dict[str, Any]:
    target: dict[str, Any] = {"href": link.href, "title": link_title(link)}
    if link.language:
        target["hreflang"] = [link.language]
    if link.media_type:
        target["type"] = link.media_type
    if link.context:
        target["context"] = [link.context]
    return target


def linkset_body(base: str, levels: list[tuple[str, list[Link]]], items: Items) -> bytes:
    """The link set of a request: `levels` as the cache holds them, most specific first."""
    entries = []
    for path, links in levels:
        entry: dict[str, Any] = {
            "anchor": base + path,
            "itemDescription": item_description(path, items),
        }
        for link in links:
            entry.setdefault(expand(link.link_type), []).append(_target(link))
        default = next((x for x in links if x.is_default), links[0])
        entry[DEFAULT_LINK] = [{"href": default.href, "title": link_title(default)}]
        entries.append(entry)
    return _json.encode({"linkset": entries})


def pass_query(href: str, query: str) -> str:
    """The request's query string, minus the resolver's own ``linkType``, appended."""
    kept = [
        part
        for part in query.split("&")
        if part and part.split("=", 1)[0] not in ("linkType", "linktype")
    ]
    if not kept:
        return href
    fragment = ""
    if "#" in href:
        href, fragment = href.split("#", 1)
        fragment = "#" + fragment
    return f"{href}{'&' if '?' in href else '?'}{'&'.join(kept)}{fragment}"
