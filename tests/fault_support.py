"""Private PostgreSQL and Redis servers that a fault test may stop, kill and restart.

The machine's own services are shared by every test run, so a test that takes a service
away starts its own: a PostgreSQL cluster initialised in a temporary folder (run as the
``postgres`` user, as initdb refuses root) and a ``redis-server`` without persistence, each
on a free port. Tests skip where the binaries are missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from smoke_support import free_port, node_env, run_cli

PG_BIN = Path(os.environ.get("IDNEST_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


class PrivatePostgres:
    """A private cluster; with ``replica_of``, a streaming replica of another one
    (``pg_basebackup -R``: a copy that keeps replaying the primary's WAL)."""

    def __init__(self, replica_of: PrivatePostgres | None = None) -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.skip(f"no PostgreSQL server binaries in {PG_BIN}")
        # Not under pytest's tmp_path: the postgres user cannot enter root's 0700 folders.
        self.root = Path(tempfile.mkdtemp(prefix="idnest-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        if replica_of is None:
            command = [str(PG_BIN / "initdb"), "-D", str(self.data), "--auth=trust",
                       "-U", "postgres", "-E", "UTF8", "--no-sync"]  # fmt: skip
        else:
            command = [str(PG_BIN / "pg_basebackup"), "-D", str(self.data), "-R",
                       "-X", "stream", "-h", "127.0.0.1", "-p", str(replica_of.port),
                       "-U", "postgres", "--no-sync"]  # fmt: skip
        subprocess.run(_as_postgres(command), check=True, capture_output=True, timeout=120)
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._ctl("-o", opts, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        """A fast shutdown: connections are cut, nothing is lost."""
        self._ctl("-m", "fast", "-w", "stop")

    def kill9(self) -> None:
        """SIGKILL to the postmaster and every backend, as a crash would; the next start
        runs crash recovery from the WAL."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        subprocess.run(["pkill", "-9", "-P", str(pid)], check=False)
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        time.sleep(0.3)  # the backends' exit; the next start must find the port free

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        if not exe:
            pytest.skip("redis-server is not installed")
        self.exe = exe
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import socket

        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def close(self) -> None:
        self.kill9()


def private_node(work: str | Path, name: str, **settings: str) -> tuple[dict[str, str], str, str]:
    """The environment of a node on private services (``settings`` as ``IDNEST_<NAME>``:
    database_url, redis_url, …), with one tenant ``name``: (env, prefix, read+write key)."""
    env = node_env(str(work), **settings)
    env.pop("IDNEST_MIGRATION_DATABASE_URL", None)
    prefix = run_cli(str(work), env, "tenant", "create", "--name", name).splitlines()[-1]
    key = run_cli(
        str(work), env, "apikey", "create", "--tenant", prefix, "--scopes", "read,write"
    ).splitlines()[-1]
    return env, prefix, key
