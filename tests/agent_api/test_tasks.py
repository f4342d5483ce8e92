"""The agent protocol over HTTP: a build's life as an agent sees it."""

from __future__ import annotations

import base64
import gzip
import threading
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from coprd.agent_api import tasks
from coprd.app import create_app
from coprd.builder.agent import AgentConfig, LiveLog
from coprd.builder.agent import Server as AgentServer
from coprd.config import Settings
from coprd.core import builders, builds, limits, project_chroots, projects, tokens, users
from coprd.core.builds import BuildOptions, Source
from coprd.db.engine import write_session
from coprd.publish import livelog
from coprd.publish._fs import TASK_LOCK
from coprd.publish.publisher import Publisher
from coprd.uploads import uploads_dir

X86 = "fedora-rawhide-x86_64"


@pytest.fixture
def setup(settings: Settings, session_factory: sessionmaker[Session]) -> tuple[dict[str, str], int]:
    with write_session(session_factory) as db:
        alice = users.create_user(db, "alice")
        project = projects.create_project(
            db, alice, "alice", projects.NewProject(name="demo", chroots=[X86])
        )
        build = builds.submit_build(
            db,
            alice,
            project,
            Source(type="upload", data={"pkg": "hello-1.0-1.src.rpm"}),
            BuildOptions(),
        )
        _, token = builders.create_builder(db, "agent1")
        build_id = build.id
    upload = uploads_dir(settings, build_id)
    upload.mkdir(parents=True)
    (upload / "hello-1.0-1.src.rpm").write_bytes(b"srpm bytes")
    return {"Authorization": f"Bearer {token}"}, build_id


def finish_source(client: TestClient, auth: dict[str, str]) -> None:
    """As an agent: claim the setup build's source task and finish it, so its chroot task
    becomes claimable."""
    tid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    client.post(
        f"/backend/task/{tid}/finish",
        json={
            "state": "succeeded",
            "source": {"name": "hello", "version": "1.0-1", "srpm_name": "hello-1.0-1.src.rpm"},
        },
        headers=auth,
    )


def test_a_build_through_the_agent_protocol(
    client: TestClient, settings: Settings, setup: tuple[dict[str, str], int]
) -> None:
    auth, build_id = setup
    claimed = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth)
    assert claimed.status_code == 200, claimed.text
    task = claimed.json()
    assert task["kind"] == "source" and task["build_id"] == build_id
    assert task["source_url"].endswith(f"/backend/task/{task['task_id']}/source")
    assert task["source_is_served"] is True
    tid = task["task_id"]

    assert client.get(f"/backend/task/{tid}/source", headers=auth).content == b"srpm bytes"
    assert client.post(f"/backend/task/{tid}/heartbeat", headers=auth).json() == {
        "action": "continue"
    }
    for chunk in (b"first line\n", b"second line\n"):
        assert (
            client.post(f"/backend/task/{tid}/log", content=chunk, headers=auth).status_code == 204
        )
    srpm_dir = settings.results_dir / "alice" / "demo" / "srpm-builds" / f"{build_id:08d}"
    assert (srpm_dir / "builder-live.log").read_bytes() == b"first line\nsecond line\n"
    put = client.put(
        f"/backend/task/{tid}/files/hello-1.0-1.src.rpm", content=b"srpm bytes", headers=auth
    )
    assert put.status_code == 204
    finished = client.post(
        f"/backend/task/{tid}/finish",
        json={
            "state": "succeeded",
            "source": {"name": "hello", "version": "1.0-1", "srpm_name": "hello-1.0-1.src.rpm"},
        },
        headers=auth,
    )
    assert finished.json() == {"build_state": "pending"}

    rpm = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()
    assert rpm["kind"] == "rpm" and rpm["chroot"] == X86
    assert rpm["srpm_url"] == (
        f"http://coprd.test/results/alice/demo/srpm-builds/{build_id:08d}/hello-1.0-1.src.rpm"
    )
    assert rpm["results_url"].endswith(f"/alice/demo/{X86}/{build_id:08d}-hello/")
    assert rpm["repos"][0].endswith(f"/results/alice/demo/{X86}/")
    rid = rpm["task_id"]
    client.put(f"/backend/task/{rid}/files/hello-1.0-1.noarch.rpm", content=b"rpm", headers=auth)
    # Until the task succeeds, neither the results pages nor createrepo_c see the package.
    listing = client.get(f"/results/alice/demo/{X86}/{build_id:08d}-hello/")
    assert "hello-1.0-1.noarch.rpm" not in listing.text
    done = client.post(
        f"/backend/task/{rid}/finish",
        json={
            "state": "succeeded",
            "packages": [
                {"name": "hello", "epoch": None, "version": "1.0", "release": "1", "arch": "noarch"}
            ],
        },
        headers=auth,
    )
    assert done.json() == {"build_state": "succeeded"}
    assert (
        settings.results_dir
        / "alice/demo"
        / X86
        / f"{build_id:08d}-hello"
        / "hello-1.0-1.noarch.rpm"
    ).read_bytes() == b"rpm"
    assert (
        client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).status_code == 204
    )


