"""schemathesis against the OpenAPI of a served embedded node, with a tenant API key.

``idnest serve`` runs in a subprocess; every documented operation gets a bounded number
of derandomized examples (positive and negative), and each response must be no 5xx and
match what the OpenAPI documents: status code, content type, headers and body schema.
The whole test has a fixed budget: ``MAX_EXAMPLES`` per operation and mode.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import smoke_support

pytestmark = pytest.mark.slow
MAX_EXAMPLES = int(os.environ.get("IDNEST_CONTRACT_EXAMPLES", "5"))
# A guard against a runaway run (about 40 s on an idle 2-core machine), not a benchmark.
BUDGET_SECONDS = 240


@pytest.fixture(scope="module")
def node(tmp_path_factory: Any) -> Any:
    workdir = str(tmp_path_factory.mktemp("contract"))
    with smoke_support.empty_node(workdir) as env, smoke_support.serving(workdir, env) as base:
        prefix = smoke_support.run_cli(workdir, env, "tenant", "create", "--name", "Contract Co")
        key = smoke_support.run_cli(
            workdir, env, "apikey", "create", "--tenant", prefix, "--scopes", "read,write"
        )
        yield base, prefix.splitlines()[-1], key.splitlines()[-1]


def test_every_operation_matches_its_documentation(node: Any) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi import checks

    # What the issue asks: no 5xx, and every answer is documented (status, content type,
    # headers, body schema). Whether the server *accepts* a schema-valid request is not
    # asked (a random handle is a 404, and that is documented).
    wanted = [
        not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_headers_conformance,
        checks.response_schema_conformance,
    ]

    base, prefix, key = node
    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json")
    headers = {"Authorization": f"Bearer {key}"}
    failures: list[str] = []
    calls = [0]
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        # A handle of the tenant's, so writes and reads reach real records, not only 404s.
        fixed = {"handle": f"{prefix}/FUZZ-1"} if "{handle}" in operation.path else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
            @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None,
                      database=None, suppress_health_check=list(HealthCheck))  # fmt: skip
            def run(case: Any) -> None:
                calls[0] += 1
                case.call_and_validate(base_url=base, headers=headers, checks=wanted)

            try:
                run()
            except Unsatisfiable:  # nothing to negate (no parameters, no body)
                continue
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:600]}")
    elapsed = time.monotonic() - started
    operations = len(schema.raw_schema["paths"])
    assert calls[0] >= 2 * operations, f"only {calls[0]} requests for {operations} paths"
    assert not failures, f"{len(failures)} mismatches:\n" + "\n\n".join(failures)
    assert elapsed < BUDGET_SECONDS, f"the contract run took {elapsed:.0f} s"


def test_undocumented_methods_answer_405_with_allow(node: Any) -> None:
    """TRACE (never documented) on every documented path: 405 problem+json naming the
    methods that are, in Allow (a generated client can tell a wrong method from a bug)."""
    import httpx

    base, prefix, key = node
    spec = httpx.get(f"{base}/schema/openapi.json", timeout=10).json()
    for path, ops in spec["paths"].items():
        url = base + path.replace("{handle}", f"{prefix}/X").replace("{", "").replace("}", "")
        r = httpx.request("TRACE", url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert r.status_code == 405, (path, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json"), path
        allowed = {m.strip().lower() for m in r.headers["allow"].split(",")}
        documented = {m for m in ops if m in {"get", "put", "post", "delete", "patch"}}
        assert documented <= allowed, (path, documented, allowed)
