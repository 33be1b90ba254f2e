"""A private Patroni cluster for the failover drill: one etcd member and two PostgreSQL
instances on loopback ports, synchronous replication on, every process in a temp folder.

One etcd member is enough for a drill that kills a PostgreSQL node, not etcd; production
runs three (docs/operations.md). Patroni and PostgreSQL run as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from fault_support import PG_BIN, _as_postgres
from smoke_support import free_port

# Leader key lifetime: a dead primary's key expires after TTL s and the replica takes
# over. loop_wait + 2 * retry_timeout must stay under ttl (Patroni's rule).
TTL, LOOP_WAIT, RETRY_TIMEOUT = 10, 1, 4


def missing_binaries() -> str | None:
    for exe in ("patroni", "etcd", "patronictl"):
        if not shutil.which(exe):
            return f"{exe} is not installed (apt-get install patroni etcd-server; .ci/run does)"
    if not (PG_BIN / "initdb").exists():
        return f"no PostgreSQL server binaries in {PG_BIN}"
    return None


class PatroniCluster:
    def __init__(self, members: int = 2) -> None:
        reason = missing_binaries()
        if reason:
            pytest.skip(reason)
        self.root = Path(tempfile.mkdtemp(prefix="idnest-patroni-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.etcd_port, peer = free_port(), free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.procs["etcd"] = subprocess.Popen(
            _as_postgres(["etcd", "--name", "e1", "--data-dir", str(self.root / "etcd"),
                          "--listen-client-urls", f"http://127.0.0.1:{self.etcd_port}",
                          "--advertise-client-urls", f"http://127.0.0.1:{self.etcd_port}",
                          "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                          "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                          "--initial-cluster", f"e1=http://127.0.0.1:{peer}"]),
            stdout=subprocess.DEVNULL, stderr=open(self.root / "etcd.log", "wb"),  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip
        self.members = {f"pg{i}": (free_port(), free_port()) for i in range(1, members + 1)}
        for name in self.members:
            self._write_config(name)
            self.start(name)
            if name == "pg1":
                self.wait_leader(60)

    @property
    def ports(self) -> list[int]:
        return [pg for pg, _ in self.members.values()]

    def url(self, *, multi_host: bool = True) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.ports)
        return f"postgresql://postgres@{hosts}/postgres?target_session_attrs=read-write"

    def _write_config(self, name: str) -> None:
        pg_port, api_port = self.members[name]
        config = {
            "scope": "idnest-drill",
            "name": name,
            "restapi": {"listen": f"127.0.0.1:{api_port}",
                        "connect_address": f"127.0.0.1:{api_port}"},
            "etcd3": {"hosts": [f"127.0.0.1:{self.etcd_port}"]},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL, "loop_wait": LOOP_WAIT, "retry_timeout": RETRY_TIMEOUT,
                    "synchronous_mode": True,
                    "postgresql": {"use_pg_rewind": False, "parameters": {
                        "wal_level": "replica", "hot_standby": "on", "max_wal_senders": 5,
                        "max_replication_slots": 5, "fsync": "on"}},
                },
                "initdb": [{"encoding": "UTF8"}, {"auth": "trust"}],
                "pg_hba": ["local all all trust", "host all all 127.0.0.1/32 trust",
                           "host replication all 127.0.0.1/32 trust"],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{pg_port}",
                "connect_address": f"127.0.0.1:{pg_port}",
                "data_dir": str(self.root / name),
                "bin_dir": str(PG_BIN),
                "pgpass": str(self.root / f"{name}.pgpass"),
                "authentication": {"superuser": {"username": "postgres"},
                                   "replication": {"username": "postgres"}},
                "parameters": {"unix_socket_directories": str(self.root)},
            },
        }  # fmt: skip
        # JSON is YAML; Patroni reads either.
        (self.root / f"{name}.yml").write_text(json.dumps(config))

    def start(self, name: str) -> None:
        self.procs[name] = subprocess.Popen(
            _as_postgres(["patroni", str(self.root / f"{name}.yml")]),
            stdout=open(self.root / f"{name}.log", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip

    def status(self, name: str) -> dict:
        _, api = self.members[name]
        return httpx.get(f"http://127.0.0.1:{api}/patroni", timeout=2).json()

    def leader(self) -> str | None:
        for name in self.members:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if name in self.procs and self.status(name).get("role") in ("master", "primary"):
                    return name
        return None

    def wait_leader(self, timeout: float, other_than: str | None = None) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader and leader != other_than:
                return leader
            time.sleep(0.3)
        raise AssertionError(f"no Patroni leader within {timeout} s; see {self.root}/*.log")

    def wait_sync_standby(self, timeout: float) -> str:
        """The replica that every commit waits for (synchronous_mode)."""
        deadline = time.monotonic() + timeout
        _, api = self.members[self.wait_leader(timeout)]
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                members = httpx.get(f"http://127.0.0.1:{api}/cluster", timeout=2).json()
                for m in members.get("members", []):
                    if m.get("role") == "sync_standby" and m.get("state") in ("running",
                                                                                "streaming"):
                        return str(m["name"])
            time.sleep(0.3)
        raise AssertionError("no synchronous standby; see the Patroni logs")

    def kill9(self, name: str) -> None:
        """The whole node crashes: Patroni and its PostgreSQL, SIGKILL, no clean-up."""
        data = self.root / name
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        pid_file = data / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            subprocess.run(["pkill", "-9", "-P", str(pid)], check=False)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        for name in list(self.members):
            if name in self.procs:
                self.kill9(name)
        etcd = self.procs.pop("etcd", None)
        if etcd is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(etcd.pid, signal.SIGKILL)
            etcd.wait(10)
        if not os.environ.get("IDNEST_KEEP_DRILL"):
            shutil.rmtree(self.root, ignore_errors=True)