def test_a_failed_build_publishes_none_of_its_packages(
    client: TestClient, settings: Settings, setup: tuple[dict[str, str], int]
) -> None:
    auth, build_id = setup
    finish_source(client, auth)
    rid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    client.put(f"/backend/task/{rid}/files/hello-1.0-1.noarch.rpm", content=b"rpm", headers=auth)
    client.put(f"/backend/task/{rid}/files/build.log", content=b"error: boom\n", headers=auth)
    done = client.post(
        f"/backend/task/{rid}/finish",
        json={"state": "failed", "message": "rpmbuild exited with 1"},
        headers=auth,
    )
    assert done.json() == {"build_state": "failed"}
    build_dir = settings.results_dir / "alice/demo" / X86 / f"{build_id:08d}-hello"
    # The server's own files stay (no success marker); the packages are gone.
    assert sorted(p.name for p in build_dir.iterdir()) == [
        "backend.log.gz",
        "build.info",
        "build.log.gz",
    ]


def test_the_end_of_the_log_travels_with_finish(
    client: TestClient, settings: Settings, setup: tuple[dict[str, str], int]
) -> None:
    auth, build_id = setup
    finish_source(client, auth)
    rid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    client.post(f"/backend/task/{rid}/log", content=b"streamed\n", headers=auth)
    # Not base64: refused, and nothing recorded.
    bad = client.post(
        f"/backend/task/{rid}/finish", json={"state": "failed", "log_tail": "%%"}, headers=auth
    )
    assert bad.status_code == 400
    tail = b"the last lines \xff (not UTF-8)\n"
    done = client.post(
        f"/backend/task/{rid}/finish",
        json={"state": "failed", "message": "boom", "log_tail": base64.b64encode(tail).decode()},
        headers=auth,
    )
    assert done.json() == {"build_state": "failed"}
    build_dir = settings.results_dir / "alice/demo" / X86 / f"{build_id:08d}-hello"
    log = gzip.decompress((build_dir / "builder-live.log.gz").read_bytes())
    assert log.endswith(b"streamed\n" + tail)


def test_agents_need_their_token(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer coprd-builder-wrong"}, {"Authorization": "x"}):
        r = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=headers)
        assert r.status_code == 401
        assert "error" in r.json()


def test_a_task_not_held_is_refused(
    client: TestClient, session_factory: sessionmaker[Session], setup: tuple[dict[str, str], int]
) -> None:
    auth, _ = setup
    with write_session(session_factory) as db:
        _, other_token = builders.create_builder(db, "agent2")
    other = {"Authorization": f"Bearer {other_token}"}
    tid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    for method, path in (
        ("POST", f"/backend/task/{tid}/heartbeat"),
        ("POST", f"/backend/task/{tid}/log"),
        ("PUT", f"/backend/task/{tid}/files/x.rpm"),
        ("GET", f"/backend/task/{tid}/source"),
    ):
        assert client.request(method, path, headers=other, content=b"x").status_code == 409
    assert client.post("/backend/task/999999/heartbeat", headers=auth).status_code == 404
    # Past the databases' integer: no task, not a 500 from PostgreSQL.
    assert client.post(f"/backend/task/{2**40}/heartbeat", headers=auth).status_code == 404


