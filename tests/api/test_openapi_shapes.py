"""Every JSON answer in the OpenAPI states its fields: no operation is documented as "some
object" (the schemathesis contract test then checks each answer against real fields)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.anyio


def _generic(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        schema = components.get(ref.rsplit("/", 1)[-1], {})
    if "oneOf" in schema or "anyOf" in schema or schema.get("type") == "array":
        return False
    return schema.get("type") == "object" and not schema.get("properties")


async def test_no_json_answer_or_body_is_an_undescribed_object(client: Any) -> None:
    doc = (await client.get("/schema/openapi.json")).json()
    components = doc.get("components", {}).get("schemas", {})
    vague = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            bodies = (op.get("requestBody") or {}).get("content", {})
            for media, spec in bodies.items():
                if "json" in media and _generic(spec.get("schema") or {}, components):
                    vague.append(f"{method.upper()} {path} body {media}")
            for status, answer in op["responses"].items():
                for media, spec in (answer.get("content") or {}).items():
                    if "json" in media and _generic(spec.get("schema") or {}, components):
                        vague.append(f"{method.upper()} {path} {status} {media}")
    assert len(doc["paths"]) > 50
    assert not vague, "\n".join(vague)


async def test_a_scheme_answer_matches_its_documented_fields(client: Any, tenant_a: Any) -> None:
    """What the document says of a list of codes is what a tenant's key gets."""
    doc = (await client.get("/schema/openapi.json")).json()
    ok = doc["paths"]["/api/v1/schemes/{scheme}/codes"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    documented = doc["components"]["schemas"][ref]
    r = await client.get("/api/v1/schemes/oid/codes", headers=tenant_a.auth())
    assert r.status_code == 200, r.text
    assert set(r.json()) == set(documented["properties"]) == {"totalCount", "page", "codes"}
