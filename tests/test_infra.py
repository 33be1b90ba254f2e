"""infra/terraform and the Dockerfile, checked offline.

`terraform validate` needs the providers from the registry, which a build machine may
not reach; these checks need nothing but the files: the HCL is formatted, every
`IDNEST_*` name is a real setting, every command and flag the containers run is a real
`idnest` command, and every `var.`, `local.` and resource reference is declared.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest

from core.settings import Settings
from portal.cli import main as idnest_cli

ROOT = Path(__file__).resolve().parent.parent
TF_DIR = ROOT / "infra" / "terraform"
TF_FILES = sorted(TF_DIR.glob("*.tf"))
# Every file that names settings: HCL, example variable files, the README, the image.
TEXT_FILES = [
    *TF_FILES,
    *sorted((TF_DIR / "alicloud").glob("*.tf")),
    *sorted(TF_DIR.rglob("*.tfvars")),
    *sorted(TF_DIR.glob("*.example")),
    TF_DIR / "README.md",
    ROOT / "Dockerfile",
]
SETTING = re.compile(r"\bIDNEST_[A-Z0-9_]*[A-Z0-9]\b")


def _hcl() -> str:
    return "\n".join(p.read_text() for p in TF_FILES)


def test_layout() -> None:
    names = {p.name for p in TF_FILES}
    for want in ("versions.tf", "variables.tf", "outputs.tf", "main.tf", "config.tf",
                 "storage.tf", "migrate.tf", "http.tf", "wire.tf", "worker.tf"):  # fmt: skip
        assert want in names
    for path in TEXT_FILES:
        assert path.is_file(), path


def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed")
    proc = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TF_DIR)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_setting_names_are_real() -> None:
    real = {f"IDNEST_{name.upper()}" for name in Settings.model_fields}
    used: dict[str, set[str]] = {}
    for path in TEXT_FILES:
        for name in SETTING.findall(path.read_text()):
            used.setdefault(name, set()).add(path.name)
    assert used, "no IDNEST_* names found"
    unknown = {name: sorted(files) for name, files in used.items() if name not in real}
    assert not unknown, f"not settings of core/settings.py: {unknown}"
    # The ones the deployment cannot work without.
    for name in ("IDNEST_DATABASE_URL", "IDNEST_REDIS_URL", "IDNEST_BROKER_URL",
                 "IDNEST_SECRET_KEY", "IDNEST_VAR_DIR", "IDNEST_WIRE_KEY_FILE",
                 "IDNEST_WIRE_ADDRESSES", "IDNEST_WIRE_ENABLED"):  # fmt: skip
        assert name in used, name


def _container_args() -> list[list[str]]:
    """The `args = [...]` lists of the containers: the idnest command and its flags."""
    out = []
    for body in re.findall(r"\bargs\s*=\s*\[(.*?)\]", _hcl(), flags=re.S):
        items = [item.strip() for item in body.split(",") if item.strip()]
        # A quoted word as it is; an expression (tostring(var.http_workers)) is a number.
        out.append([item.strip('"') if item.startswith('"') else "1" for item in items])
    return out


def _check_command(argv: list[str]) -> None:
    assert argv, "empty command"
    command = idnest_cli.commands.get(argv[0])
    assert isinstance(command, click.Command), f"idnest has no command {argv[0]!r}"
    flags = {opt for p in command.params for opt in p.opts if opt.startswith("--")}
    for word in argv[1:]:
        if word.startswith("--"):
            assert word in flags, f"`idnest {argv[0]}` has no option {word}"
    # Parse it as the CLI would (values included), without running it.
    ctx = command.make_context(f"idnest {argv[0]}", list(argv[1:]), resilient_parsing=False)
    ctx.close()


def test_container_commands_are_real() -> None:
    commands = _container_args()
    assert {argv[0] for argv in commands} == {"serve", "resolver", "worker", "migrate"}
    for argv in commands:
        _check_command(argv)


def test_http_tier_leaves_the_wire_port_to_the_resolvers() -> None:
    http = (TF_DIR / "http.tf").read_text()
    assert re.search(r'name\s*=\s*"IDNEST_WIRE_ENABLED"\s*\n\s*value\s*=\s*"false"', http)
    assert '"/readyz"' in http and '"/healthz"' in http


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, flags=re.M)
    assert re.search(r'^ENTRYPOINT \["idnest"\]', text, flags=re.M)
    assert re.search(r"^USER (?!0\b|root\b)\S+", text, flags=re.M), "the image must not run as root"
    assert "pip install" in text
    cmd = re.search(r"^CMD \[(.*)\]", text, flags=re.M)
    assert cmd is not None
    _check_command(re.findall(r'"([^"]*)"', cmd.group(1)))
    # The entry point is the package's console script.
    assert 'idnest = "portal.cli:main"' in (ROOT / "pyproject.toml").read_text()


def test_references_are_declared() -> None:
    """What `terraform validate` would catch first: undeclared variables, locals, resources."""
    hcl = _hcl()
    variables = set(re.findall(r'^variable "([a-z0-9_]+)"', hcl, flags=re.M))
    used_vars = set(re.findall(r"(?<![\w.])var\.([a-z0-9_]+)", hcl))
    assert used_vars - variables == set(), "undeclared variables"
    assert variables - used_vars == set(), "variables nothing uses"

    locals_ = set()
    for block in re.findall(r"^locals \{\n(.*?)^\}", hcl, flags=re.M | re.S):
        locals_ |= set(re.findall(r"^  ([a-z0-9_]+)\s*=", block, flags=re.M))
    used_locals = set(re.findall(r"(?<![\w.])local\.([a-z0-9_]+)", hcl))
    assert used_locals - locals_ == set(), "undeclared locals"

    resources = set(re.findall(r'^resource "([a-z0-9_]+)" "([a-z0-9_]+)"', hcl, flags=re.M))
    types = {t for t, _ in resources}
    for rtype, rname in re.findall(r"\b([a-z0-9]+_[a-z0-9_]+)\.([a-z0-9_]+)\b", hcl):
        if rtype in types:
            assert (rtype, rname) in resources, f"{rtype}.{rname} is not declared"

    for block in re.findall(r'^variable "[a-z0-9_]+" \{\n(.*?)^\}', hcl, flags=re.M | re.S):
        assert re.search(r"^  description\s*=", block, flags=re.M), block


# --- every .tf parses; the Alibaba Cloud layer; checkov ------------------------------

ALL_TF = sorted(TF_DIR.rglob("*.tf"))
CLOUD_DIR = TF_DIR / "alicloud"


def _unquote(value: object) -> object:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def _parse(path: Path) -> dict:
    hcl2 = pytest.importorskip("hcl2")
    with path.open() as f:
        return _unquote(hcl2.load(f))  # type: ignore[return-value]


def _blocks(directory: Path, kind: str) -> dict[str, dict]:
    """``resource``/``data``: {"type.name": body}; ``variable``/``module``: {name: body}."""
    out: dict[str, dict] = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in _parse(path).get(kind, []):
            for key, body in entry.items():
                if kind in ("resource", "data"):
                    for name, inner in body.items():
                        out[f"{key}.{name}"] = inner
                else:
                    out[key] = body
    return out


def test_every_tf_file_parses() -> None:
    assert CLOUD_DIR.is_dir() and len(ALL_TF) > len(TF_FILES)
    for path in ALL_TF:
        assert isinstance(_parse(path), dict), path


def test_the_cloud_layer_makes_what_the_node_needs() -> None:
    res = _blocks(CLOUD_DIR, "resource")
    vpc = res["alicloud_vpc.main"]
    assert vpc["enable_ipv6"] is True
    for tier in ("nodes", "pods"):
        vsw = res[f"alicloud_vswitch.{tier}"]
        assert vsw["count"] == 3 and vsw["enable_ipv6"] is True
    variables = _blocks(CLOUD_DIR, "variable")
    assert len(_unquote(variables["zones"]["default"])) == 3
    ack = res["alicloud_cs_managed_kubernetes.main"]
    assert ack["ip_stack"] == "dual"
    db = res["alicloud_db_instance.main"]
    assert db["engine"] == "PostgreSQL" and db["category"] == "HighAvailability"
    assert db["zone_id"] != db["zone_id_slave_a"]
    assert db["storage_auto_scale"] == "Enable"  # storage that grows by itself
    assert "alicloud_db_readonly_instance.resolution" in res
    assert res["alicloud_kvstore_instance.main"]["instance_type"] == "Redis"
    nlb = res["alicloud_nlb_load_balancer.wire"]
    alb = res["alicloud_alb_load_balancer.http"]
    for lb in (nlb, alb):
        assert lb["address_ip_version"] == "DualStack" and lb["ipv6_address_type"] == "Internet"
    buckets = res["alicloud_oss_bucket.archive"]
    assert "exports" in buckets["for_each"] and "escrow" in buckets["for_each"]
    assert buckets["server_side_encryption_rule"][0]["sse_algorithm"] == "KMS"
    assert res["alicloud_kms_key.main"]["automatic_rotation"] == "Enabled"
    assert "alicloud_nas_file_system.var" in res
    assert res["kubernetes_storage_class_v1.nas"]["allow_volume_expansion"] is True


def test_the_kubernetes_module_stays_cloud_neutral() -> None:
    """The module knows no cloud: the layer passes it URLs, names and annotations only,
    and every input it passes is a variable the module declares."""
    for path in TF_FILES:
        assert not re.search(r'^(resource|data) "alicloud_', path.read_text(), flags=re.M), path
    declared = set(_blocks(TF_DIR, "variable"))
    call = _blocks(CLOUD_DIR, "module")["idnest"]
    assert call["source"] == "../"
    inputs = {k for k in call if k not in ("source", "__is_block__", "__comments__")}
    assert inputs <= declared, inputs - declared
    for url in ("database_url", "migration_database_url", "redis_url", "broker_url"):
        assert url in inputs


def test_egress_and_autoscaling_are_sized_for_three_times_the_peak() -> None:
    """10,000 answers/s x 3 at 500 bytes, and the resolver HPA's maximum carries 3x the
    peak at the per-pod figure taken from docs/wire.md's benchmark."""
    v = {k: _unquote(b.get("default")) for k, b in _blocks(CLOUD_DIR, "variable").items()}
    assert v["peak_qps"] == 10000 and v["answer_bytes"] == 500
    payload_mbps = 3 * v["peak_qps"] * v["answer_bytes"] * 8 / 1e6
    assert payload_mbps == 120
    # The formula of network.tf, evaluated here: headers (48 B) and 25 % for bursts.
    network = (CLOUD_DIR / "network.tf").read_text()
    assert "ceil(3 * var.peak_qps * (var.answer_bytes + 48) * 8 / 1000000 * 1.25)" in network
    egress = -(-3 * v["peak_qps"] * (v["answer_bytes"] + 48) * 8 * 1.25 // 1e6)
    assert egress == 165 and egress >= payload_mbps
    assert v["wire_replicas_max"] * v["resolver_pod_qps"] >= 3 * v["peak_qps"]
    # The per-pod plan is well below what one process measured (docs/wire.md).
    measured = re.search(r"UDP, saturation: qps \(p50/p99 µs\) \| ([\d,]+)",
                         (ROOT / "docs" / "wire.md").read_text())  # fmt: skip
    assert measured is not None
    assert v["resolver_pod_qps"] * 4 <= int(measured.group(1).replace(",", ""))


def _checkov() -> str | None:
    import os

    for candidate in (
        os.environ.get("IDNEST_CHECKOV", ""),
        str(Path.home() / ".cache" / "idnest-checkov" / "bin" / "checkov"),
        shutil.which("checkov") or "",
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def test_checkov_finds_nothing_unjustified() -> None:
    """Every failed check is fixed, or skipped inline with its reason
    (``#checkov:skip=ID:reason``). Without a Prisma Cloud key checkov reports no
    severities, so every finding counts, not only HIGH ones. .ci/run installs checkov
    into a venv of its own (its pins clash with the project's)."""
    import json
    import os

    checkov = _checkov()
    if checkov is None:
        if os.environ.get("CI"):
            pytest.fail("checkov is not installed: .ci/run installs it")
        pytest.skip("checkov is not installed (see .ci/run)")
    proc = subprocess.run(
        [checkov, "-d", str(TF_DIR), "--framework", "terraform", "--skip-download",
         "-o", "json"],
        capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r["results"]["failed_checks"]]
    skipped = [c for r in reports for c in r["results"]["skipped_checks"]]
    assert not failed, [(c["check_id"], c["resource"], c["file_path"]) for c in failed]
    for c in skipped:
        reason = (c.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 20, (c["check_id"], c["resource"], reason)
    passed = sum(r["summary"]["passed"] for r in reports)
    assert passed > 50  # it did look at the files
