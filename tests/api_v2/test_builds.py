"""APIv2 builds: submitted from a URL or an uploaded SRPM, listed, canceled, deleted."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from coprd.app import create_app
from coprd.config import Settings
from tests.api_v2.conftest import (
    EPEL9,
    RAWHIDE,
    RPM_BYTES,
    SRPM_BYTES,
    create_project,
    file_build,
    url_build,
)
from tests.conftest import Account, snapshot


@pytest.fixture
def two_chroots(client: TestClient, alice: Account) -> int:
    r = create_project(client, alice, "wide", chroots=[RAWHIDE, EPEL9])
    assert r.status_code == 201
    project_id: int = r.json()["project"]["id"]
    return project_id


def test_build_from_url(client: TestClient, alice: Account, two_chroots: int) -> None:
    r = url_build(client, alice, two_chroots)
    assert r.status_code == 201, r.text
    build_id = r.json()["build"]["id"]
    assert r.headers["location"] == f"http://coprd.test/api_2/builds/{build_id}"
    fetched = client.get(f"/api_2/builds/{build_id}").json()
    assert fetched == r.json()
    assert fetched["_links"] == {
        "self": {"href": f"/api_2/builds/{build_id}"},
        "project": {"href": f"/api_2/projects/{two_chroots}"},
        "build_tasks": {"href": f"/api_2/build_tasks?build_id={build_id}"},
    }
    build = fetched["build"]
    submitted = build.pop("submitted_on")
    assert isinstance(submitted, int)
    assert build == {
        "id": build_id,
        "state": "pending",
        "submitter": "alice",
        "built_packages": [],
        "package_name": None,
        "package_version": None,
        "repos": [],
        "started_on": None,
        "ended_on": None,
        "enable_net": True,
        "source_type": "srpm_link",
        "source_metadata": {"url": "https://example.com/hello-1-1.src.rpm"},
    }
    # No chroots named (the client sends []): all of the project's.
    v3 = client.get(f"/api_3/build/{build_id}").json()
    assert sorted(v3["chroots"]) == [EPEL9, RAWHIDE]
    assert v3["submitted_on"] == submitted


def test_chroots_and_network_are_the_callers(
    client: TestClient, alice: Account, two_chroots: int
) -> None:
    r = url_build(client, alice, two_chroots, chroots=[EPEL9], enable_net=False)
    assert r.status_code == 201, r.text
    assert r.json()["build"]["enable_net"] is False
    assert client.get(f"/api_3/build/{r.json()['build']['id']}").json()["chroots"] == [EPEL9]


def test_build_from_an_uploaded_srpm(
    client: TestClient, alice: Account, demo: int, settings: Settings
) -> None:
    r = file_build(client, alice, {"project_id": demo, "chroots": [], "enable_net": True})
    assert r.status_code == 201, r.text
    build = r.json()["build"]
    assert r.headers["location"] == f"http://coprd.test/api_2/builds/{build['id']}"
    assert build["source_type"] == "srpm_upload"
    assert build["source_metadata"] == {"pkg": "hello-1-1.src.rpm"}
    kept = settings.data_dir / "uploads" / f"{build['id']:08d}" / "hello-1-1.src.rpm"
    assert kept.read_bytes() == SRPM_BYTES


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"just text", "hello-1-1.src.rpm", "not an RPM"),
        (RPM_BYTES, "hello-1-1.src.rpm", "not a source RPM"),
        (SRPM_BYTES, "hello.tar.gz", "not named like"),
    ],
)
def test_bad_uploads_change_nothing(
    client: TestClient,
    alice: Account,
    demo: int,
    engine: Engine,
    settings: Settings,
    data: bytes,
    name: str,
    message: str,
) -> None:
    before = snapshot(engine)
    r = file_build(client, alice, {"project_id": demo}, data, name)
    assert r.status_code == 400 and message in r.json()["message"]
    assert snapshot(engine) == before
    assert not any((settings.data_dir / "uploads").glob("*/*"))
    assert not any((settings.data_dir / "uploads").glob(".upload-*"))


def test_upload_over_the_limit(
    settings: Settings, engine: Engine, alice: Account, demo: int
) -> None:
    small = TestClient(create_app(replace(settings, max_upload_bytes=100), engine))
    before = snapshot(engine)
    r = file_build(small, alice, {"project_id": demo})
    assert r.status_code == 413 and "limit" in r.json()["message"]
    assert r.headers["content-type"] == "application/json"
    assert snapshot(engine) == before


def test_list_filters_newest_first(
    client: TestClient, alice: Account, bob: Account, demo: int, two_chroots: int
) -> None:
    first = url_build(client, alice, demo).json()["build"]["id"]
    second = url_build(client, alice, two_chroots).json()["build"]["id"]
    bobs = create_project(client, bob, "mine", owner="bob").json()["project"]["id"]
    third = url_build(client, bob, bobs).json()["build"]["id"]

    def ids(**params: object) -> list[int]:
        body = client.get("/api_2/builds", params=params).json()
        for item in body["builds"]:
            assert item["_links"]["self"]["href"] == f"/api_2/builds/{item['build']['id']}"
        return [item["build"]["id"] for item in body["builds"]]

    assert ids() == [third, second, first]
    assert ids(project_id=demo) == [first]
    assert ids(owner="alice") == [second, first]
    assert ids(owner="bob", project_id=demo) == [first]  # project_id wins
    assert ids(limit=1, offset=1) == [second]
    listed = client.get("/api_2/builds", params={"project_id": demo}).json()
    assert listed["_links"] == {"self": {"href": f"/api_2/builds?project_id={demo}"}}


def test_cancel_and_delete(
    client: TestClient, alice: Account, bob: Account, demo: int, engine: Engine
) -> None:
    build_id = url_build(client, alice, demo).json()["build"]["id"]
    before = snapshot(engine)
    refused = [
        client.put(f"/api_2/builds/{build_id}", json={"state": "canceled"}, headers=bob.headers),
        client.put(f"/api_2/builds/{build_id}", json={"state": "canceled"}),
        client.put(f"/api_2/builds/{build_id}", json={"state": "running"}, headers=alice.headers),
        client.delete(f"/api_2/builds/{build_id}", headers=alice.headers),  # not ended yet
    ]
    assert [r.status_code for r in refused] == [403, 401, 400, 400]
    assert snapshot(engine) == before

    # 1.63's cancel(): a PUT of the build's dump, in which only the state is not load_only.
    r = client.put(f"/api_2/builds/{build_id}", json={"state": "canceled"}, headers=alice.headers)
    assert r.status_code == 200, r.text  # what 1.63's is_successful() checks for
    assert r.json()["build"]["state"] == "canceled"
    assert client.get(f"/api_3/build/{build_id}").json()["state"] == "canceled"
    # As on Copr's APIv2: canceling a canceled build does nothing, and succeeds.
    canceled = snapshot(engine)
    again = client.put(
        f"/api_2/builds/{build_id}", json={"state": "canceled"}, headers=alice.headers
    )
    assert again.status_code == 200, again.text
    assert again.json()["build"]["state"] == "canceled"
    assert snapshot(engine) == canceled
    bobs = client.put(f"/api_2/builds/{build_id}", json={"state": "canceled"}, headers=bob.headers)
    assert bobs.status_code == 403

    r = client.delete(f"/api_2/builds/{build_id}", headers=alice.headers)
    assert r.status_code == 204 and r.content == b""
    assert client.get(f"/api_2/builds/{build_id}").status_code == 404


def test_a_build_that_ended_otherwise_cannot_be_canceled(
    client: TestClient, alice: Account, demo: int, engine: Engine
) -> None:
    build_id = url_build(client, alice, demo).json()["build"]["id"]
    with engine.begin() as conn:  # as if its tasks had failed
        conn.execute(text("UPDATE builds SET state = 'failed' WHERE id = :id"), {"id": build_id})
    before = snapshot(engine)
    r = client.put(f"/api_2/builds/{build_id}", json={"state": "canceled"}, headers=alice.headers)
    assert r.status_code == 400
    assert r.json() == {"message": f"Cannot update build due to: Cannot cancel build {build_id}"}
    assert snapshot(engine) == before
