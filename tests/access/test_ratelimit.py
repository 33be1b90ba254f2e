"""The limiter's rules, in process: doors, windows, credentials, failures, settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.errors import RateLimited
from core.ratelimit import Limits, door_of, principal_key
from core.settings import Settings

pytestmark = pytest.mark.anyio


def _limits(**over: object) -> Limits:
    return Limits(Settings(redis_url="", **over))  # type: ignore[arg-type]


def test_each_path_belongs_to_its_door():
    gs1 = {"/01/09506000134352"}.__contains__
    assert [door_of(p, gs1) for p in (
        "/api/handles/88.100.1/X", "/api/bulk/jobs", "/identity/token/v1", "/snms/api/v5/template",
        "/identityv2/data/detail", "/hrls/handles", "/01/09506000134352", "/88.100.1/X",
        "/0.NA/88.100.1", "/console/88.100.1", "/static/portal.css", "/readyz", "/",
    )] == ["rest", "bulk", "snms", "snms", "snms", "rest", "gs1", "proxy", "proxy",
           None, None, None, None]  # fmt: skip


def test_anonymous_sources_are_counted_apart_per_door():
    limits = _limits(rate_limit_anonymous="3/minute")
    assert [limits.check_anonymous("rest", "192.0.2.1") for _ in range(3)] == [None] * 3
    retry = limits.check_anonymous("rest", "192.0.2.1")
    assert retry is not None and 1 <= retry <= 60
    assert limits.check_anonymous("proxy", "192.0.2.1") is None  # another door
    assert limits.check_anonymous("rest", "192.0.2.2") is None  # another source


async def test_a_credential_over_its_limit_is_refused_with_retry_after():
    limits = _limits(rate_limit_key="2/minute", rate_limit_bulk="1/minute")
    await limits.check_principal("rest", "key:abc")
    await limits.check_principal("rest", "key:abc")
    with pytest.raises(RateLimited) as refused:
        await limits.check_principal("rest", "key:abc")
    assert refused.value.http_status == 429 and refused.value.rc == 3
    assert refused.value.retry_after >= 1
    await limits.check_principal("bulk", "key:abc")  # the bulk door counts apart
    with pytest.raises(RateLimited):
        await limits.check_principal("bulk", "key:abc")


def test_an_oauth_client_is_counted_as_its_client():
    class P:
        actor = "client:x"
        client_id = "idc_1"

    class K:
        actor = "key:k1"

    assert principal_key(P()) == "client:idc_1" and principal_key(K()) == "key:k1"


async def test_failures_stop_an_account_and_then_a_source():
    limits = _limits(login_failures_per_minute=2)
    for _ in range(2):
        await limits.check_failures("snms", "198.51.100.7", "alice")
        await limits.failed("snms", "198.51.100.7", "alice")
    with pytest.raises(RateLimited):
        await limits.check_failures("snms", "198.51.100.7", "alice")
    await limits.check_failures("snms", "198.51.100.7", "bob")  # the source has room left
    for name in ("bob", "carol", "dave", "erin", "frank", "grace"):
        await limits.failed("snms", "198.51.100.7", name)
    with pytest.raises(RateLimited):
        await limits.check_failures("snms", "198.51.100.7", "heidi")  # 4x per source


def test_a_limit_that_does_not_parse_is_named():
    with pytest.raises(ValidationError, match="rate limit like 20/second"):
        Settings(rate_limit_anonymous="lots")
