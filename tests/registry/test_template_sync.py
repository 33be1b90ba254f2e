"""Template sync from the top-level node, against a fake node on a real HTTP port: new
and changed templates become versions, an unchanged sync writes nothing, a template that
drops an item is refused without stopping the others, and a node that is down or answers
nonsense is a clear error with nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from fakes.toplevel import FakeTopLevelNode, item, template
from node_support import as_node
from registry_helpers import put_values, sv

pytestmark = pytest.mark.anyio
IDNEST = str(Path(sys.executable).with_name("idnest"))
BOILER = ("C", "34", "341", "3411")


def _code(stem: str) -> str:
    # Node templates are shared by the whole test run: every test uses its own codes.
    return f"{stem}{uuid.uuid4().hex[:8]}"


def _items() -> list[dict]:
    return [
        item(2000, "名称", "name", required=True, minLength=1, maxLength=255),
        item(2001, "型号", "model", maxLength=64),
    ]


@pytest.fixture
def node():
    with FakeTopLevelNode() as fake:
        yield fake


@pytest.fixture
def cfg(settings, node):
    return settings.model_copy(
        update={
            "upstream_url": node.url,
            "upstream_username": node.username,
            "upstream_password": node.password,
            "upstream_retry_wait": 0.0,
            "upstream_attempts": 3,
            "upstream_timeout": 5.0,
        }
    )


async def _versions(code: str) -> list[int]:
    from tenants.templates.tables import MetadataTemplate

    async with as_node():
        rows = (
            await MetadataTemplate.select(MetadataTemplate.version)
            .where(MetadataTemplate.tenant_id.is_null() & (MetadataTemplate.code == code))
            .order_by(MetadataTemplate.version)
            .run()
        )
    return [r["version"] for r in rows]


async def _audit(action: str, target_prefix: str) -> list[dict]:
    from core.tables import AuditLog

    async with as_node():
        return (
            await AuditLog.select()
            .where((AuditLog.action == action) & AuditLog.target.like(f"{target_prefix}%"))
            .run()
        )


async def test_sync_writes_versions_only_for_what_changed(client, tenant_a, node, cfg):
    from tenants.templates.services import templates
    from tenants.templates.services.sync import sync

    core, boiler = _code("core"), _code("boiler")
    node.templates = [
        template(core, _items()),
        template(boiler, _items(), industry=BOILER, type=1, version="v2.1"),
    ]
    report = await sync(cfg)
    assert [(o.code, o.action, o.ref) for o in report.outcomes] == [
        (core, "created", f"{core}@1"),
        (boiler, "created", f"{boiler}@1"),
    ]
    t = await templates.get_template(None, f"{boiler}@1")
    assert t.kind == "industry" and t.industry == BOILER and t.carrier_type == 1
    assert [i.index for i in t.items] == [2000, 2001]
    assert (await templates.get_template(None, core)).kind == "core"
    written = await _audit("template.version", boiler)
    assert [(a["actor"], a["target"]) for a in written] == [("upstream-sync", f"{boiler}@1")]

    # the same content again: nothing written
    again = await sync(cfg)
    assert [o.action for o in again.outcomes] == ["unchanged", "unchanged"]
    assert again.written == [] and "2 unchanged" in again.summary()
    assert await _versions(boiler) == [1] and len(await _audit("template.version", boiler)) == 1

    # upstream disables an item and adds one: the next version, and records may use it
    changed = _items()
    changed[1]["state"] = 0
    changed.append(item(2002, "额定功率", "ratedPower", "number"))
    node.templates[1] = template(boiler, changed, industry=BOILER, type=1, version="v2.2")
    report = await sync(cfg)
    assert [(o.action, o.ref, o.message) for o in report.outcomes] == [
        ("unchanged", f"{core}@1", ""),
        ("updated", f"{boiler}@2", f"was {boiler}@1"),
    ]
    assert await _versions(boiler) == [1, 2]
    values = [sv(1001, "templateVersion", boiler), sv(2000, "name", "B"), sv(2002, "p", "7.5")]
    r = await put_values(client, tenant_a, f"{tenant_a.prefix}/SYNC-1", values)
    assert r.status_code == 201, r.text
    record = (await client.get(f"/api/handles/{tenant_a.prefix}/SYNC-1?index=1001")).json()
    assert record["values"][0]["data"]["value"] == f"{boiler}@2"


async def test_two_syncs_at_once_write_one_version(client, node, cfg):
    import asyncio

    from tenants.templates.services.sync import sync

    code = _code("twice")
    node.templates = [template(code, _items())]
    reports = await asyncio.gather(sync(cfg), sync(cfg), sync(cfg))
    actions = sorted(r.outcomes[0].action for r in reports)
    assert actions == ["created", "unchanged", "unchanged"]
    assert await _versions(code) == [1]


async def test_a_template_that_deletes_an_item_is_refused_and_the_rest_sync(client, node, cfg):
    from tenants.templates.services.sync import sync

    pump, valve, fresh, bad = _code("pump"), _code("valve"), _code("fresh"), _code("bad")
    node.templates = [template(pump, _items()), template(valve, _items())]
    await sync(cfg)

    valve_items = [*_items(), item(2002, "口径", "diameter", "int")]
    node.templates = [
        template(pump, _items()[:1], name="pump without its model"),  # drops 型号
        template(valve, valve_items),
        template(fresh, _items()),
        template(bad, [item(12, "bad index", "x")]),
    ]
    report = await sync(cfg)
    outcome = {o.code: o for o in report.outcomes}
    assert outcome[pump].action == "refused"
    assert "'型号' (idIndex 2001) cannot be deleted" in outcome[pump].message
    assert outcome[bad].action == "refused" and "idIndex must be an integer >= 2000" in (
        outcome[bad].message
    )
    assert (outcome[valve].action, outcome[valve].ref) == ("updated", f"{valve}@2")
    assert (outcome[fresh].action, outcome[fresh].ref) == ("created", f"{fresh}@1")
    assert await _versions(pump) == [1] and await _versions(bad) == []
    refused = await _audit("template.sync_refused", pump)
    assert len(refused) == 1 and refused[0]["actor"] == "upstream-sync"
    assert "2 refused" in report.summary() and pump in report.summary()


async def test_the_upstream_being_down_is_a_clear_error_and_writes_nothing(client, node, cfg):
    from core.errors import UpstreamError
    from tenants.templates.services.sync import sync

    code = _code("down")
    node.templates = [template(code, _items())]
    node.stop()
    with pytest.raises(UpstreamError) as exc:
        await sync(cfg)
    assert "unreachable" in exc.value.detail and cfg.upstream_url in exc.value.detail
    assert "3 attempts" in exc.value.detail
    assert await _versions(code) == []


async def test_transient_failures_are_retried_then_give_up(client, node, cfg):
    from core.errors import UpstreamError
    from tenants.templates.services.sync import sync

    code = _code("retry")
    node.templates = [template(code, _items())]
    node.fail_next = 2  # two 503s, then the node answers
    report = await sync(cfg)
    assert [o.action for o in report.outcomes] == ["created"]
    assert node.hits == ["POST /identity/token"] * 3 + ["GET /snms/api/v5/template"]

    other = _code("retry")
    node.templates = [template(other, _items())]
    node.fail_next = 10
    with pytest.raises(UpstreamError) as exc:
        await sync(cfg)
    assert "answered HTTP 503 3 times" in exc.value.detail
    assert await _versions(other) == []


@pytest.mark.parametrize(
    ("body", "ctype", "expected"),
    [
        ("<html><body>Bad Gateway</body></html>", "text/html", "did not answer JSON"),
        ('{"status": 1, "data": {"code": "x"}}', "application/json", "data must be a list"),
        ("[1, 2]", "application/json", "did not answer an SNMS envelope"),
        ('{"status": -2, "message": "node blocked"}', "application/json",
         "status -2 (business error): node blocked"),
        ('{"status": 1, "data": [7]}', "application/json", "template 1 must be an object"),
    ],
)  # fmt: skip
async def test_bad_upstream_json_is_rejected_with_a_clear_message(
    client, node, cfg, body, ctype, expected
):
    from core.errors import UpstreamError
    from tenants.templates.services.sync import sync
    from tenants.templates.tables import MetadataTemplate

    async with as_node():
        before = await MetadataTemplate.count().run()
    node.username = None  # no login, so the answer under test is the template list's
    node.raw_reply = (200, body, ctype)
    with pytest.raises(UpstreamError) as exc:
        await sync(cfg.model_copy(update={"upstream_username": ""}))
    assert expected in exc.value.detail, exc.value.detail
    assert "/snms/api/v5/template" in exc.value.detail
    async with as_node():
        assert await MetadataTemplate.count().run() == before


async def test_wrong_credentials_are_named_and_a_token_works(client, node, cfg):
    from core.errors import UpstreamError
    from tenants.templates.services.sync import sync

    code = _code("auth")
    node.templates = [template(code, _items())]
    with pytest.raises(UpstreamError) as exc:
        await sync(cfg.model_copy(update={"upstream_password": "wrong"}))
    assert "status -1 (not logged in): wrong username or password" in exc.value.detail
    with pytest.raises(UpstreamError) as exc:
        await sync(cfg.model_copy(update={"upstream_username": ""}))
    assert "status -1 (not logged in)" in exc.value.detail
    node.token = "static-token-1"
    node.hits.clear()
    report = await sync(cfg.model_copy(update={"upstream_token": "static-token-1"}))
    assert [o.action for o in report.outcomes] == ["created"]
    assert node.hits == ["GET /snms/api/v5/template"]  # no login with a token


async def test_the_daily_sync_runs_on_the_scheduler_when_an_upstream_is_set(client, node, cfg):
    from datetime import UTC, datetime, timedelta

    from core.scheduler import Scheduler, registered
    from core.tables import ScheduledJob

    job = next(j for j in registered() if j.name == "template-sync")
    assert job.every(cfg) == 86400
    assert job.every(cfg.model_copy(update={"upstream_url": ""})) <= 0
    await ScheduledJob.delete().where(ScheduledJob.name == "template-sync").run()
    code = _code("daily")
    node.templates = [template(code, _items())]
    scheduler = Scheduler(cfg, [job])
    now = datetime.now(UTC)
    assert await scheduler.tick(now) == ["template-sync"]
    await scheduler.wait_idle()
    assert await _versions(code) == [1]
    row = await ScheduledJob.select().where(ScheduledJob.name == "template-sync").first().run()
    assert row["status"] == "ok" and row["detail"].startswith("1 created")
    assert await scheduler.tick(now + timedelta(hours=23)) == []
    assert await scheduler.tick(now + timedelta(hours=24, seconds=1)) == ["template-sync"]
    await scheduler.wait_idle()
    assert await _versions(code) == [1]


def test_cli_prints_what_changed(node, tmp_workdir):
    code, gone = _code("cli"), _code("cli")
    node.username = None
    node.templates = [template(code, _items()), template(gone, _items())]

    def run() -> subprocess.CompletedProcess:
        env = {**os.environ, "IDNEST_UPSTREAM_RETRY_WAIT": "0"}
        return subprocess.run(
            [IDNEST, "template", "sync", "--url", node.url],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    first = run()
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"created\t{code}@1\t(upstream v1.0)",
                                         f"created\t{gone}@1\t(upstream v1.0)"]  # fmt: skip
    assert "2 created, 0 updated, 0 unchanged, 0 refused" in first.stderr
    node.templates = [template(code, _items()), template(gone, _items()[:1])]
    second = run()
    assert second.returncode == 1
    lines = second.stdout.splitlines()
    assert lines[0] == f"unchanged\t{code}@1\t(upstream v1.0)"
    assert lines[1].startswith(f"refused\t{gone}\t(upstream v1.0)\titem '型号'")
    node.stop()
    down = run()
    assert down.returncode == 2 and "unreachable" in down.stderr and down.stdout == ""