@pytest.mark.parametrize("name", ["..", ".hidden", "a b.rpm", "x.part", "%00.rpm"])
def test_result_file_names_are_checked(
    client: TestClient, setup: tuple[dict[str, str], int], name: str
) -> None:
    auth, _ = setup
    tid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    r = client.put(f"/backend/task/{tid}/files/{name}", content=b"x", headers=auth)
    assert r.status_code in (400, 404)


def test_result_size_limit(
    settings: Settings, engine: Engine, setup: tuple[dict[str, str], int], tmp_path: Path
) -> None:
    auth, build_id = setup
    small = TestClient(create_app(replace(settings, max_upload_bytes=1000), engine))
    tid = small.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    r = small.put(f"/backend/task/{tid}/files/big.rpm", content=b"x" * 5000, headers=auth)
    assert r.status_code == 413 and "limit" in r.json()["error"]
    task_dir = settings.results_dir / "alice/demo/srpm-builds" / f"{build_id:08d}"
    # No part of the file stays; only the lock the task's uploads are counted under.
    # (and the server's notes: they count in no limit).
    assert sorted(p.name for p in task_dir.iterdir()) == [TASK_LOCK, "backend.log", "build.info"]


def test_source_failure_with_a_bad_package_name(
    client: TestClient, setup: tuple[dict[str, str], int]
) -> None:
    auth, _ = setup
    tid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    r = client.post(
        f"/backend/task/{tid}/finish",
        json={
            "state": "succeeded",
            "source": {"name": "../evil", "version": "1-1", "srpm_name": "evil.src.rpm"},
        },
        headers=auth,
    )
    assert r.json() == {"build_state": "failed"}


def test_a_project_stored_with_fedora_review_hears_it_is_not_run(
    client: TestClient,
    settings: Settings,
    session_factory: sessionmaker[Session],
    setup: tuple[dict[str, str], int],
) -> None:
    auth, build_id = setup
    with write_session(session_factory) as db:
        project = projects.get_project(db, "alice", "demo")
        project.fedora_review = True
    finish_source(client, auth)
    client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth)
    live = settings.results_dir / "alice/demo" / X86 / f"{build_id:08d}-hello" / "builder-live.log"
    assert "asks for fedora-review, which coprd does not run" in live.read_text()


