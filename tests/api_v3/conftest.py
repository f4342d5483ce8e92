"""Fixtures the APIv3 tests share."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account

X86 = "fedora-rawhide-x86_64"
ARM = "fedora-rawhide-aarch64"


@pytest.fixture
def demo(client: TestClient, alice: Account) -> str:
    """alice/demo with the two rawhide chroots, made through APIv3."""
    r = client.post(
        "/api_3/project/add/alice",
        json={"name": "demo", "chroots": [X86, ARM]},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    return "demo"
