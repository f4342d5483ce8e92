"""APIv2 build tasks: one per chroot of a build, in the nine states 1.63 knows."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from coprd.db.engine import write_session
from coprd.db.models import Build, BuildState, BuildTask
from tests.api_v2.conftest import EPEL9, RAWHIDE, create_project, url_build
from tests.conftest import Account


def set_task(
    factory: sessionmaker[Session], build_id: int, chroot: str, state: BuildState, **more: object
) -> None:
    with write_session(factory) as session:
        session.execute(
            update(BuildTask)
            .where(BuildTask.build_id == build_id, BuildTask.chroot_name == chroot)
            .values(state=state, **more)
        )


def tasks(client: TestClient, **params: object) -> list[tuple[int, str, str]]:
    body = client.get("/api_2/build_tasks", params=params).json()
    seen = []
    for item in body["build_tasks"]:
        task = item["build_task"]
        href = f"/api_2/build_tasks/{task['build_id']}/{task['chroot_name']}"
        assert item["_links"]["self"]["href"] == href
        seen.append((task["build_id"], task["chroot_name"], task["state"]))
    return seen


def test_a_builds_tasks_are_its_chroots(client: TestClient, alice: Account) -> None:
    project = create_project(client, alice, "wide", chroots=[RAWHIDE, EPEL9]).json()
    project_id = project["project"]["id"]
    build_id = url_build(client, alice, project_id).json()["build"]["id"]
    # Not the source step (srpm-builds).
    assert sorted(tasks(client, build_id=build_id)) == [
        (build_id, EPEL9, "pending"),
        (build_id, RAWHIDE, "pending"),
    ]
    one = client.get(f"/api_2/build_tasks/{build_id}/{RAWHIDE}").json()
    assert one == {
        "_links": {
            "self": {"href": f"/api_2/build_tasks/{build_id}/{RAWHIDE}"},
            "build": {"href": f"/api_2/builds/{build_id}"},
            "project": {"href": f"/api_2/projects/{project_id}"},
        },
        "build_task": {
            "build_id": build_id,
            "chroot_name": RAWHIDE,
            "state": "pending",
            "started_on": None,
            "ended_on": None,
            "git_hash": None,
            "result_dir_url": None,  # no package name before the source step
        },
    }
    assert client.get(f"/api_2/build_tasks/{build_id}/srpm-builds").status_code == 404


def test_states_the_client_does_not_know_are_shown_as_ones_it_does(
    client: TestClient, alice: Account, demo: int, session_factory: sessionmaker[Session]
) -> None:
    waiting = url_build(client, alice, demo).json()["build"]["id"]
    forked = url_build(client, alice, demo).json()["build"]["id"]
    set_task(session_factory, waiting, RAWHIDE, BuildState.waiting)
    set_task(session_factory, forked, RAWHIDE, BuildState.forked)
    assert tasks(client, build_id=waiting) == [(waiting, RAWHIDE, "pending")]
    assert tasks(client, build_id=forked) == [(forked, RAWHIDE, "succeeded")]
    # ... and a filter by state finds them under that name.
    assert (waiting, RAWHIDE, "pending") in tasks(client, state="pending")
    assert tasks(client, state="succeeded") == [(forked, RAWHIDE, "succeeded")]
    assert tasks(client, state="unknown") == []


def test_a_finished_task(
    client: TestClient, alice: Account, demo: int, session_factory: sessionmaker[Session]
) -> None:
    build_id = url_build(client, alice, demo).json()["build"]["id"]
    with write_session(session_factory) as session:
        session.execute(
            update(Build).where(Build.id == build_id).values(pkg_name="hello", pkg_version="1-1")
        )
    package = {"name": "hello", "epoch": 0, "version": "1", "release": "1", "arch": "noarch"}
    set_task(session_factory, build_id, RAWHIDE, BuildState.succeeded, built_packages=[package])
    task = client.get(f"/api_2/build_tasks/{build_id}/{RAWHIDE}").json()["build_task"]
    assert task["state"] == "succeeded"
    url = f"http://coprd.test/results/alice/demo/{RAWHIDE}/{build_id:08d}-hello/"
    assert task["result_dir_url"] == url
    v3 = client.get("/api_3/build-chroot", params={"build_id": build_id, "chrootname": RAWHIDE})
    assert v3.json()["result_url"] == url
    build = client.get(f"/api_2/builds/{build_id}").json()["build"]
    assert build["built_packages"] == [{"name": "hello", "version": "1"}]
    assert [build["package_name"], build["package_version"]] == ["hello", "1-1"]


def test_filters_and_their_precedence(client: TestClient, alice: Account, bob: Account) -> None:
    alices = create_project(client, alice, "a").json()["project"]["id"]
    bobs = create_project(client, bob, "b", owner="bob").json()["project"]["id"]
    first = url_build(client, alice, alices).json()["build"]["id"]
    second = url_build(client, bob, bobs).json()["build"]["id"]
    assert [t[0] for t in tasks(client)] == [second, first]  # newest first
    assert [t[0] for t in tasks(client, owner="alice")] == [first]
    assert [t[0] for t in tasks(client, project_id=bobs)] == [second]
    # build_id wins over project_id, which wins over owner.
    assert [t[0] for t in tasks(client, project_id=bobs, owner="alice")] == [second]
    assert [t[0] for t in tasks(client, build_id=first, project_id=bobs)] == [first]
    assert [t[0] for t in tasks(client, limit=1, offset=1)] == [first]
    body = client.get("/api_2/build_tasks", params={"owner": "alice"}).json()
    assert body["_links"] == {"self": {"href": "/api_2/build_tasks?owner=alice"}}
