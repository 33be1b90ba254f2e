"""Helpers for the tests that start idnest as real processes (``idnest serve`` and the CLI
in subprocesses, HTTP over a socket)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

IDNEST = str(Path(sys.executable).with_name("idnest"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_env(workdir: str, **settings: str) -> dict[str, str]:
    """The environment of an idnest process with its own var folder, on the test run's
    database and Redis (postgres profile) or its own SQLite file (embedded), plus
    ``settings`` as ``IDNEST_<NAME>`` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env["IDNEST_VAR_DIR"] = os.path.join(workdir, "var")
    env["IDNEST_LOG_LEVEL"] = "WARNING"
    for k in ("IDNEST_DATABASE_URL", "IDNEST_REDIS_URL"):
        if os.environ.get(k):
            env[k] = os.environ[k]
    env.update({f"IDNEST_{name.upper()}": value for name, value in settings.items()})
    return env


def run_cli(workdir: str, env: dict[str, str], *args: str) -> str:
    """An ``idnest`` command's standard output, stripped; a failure raises."""
    return subprocess.run(
        [IDNEST, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=60,
        check=True,
    ).stdout.strip()  # fmt: skip


@contextmanager
def serving(workdir: str, env: dict[str, str], *args: str) -> Iterator[str]:
    """``idnest serve --host 127.0.0.1 --port P [args]`` until ready; yields its base URL
    and stops it afterwards. Its output goes to ``serve.log`` in ``workdir``: a pipe
    nobody reads fills up under a burst of warnings (a failover) and blocks the server."""
    port = free_port()
    log_path = os.path.join(workdir, "serve.log")
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            [IDNEST, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(_tail(log_path))
            time.sleep(0.2)
        else:
            raise RuntimeError(f"idnest serve did not become ready: {_tail(log_path)}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _tail(path: str, size: int = 4000) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - size))
        return f.read().decode(errors="replace")


def _pg_admin(sql: str) -> None:
    """One statement as the PostgreSQL superuser, on a loop of its own (callers may be
    inside a test's event loop)."""
    import asyncio
    import concurrent.futures

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


PG_ADMIN_URL = os.environ.get(
    "IDNEST_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def empty_node(workdir: str | Path, **settings: str) -> Iterator[dict[str, str]]:
    """The environment of a node with nothing in it: its own SQLite file, or on the
    postgres profile a database of its own (as the superuser), dropped afterwards."""
    env = node_env(str(workdir), **settings)
    if os.environ.get("IDNEST_TEST_PROFILE", "embedded") != "postgres":
        yield env
        return
    import uuid

    name = f"idnest_node_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    env["IDNEST_DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    env.pop("IDNEST_MIGRATION_DATABASE_URL", None)
    try:
        yield env
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
