"""Helpers of the escrow tests: a key, settings that carry it, records written through
the API, and the lines of a sealed file."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

KEY = base64.b64encode(os.urandom(32)).decode()
JSON = {"Content-Type": "application/json"}


def escrow_settings(settings: Any, **more: Any) -> Any:
    return settings.model_copy(update={"escrow_key": KEY, **more})


async def put_url(client: Any, t: Any, handle: str, url: str) -> None:
    body = {"values": [{"index": 1, "type": "URL", "data": url}]}
    r = await client.put(f"/api/handles/{handle}", json=body, headers={**t.auth(), **JSON})
    assert r.status_code in (200, 201), r.text


async def delete(client: Any, t: Any, handle: str) -> None:
    r = await client.delete(f"/api/handles/{handle}", headers=t.auth())
    assert r.status_code == 200, r.text


def lines(set_dir: Path, table: str) -> list[dict[str, Any]]:
    from tenants.escrow.services.sealed import read_lines

    key = base64.b64decode(KEY)
    return [json.loads(x) for x in read_lines(set_dir / f"{table}.ndjson", key, set_dir.name)]
