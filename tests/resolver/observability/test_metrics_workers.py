"""/metrics through the real command: two Hypercorn workers, counts added up across them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import smoke_support
from prometheus_client.parser import text_string_to_metric_families


def _resolutions(text: str) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "idnest_resolutions_total":
                out[(sample.labels["door"], sample.labels["result"])] = sample.value
    return out


def test_metrics_add_up_the_resolutions_of_two_workers(tmp_workdir: str) -> None:
    env = smoke_support.node_env(
        tmp_workdir, counter_flush_interval="0.2", wire_enabled="false", scheduler_enabled="false"
    )
    prefix = smoke_support.run_cli(tmp_workdir, env, "tenant", "create", "--name", "Metrics Co")
    key = smoke_support.run_cli(
        tmp_workdir, env, "apikey", "create", "--tenant", prefix, "--scopes", "read,write"
    )
    with smoke_support.serving(tmp_workdir, env, "--workers", "2") as base:
        r = httpx.put(
            f"{base}/api/handles/{prefix}/M-1",
            json={"values": [{"index": 1, "type": "URL", "data": "https://example.com/m"}]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 201
        # Fresh connections each: the kernel spreads them over both workers.
        for _ in range(30):
            assert httpx.get(f"{base}/api/handles/{prefix}/M-1").status_code == 200
        for _ in range(10):
            assert httpx.get(f"{base}/{prefix}/M-1").status_code == 302
        for _ in range(5):
            assert httpx.get(f"{base}/api/handles/{prefix}/NOPE").status_code == 404
        deadline = time.monotonic() + 10
        while True:
            r = httpx.get(f"{base}/metrics")
            counts = _resolutions(r.text)
            want = {("rest", "ok"): 30, ("proxy", "ok"): 10, ("rest", "not_found"): 5}
            if counts == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.headers["content-type"].startswith("text/plain")
        assert counts == want
        families = {f.name for f in text_string_to_metric_families(r.text)}
        assert {"idnest_resolution_seconds", "idnest_registration_seconds",
                "idnest_cache_hits", "idnest_outbox_lag_seconds"} <= families  # fmt: skip
    # Both workers served resolutions: each wrote its own snapshot with some of them.
    served = []
    for path in (Path(tmp_workdir) / "var" / "metrics").glob("http-*.json"):
        snap = json.loads(path.read_text())
        served.append(sum(sum(row[:-1]) for name, _, row in snap["histograms"]
                          if name == "idnest_resolution_seconds"))  # fmt: skip
    assert len([n for n in served if n]) == 2, served
