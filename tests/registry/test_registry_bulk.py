"""Bulk jobs: upload, progress, per-row results, idempotent resubmission, crash resume."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from node_support import as_node

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
async def no_job_left_behind():
    """A job a test leaves unfinished is resumed by every later app start in the run,
    writing in the background of unrelated tests; each test must finish what it starts."""
    yield
    from tenants.identifiers.services import bulk

    assert await bulk.unfinished_jobs() == [], "this test left a bulk job unfinished"


def ndjson(prefix: str, n: int, start: int = 0, bad_every: int = 0) -> bytes:
    lines = []
    for i in range(start, start + n):
        if bad_every and i % bad_every == bad_every - 1:
            lines.append(
                "{not json"
                if (i // bad_every) % 2 == 0
                else json.dumps(
                    {"handle": f"{prefix}/R-{i}", "values": [{"index": 1, "type": "URL"}]}
                )
            )
            continue
        lines.append(
            json.dumps(
                {
                    "handle": f"{prefix}/R-{i}",
                    "values": [{"index": 1, "type": "URL", "data": f"https://e.com/{i}"}],
                }
            )
        )
    return ("\n".join(lines) + "\n").encode()


async def _wait(client, t, job_id: str) -> dict:
    from tenants.identifiers import jobs

    await jobs.wait_local()
    r = await client.get(f"/api/bulk/jobs/{job_id}", headers=t.auth())
    return r.json()


async def _counts(tenant_id: int) -> tuple[int, int]:
    from tenants.identifiers.tables import Identifier

    async with as_node():
        rows = (
            await Identifier.select(Identifier.version)
            .where(Identifier.tenant_id == tenant_id)
            .run()
        )
    return len(rows), sum(r["version"] for r in rows)


async def test_ndjson_job_with_bad_rows_and_results(client, tenant_a):
    body = ndjson(tenant_a.prefix, 50, bad_every=10)
    r = await client.post(
        "/api/bulk/jobs?format=ndjson&mode=create",
        content=body,
        headers={**tenant_a.auth(), "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["totalRows"] == 50 and job["status"] == "queued"
    done = await _wait(client, tenant_a, job["jobId"])
    assert (done["status"], done["doneRows"], done["okRows"], done["failedRows"]) == (
        "done",
        50,
        45,
        5,
    )
    assert (await _counts(tenant_a.id))[0] == 45
    r = await client.get(
        f"/api/bulk/jobs/{job['jobId']}/results?format=csv", headers=tenant_a.auth()
    )
    lines = r.text.strip().splitlines()
    assert lines[0] == "row,handle,status,message" and len(lines) == 51
    assert lines[1] == f"1,{tenant_a.prefix}/R-0,ok,"
    errors = [ln for ln in lines[1:] if ",error," in ln]
    assert len(errors) == 5 and "not valid JSON" in errors[0] and "data is missing" in errors[1]
    r = await client.get(
        f"/api/bulk/jobs/{job['jobId']}/results?format=ndjson", headers=tenant_a.auth()
    )
    docs = [json.loads(x) for x in r.text.splitlines()]
    assert [d["row"] for d in docs] == list(range(1, 51))
    assert docs[9]["status"] == "error" and docs[0]["status"] == "ok"


async def test_csv_job_with_template_columns(client, tenant_a):
    p = tenant_a.prefix
    csv_body = (
        "handle,URL,templateVersion,2000:name,2001:model\n"
        f"{p}/C-1,https://e.com/1,motor@1,Motor,YE3\n"
        f"{p}/C-2,https://e.com/2,motor@1,Motor,\n"
        f"{p}/C-3,https://e.com/3\n"
    ).encode()
    r = await client.post("/api/bulk/jobs?format=csv", content=csv_body, headers=tenant_a.auth())
    assert r.status_code == 202
    done = await _wait(client, tenant_a, r.json()["jobId"])
    assert (done["okRows"], done["failedRows"]) == (1, 2)
    res = (
        await client.get(f"/api/bulk/jobs/{r.json()['jobId']}/results", headers=tenant_a.auth())
    ).text
    assert "型号" in res and "cells" in res
    rec = (await client.get(f"/api/handles/{p}/C-1")).json()
    assert {v["index"] for v in rec["values"]} == {1, 100, 1001, 2000, 2001}


async def test_resubmission_with_idempotency_key_is_one_job(client, tenant_a):
    body = ndjson(tenant_a.prefix, 30)
    headers = {**tenant_a.auth(), "Idempotency-Key": "upload-1"}
    r1 = await client.post("/api/bulk/jobs?mode=create", content=body, headers=headers)
    r2 = await client.post("/api/bulk/jobs?mode=create", content=body, headers=headers)
    assert r1.status_code == 202 and r2.status_code == 200
    assert r1.json()["jobId"] == r2.json()["jobId"]
    await _wait(client, tenant_a, r1.json()["jobId"])
    r3 = await client.post("/api/bulk/jobs?mode=create", content=body, headers=headers)
    assert r3.json()["jobId"] == r1.json()["jobId"] and r3.json()["okRows"] == 30
    assert await _counts(tenant_a.id) == (30, 30)
    r4 = await client.post(
        "/api/bulk/jobs?mode=create", content=ndjson(tenant_a.prefix, 3), headers=headers
    )
    assert r4.status_code == 409


async def test_bad_uploads(client, tenant_a):
    r = await client.post("/api/bulk/jobs?format=xml", content=b"x", headers=tenant_a.auth())
    assert r.status_code == 400 and r.json()["field"] == "format"
    r = await client.post(
        "/api/bulk/jobs?format=csv", content=b"name,URL\nx,y\n", headers=tenant_a.auth()
    )
    assert r.status_code == 400 and "handle" in r.json()["detail"]
    r = await client.post("/api/bulk/jobs?mode=merge", content=b"", headers=tenant_a.auth())
    assert r.status_code == 400
    r = await client.post(
        "/api/bulk/jobs",
        content=ndjson(tenant_a.prefix, 1),
        headers=tenant_a.auth(tenant_a.read_key),
    )
    assert r.status_code == 403
    assert (await client.post("/api/bulk/jobs", content=b"")).status_code == 401


class WorkerKilled(Exception):
    """Stands in for a crash; the SIGKILL test below kills a real process."""


async def _crash_midway(client, t, monkeypatch) -> tuple[str, int]:
    """Submit a 1000-row job and run it until a simulated crash after chunk 4's writes."""
    from tenants.identifiers import jobs
    from tenants.identifiers.services import bulk

    monkeypatch.setattr(jobs, "enqueue", lambda pk: None)  # this test is the worker
    r = await client.post(
        "/api/bulk/jobs?mode=create",
        content=ndjson(t.prefix, 1000, bad_every=97),
        headers={**t.auth(), "Idempotency-Key": "crash-1"},
    )
    job_id = r.json()["jobId"]
    pk = await bulk.job_pk(await _principal(t), job_id)
    real = bulk.commit_chunk
    calls = {"n": 0}

    async def crashing(*args, **kwargs):
        calls["n"] += 1
        await real(*args, **kwargs)
        if calls["n"] == 4:
            raise WorkerKilled  # after the chunk's writes, before its commit

    monkeypatch.setattr(bulk, "commit_chunk", crashing)
    with pytest.raises(WorkerKilled):
        await bulk.process_job(pk, chunk_rows=100)
    monkeypatch.setattr(bulk, "commit_chunk", real)
    mid = (await client.get(f"/api/bulk/jobs/{job_id}", headers=t.auth())).json()
    assert mid["status"] == "running" and mid["doneRows"] in (300, 400)
    return job_id, pk


