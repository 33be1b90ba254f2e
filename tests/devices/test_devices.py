"""Device credentials for active carriers: a device proves it is its identifier (its own
signed token over HTTP, challenge-response on the wire), gets only what grants naming it
reveal, and can never act as its tenant."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from core.handlekeys import encode_public_key

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


def _der_b64(key: Any) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


async def _chip_template(tenant: Any) -> str:
    from tenants.templates.services.templates import save_template

    code = "chip" + uuid.uuid4().hex[:6]
    await save_template(owner_tenant=tenant.id, code=code, actor="test",
                        body={"name": "Sensor chip", "type": 1, "extends": "core@1"})  # fmt: skip
    return code


async def _put(client: Any, tenant: Any, handle: str, values: list[dict]) -> None:
    r = await client.put(f"/api/handles/{handle}", json={"values": values},
                         headers={**tenant.auth(), **JSON})  # fmt: skip
    assert r.status_code in (200, 201), r.text


def _key_value(index: int, b64: str) -> dict:
    return {"index": index, "type": "HS_PUBKEY", "data": {"format": "key", "value": b64}}


async def _device(client: Any, tenant: Any, suffix: str, key_b64: str, template: str) -> str:
    handle = f"{tenant.prefix}/{suffix}"
    await _put(client, tenant, handle, [
        {"index": 1, "type": "URL", "data": f"https://chips.example/{suffix}"},
        {"index": 1001, "type": "HS_TEMPLATE", "data": template},
        {"index": 2000, "type": "name", "data": f"Chip {suffix}"},
        _key_value(300, key_b64),
    ])  # fmt: skip
    return handle


def _token(key: Any, handle: str, *, alg: str = "ES256", kid: str | None = None,
           life: int = 120, **claims: Any) -> str:  # fmt: skip
    from tenants.clients.services.tokens import audience

    now = int(time.time())
    body = {"iss": handle, "sub": handle, "aud": audience(), "iat": now, "exp": now + life,
            **claims}  # fmt: skip
    header = {"alg": alg, "typ": "device+jwt", "kid": kid or f"300:{handle}"}
    return jwt.encode(header, body, key)


def _pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _es(key: ec.EllipticCurvePrivateKey) -> ECKey:
    return ECKey.import_key(_pem(key))


@pytest.fixture
async def chip(client, tenant_a):
    """A's active-carrier template and device A/DEV-1 holding a P-256 key."""
    template = await _chip_template(tenant_a)
    key = ec.generate_private_key(ec.SECP256R1())
    handle = await _device(client, tenant_a, "DEV-1", _der_b64(key), template)
    return handle, _es(key), template


