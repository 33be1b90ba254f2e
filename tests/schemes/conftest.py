"""Fixtures for the schemes tests."""

from __future__ import annotations

from typing import Any

import pytest
from schemes_helpers import fresh_gcp, grant


@pytest.fixture
async def gs1_a(tenant_a: Any) -> str:
    """Tenant A's verified GS1 company prefix."""
    return await grant(tenant_a, "gs1", fresh_gcp())
