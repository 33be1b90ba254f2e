"""The container image, built from the Dockerfile's own steps where Docker cannot run.

There is no Docker daemon on the build machines (and CI pulls no base image), so this
follows the Dockerfile instead: the build stage's COPY lines make the build context,
its RUN makes a fresh venv and installs the project into it from that context alone.
The dependencies come from the test run's venv through a path file, so only the build
backend (setuptools, as ``make install`` fetches it) is downloaded, and async-timeout
where the machine's Python is older than 3.11.3 (the image's is not). The runtime
stage's USER is the uid every process here runs as (setpriv, when the tests run as
root). Each process kind's entry point starts as that user, the HEALTHCHECK command
passes against it, and fails once it is gone.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.smoke_support import free_port, node_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
KINDS = ("idnest-web", "idnest-resolver", "idnest-worker", "idnest-scheduler")


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for ins in instructions():
        if ins[0] == "FROM":
            stages.append([])
        stages[-1].append(ins)
    return stages


def _json_args(text: str) -> list[str]:
    import json

    return list(json.loads(text))


def _healthcheck() -> list[str]:
    (args,) = [a for i, a in instructions() if i == "HEALTHCHECK"]
    return _json_args(args.split(" CMD ", 1)[1])


def _user() -> tuple[int, int]:
    (user,) = [a for i, a in _stages()[-1] if i == "USER"]
    uid, _, gid = user.partition(":")
    return int(uid), int(gid or uid)


def _interpreter() -> str:
    """A Python 3.11 the image's user may run: the test run's own may live under /root."""
    system = Path("/usr/bin/python3.11")
    if os.geteuid() == 0 and system.is_file():
        return str(system)
    return sys.executable


@pytest.fixture(scope="module")
def image() -> Iterator[Path]:
    """A directory laid out as the image: /opt/idnest (the venv) and /var/lib/idnest."""
    root = Path(tempfile.mkdtemp(prefix="idnest-image-"))
    os.chmod(root, 0o755)
    build, runtime = _stages()
    ctx = root / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for ins, args in build:
        if ins == "COPY":
            *sources, dest = shlex.split(args)
            for src in sources:
                target = ctx / dest / (src if dest.endswith("/") and dest != "./" else "")
                if dest == "./":
                    target = ctx / src
                if (ROOT / src).is_dir():
                    shutil.copytree(ROOT / src, target, ignore=ignore)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(ROOT / src, target)
    (run,) = [a for i, a in build if i == "RUN"]
    assert "python -m venv /opt/idnest" in run and "pip install" in run and run.endswith(" .")
    venv = root / "opt" / "idnest"
    subprocess.run([_interpreter(), "-m", "venv", str(venv)], check=True, timeout=120)
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ctx)],
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "zz_idnest_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-deps", "--no-index", "-q",
         *map(str, wheels.glob("*.whl"))],
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    old = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print(sys.version_info < (3, 11, 3))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if old == "True":  # redis needs async-timeout below 3.11.3 (the image's Python is newer)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--no-deps", "-q", "async-timeout>=4,<6"],
            check=True, timeout=300, capture_output=True,
        )  # fmt: skip
    var = root / "var" / "lib" / "idnest"
    var.mkdir(parents=True)
    uid, gid = _user()
    if os.geteuid() == 0:
        os.chown(var, uid, gid)
    # The runtime stage copies the venv and nothing else from the build.
    assert any(i == "COPY" and "--from=build /opt/idnest /opt/idnest" in a for i, a in runtime)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _as_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    uid, gid = _user()
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv]


def _env(image: Path, **settings: str) -> dict[str, str]:
    env = node_env(str(image), **settings)
    env["IDNEST_VAR_DIR"] = str(image / "var" / "lib" / "idnest")
    env["PATH"] = f"{image / 'opt' / 'idnest' / 'bin'}:{env['PATH']}"
    env["HOME"] = env["IDNEST_VAR_DIR"]
    return env


def _health(image: Path, env: dict[str, str], kind: str) -> subprocess.CompletedProcess[str]:
    argv = _healthcheck()
    argv[0] = str(image / "opt" / "idnest" / "bin" / argv[0])
    return subprocess.run(
        _as_user([*argv, "--kind", kind]), env=env, cwd=env["IDNEST_VAR_DIR"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _uids(pid: int) -> set[int]:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("Uid:"))
    return {int(u) for u in line.split()[1:]}


def _start(image: Path, env: dict[str, str], kind: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _as_user([str(image / "opt" / "idnest" / "bin" / kind), *args]), env=env,
        cwd=env["IDNEST_VAR_DIR"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _wait(proc: subprocess.Popen[str], ready: object, what: str) -> None:
    for _ in range(300):
        if callable(ready) and ready():
            return
        if proc.poll() is not None:
            raise AssertionError(f"{what} died: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.2)
    raise AssertionError(f"{what} did not start")


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.terminate()
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def test_the_image_has_one_entry_point_per_kind_and_a_health_check(image: Path) -> None:
    text = (ROOT / "Dockerfile").read_text()
    bin_dir = image / "opt" / "idnest" / "bin"
    for kind in ("idnest", *KINDS):
        assert (bin_dir / kind).is_file(), kind
    for kind in KINDS:
        assert f"--entrypoint {kind}" in text, kind
    assert _healthcheck()[:2] == ["idnest", "healthcheck"]
    assert _user()[0] != 0, "the image must not run as root"


def test_each_kind_runs_as_the_image_user_and_passes_its_health_check(image: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("switching to the image's uid needs root (setpriv)")
    uid, _ = _user()
    web_port, wire_port = free_port(), free_port()
    env = _env(image, port=str(web_port), wire_port=str(wire_port), scheduler_tick="1")
    env.pop("IDNEST_BROKER_URL", None)

    sched = _start(image, env, "idnest-scheduler")
    try:
        beat = Path(env["IDNEST_VAR_DIR"]) / "scheduler.heartbeat"
        _wait(sched, beat.exists, "idnest-scheduler")
        assert _uids(sched.pid) == {uid}
        done = _health(image, env, "scheduler")
        assert done.returncode == 0, done.stdout + done.stderr
        assert beat.stat().st_uid == uid  # written by the image's user, not root
    finally:
        rc = _stop(sched)
    assert rc == 0, sched.stdout.read() if sched.stdout else ""  # SIGTERM: a clean stop

    web = _start(image, env, "idnest-web", "--host", "127.0.0.1")

    def web_up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{web_port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(web, web_up, "idnest-web")
        assert _uids(web.pid) == {uid}
        done = _health(image, env, "web")
        assert done.returncode == 0 and "/healthz 200" in done.stdout, done.stdout + done.stderr
    finally:
        _stop(web)
    gone = _health(image, env, "web")
    assert gone.returncode == 1 and "unhealthy (web)" in gone.stderr

    res = _start(image, env, "idnest-resolver", "--port", str(wire_port))
    try:
        _wait(res, lambda: _health(image, env, "resolver").returncode == 0, "idnest-resolver")
        assert _uids(res.pid) == {uid}
    finally:
        _stop(res)


def test_the_health_check_finds_the_kind_from_pid_1() -> None:
    from portal.cli.processes import _kind_of

    assert _kind_of(["/opt/idnest/bin/python", "/opt/idnest/bin/idnest-resolver"]) == "resolver"
    assert _kind_of(["/opt/idnest/bin/python", "/opt/idnest/bin/idnest", "serve"]) == "web"
    assert _kind_of(["/opt/idnest/bin/python", "-m", "dramatiq", "core.tasks"]) == "worker"
    assert _kind_of(["python", "/opt/idnest/bin/idnest-scheduler"]) == "scheduler"
