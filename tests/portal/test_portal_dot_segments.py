"""The console's identifier form refuses a suffix with a '.'/'..' segment, naming it."""

from __future__ import annotations

import pytest
from portal_support import Web, add_member

pytestmark = pytest.mark.anyio


async def test_console_form_refuses_dot_segments(web: Web, tenant_a, tenant_b) -> None:
    addr = await add_member(tenant_a.id, "owner")
    assert (await web.login(addr)).status_code == 303
    page = f"/console/{tenant_a.prefix}/identifier/edit"
    for suffix in (f"../{tenant_b.prefix}/PUB", "x/./y"):
        data = {"suffix": suffix, "is_new": "1", "rows": "1", "index_0": "1", "type_0": "URL",
                "data_0": "https://e.com/", "ttl_0": "3600", "public_0": "1"}  # fmt: skip
        r = await web.post(f"/console/{tenant_a.prefix}/identifier/save", data, form_page=page)
        assert r.status_code == 400 and "path segment" in r.text, r.text[-600:]
    r = await web.get(f"/console/{tenant_a.prefix}/identifiers")
    assert "PUB" not in r.text
