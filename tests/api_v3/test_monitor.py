"""APIv3 ``monitor``: the translation of python-copr's ``MonitorProxy.monitor``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import chroots
from coprd.db.engine import write_session
from coprd.db.models import BuildState
from tests.api_v3.conftest import ARM, X86
from tests.api_v3.test_packages import counting
from tests.conftest import Account, snapshot
from tests.core.test_monitor import bulk_fill
from tests.monitor_builds import add_build

S = BuildState
RESULTS = "http://coprd.test/results/alice/demo"


def monitor(client: TestClient, *fields: str, **params: str) -> Any:
    """As python-copr sends it: ``additional_fields[]`` repeated, ``project_dirname``
    left out when None."""
    query = list({"ownername": "alice", "projectname": "demo", **params}.items())
    query += [("additional_fields[]", f) for f in fields]
    return client.get("/api_3/monitor", params=query)


def test_the_latest_build_of_each_package_in_each_chroot(
    client: TestClient, demo: str, session_factory: sessionmaker[Session]
) -> None:
    first = add_build(session_factory, "alice", "demo", "hello", {X86: S.succeeded, ARM: S.failed})
    second = add_build(session_factory, "alice", "demo", "hello", {X86: S.running}, version="2-1")
    world = add_build(session_factory, "alice", "demo", "world", {ARM: S.pending}, version="0.1")
    r = monitor(client)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "output": "ok",
        "message": "Project monitor request successful",
        "packages": [
            {
                "name": "hello",
                "chroots": {
                    ARM: {
                        "state": "failed",
                        "status": 0,
                        "build_id": first,
                        "pkg_version": "1.0-1",
                    },
                    X86: {
                        "state": "running",
                        "status": 3,
                        "build_id": second,
                        "pkg_version": "2-1",
                    },
                },
            },
            {
                "name": "world",
                "chroots": {
                    ARM: {"state": "pending", "status": 4, "build_id": world, "pkg_version": "0.1"}
                },
            },
        ],
    }


def test_additional_fields(
    client: TestClient, demo: str, session_factory: sessionmaker[Session]
) -> None:
    done = add_build(session_factory, "alice", "demo", "done", {X86: S.succeeded, ARM: S.pending})
    running = add_build(session_factory, "alice", "demo", "run", {X86: S.running, ARM: S.starting})
    r = monitor(client, "url_build_log", "url_backend_log", "url_build")
    assert r.status_code == 200, r.text
    cells = {p["name"]: p["chroots"] for p in r.json()["packages"]}
    # The live log is plain text while the task runs and gzipped once it has ended; the
    # backend's log already from the start; none before the task started.
    assert cells["done"][X86] == {
        "state": "succeeded",
        "status": 1,
        "build_id": done,
        "url_build_log": f"{RESULTS}/{X86}/{done:08d}-done/builder-live.log.gz",
        "url_backend_log": f"{RESULTS}/{X86}/{done:08d}-done/backend.log.gz",
        "url_build": f"http://coprd.test/coprs/build/{done}/",
        "pkg_version": "1.0-1",
    }
    assert cells["done"][ARM]["url_build_log"] is None
    assert cells["done"][ARM]["url_backend_log"] is None
    assert (
        cells["run"][X86]["url_build_log"] == f"{RESULTS}/{X86}/{running:08d}-run/builder-live.log"
    )
    assert cells["run"][X86]["url_backend_log"] == f"{RESULTS}/{X86}/{running:08d}-run/backend.log"
    assert cells["run"][ARM]["url_build_log"] is None
    assert cells["run"][ARM]["url_backend_log"] == f"{RESULTS}/{ARM}/{running:08d}-run/backend.log"
    # Only what was asked for.
    only = monitor(client, "url_build").json()["packages"][0]["chroots"][X86]
    assert set(only) == {"state", "status", "build_id", "url_build", "pkg_version"}


def test_a_canceled_task_shows_canceled_at_once(
    client: TestClient, demo: str, session_factory: sessionmaker[Session]
) -> None:
    add_build(session_factory, "alice", "demo", "hello", {X86: S.running}, cancel=True)
    cell = monitor(client, "url_build_log").json()["packages"][0]["chroots"][X86]
    assert (cell["state"], cell["status"]) == ("canceled", 2)
    # The agent is still stopping it: its log is still the plain one.
    assert cell["url_build_log"].endswith("/builder-live.log")


def test_project_directories(
    client: TestClient, demo: str, session_factory: sessionmaker[Session]
) -> None:
    main = add_build(session_factory, "alice", "demo", "hello", {X86: S.succeeded})
    pr = add_build(session_factory, "alice", "demo", "hello", {X86: S.failed}, dirname="demo:pr:7")
    shown = monitor(client).json()["packages"]
    assert shown[0]["chroots"][X86]["build_id"] == main
    assert monitor(client, project_dirname="").json()["packages"] == shown
    assert monitor(client, project_dirname="demo").json()["packages"] == shown
    in_pr = monitor(client, "url_build_log", project_dirname="demo:pr:7").json()["packages"]
    assert in_pr[0]["chroots"][X86]["build_id"] == pr
    assert in_pr[0]["chroots"][X86]["url_build_log"] == (
        f"http://coprd.test/results/alice/demo:pr:7/{X86}/{pr:08d}-hello/builder-live.log.gz"
    )


def test_only_active_enabled_chroots_and_linked_builds(
    client: TestClient,
    alice: Account,
    demo: str,
    db: Session,
    session_factory: sessionmaker[Session],
) -> None:
    add_build(session_factory, "alice", "demo", "hello", {X86: S.succeeded, ARM: S.succeeded})
    # A build whose source task has not named its package yet is no package's build.
    r = client.post(
        "/api_3/build/create/url",
        json={"ownername": "alice", "projectname": "demo", "pkgs": ["https://e.test/a.src.rpm"]},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert [p["name"] for p in monitor(client).json()["packages"]] == ["hello"]

    edited = client.put(
        "/api_3/project/edit/alice/demo", json={"chroots": [X86]}, headers=alice.headers
    )
    assert edited.status_code == 200, edited.text
    assert list(monitor(client).json()["packages"][0]["chroots"]) == [X86]

    with write_session(session_factory) as session:
        chroots.set_mock_chroot_active(session, X86, False)
    assert monitor(client).json()["packages"] == []


@pytest.mark.parametrize(
    ("params", "fields", "status", "error"),
    [
        (
            {},
            ("bogus", "url_build", "also bad"),
            400,
            "Wrong additional_fields argument(s): also bad, bogus",
        ),
        ({"projectname": "nope"}, (), 404, "Project alice/nope does not exist."),
        ({"ownername": "nobody"}, (), 404, "Project nobody/demo does not exist."),
        (
            {"project_dirname": "demo:pr:404"},
            (),
            404,
            "Dirname 'demo:pr:404' doesn't exist in 'alice/demo' copr",
        ),
        (
            {"project_dirname": "other"},
            (),
            404,
            "Dirname 'other' doesn't exist in 'alice/demo' copr",
        ),
    ],
)
def test_refusals(
    client: TestClient,
    demo: str,
    engine: Engine,
    params: dict[str, str],
    fields: tuple[str, ...],
    status: int,
    error: str,
) -> None:
    before = snapshot(engine)
    r = monitor(client, *fields, **params)
    assert (r.status_code, r.json()) == (status, {"error": error})
    assert snapshot(engine) == before


def test_missing_and_oversized_parameters_are_refused(client: TestClient, demo: str) -> None:
    r = client.get("/api_3/monitor", params={"ownername": "alice"})
    assert r.status_code == 400 and "projectname" in r.json()["error"]
    r = monitor(client, project_dirname="x" * 201)
    assert r.status_code == 400 and "project_dirname" in r.json()["error"]


def test_a_monitor_of_2000_packages_is_a_constant_number_of_queries(
    client: TestClient, demo: str, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    bulk_fill(session_factory, "demo", 0, 3, [X86, ARM])
    with counting(engine) as few:
        small = monitor(client, "url_build_log", "url_backend_log", "url_build")
    assert small.status_code == 200 and len(small.json()["packages"]) == 3
    bulk_fill(session_factory, "demo", 3, 1997, [X86, ARM])
    with counting(engine) as many:
        r = monitor(client, "url_build_log", "url_backend_log", "url_build")
    packages = r.json()["packages"]
    assert len(packages) == 2000 and all(len(p["chroots"]) == 2 for p in packages)
    assert len(many) == len(few), "\n".join(m[:150] for m in many)
    # BEGIN, the project, its chroots and their mock chroots, the monitor.
    assert len(many) <= 5, many
