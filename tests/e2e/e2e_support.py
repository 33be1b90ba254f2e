"""Browser-test helpers: paths, chromium flags, the server handle."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
LAN_HOST = "idnest-lan.test"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A name for 127.0.0.1 that the browser does not treat as a secure origin, as it does
    # 127.0.0.1 and localhost: the portal reached over plain HTTP from the LAN.
    f"--host-resolver-rules=MAP {LAN_HOST} 127.0.0.1",
]
PROJECT = Path(__file__).resolve().parents[2]
SHOTS = Path(__file__).resolve().parent / "screenshots"


@dataclass
class Server:
    base: str
    work: Path
    env: dict[str, str]

    def cli(self, *args: str, stdin: str = "") -> str:
        out = subprocess.run(
            [sys.executable, "-m", "portal.cli", *args],
            cwd=self.work,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return out.stdout.strip()

    @property
    def mail_dir(self) -> Path:
        return self.work / "var" / "mail"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
