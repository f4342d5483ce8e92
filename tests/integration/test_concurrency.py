"""Many clients writing at once: every request answers as if it had been alone."""

from __future__ import annotations

import base64
import configparser
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.integration.conftest import Server

pytestmark = pytest.mark.integration

WRITERS = 16
PROJECTS_EACH = 5


def test_concurrent_creates_and_edits_all_succeed(server: Server) -> None:
    parser = configparser.ConfigParser()
    parser.read(server.add_user("busy"))
    section = parser["copr-cli"]
    pair = f"{section['login']}:{section['token']}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    def writer(n: int) -> list[int]:
        statuses = []
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            for i in range(PROJECTS_EACH):
                name = f"w{n}-{i}"
                created = client.post(
                    "/api_3/project/add/busy",
                    json={"name": name, "chroots": ["fedora-rawhide-x86_64"]},
                )
                edited = client.put(
                    f"/api_3/project/edit/busy/{name}", json={"description": f"writer {n}"}
                )
                listed = client.get("/api_3/project/list", params={"ownername": "busy"})
                statuses += [created.status_code, edited.status_code, listed.status_code]
        return statuses

    with ThreadPoolExecutor(WRITERS) as pool:
        statuses = [s for result in pool.map(writer, range(WRITERS)) for s in result]
    assert set(statuses) == {200}
    listed = httpx.get(f"{server.url}/api_3/project/list", params={"ownername": "busy"}).json()
    assert len(listed["items"]) == WRITERS * PROJECTS_EACH
    assert all(p["description"].startswith("writer ") for p in listed["items"])
