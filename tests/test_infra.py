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