async def test_a_device_proves_its_identifier_and_nothing_more(client, tenant_a, chip):
    handle, key, _ = chip
    auth = {"Authorization": f"Bearer {_token(key, handle)}"}
    r = await client.get("/api/devices/me", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["handle"] == handle and r.json()["tenant"] == tenant_a.prefix
    assert r.json()["grant_subject"] == f"device:{handle.lower()}"
    # It resolves like anyone, and may not write, even its own record.
    assert (await client.get(f"/api/handles/{handle}", headers=auth)).status_code == 200
    r = await client.put(f"/api/handles/{tenant_a.prefix}/NEW", headers={**auth, **JSON},
                         json={"values": [{"index": 1, "type": "URL", "data": "https://x/"}]})
    assert r.status_code == 403, r.text
    r = await client.put(f"/api/handles/{handle}", headers={**auth, **JSON},
                         json={"values": [{"index": 1, "type": "URL", "data": "https://x/"}]})
    assert r.status_code == 403, r.text
    # An API key is not a device.
    assert (await client.get("/api/devices/me", headers=tenant_a.auth())).status_code == 403


async def test_the_owners_restricted_values_stay_hidden_from_its_devices(client, tenant_a, chip):
    handle, key, _ = chip
    secret = {"index": 2, "type": "EMAIL", "data": "ops@a.example", "permissions": "1100"}
    await _put(client, tenant_a, f"{tenant_a.prefix}/PRIV", [secret])
    url = f"/api/handles/{tenant_a.prefix}/PRIV?publicOnly=false"
    r = await client.get(url, headers={"Authorization": f"Bearer {_token(key, handle)}"})
    assert "ops@a.example" not in r.text
    assert "ops@a.example" in (await client.get(url, headers=tenant_a.auth())).text


async def test_a_grant_can_name_one_device_of_the_partner(client, tenant_a, tenant_b, chip):
    handle, key, template = chip
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = await _device(client, tenant_a, "DEV-2", _der_b64(other_key), template)
    secret = {"index": 2, "type": "BATCH.COST", "data": "cost-of-b", "permissions": "1100"}
    await _put(client, tenant_b, f"{tenant_b.prefix}/P-1", [secret])
    r = await client.post("/api/grants", headers={**tenant_b.auth(), **JSON}, json={
        "to": tenant_a.prefix, "pattern": "P-*", "client": f"device:{handle.upper()}"})
    assert r.status_code == 201, r.text
    url = f"/api/handles/{tenant_b.prefix}/P-1?publicOnly=false"

    def seen(r) -> bool:
        assert r.status_code == 200, r.text
        return "cost-of-b" in r.text

    assert seen(await client.get(url, headers={"Authorization": f"Bearer {_token(key, handle)}"}))
    token2 = _token(_es(other_key), other)
    assert not seen(await client.get(url, headers={"Authorization": f"Bearer {token2}"}))
    assert not seen(await client.get(url, headers=tenant_a.auth()))  # the grant named the device
    # A grant may only name a device of the partner it is given to.
    r = await client.post("/api/grants", headers={**tenant_b.auth(), **JSON}, json={
        "to": tenant_a.prefix, "pattern": "P-*", "client": f"device:{tenant_b.prefix}/DEV-9"})
    assert r.status_code in (400, 422) and "not under" in r.text, r.text


@pytest.mark.parametrize("case", ["expired", "too-long", "audience", "issuer", "forged",
                                  "hmac", "kid", "not-a-device", "no-key", "future"])  # fmt: skip
async def test_bad_device_tokens_are_refused_with_a_reason(client, tenant_a, chip, case):
    handle, key, _ = chip
    plain = f"{tenant_a.prefix}/PLAIN"
    if case == "not-a-device":
        pem_key = ec.generate_private_key(ec.SECP256R1())
        await _put(client, tenant_a, plain, [_key_value(300, _der_b64(pem_key))])
        token = _token(_es(pem_key), plain)
    else:
        token = {
            "expired": lambda: _token(key, handle, iat=int(time.time()) - 400, life=-300),
            "too-long": lambda: _token(key, handle, life=3600),
            "audience": lambda: _token(key, handle, aud="https://elsewhere.example/api"),
            "issuer": lambda: _token(key, handle, iss=f"{tenant_a.prefix}/DEV-7"),
            "forged": lambda: _token(_es(ec.generate_private_key(ec.SECP256R1())), handle),
            "hmac": lambda: _token(OctKey.generate_key(256), handle, alg="HS256"),
            "kid": lambda: _token(key, handle, kid="admin"),
            "no-key": lambda: _token(key, handle, kid=f"301:{handle}"),
            "future": lambda: _token(key, handle, iat=int(time.time()) + 600),
        }[case]()
    r = await client.get("/api/devices/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"]


async def test_a_rotated_key_stops_the_old_tokens_at_once(client, tenant_a, chip):
    handle, key, template = chip
    auth = {"Authorization": f"Bearer {_token(key, handle)}"}
    assert (await client.get("/api/devices/me", headers=auth)).status_code == 200
    fresh = ec.generate_private_key(ec.SECP256R1())
    await _device(client, tenant_a, "DEV-1", _der_b64(fresh), template)
    assert (await client.get("/api/devices/me", headers=auth)).status_code == 401
    new_auth = {"Authorization": f"Bearer {_token(_es(fresh), handle)}"}
    assert (await client.get("/api/devices/me", headers=new_auth)).status_code == 200


async def test_another_tenants_key_cannot_claim_a_device(client, tenant_a, tenant_b, chip):
    handle, _, _ = chip
    b_template = await _chip_template(tenant_b)
    b_key = ec.generate_private_key(ec.SECP256R1())
    await _device(client, tenant_b, "DEV-1", _der_b64(b_key), b_template)
    # B's own device key, claiming A's handle.
    token = _token(_es(b_key), handle)
    r = await client.get("/api/devices/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_a_device_secret_over_basic_is_a_device_not_the_tenant(client, tenant_a, chip):
    handle, _, template = chip
    await _put(client, tenant_a, f"{tenant_a.prefix}/DEV-S", [
        {"index": 1001, "type": "HS_TEMPLATE", "data": template},
        {"index": 2000, "type": "name", "data": "Chip S"},
        {"index": 300, "type": "HS_SECKEY", "data": "chip-secret-1", "permissions": "1100"},
    ])  # fmt: skip
    basic = base64.b64encode(f"300:{tenant_a.prefix}/DEV-S:chip-secret-1".encode()).decode()
    auth = {"Authorization": f"Basic {basic}"}
    r = await client.get("/api/devices/me", headers=auth)
    assert r.status_code == 200 and r.json()["handle"] == f"{tenant_a.prefix}/DEV-S", r.text
    r = await client.delete(f"/api/handles/{handle}", headers=auth)
    assert r.status_code == 403, r.text
    assert (await client.get(f"/api/handles/{handle}")).status_code == 200


async def test_an_rsa_device_in_handle_key_form_signs_rs256(client, tenant_a):
    template = await _chip_template(tenant_a)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    blob = base64.b64encode(encode_public_key(key.public_key())).decode()
    handle = await _device(client, tenant_a, "RSA-1", blob, template)
    token = _token(RSAKey.import_key(_pem(key)), handle, alg="RS256")
    r = await client.get("/api/devices/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["handle"] == handle, r.text