async def test_crash_mid_job_resumes_without_loss_or_duplicates(client, tenant_a, monkeypatch):
    from tenants.identifiers.services import bulk

    job_id, pk = await _crash_midway(client, tenant_a, monkeypatch)
    assert await bulk.process_job(pk, chunk_rows=100) == "done"
    await _check_exactly_once(client, tenant_a, job_id, 1000, 97)


async def test_stalled_job_is_sent_again_by_the_scheduler(client, tenant_a, monkeypatch):
    """Nobody restarts anything: the periodic re-drive finds the job whose cursor has
    stopped moving and sends it again; the worker that takes it finishes the job."""
    from datetime import UTC, datetime, timedelta

    from core.settings import get_settings
    from tenants.identifiers import jobs
    from tenants.identifiers.services import bulk
    from tenants.identifiers.tables import BulkJob

    job_id, pk = await _crash_midway(client, tenant_a, monkeypatch)
    sent: list[int] = []
    monkeypatch.setattr(jobs, "enqueue", sent.append)
    await jobs.redrive_stalled_bulk_jobs(get_settings())
    assert pk not in sent  # its cursor moved moments ago: it may still be running
    async with as_node():
        await BulkJob.update({BulkJob.updated_at: datetime.now(UTC) - timedelta(minutes=10)}).where(
            BulkJob.id == pk
        )
    await jobs.redrive_stalled_bulk_jobs(get_settings())
    assert sent.count(pk) == 1
    assert await bulk.process_job(pk, chunk_rows=100) == "done"
    await _check_exactly_once(client, tenant_a, job_id, 1000, 97)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


