"""The stylesheet the portal serves: helper classes the templates rely on exist in it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from portal_support import Web

pytestmark = pytest.mark.anyio

TEMPLATES = Path(__file__).resolve().parents[2] / "portal" / "templates"


async def test_visually_hidden_text_is_hidden_but_stays_for_screen_readers(web: Web):
    users = [p.name for p in TEMPLATES.rglob("*.html") if "visually-hidden" in p.read_text("utf-8")]
    assert users, "no template uses visually-hidden any more; drop this test"
    css = (await web.get("/static/portal.css")).text
    rule = re.search(r"\.visually-hidden\s*\{([^}]*)\}", css)
    assert rule, f"{', '.join(users)} use .visually-hidden, which portal.css does not define"
    body = re.sub(r"\s*!important", "", rule.group(1))
    # Taken out of the layout and clipped to nothing, but not display:none, which would
    # hide the text from screen readers too.
    for decl in ("position: absolute", "width: 1px", "height: 1px", "overflow: hidden"):
        assert decl in body, decl
    assert "clip: rect(0, 0, 0, 0)" in body
    assert "display: none" not in body and "visibility: hidden" not in body
