"""GS1 Digital Link redirect throughput for cached keys, as a ratio to bare Hypercorn.

    python bench/resolve_gs1.py [--keys 200] [--duration 8] [--connections 64]

Seeds an embedded node (SQLite in a temporary folder) with one tenant, a verified GS1
company prefix and one link per GTIN; serves it with ``idnest serve --workers 2``;
warms every worker's cache; then loads ``GET /01/{gtin}`` (cycling over the keys) with
``wrk``. The same load goes to a bare Hypercorn ASGI app (two uvloop workers) that
answers a constant 307. It prints a table and the ratio (target ≥ 0.6). Runs are short
and bounded: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BARE_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 307, "headers": [
        (b"location", b"https://brand.example/p"), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
"""
LUA = """
paths = {%s}
i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gtin(gcp: str, item: int) -> str:
    from core.schemes.gs1 import gs1_check_digit

    body = "0" + gcp + f"{item:0{12 - len(gcp)}d}"
    return body + str(gs1_check_digit(body))


async def seed(n: int) -> list[str]:
    from core import db
    from core.auth import Principal
    from core.migrate import migrate
    from tenants.schemes.services.links import add_link
    from tenants.schemes.services.namespaces import request_namespace, review_namespace
    from tenants.services.tenants import create_tenant

    await db.start()
    await migrate()
    tenant = await create_tenant("Bench Foods", actor="bench")
    gcp = "695000123"
    await request_namespace(tenant.id, "gs1", gcp, actor="bench")
    await review_namespace("gs1", gcp, verified=True, actor="bench")
    p = Principal("bench", tenant.id, tenant.prefix, frozenset({"read", "write"}))
    paths = []
    for item in range(1, n + 1):
        key = f"/01/{gtin(gcp, item)}"
        await add_link(p, key, link_type="gs1:pip", href=f"https://brand.example/p/{item}")
        paths.append(key)
    await db.stop()
    return paths


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise SystemExit(f"server exited early: {proc.returncode}")
        try:
            urllib.request.build_opener(NoRedirect).open(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not start")


def wrk(url: str, script: Path, duration: int, connections: int) -> tuple[float, str, str]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=duration + 30,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        print(f"warning: {non2xx.group(1)} responses were not 2xx/3xx", file=sys.stderr)
    return rps, p50.group(1) if p50 else "?", p99.group(1) if p99 else "?"


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--duration", type=int, default=8, help="seconds per run (max 10)")
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    duration = max(1, min(args.duration, 10))
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    work = Path(tempfile.mkdtemp(prefix="idnest-bench-gs1-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(IDNEST_VAR_DIR=str(work / "var"), IDNEST_LOG_LEVEL="WARNING",
               PYTHONPATH=str(ROOT))  # fmt: skip
    os.environ.update(env)
    for k in [k for k in os.environ if k.startswith("IDNEST_") and k not in env]:
        del os.environ[k]
    sys.path.insert(0, str(ROOT))
    paths = asyncio.run(seed(args.keys))
    script = work / "paths.lua"
    script.write_text(LUA % ", ".join(f'"{p}"' for p in paths))
    (work / "bare.py").write_text(BARE_APP)
    rows = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        port = free_port()
        idnest = subprocess.Popen(
            [str(BIN / "idnest"), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "2"],
            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(idnest)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/healthz", idnest)
        check = urllib.request.Request(base + paths[0], method="HEAD")
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(check, timeout=5)
        except urllib.error.HTTPError as exc:
            assert exc.code == 307, f"expected 307, got {exc.code}"
        wrk(base, script, 2, args.connections)  # warm both workers' caches
        rows.append(
            ("idnest GS1 redirect (cached)", *wrk(base, script, duration, args.connections))
        )
        stop(idnest)
        port = free_port()
        bare = subprocess.Popen(
            [str(BIN / "hypercorn"), "--workers", "2", "-k", "uvloop", "-b", f"127.0.0.1:{port}",
             "--log-level", "warning", "bare:app"],
            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(bare)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/", bare)
        wrk(base, script, 2, args.connections)
        rows.append(("bare Hypercorn constant 307", *wrk(base, script, duration, args.connections)))
    finally:
        for proc in procs:
            if proc.poll() is None:
                stop(proc)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'server':<32} {'req/s':>10} {'p50':>9} {'p99':>9}")
    for name, rps, p50, p99 in rows:
        print(f"{name:<32} {rps:>10.0f} {p50:>9} {p99:>9}")
    ratio = rows[0][1] / rows[1][1]
    print(f"ratio idnest/bare: {ratio:.2f} (target >= 0.6); {args.keys} keys, "
          f"{args.connections} connections, {duration}s per run, 2 workers each")  # fmt: skip


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


if __name__ == "__main__":
    main()
