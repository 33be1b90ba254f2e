"""Usage feedback per identifier and day, bounded and private to the owner; the validity
window's edges in Asia/Shanghai time, just before and after midnight there."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from lifecycle_support import register, set_status

pytestmark = pytest.mark.anyio


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_a_date_until_is_the_end_of_that_day_in_shanghai():
    from core.lifecycle import build, parse_instant

    until = parse_instant("2026-12-31", "validUntil", end_of_day=True)
    assert until == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 2027-01-01 00:00 in Shanghai
    state = build({"status": "active", "valid_until": until})
    assert state is not None
    assert state.state(_at("2026-12-31T23:59:59.999+08:00")) == "active"
    assert state.state(_at("2027-01-01T00:00:00+08:00")) == "expired"
    # 23:59 in Shanghai is 15:59 UTC: a UTC day would have given eight more hours.
    assert state.state(_at("2026-12-31T16:30:00+00:00")) == "expired"


def test_a_date_from_is_the_start_of_that_day_in_shanghai():
    from core.lifecycle import build, parse_instant

    since = parse_instant("2027-01-01", "validFrom", end_of_day=False)
    assert since == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    state = build({"status": "active", "valid_from": since})
    assert state is not None
    assert state.state(_at("2026-12-31T23:59:59+08:00")) == "not_yet_valid"
    assert state.state(_at("2027-01-01T00:00:00+08:00")) == "active"


def test_offsets_are_exact_and_a_bare_time_is_shanghai_time():
    from core.lifecycle import parse_instant

    exact = parse_instant("2027-03-01T12:00:00Z", "validUntil", end_of_day=True)
    assert exact == datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # no end-of-day for a time
    bare = parse_instant("2027-03-01T12:00:00", "validUntil", end_of_day=True)
    assert bare == datetime(2027, 3, 1, 4, 0, tzinfo=UTC)


def test_the_order_of_states():
    from core.lifecycle import build

    past, future = _at("2000-01-01T00:00:00Z"), _at("2999-01-01T00:00:00Z")
    now = _at("2026-06-01T00:00:00Z")

    def state(**row):
        built = build({"status": "active", **row})
        return built.state(now) if built else "active"

    assert state(status="revoked", valid_until=datetime.fromtimestamp(past, UTC)) == "revoked"
    assert state(status="suspended", valid_until=datetime.fromtimestamp(past, UTC)) == "expired"
    assert state(status="suspended", valid_from=datetime.fromtimestamp(future, UTC)) == "suspended"
    assert state(valid_from=datetime.fromtimestamp(future, UTC)) == "not_yet_valid"
    assert build({"status": "active"}) is None  # a plain record keeps the fast paths


async def test_validity_edges_through_the_api(client, tenant_a):
    h = await register(client, tenant_a, "EDGE-1")
    changed = await set_status(client, tenant_a, h, "active", validUntil="2000-01-01")
    assert changed["validUntil"] == "2000-01-01T16:00:00+00:00" and changed["state"] == "expired"
    r = await client.get(f"/api/handles/{h}")
    assert r.status_code == 410 and r.json()["validUntil"] == "2000-01-01T16:00:00Z"
    assert r.json()["statusSince"] == "2000-01-01T16:00:00Z"  # expired since the window closed
    changed = await set_status(client, tenant_a, h, "active", validUntil=None, validFrom=None)
    assert changed["state"] == "active" and changed["validUntil"] is None
    assert (await client.get(f"/api/handles/{h}")).status_code == 200


async def test_resolutions_per_day_for_the_owner_only(client, tenant_a, tenant_b):
    from core.usage import shanghai_day
    from resolver.observability import recorder
    from resolver.observability.reslog import RESOLUTION_LOG

    h = await register(client, tenant_a, "USE-1")
    other = await register(client, tenant_a, "USE-2")
    RESOLUTION_LOG.take()
    for _ in range(3):
        assert (await client.get(f"/api/handles/{h}")).status_code == 200
    assert (await client.get(f"/{h}", follow_redirects=False)).status_code == 302
    assert (await client.get(f"/api/handles/{other}")).status_code == 200
    await set_status(client, tenant_a, h, "revoked")
    assert (await client.get(f"/api/handles/{h}")).status_code == 410
    await recorder.record_interval()  # the resolution log's flush: no write per resolution
    r = await client.get(f"/api/usage/{h}?days=7", headers=tenant_a.auth(tenant_a.read_key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["handle"] == h and body["days"] == 7 and len(body["byDay"]) == 7
    today = shanghai_day(datetime.now(UTC)).isoformat()
    assert body["byDay"][-1] == {"day": today, "resolutions": 5, "ok": 4}
    assert body["total"] == 5 and all(d["resolutions"] == 0 for d in body["byDay"][:-1])
    assert date.fromisoformat(body["byDay"][0]["day"]) < date.fromisoformat(today)
    default = (await client.get(f"/api/usage/{h}", headers=tenant_a.auth())).json()
    assert default["days"] == 30 and default["total"] == 5
    for bad in ("0", "181", "-1", "x", "1e3"):
        r = await client.get(f"/api/usage/{h}?days={bad}", headers=tenant_a.auth())
        assert r.status_code == 400 and r.json()["field"] == "days", bad
    assert (await client.get(f"/api/usage/{h}")).status_code == 401
    assert (await client.get(f"/api/usage/{h}", headers=tenant_b.auth())).status_code == 403
    missing = f"{tenant_a.prefix}/NOPE"
    assert (await client.get(f"/api/usage/{missing}", headers=tenant_a.auth())).status_code == 404