def test_publishing_does_not_hold_the_write_lock(
    client: TestClient,
    session_factory: sessionmaker[Session],
    setup: tuple[dict[str, str], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """createrepo_c may run a second on a big repository; other writers go on meanwhile."""
    auth, _build_id = setup
    finish_source(client, auth)
    rid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    wrote_meanwhile = []

    def publish(_self: Publisher, _repo: str, _build: str, *, devel: bool = False) -> None:
        # Another writer (a user submitting a build) gets through while this one publishes.
        with write_session(session_factory) as other:
            wrote_meanwhile.append(users.create_user(other, "carol").id)

    monkeypatch.setattr(Publisher, "publish_build", publish)
    done = client.post(f"/backend/task/{rid}/finish", json={"state": "succeeded"}, headers=auth)
    assert done.json() == {"build_state": "succeeded"}
    assert wrote_meanwhile


def test_scm_source_tasks_learn_the_lookaside(
    client: TestClient, session_factory: sessionmaker[Session], setup: tuple[dict[str, str], int]
) -> None:
    """An rpkg build of a dist-git style repo fetches its 'sources' file from there."""
    auth, build_id = setup
    with write_session(session_factory) as db:
        build = builds.get_build(db, build_id)
        build.source_type = "scm"
        build.source_json = {"clone_url": "https://git.example.org/x.git"}
    task = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()
    assert task["lookaside_url"] == (
        "https://src.fedoraproject.org/repo/pkgs/{namespace}/{name}/{filename}/{hashtype}/{hash}/{filename}"
    )


@pytest.mark.parametrize(
    ("url", "served"),
    [
        ("{results}/alice/demo/srpm-builds/00000001/hello-1.0-1.src.rpm", True),
        ("{results}/alice/demo/srpm-builds/../../../backend/x.src.rpm", False),
        ("{results}/alice/%2E%2E/%2E%2E/x.src.rpm", False),
        ("{results}/x.src.rpm?redirect=elsewhere", False),
        ("{results}-other/x.src.rpm", False),
        ("http://127.0.0.1:5432/x.src.rpm", False),
        ("https://example.org/hello-1.0-1.src.rpm", False),
    ],
)
def test_only_links_into_the_servers_results_are_fetched_outside_the_sandbox(
    client: TestClient,
    settings: Settings,
    session_factory: sessionmaker[Session],
    setup: tuple[dict[str, str], int],
    url: str,
    served: bool,
) -> None:
    """A resubmitted upload links to its SRPM among the results, which the agent fetches
    itself; any other URL is a user's, fetched in the sandbox (coprd/sources/link.py)."""
    auth, build_id = setup
    link = url.format(results=settings.results_url)
    with write_session(session_factory) as db:
        build = builds.get_build(db, build_id)
        build.source_type = "link"
        build.source_json = {"url": link}
    task = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()
    assert (task["source_url"], task["source_is_served"]) == (link, served)


@pytest.fixture
def alice_headers(
    session_factory: sessionmaker[Session], setup: tuple[dict[str, str], int]
) -> dict[str, str]:
    with write_session(session_factory) as db:
        issued = tokens.issue_token(db, users.get_user(db, "alice"), 30)
    pair = f"{issued.login}:{issued.token}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def test_an_idle_claim_waits_and_is_woken_by_new_work(
    settings: Settings,
    engine: Engine,
    setup: tuple[dict[str, str], int],
    alice_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth, _build_id = setup
    # Only the wake-up can end the wait early: no periodic re-check within the test.
    monkeypatch.setattr(tasks, "RECHECK_S", 3600.0)
    with TestClient(create_app(settings, engine)) as client:
        first = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth)
        assert first.status_code == 200  # the setup's build
        empty = client.post(
            "/backend/claim", json={"arches": ["x86_64"], "wait_s": 0.2}, headers=auth
        )
        assert empty.status_code == 204

        def submit_soon() -> None:
            time.sleep(0.5)
            client.post(
                "/api_3/build/create/url",
                json={
                    "ownername": "alice",
                    "projectname": "demo",
                    "pkgs": ["https://example.com/x-1-1.src.rpm"],
                },
                headers=alice_headers,
            )

        submitter = threading.Thread(target=submit_soon)
        submitter.start()
        began = time.monotonic()
        waited = client.post(
            "/backend/claim", json={"arches": ["x86_64"], "wait_s": 30}, headers=auth
        )
        submitter.join()
        # Not a speed check: the claim came back with the work long before its 30 s were
        # up, so the new build woke it (a claim that slept through would find it at 30 s).
        assert time.monotonic() - began < 15
        assert waited.status_code == 200
        assert waited.json()["source"] == {"url": "https://example.com/x-1-1.src.rpm"}


def test_claims_wait_at_most_thirty_seconds(
    client: TestClient, setup: tuple[dict[str, str], int]
) -> None:
    auth, _ = setup
    r = client.post("/backend/claim", json={"arches": ["x86_64"], "wait_s": 31}, headers=auth)
    assert r.status_code == 400


# --- what a build may leave: its log cut past max_log_bytes, its results counted --------


def small_limits_client(settings: Settings, engine: Engine, **limits: int) -> TestClient:
    return TestClient(create_app(replace(settings, **limits), engine))


def output(size: int) -> bytes:
    text = b"".join(b"line %07d of the build's output\n" % i for i in range(size // 20 + 1))
    return text[:size]


def cut_as_the_rule_says(data: bytes, cap: int, tail: int) -> bytes:
    marker = limits.cut_marker(cap, tail, after_newline=data[cap - 1 : cap] == b"\n")
    return data[:cap] + marker + data[max(cap, len(data) - tail) :]


def test_an_agent_that_ignores_the_cap_gets_its_log_cut(
    settings: Settings, engine: Engine, setup: tuple[dict[str, str], int]
) -> None:
    auth, build_id = setup
    client = small_limits_client(settings, engine, max_log_bytes=1000, log_tail_bytes=300)
    finish_source(client, auth)
    rid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    build_dir = settings.results_dir / "alice/demo" / X86 / f"{build_id:08d}-hello"
    data = output(50_000)
    streamed, tail = data[:-2000], data[-2000:]
    for start in range(0, len(streamed), 700):
        r = client.post(
            f"/backend/task/{rid}/log", content=streamed[start : start + 700], headers=auth
        )
        assert r.status_code == 204
    # While the build runs: the head and the line that says the log is cut, nothing more.
    marker = (
        b"\n[coprd] the log is longer than 1000 bytes: the rest is cut, "
        b"only its last 300 bytes are kept below\n"
    )
    assert (build_dir / "builder-live.log").read_bytes() == data[:1000] + marker
    assert (build_dir / livelog.RING).stat().st_size <= 16 + 300
    # The end of the log comes with finish, longer than the tail: cut as well.
    done = client.post(
        f"/backend/task/{rid}/finish",
        json={"state": "succeeded", "log_tail": base64.b64encode(tail).decode()},
        headers=auth,
    )
    assert done.json() == {"build_state": "succeeded"}
    log = gzip.decompress((build_dir / "builder-live.log.gz").read_bytes())
    assert log == data[:1000] + marker + data[-300:]
    assert log == cut_as_the_rule_says(data, 1000, 300)
    assert sorted(p.name for p in build_dir.iterdir()) == [
        "backend.log.gz",
        "build.info",
        "builder-live.log.gz",
        "success",
    ]


def test_a_log_the_agent_cut_keeps_the_agents_line_once(
    settings: Settings, engine: Engine, setup: tuple[dict[str, str], int]
) -> None:
    """The same shape when the agent cut the log itself (with its own settings): its line,
    then its tail, which the server rings as its own."""
    auth, build_id = setup
    client = small_limits_client(settings, engine, max_log_bytes=1000, log_tail_bytes=300)
    finish_source(client, auth)
    rid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    build_dir = settings.results_dir / "alice/demo" / X86 / f"{build_id:08d}-hello"
    data = output(5000)
    agents_line = limits.cut_marker(800, 200, after_newline=data[799:800] == b"\n")
    log_url = f"/backend/task/{rid}/log"
    assert client.post(log_url, content=data[:800], headers=auth).status_code == 204
    assert client.post(log_url, params={"cut": "true"}, content=agents_line, headers=auth)
    # A second line, or one too long to be a line, changes nothing.
    assert client.post(log_url, params={"cut": "true"}, content=b"again\n", headers=auth)
    too_long = client.post(log_url, params={"cut": "true"}, content=b"x" * 1025, headers=auth)
    assert too_long.status_code == 400
    assert (build_dir / "builder-live.log").read_bytes() == data[:800] + agents_line
    client.post(log_url, content=data[-200:], headers=auth)
    client.post(f"/backend/task/{rid}/finish", json={"state": "failed"}, headers=auth)
    log = gzip.decompress((build_dir / "builder-live.log.gz").read_bytes())
    assert log == cut_as_the_rule_says(data[:800] + data[-200:], 800, 200)


def test_the_agents_live_log_arrives_as_the_server_would_cut_it(
    settings: Settings, engine: Engine, setup: tuple[dict[str, str], int]
) -> None:
    """The agent's LiveLog (its cut) and the server's cut, with the same settings, store
    the same bytes."""
    auth, build_id = setup
    client = small_limits_client(settings, engine, max_log_bytes=1000, log_tail_bytes=300)
    finish_source(client, auth)
    rid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    config = AgentConfig("http://testserver", "t", ("x86_64",), settings.data_dir / "work")
    server = AgentServer(config, threading.Event())
    server.client = client
    client.headers.update(auth)
    data = output(20_000)
    live = LiveLog(server, rid, max_bytes=1000, tail_bytes=300)
    for start in range(0, len(data), 333):
        live.write(data[start : start + 333])
    tail = live.tail()
    client.post(
        f"/backend/task/{rid}/finish",
        json={"state": "succeeded", "log_tail": base64.b64encode(tail).decode()},
    )
    build_dir = settings.results_dir / "alice/demo" / X86 / f"{build_id:08d}-hello"
    log = gzip.decompress((build_dir / "builder-live.log.gz").read_bytes())
    assert log == cut_as_the_rule_says(data, 1000, 300)


def test_the_live_log_is_not_an_upload(
    client: TestClient, setup: tuple[dict[str, str], int]
) -> None:
    auth, _ = setup
    tid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    for name in ("builder-live.log", "builder-live.log.gz"):
        r = client.put(f"/backend/task/{tid}/files/{name}", content=b"x" * 100, headers=auth)
        assert r.status_code == 400
        assert r.json()["error"] == f"name: {name} is written by the server, not uploaded"


def test_a_task_stores_at_most_max_result_files(
    settings: Settings, engine: Engine, setup: tuple[dict[str, str], int]
) -> None:
    auth, build_id = setup
    client = small_limits_client(settings, engine, max_result_files=3)
    finish_source(client, auth)
    rid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    put = partial(_put, client, auth, rid)
    for name in ("a", "b", "c", "a"):  # the second "a" replaces the first: not counted
        assert put(f"{name}-1-1.noarch.rpm", b"rpm").status_code == 204
    refused = put("d-1-1.noarch.rpm", b"rpm" * 1000)
    assert refused.status_code == 413
    assert refused.json()["error"] == (
        "the build made more than 3 result files; this server accepts at most 3 "
        "(setting max_result_files)"
    )
    build_dir = settings.results_dir / "alice/demo" / X86 / f"{build_id:08d}-hello"
    assert sorted(p.name for p in build_dir.iterdir() if not p.name.endswith(".lock")) == [
        ".pending-a-1-1.noarch.rpm",
        ".pending-b-1-1.noarch.rpm",
        ".pending-c-1-1.noarch.rpm",
        "backend.log",  # the server's: in no count
        "build.info",
    ]


def test_a_task_stores_at_most_max_result_bytes(
    settings: Settings, engine: Engine, setup: tuple[dict[str, str], int]
) -> None:
    auth, build_id = setup
    client = small_limits_client(settings, engine, max_result_bytes=1000)
    finish_source(client, auth)
    rid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    put = partial(_put, client, auth, rid)
    assert put("a-1-1.noarch.rpm", b"a" * 600).status_code == 204
    refused = put("b-1-1.noarch.rpm", b"b" * 600)
    assert refused.status_code == 413
    assert refused.json()["error"] == (
        "the build's result files take more than 1000 bytes; this server accepts at most "
        "1000 bytes (setting max_result_bytes)"
    )
    assert put("a-1-1.noarch.rpm", b"a" * 900).status_code == 204  # replaced: 900 in all
    assert put("c-1-1.noarch.rpm", b"c" * 100).status_code == 204
    assert put("d-1-1.noarch.rpm", b"d").status_code == 413
    build_dir = settings.results_dir / "alice/demo" / X86 / f"{build_id:08d}-hello"
    assert not list(build_dir.glob("*.part")) and not list(build_dir.glob(".*.part"))
    assert sum(p.stat().st_size for p in build_dir.glob(".pending-*")) == 1000


def _put(client: TestClient, auth: dict[str, str], task_id: int, name: str, data: bytes) -> Any:
    return client.put(f"/backend/task/{task_id}/files/{name}", content=data, headers=auth)


def test_an_rpm_task_carries_the_settings_its_build_was_submitted_with(
    client: TestClient, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with write_session(session_factory) as db:
        alice = users.create_user(db, "alice")
        project = projects.create_project(
            db,
            alice,
            "alice",
            projects.NewProject(
                name="opts",
                chroots=[X86],
                additional_repos=["copr://bob/base"],
                repo_priority=7,
                module_hotfixes=True,
                enable_net=True,
            ),
        )
        project_chroots.edit_project_chroot(
            db,
            alice,
            project,
            X86,
            project_chroots.ChrootFields(
                additional_packages=["gcc"],
                additional_repos=["https://example.org/$chroot/"],
                additional_modules=["nodejs:20", "!perl"],
                with_opts=["tests"],
                without_opts=["docs"],
                isolation="simple",
                bootstrap="on",
                timeout=7200,
            ),
        )
        build = builds.submit_build(
            db,
            alice,
            project,
            Source(type="link", data={"url": "https://example.org/hello-1.0-1.src.rpm"}),
            BuildOptions(isolation="nspawn", memory=2048, enable_net=False),
        )
        build_id = build.id
        _, token = builders.create_builder(db, "agent1")
        # Changed after the submission: the build keeps what it was submitted with.
        project_chroots.edit_project_chroot(
            db,
            alice,
            project,
            X86,
            project_chroots.ChrootFields(
                additional_packages=["make"], with_opts=["other"], timeout=600, bootstrap="off"
            ),
        )
        projects.edit_project(db, alice, project, projects.ProjectFields(repo_priority=50))
    auth = {"Authorization": f"Bearer {token}"}
    finish_source(client, auth)
    task = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()
    assert task["kind"] == "rpm" and task["build_id"] == build_id
    base = f"{settings.results_url}/alice/opts/{X86}/"
    assert {k: task[k] for k in ("timeout", "memory_limit_mb", "enable_net")} == {
        "timeout": 7200,
        "memory_limit_mb": 2048,
        "enable_net": False,
    }
    assert task["buildroot_pkgs"] == ["gcc"]
    assert (task["with_opts"], task["without_opts"]) == (["tests"], ["docs"])
    assert task["modules"] == ["nodejs:20", "!perl"]
    assert (task["isolation"], task["bootstrap"], task["bootstrap_image"]) == (
        "nspawn",
        "on",
        None,
    )
    assert task["repos"] == [
        base,
        f"{settings.results_url}/bob/base/{X86}/",
        f"https://example.org/{X86}/",
    ]
    assert task["repo_specs"][0] == {
        "id": "copr_base",
        "name": "Copr repository",
        "baseurl": base,
        "priority": 7,
        "module_hotfixes": True,
        "served": True,
    }
    assert [r["priority"] for r in task["repo_specs"][1:]] == [None, None]
    # The agent fetches this server's repositories itself, any other from the sandbox.
    assert [r["served"] for r in task["repo_specs"][1:]] == [True, False]


def test_the_server_keeps_its_own_notes_in_the_task_directory(
    client: TestClient, settings: Settings, setup: tuple[dict[str, str], int]
) -> None:
    """As Copr's backend: backend.log, build.info and the success marker, written by the
    server; no agent may upload one of them."""
    auth, build_id = setup
    finish_source(client, auth)
    rid = client.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()["task_id"]
    for name in ("backend.log", "backend.log.gz", "build.info", "success"):
        refused = client.put(f"/backend/task/{rid}/files/{name}", content=b"x", headers=auth)
        assert refused.status_code == 400, name
        assert "written by the server" in refused.json()["error"]
    stored = client.put(
        f"/backend/task/{rid}/files/hello.spec", content=b"Name: hello\n", headers=auth
    )
    assert stored.status_code == 204
    done = client.post(
        f"/backend/task/{rid}/finish",
        json={"state": "succeeded", "message": "built\nfake line"},
        headers=auth,
    )
    assert done.json() == {"build_state": "succeeded"}
    build_dir = settings.results_dir / "alice/demo" / X86 / f"{build_id:08d}-hello"
    assert (build_dir / "build.info").read_text() == f"build_id={build_id}\nbuilder=agent1\n"
    assert (build_dir / "success").read_text() == "done"
    assert (build_dir / "hello.spec").read_text() == "Name: hello\n"
    lines = gzip.decompress((build_dir / "backend.log.gz").read_bytes()).decode().splitlines()
    said = [line.split("] ", 1)[1] for line in lines]
    assert said == [
        f"task {rid} claimed by builder agent1",
        "stored hello.spec (12 bytes)",
        "the agent reports: succeeded (built\\x0afake line)",
        f"published 0 package(s) into alice/demo/{X86}",
    ]