async def _check_exactly_once(client, t, job_id: str, total: int, bad_every: int) -> None:
    from core.tables import AuditLog, Outbox

    bad = total // bad_every
    done = (await client.get(f"/api/bulk/jobs/{job_id}", headers=t.auth())).json()
    assert (done["status"], done["doneRows"], done["okRows"], done["failedRows"]) == (
        "done",
        total,
        total - bad,
        bad,
    )
    assert await _counts(t.id) == (total - bad, total - bad)  # every row once, version 1
    # One audit row per committed chunk names its handles: each handle exactly once.
    async with as_node():
        rows = (
            await AuditLog.select(AuditLog.detail)
            .where((AuditLog.tenant_id == t.id) & (AuditLog.action == "identifier.batch"))
            .run()
        )
    created = [h for r in rows for h in _json(r["detail"])["created"]]
    assert len(created) == len(set(created)) == total - bad
    async with as_node():
        outbox = await Outbox.select(Outbox.payload).where(Outbox.tenant_id == t.id).run()
    sent = [i["handle"] for r in outbox for i in _json(r["payload"]).get("items", [])]
    assert sorted(sent) == sorted(created)
    res = (await client.get(f"/api/bulk/jobs/{job_id}/results", headers=t.auth())).text.splitlines()
    assert len(res) == total + 1 and sum(",error," in x for x in res) == bad


