"""Node templates from the top-level node: a new version only where the content changed.

The national top-level node (国家顶级节点) is where core and industry metadata templates
(标识模板) come from. ``sync`` fetches its list (``core.upstream``) and then, per code:

- a code we do not have gets version 1; changed content gets the next version; the same
  content writes nothing, so running a sync twice writes nothing the second time;
- every write goes through ``templates.save_template`` as actor ``upstream-sync``, so
  the service's rules hold: a template that drops an item is refused (items are
  disabled, never deleted), and so is a bad item or industry level. A refusal is
  logged, written to the audit log (``template.sync_refused``) and reported, and the
  other templates still sync.

If the fetch fails, nothing is written. Compared are the name, kind, industry levels,
carrier type and items; the upstream's own version label and ids are reported but not
kept (our versions count our own rows). Node templates the top-level node no longer
lists are left alone.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from core import audit, upstream
from core.errors import Conflict, IdnestError
from core.settings import Settings, get_settings
from core.tenancy import cross_tenant
from tenants.templates.services import templates
from tenants.templates.services.industry import check_industry
from tenants.templates.services.items import parse_items

log = logging.getLogger("idnest.template_sync")
ACTOR = "upstream-sync"
INDUSTRY = ("industryCategory", "industrySpecific", "industryTrade", "industrySubclass")
_KEEP = ("code", "name", "kind", *INDUSTRY, "type", "items")
ACTIONS = ("created", "updated", "unchanged", "refused")


@dataclass(frozen=True, slots=True)
class Outcome:
    code: str
    action: str  # one of ACTIONS
    ref: str = ""  # our code@version after the sync
    message: str = ""
    upstream_version: str = ""

    def line(self) -> str:
        text = f"{self.action}\t{self.ref or self.code}"
        if self.upstream_version:
            text += f"\t(upstream {self.upstream_version})"
        return f"{text}\t{self.message}" if self.message else text


@dataclass
class SyncReport:
    url: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == "refused"]

    @property
    def written(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action in ("created", "updated")]

    def summary(self) -> str:
        counts = Counter(o.action for o in self.outcomes)
        text = ", ".join(f"{counts[a]} {a}" for a in ACTIONS)
        if self.refused:
            text += "; refused: " + "; ".join(f"{o.code}: {o.message}" for o in self.refused)
        return text


def _body(raw: dict[str, Any]) -> dict[str, Any]:
    """Only the SNMS v5 fields a node template is made of; ids, dates and ``extends``
    from upstream are not ours to store."""
    body = {k: raw[k] for k in _KEEP if k in raw}
    if "type" not in body and "carrierType" in raw:
        body["type"] = raw["carrierType"]
    return body


def _kind(raw: dict[str, Any], previous: templates.Template | None) -> str:
    # The SNMS shape has no kind; a template without industry levels is a core one.
    if raw.get("kind") in ("core", "industry"):
        return str(raw["kind"])
    if previous is not None:
        return previous.kind
    return "industry" if any(raw.get(k) for k in INDUSTRY) else "core"


def _unchanged(previous: templates.Template, body: dict[str, Any], kind: str) -> bool:
    """True when saving ``body`` would write exactly what ``previous`` holds: the same
    parsing and defaults as ``save_template``, so a sync never writes a version equal to
    the last."""
    return (
        previous.items == tuple(parse_items(body.get("items", [])))
        and previous.name == str(body.get("name") or previous.name)[:255]
        and previous.industry == check_industry(body)
        and previous.carrier_type == body.get("type", 2)
        and previous.kind == kind
        and previous.extends == ""
    )


async def _latest(code: str) -> templates.Template | None:
    found = await templates.list_templates(None, code=code)
    return next((t for t in found if t.tenant_id is None), None)


async def _save(code: str, raw: dict[str, Any], upstream_version: str) -> Outcome:
    body = _body(raw)
    for attempt in range(2):
        previous = await _latest(code)
        kind = _kind(raw, previous)
        if previous is not None and _unchanged(previous, body, kind):
            return Outcome(code, "unchanged", previous.ref, "", upstream_version)
        try:
            # expect_latest: if another sync (or a staff edit) wrote a version since we
            # compared, this is a Conflict instead of a second, equal version.
            saved = await templates.save_template(
                owner_tenant=None, code=code, body=body, actor=ACTOR, kind=kind,
                expect_latest=previous.version if previous else 0,
            )  # fmt: skip
        except Conflict:
            if attempt == 0:
                continue  # compare with what the other writer wrote
            raise
        was = f"was {previous.ref}" if previous is not None else ""
        action = "created" if previous is None else "updated"
        return Outcome(code, action, saved.ref, was, upstream_version)
    raise AssertionError("unreachable")  # pragma: no cover


async def _refuse(code: str, message: str, upstream_version: str) -> Outcome:
    log.warning("top-level template %s refused: %s", code, message)
    async with cross_tenant("node", write=True):
        await audit.record(
            actor=ACTOR,
            action="template.sync_refused",
            target=code,
            detail={"message": message, "upstreamVersion": upstream_version},
        )
    return Outcome(code, "refused", "", message, upstream_version)


async def sync(settings: Settings | None = None, *, url: str | None = None) -> SyncReport:
    """Pull the node templates from the top-level node; UpstreamError (and nothing
    written) when it cannot be reached or its answer is not a list of templates."""
    settings = settings or get_settings()
    report = SyncReport(upstream.base_url(settings, url))
    fetched = await upstream.fetch_templates(settings, url=url)
    codes = Counter(t.get("code") for t in fetched)
    for n, raw in enumerate(fetched, 1):
        code = raw.get("code")
        version = str(raw.get("version") or "")
        if not isinstance(code, str) or not code.strip():
            report.outcomes.append(await _refuse(f"#{n}", "the template has no code", version))
        elif codes[code] > 1:
            report.outcomes.append(
                await _refuse(code, f"listed {codes[code]} times; none of them taken", version)
            )
        else:
            try:
                report.outcomes.append(await _save(code, raw, version))
            except IdnestError as exc:
                report.outcomes.append(await _refuse(code, exc.detail, version))
    log.info("template sync from %s: %s", report.url, report.summary())
    return report
