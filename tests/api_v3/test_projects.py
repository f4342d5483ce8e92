"""APIv3 project endpoints: the translation of query strings and JSON into core calls."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from coprd.db.models import ApiToken
from tests.conftest import Account, snapshot

RAWHIDE = "fedora-rawhide-x86_64"


def add(client: TestClient, who: Account, name: str, owner: str | None = None, **fields: object):
    body = {"name": name, "chroots": [RAWHIDE], **fields}
    return client.post(f"/api_3/project/add/{owner or who.name}", json=body, headers=who.headers)


def test_add_returns_the_project_with_its_repos(client: TestClient, alice: Account) -> None:
    r = add(client, alice, "demo", description="A demo", additional_repos=["copr://bob/x"])
    assert r.status_code == 200, r.text
    project = r.json()
    assert project["full_name"] == "alice/demo"
    assert project["description"] == "A demo"
    assert project["additional_repos"] == ["copr://bob/x"]
    assert project["chroot_repos"] == {RAWHIDE: f"http://coprd.test/results/alice/demo/{RAWHIDE}/"}


def test_exist_ok_is_parsed_from_the_strings_the_client_sends(
    client: TestClient, alice: Account
) -> None:
    assert add(client, alice, "demo").status_code == 200
    again = client.post(
        "/api_3/project/add/alice?exist_ok=False",
        json={"name": "demo", "chroots": [RAWHIDE]},
        headers=alice.headers,
    )
    assert again.status_code == 409
    assert "already have a project" in again.json()["error"]
    ok = client.post(
        "/api_3/project/add/alice?exist_ok=True",
        json={"name": "demo", "chroots": [RAWHIDE], "description": "ignored"},
        headers=alice.headers,
    )
    assert ok.status_code == 200
    assert ok.json()["description"] == ""


def test_list_paginates_and_echoes_meta(client: TestClient, alice: Account) -> None:
    for i in range(5):
        add(client, alice, f"p{i}")
    page = client.get("/api_3/project/list?ownername=alice&limit=2&offset=2&order=name")
    assert page.json()["meta"] == {"limit": 2, "offset": 2, "order": "name", "order_type": "ASC"}
    assert [p["name"] for p in page.json()["items"]] == ["p2", "p3"]
    past = client.get("/api_3/project/list?ownername=alice&limit=2&offset=10")
    assert past.json()["items"] == []
    desc = client.get("/api_3/project/list?ownername=alice&order_type=DESC&limit=1")
    assert desc.json()["items"][0]["name"] == "p4"


def test_search_matches_name_owner_and_description(client: TestClient, alice: Account) -> None:
    add(client, alice, "needle-tools")
    add(client, alice, "other", description="contains a NEEDLE too")
    add(client, alice, "unrelated")
    found = client.get("/api_3/project/search?query=needle").json()["items"]
    assert sorted(p["name"] for p in found) == ["needle-tools", "other"]
    assert client.get("/api_3/project/search?query=alice/needle").json()["items"][0]["name"] == (
        "needle-tools"
    )
    # LIKE wildcards in the query are literal characters.
    assert client.get("/api_3/project/search?query=%25").json()["items"] == []


def test_trailing_and_doubled_slashes_are_accepted(client: TestClient, alice: Account) -> None:
    add(client, alice, "demo")
    for path in ("/api_3/project/", "/api_3//project", "/api_3/project//"):
        r = client.get(path, params={"ownername": "alice", "projectname": "demo"})
        assert r.status_code == 200, path
    assert client.get("/api_3/").json()["version"] == 3
    assert client.get("/api_3").json()["version"] == 3


def test_edit_renames_repos_and_replaces_chroots(client: TestClient, alice: Account) -> None:
    add(client, alice, "demo")
    r = client.put(
        "/api_3/project/edit/alice/demo",
        json={
            "repos": ["https://example.com/repo"],
            "chroots": ["epel-9-x86_64", "epel-10-aarch64"],
            "bootstrap": "default",
            "description": None,
            "unlisted_on_hp": True,
            "delete_after_days": "7",
        },
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    project = r.json()
    assert project["additional_repos"] == ["https://example.com/repo"]
    assert sorted(project["chroot_repos"]) == ["epel-10-aarch64", "epel-9-x86_64"]
    assert project["unlisted_on_hp"] is True
    assert project["delete_after_days"] == 7


def test_a_template_in_a_repository_is_refused_and_changes_nothing(
    client: TestClient, alice: Account, engine: Engine
) -> None:
    before = snapshot(engine)
    r = add(client, alice, "demo", additional_repos=["https://e.org/{{ 7 * 7 }}/"])
    assert r.status_code == 400
    assert "must not contain '{'" in r.json()["error"]
    assert snapshot(engine) == before


def test_use_bootstrap_container_maps_to_bootstrap(client: TestClient, alice: Account) -> None:
    r = add(client, alice, "demo", use_bootstrap_container=False)
    assert r.json()["bootstrap"] == "off"


def test_auth_check_and_token_renewal(client: TestClient, alice: Account) -> None:
    assert client.get("/api_3/auth-check", headers=alice.headers).json()["name"] == "alice"
    renewed = client.post("/api_3/api-token", headers=alice.headers).json()
    assert set(renewed) >= {"api_login", "api_token", "expiration"}
    # The old token is replaced by the new one.
    assert client.get("/api_3/auth-check", headers=alice.headers).status_code == 401
    import base64

    pair = f"{renewed['api_login']}:{renewed['api_token']}".encode()
    fresh = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    assert client.get("/api_3/auth-check", headers=fresh).json()["name"] == "alice"


def test_docs_describe_the_served_fields(client: TestClient) -> None:
    assert client.get("/api_3/docs").status_code == 200
    spec = client.get("/api_3/openapi.json").json()
    project = spec["components"]["schemas"]["ProjectOut"]["properties"]
    assert {"full_name", "chroot_repos", "additional_repos", "repo_priority"} <= set(project)
    assert "/api_3/project/add/{ownername}" in spec["paths"]


def test_oversized_bodies_are_refused_while_streaming(client: TestClient, alice: Account) -> None:
    def chunks(total: int):  # no Content-Length: the limit must hold for chunked bodies too
        sent = 0
        while sent < total:
            yield b" " * 65536
            sent += 65536

    r = client.post(
        "/api_3/project/add/alice",
        content=chunks(2 * 1024 * 1024),
        headers={**alice.headers, "content-type": "application/json"},
    )
    assert r.status_code == 413
    assert "larger" in r.json()["error"]
    assert client.get("/api_3/project/list?ownername=alice").json()["items"] == []


def test_expired_token_gets_401(client: TestClient, alice: Account, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(ApiToken).values(expires_on=dt.date(2020, 1, 1)))
    r = client.post(
        "/api_3/project/add/alice", json={"name": "x", "chroots": [RAWHIDE]}, headers=alice.headers
    )
    assert r.status_code == 401
    assert "expired" in r.json()["error"]
    assert "/api to get or renew your API token" in r.json()["error"]


@pytest.mark.parametrize("name", ["appstream", "fedora_review"])
def test_unsupported_settings_are_refused_on_and_accepted_off(
    client: TestClient, alice: Account, engine: Engine, name: str
) -> None:
    body = {"name": "u", "chroots": [RAWHIDE], name: False}
    created = client.post("/api_3/project/add/alice", json=body, headers=alice.headers)
    assert created.json()[name] is False
    before = snapshot(engine)
    for method, url, sent in (
        ("POST", "/api_3/project/add/alice", {**body, "name": "v", name: True}),
        ("PUT", "/api_3/project/edit/alice/u", {"description": "x", name: True}),
    ):
        r = client.request(method, url, json=sent, headers=alice.headers)
        assert r.status_code == 400
        assert r.json()["error"].startswith(f"{name} is not supported by this server: ")
        assert snapshot(engine) == before
    if name == "fedora_review":  # a build option as well
        build = {"ownername": "alice", "projectname": "u", "pkgs": ["https://e.org/x.src.rpm"]}
        r = client.post(
            "/api_3/build/create/url", json={**build, name: True}, headers=alice.headers
        )
        assert r.status_code == 400 and "not supported by this server" in r.json()["error"]
        assert snapshot(engine) == before


def test_permissions_of_a_project_without_any_are_404_as_on_copr(
    client: TestClient, alice: Account, bob: Account
) -> None:
    add(client, alice, "demo")
    url = "/api_3/project/permissions/get/alice/demo"
    r = client.get(url, headers=alice.headers)
    assert r.status_code == 404
    assert r.json() == {"error": "No permissions set on alice/demo project"}
    body = {"bob": {"builder": "approved"}}
    r = client.put("/api_3/project/permissions/set/alice/demo", json=body, headers=alice.headers)
    assert r.status_code == 200, r.text
    r = client.get(url, headers=alice.headers)
    assert r.json()["permissions"] == {"bob": {"builder": "approved", "admin": "nothing"}}
