"""Periodic jobs of the templates context (core.scheduler; docs/scheduling.md).

Registered by importing this module, which the composition root does (portal/jobs.py).
"""

from __future__ import annotations

from core.scheduler import periodic
from core.settings import Settings
from tenants.templates.services import sync


@periodic("template-sync", every=lambda s: s.template_sync_interval if s.upstream_url else 0)
async def sync_templates(settings: Settings) -> str:
    return (await sync.sync(settings)).summary()
