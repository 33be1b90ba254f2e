"""A private Redis master, one replica and three Sentinels on loopback ports, for the
Sentinel failover drill. Nothing persists; every process is killed afterwards."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from smoke_support import free_port

MASTER_NAME = "idnest"
# A master that does not answer for this long is down; Sentinels then elect a new one.
DOWN_AFTER_MS = 1000


def _wait_port(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def _ask(port: int, *command: str) -> list | str | bytes | int | None:
    import redis

    return redis.Redis(port=port, socket_timeout=2).execute_command(*command)  # type: ignore[no-any-return]


class SentinelRedis:
    def __init__(self, sentinels: int = 3) -> None:
        exe = shutil.which("redis-server")
        if not exe or not shutil.which("redis-sentinel"):
            pytest.skip("redis-server or redis-sentinel is not installed (.ci/run installs them)")
        self.exe = exe
        self.root = Path(tempfile.mkdtemp(prefix="idnest-sentinel-"))
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.master_port, self.replica_port = free_port(), free_port()
        self._redis(self.master_port)
        self._redis(self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        quorum = sentinels // 2 + 1
        for port in self.sentinel_ports:
            conf = self.root / f"sentinel-{port}.conf"  # Sentinel rewrites its own file
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.root}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} {quorum}\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER_NAME} 5000\n"
            )
            self._start(port, [self.exe, str(conf), "--sentinel"])
        self.wait_replica_known()

    def _redis(self, port: int, *extra: str) -> None:
        self._start(port, [self.exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--dir", str(self.root), *extra])  # fmt: skip

    def _start(self, port: int, command: list[str]) -> None:
        self.procs[port] = subprocess.Popen(
            command, stdout=open(self.root / f"{port}.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        _wait_port(port)

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)

    def master(self) -> int:
        """The master's port, as the Sentinels report it."""
        reply = _ask(self.sentinel_ports[0], "SENTINEL", "get-master-addr-by-name", MASTER_NAME)
        assert isinstance(reply, list)
        return int(reply[1])

    def wait_replica_known(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                replicas = _ask(self.sentinel_ports[0], "SENTINEL", "replicas", MASTER_NAME)
                if replicas:
                    return
            time.sleep(0.2)
        raise AssertionError("the Sentinels never saw the replica")

    def wait_failover(self, old: int, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                now = self.master()
                if now != old:
                    return now
            time.sleep(0.1)
        raise AssertionError(f"no Sentinel failover within {timeout} s; see {self.root}")

    def kill9(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.kill()
        proc.wait(10)

    def close(self) -> None:
        for port in list(self.procs):
            self.kill9(port)
        shutil.rmtree(self.root, ignore_errors=True)
