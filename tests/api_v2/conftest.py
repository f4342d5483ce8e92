"""Requests as python-copr 1.63's v2 client sends them, and a project of alice's to send them to."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account

RAWHIDE = "fedora-rawhide-x86_64"
EPEL9 = "epel-9-x86_64"
# An RPM lead: magic, version 3.0, type 1 (source) / 0 (binary). Enough for the upload
# check; real packages are built in the integration tests.
SRPM_BYTES = b"\xed\xab\xee\xdb\x03\x00\x00\x01" + b"\x00" * 200
RPM_BYTES = b"\xed\xab\xee\xdb\x03\x00\x00\x00" + b"\x00" * 200


def project_body(name: str, owner: str = "alice", **fields: Any) -> dict[str, Any]:
    """``ProjectCreateSchema``'s dump: every field, null where the caller gave none."""
    body: dict[str, Any] = {
        "id": None,
        "name": name,
        "owner": owner,
        "chroots": [RAWHIDE],
        "description": None,
        "instructions": None,
        "homepage": None,
        "contact": None,
        "disable_createrepo": None,
        "build_enable_net": None,
        "last_modified": None,
        "repos": None,
    }
    body.update(fields)
    return body


def create_project(client: TestClient, who: Account, name: str, **fields: Any) -> httpx.Response:
    return client.post("/api_2/projects", json=project_body(name, **fields), headers=who.headers)


def url_build(
    client: TestClient, who: Account, project_id: int, chroots: list[str] | None = None, **more: Any
) -> httpx.Response:
    body = {
        "project_id": project_id,
        "srpm_url": "https://example.com/hello-1-1.src.rpm",
        "chroots": chroots or [],
        "enable_net": True,
        **more,
    }
    return client.post("/api_2/builds", json=body, headers=who.headers)


def file_build(
    client: TestClient,
    who: Account,
    metadata: dict[str, Any] | bytes,
    data: bytes = SRPM_BYTES,
    name: str = "hello-1-1.src.rpm",
) -> httpx.Response:
    """Multipart as 1.63 sends it: ``metadata`` without a filename, then ``srpm``, labelled
    with the client's misspelled content type."""
    text = metadata if isinstance(metadata, bytes) else json.dumps(metadata).encode()
    files = {
        "metadata": (None, text, "application/json"),
        "srpm": (name, data, "appliction/x-rpm"),
    }
    return client.post("/api_2/builds", files=files, headers=who.headers)


@pytest.fixture
def demo(client: TestClient, alice: Account) -> int:
    """alice/demo with rawhide enabled; its id."""
    r = create_project(client, alice, "demo")
    assert r.status_code == 201, r.text
    project_id: int = r.json()["project"]["id"]
    return project_id
