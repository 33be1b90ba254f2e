"""Logging set-up shared by every process (server, worker, CLI)."""

from __future__ import annotations

import logging
import sys

from core.settings import get_settings


def configure_logging(level: str | None = None) -> None:
    level = level or get_settings().log_level
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # basicConfig does nothing where a handler exists already (a Hypercorn worker has
    # one): the level is set on the root logger in any case, so every logger honours it.
    logging.getLogger().setLevel(level.upper())
    # Piccolo announces the database version on every engine start; not news.
    logging.getLogger("piccolo").setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
