"""APIv2 projects: the translation of 1.63's project calls into core calls."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import groups, users
from coprd.db.engine import write_session
from tests.api_v2.conftest import RAWHIDE, create_project, project_body, url_build
from tests.conftest import Account, snapshot


def test_create_answers_201_with_an_absolute_location(client: TestClient, alice: Account) -> None:
    r = create_project(
        client,
        alice,
        "demo",
        description="A demo",
        homepage="https://example.org/demo",
        contact="alice@example.org",
        build_enable_net=True,
        repos=["https://example.org/repo"],
    )
    assert r.status_code == 201, r.text
    project_id = r.json()["project"]["id"]
    # python-copr 1.63 GETs the Location as it is: it must be a full URL.
    assert r.headers["location"] == f"http://coprd.test/api_2/projects/{project_id}"
    fetched = client.get(f"/api_2/projects/{project_id}").json()
    assert fetched == r.json()
    assert fetched == {
        "_links": {
            "self": {"href": f"/api_2/projects/{project_id}"},
            "chroots": {"href": f"/api_2/projects/{project_id}/chroots"},
            "builds": {"href": f"/api_2/builds?project_id={project_id}"},
            "build_tasks": {"href": f"/api_2/build_tasks?project_id={project_id}"},
        },
        "project": {
            "id": project_id,
            "name": "demo",
            "owner": "alice",
            "group": None,
            "description": "A demo",
            "instructions": "",
            "homepage": "https://example.org/demo",
            "contact": "alice@example.org",
            "disable_createrepo": False,
            "build_enable_net": True,
            "repos": ["https://example.org/repo"],
            "last_modified": None,  # no build has ended yet
        },
    }
    # The same project, through APIv3.
    v3 = client.get("/api_3/project", params={"ownername": "alice", "projectname": "demo"})
    assert v3.json()["id"] == project_id
    assert v3.json()["enable_net"] is True
    assert list(v3.json()["chroot_repos"]) == [RAWHIDE]


def test_create_defaults_the_owner_to_the_caller_and_nulls_to_defaults(
    client: TestClient, alice: Account
) -> None:
    r = create_project(client, alice, "demo", owner=None)
    assert r.status_code == 201, r.text
    project = r.json()["project"]
    assert project["owner"] == "alice"
    # No null where 1.63's loader refuses one.
    assert project["description"] == "" and project["instructions"] == ""
    assert project["repos"] == [] and project["homepage"] is None and project["contact"] is None


def test_group_projects(
    client: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    with write_session(session_factory) as session:
        group = groups.create_group(session, "devs")
        groups.add_member(session, group, users.get_user(session, "alice"))
    r = create_project(client, alice, "shared", owner="@devs")
    assert r.status_code == 201, r.text
    assert r.json()["project"]["owner"] == "@devs"
    assert r.json()["project"]["group"] == "devs"
    listed = client.get("/api_2/projects", params={"owner": "@devs"}).json()
    assert [p["project"]["name"] for p in listed["projects"]] == ["shared"]


def test_list_filters_and_pages_as_upstream(
    client: TestClient, alice: Account, bob: Account
) -> None:
    for name in ("one", "two", "three"):
        create_project(client, alice, name, description=f"project {name}")
    create_project(client, bob, "two", owner="bob")

    def names(**params: object) -> list[str]:
        body = client.get("/api_2/projects", params=params).json()
        for item in body["projects"]:
            assert item["_links"]["self"]["href"] == f"/api_2/projects/{item['project']['id']}"
        return [f"{p['project']['owner']}/{p['project']['name']}" for p in body["projects"]]

    assert names() == ["alice/one", "alice/two", "alice/three", "bob/two"]
    assert names(owner="alice") == ["alice/one", "alice/two", "alice/three"]
    assert names(name="two") == ["alice/two", "bob/two"]
    assert names(owner="bob", name="two") == ["bob/two"]
    assert names(search_query="PROJECT T") == ["alice/two", "alice/three"]
    assert names(search_query="bob/") == ["bob/two"]
    assert names(limit=2, offset=1) == ["alice/two", "alice/three"]
    assert names(offset=10) == []
    # Upstream's clamp: at least 1, at most 100 (the default).
    assert names(limit=0) == ["alice/one"]
    assert len(names(limit=1000)) == 4
    body = client.get("/api_2/projects", params={"owner": "alice", "limit": 1}).json()
    assert body["_links"] == {"self": {"href": "/api_2/projects?owner=alice&limit=1"}}


def test_update_takes_the_whole_entity_and_ignores_read_only_fields(
    client: TestClient, alice: Account
) -> None:
    created = create_project(
        client, alice, "demo", homepage="https://example.org", contact="me", description="old"
    ).json()
    project_id = created["project"]["id"]
    # What Project.update() sends: the fetched entity, changed, with last_modified null.
    entity = {**created["project"], "last_modified": None}
    entity.update(
        id=12345,
        name="renamed",
        owner="bob",
        description="new",
        homepage=None,
        build_enable_net=True,
        repos=["copr://alice/other"],
    )
    r = client.put(f"/api_2/projects/{project_id}", json=entity, headers=alice.headers)
    assert r.status_code == 200, r.text  # what 1.63's is_successful() checks for
    project = client.get(f"/api_2/projects/{project_id}").json()["project"]
    assert project["id"] == project_id and project["name"] == "demo"
    assert project["owner"] == "alice"
    assert project["description"] == "new"
    assert project["homepage"] is None  # null cleared it
    assert project["contact"] == "me"
    assert project["build_enable_net"] is True
    assert project["repos"] == ["copr://alice/other"]
    assert r.json() == client.get(f"/api_2/projects/{project_id}").json()

    # Fields left out keep their values.
    body = {"instructions": "dnf install"}
    r = client.put(f"/api_2/projects/{project_id}", json=body, headers=alice.headers)
    assert r.status_code == 200
    again = client.get(f"/api_2/projects/{project_id}").json()["project"]
    assert again == {**project, "instructions": "dnf install"}


def test_a_homepage_the_client_cannot_load_is_sent_as_null(
    client: TestClient, alice: Account, demo: int
) -> None:
    # APIv3 stores homepages as given.
    edit = client.put(
        "/api_3/project/edit/alice/demo", json={"homepage": "example.com"}, headers=alice.headers
    )
    assert edit.status_code == 200
    assert client.get(f"/api_2/projects/{demo}").json()["project"]["homepage"] is None


def test_delete(client: TestClient, alice: Account, bob: Account, demo: int) -> None:
    assert client.delete(f"/api_2/projects/{demo}", headers=bob.headers).status_code == 403
    r = client.delete(f"/api_2/projects/{demo}", headers=alice.headers)
    assert r.status_code == 204 and r.content == b""
    missing = client.get(f"/api_2/projects/{demo}")
    assert missing.status_code == 404
    assert missing.json() == {"message": f"Project {demo} does not exist."}


def test_writes_need_credentials_and_change_nothing_without(
    client: TestClient, alice: Account, demo: int, engine: Engine
) -> None:
    before = snapshot(engine)
    for r in (
        client.post("/api_2/projects", json=project_body("other")),
        client.put(f"/api_2/projects/{demo}", json={"description": "x"}),
        client.delete(f"/api_2/projects/{demo}"),
    ):
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/json"
        assert "API token" in r.json()["message"]
    assert snapshot(engine) == before


def test_reads_ignore_junk_credentials(client: TestClient, demo: int) -> None:
    junk = {"Authorization": "Basic Tm9uZTpOb25l"}  # None:None
    assert client.get(f"/api_2/projects/{demo}", headers=junk).status_code == 200
    assert client.get("/api_2/projects", headers=junk).status_code == 200


def test_last_modified_is_when_a_build_last_ended(
    client: TestClient, alice: Account, demo: int
) -> None:
    """As Copr's ProjectSchema declares it: an ISO 8601 date and time, in UTC."""
    build_id = url_build(client, alice, demo).json()["build"]["id"]
    assert client.get(f"/api_2/projects/{demo}").json()["project"]["last_modified"] is None
    r = client.put(f"/api_2/builds/{build_id}", json={"state": "canceled"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    ended = client.get(f"/api_3/build/{build_id}").json()["ended_on"]
    shown = client.get(f"/api_2/projects/{demo}").json()["project"]["last_modified"]
    assert shown.endswith("+00:00")
    assert int(dt.datetime.fromisoformat(shown).timestamp()) == ended
    listed = client.get("/api_2/projects", params={"owner": "alice"}).json()["projects"]
    assert [p["project"]["last_modified"] for p in listed] == [shown]
