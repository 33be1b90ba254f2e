"""Choosing a link and writing link sets (RFC 9264), per the GS1-Conformant Resolver
standard: the default link unless a link type is asked for; among candidates, the best
match for ``context``, ``Accept-Language`` and ``Accept``; the default wins ties."""

from __future__ import annotations

from typing import Any

import msgspec

from resolver.gs1.cache import Link

GS1_VOC = "https://gs1.org/voc/"
DEFAULT_LINK = GS1_VOC + "defaultLink"
LINKSET = "application/linkset+json"
_json = msgspec.json.Encoder()


def expand(link_type: str) -> str:
    return GS1_VOC + link_type[4:] if link_type.startswith("gs1:") else link_type


def compact(link_type: str) -> str:
    for base in (GS1_VOC, "http://gs1.org/voc/"):
        if link_type.startswith(base):
            return "gs1:" + link_type[len(base) :]
    return link_type


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


def linkset_body(anchor: str, links: list[Link]) -> bytes:
    context: dict[str, Any] = {"anchor": anchor}
    for link in links:
        target: dict[str, Any] = {"href": link.href}
        if link.title:
            target["title"] = link.title
        if link.language:
            target["hreflang"] = [link.language]
        if link.media_type:
            target["type"] = link.media_type
        if link.context:
            target["context"] = [link.context]
        context.setdefault(expand(link.link_type), []).append(target)
        if link.is_default:
            context.setdefault(DEFAULT_LINK, []).append(target)
    return _json.encode({"linkset": [context]})


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