async def test_killed_worker_process_resumes(client, tenant_a, monkeypatch):
    """A real worker process is SIGKILLed halfway; a new one finishes the job."""
    from tenants.identifiers import jobs
    from tenants.identifiers.services import bulk

    monkeypatch.setattr(jobs, "enqueue", lambda pk: None)  # the subprocess is the worker

    r = await client.post(
        "/api/bulk/jobs?mode=create",
        content=ndjson(tenant_a.prefix, 2000, bad_every=101),
        headers=tenant_a.auth(),
    )
    job_id = r.json()["jobId"]
    pk = await bulk.job_pk(await _principal(tenant_a), job_id)
    script = (
        "import asyncio, time\n"
        "from tenants.identifiers.services import bulk\n"
        "real = bulk.commit_chunk\n"
        "async def slow(*a, **k):\n"
        "    await real(*a, **k)\n"
        "    await asyncio.sleep(0.15)\n"
        "bulk.commit_chunk = slow\n"
        "from core import db\n"
        "async def main():\n"
        "    await db.start()\n"
        f"    await bulk.process_job({pk}, chunk_rows=50)\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            info = await bulk.get_job(await _principal(tenant_a), job_id)
            if 200 <= info.done_rows < 1500:
                break
            await asyncio.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    mid = await bulk.get_job(await _principal(tenant_a), job_id)
    assert 0 < mid.done_rows < 2000
    assert await bulk.process_job(pk, chunk_rows=500) == "done"
    await _check_exactly_once(client, tenant_a, job_id, 2000, 101)


async def _principal(t):
    from tenants.auth import authenticate

    return await authenticate(None, t.key)


async def test_tenant_b_cannot_see_tenant_a_jobs(client, tenant_a, tenant_b):
    r = await client.post(
        "/api/bulk/jobs", content=ndjson(tenant_a.prefix, 2), headers=tenant_a.auth()
    )
    job_id = r.json()["jobId"]
    await _wait(client, tenant_a, job_id)
    assert (
        await client.get(f"/api/bulk/jobs/{job_id}", headers=tenant_b.auth())
    ).status_code == 404
    r = await client.get(f"/api/bulk/jobs/{job_id}/results", headers=tenant_b.auth())
    assert r.status_code == 404
    # B's upload of A's handles registers nothing under A
    r = await client.post(
        "/api/bulk/jobs", content=ndjson(tenant_a.prefix, 2, start=10), headers=tenant_b.auth()
    )
    done = await _wait(client, tenant_b, r.json()["jobId"])
    assert done["failedRows"] == 2 and (await _counts(tenant_a.id))[0] == 2


async def test_upsert_and_update_jobs_replace_records(client, tenant_a):
    first = await client.post(
        "/api/bulk/jobs?mode=create", content=ndjson(tenant_a.prefix, 20), headers=tenant_a.auth()
    )
    await _wait(client, tenant_a, first.json()["jobId"])
    lines = [
        json.dumps(
            {
                "handle": f"{tenant_a.prefix}/R-{i}",
                "values": [{"index": 1, "type": "URL", "data": f"https://new.example/{i}"}],
            }
        )
        for i in range(15, 25)
    ]
    r = await client.post(
        "/api/bulk/jobs?mode=update", content="\n".join(lines).encode(), headers=tenant_a.auth()
    )
    done = await _wait(client, tenant_a, r.json()["jobId"])
    assert (done["okRows"], done["failedRows"]) == (5, 5)  # R-20..24 do not exist
    r = await client.post(
        "/api/bulk/jobs?mode=upsert", content="\n".join(lines).encode(), headers=tenant_a.auth()
    )
    done = await _wait(client, tenant_a, r.json()["jobId"])
    assert (done["okRows"], done["failedRows"]) == (10, 0)
    rec = (await client.get(f"/api/handles/{tenant_a.prefix}/R-16?type=URL")).json()
    assert rec["values"][0]["data"]["value"] == "https://new.example/16"
    # R-0..14 version 1, R-15..19 version 3 (create, update, upsert), R-20..24 version 1
    assert await _counts(tenant_a.id) == (25, 15 + 5 * 3 + 5)


async def test_cancel_stops_a_job_at_its_next_chunk(client, tenant_a, tenant_b, monkeypatch):
    from tenants.identifiers import jobs
    from tenants.identifiers.services import bulk

    monkeypatch.setattr(jobs, "enqueue", lambda pk: None)  # this test is the worker
    r = await client.post(
        "/api/bulk/jobs?mode=create", content=ndjson(tenant_a.prefix, 1000), headers=tenant_a.auth()
    )
    job_id = r.json()["jobId"]
    pk = await bulk.job_pk(await _principal(tenant_a), job_id)
    url = f"/api/bulk/jobs/{job_id}/cancel"
    # Another tenant cannot see it to cancel it; a read-only key may not cancel.
    assert (await client.post(url, headers=tenant_b.auth())).status_code == 404
    assert (await client.post(url, headers=tenant_a.auth(tenant_a.read_key))).status_code == 403
    from tenants.identifiers.services import batch

    real = batch.prepare
    calls = {"n": 0}

    async def cancel_while_preparing_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the user cancels while chunk 2 is being written
            r = await client.post(url, headers=tenant_a.auth())
            assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        return await real(*args, **kwargs)

    monkeypatch.setattr(batch, "prepare", cancel_while_preparing_third)
    assert await bulk.process_job(pk, chunk_rows=100) == "cancelled"
    info = (await client.get(f"/api/bulk/jobs/{job_id}", headers=tenant_a.auth())).json()
    # Chunk 1 is in; chunk 2 is in if it committed before the cancel, else rolled back
    # with it; nothing after. The cursor and the records agree either way.
    done = info["doneRows"]
    assert info["status"] == "cancelled" and done in (100, 200) and info["okRows"] == done
    assert await _counts(tenant_a.id) == (done, done)
    res = (await client.get(f"/api/bulk/jobs/{job_id}/results", headers=tenant_a.auth())).text
    assert len(res.splitlines()) == 1 + done
    # A cancelled job stays cancelled: a re-drive does not revive it, a second cancel is 409.
    assert await bulk.process_job(pk, chunk_rows=100) == "cancelled"
    r = await client.post(url, headers=tenant_a.auth())
    assert r.status_code == 409 and "already cancelled" in r.json()["detail"]
    listed = (await client.get("/api/bulk/jobs", headers=tenant_a.auth())).json()["jobs"]
    assert [j["jobId"] for j in listed] == [job_id]
    assert (await client.get("/api/bulk/jobs", headers=tenant_b.auth())).json()["jobs"] == []


async def test_uploads_past_ten_megabytes_are_taken(client, tenant_a, monkeypatch):
    """A million-row file is hundreds of MB; the web framework's 10 MB default must not
    stop it (it did, until this test)."""
    from tenants.identifiers import jobs

    monkeypatch.setattr(jobs, "enqueue", lambda pk: None)
    note = "x" * 500
    body = "".join(
        json.dumps(
            {
                "handle": f"{tenant_a.prefix}/BIG-{i}",
                "values": [{"index": 2, "type": "NOTE", "data": note}],
            }
        )
        + "\n"
        for i in range(25_000)
    ).encode()
    assert len(body) > 10_000_000
    r = await client.post("/api/bulk/jobs?mode=create", content=body, headers=tenant_a.auth())
    assert r.status_code == 202, r.text[:300]
    assert r.json()["totalRows"] == 25_000
    cancel = f"/api/bulk/jobs/{r.json()['jobId']}/cancel"
    assert (await client.post(cancel, headers=tenant_a.auth())).status_code == 200
