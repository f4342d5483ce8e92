"""Dependency-aware ordering end to end: copr-cli submits SRPMs in the wrong order, real
agents build them in the order their BuildRequires say, and the wait is visible in the
API, in ``copr-cli status`` and on the build page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import passable_dir
from tests.integration.conftest import (
    Server,
    Worker,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
)
from tests.integration.test_builds import make_srpm

pytestmark = pytest.mark.integration

CHROOT = "fedora-rawhide-x86_64"
ENDED = {"succeeded", "failed", "canceled", "skipped"}


def spec(
    name: str, requires: str = "", *, devel: bool = False, sleep: int = 0, version: str = "1.0"
) -> str:
    """A noarch package ``name`` (with a ``-devel`` subpackage if asked) that BuildRequires
    ``requires``, which the buildroot installs from the project's repository."""
    text = f"""Name: {name}
Version: {version}
Release: 1
Summary: {name} for the ordering test
License: MIT
BuildArch: noarch
{f"BuildRequires: {requires}" if requires else ""}

%description
{name}.
"""
    if devel:
        text += f"""
%package devel
Summary: {name}'s headers
%description devel
{name}'s headers.
"""
    text += f"""
%build
sleep {sleep}

%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {name} > %{{buildroot}}/usr/share/{name}/file

%files
/usr/share/{name}
"""
    if devel:
        text += "\n%files devel\n"
    return text


def srpm(tmp: Path, name: str, text: str) -> Path:
    path = tmp / f"{name}.spec"
    path.write_text(text)
    return make_srpm(path, tmp / f"srpm-{name}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # No agent yet: each test queues its builds first, so the order they are built in
    # depends on the ordering alone, not on how fast copr-cli submits.
    srv = start_server(tmp_path_factory.mktemp("coprd-ordering"))
    yield srv
    stop_server(srv)


@pytest.fixture
def worker(server: Server) -> Iterator[Any]:
    started: list[Worker] = []

    def start() -> Worker:
        started.append(start_worker(server, passable_dir("ordering-worker"), concurrency=2))
        return started[-1]

    yield start
    for one in started:
        stop_worker(one)


def submit(server: Server, config: Path, project: str, *srpms: Path) -> list[int]:
    built = server.copr_cli(config, "build", "--nowait", project, *map(str, srpms))
    assert built.returncode == 0, built.stdout + built.stderr
    return [int(i) for i in built.stdout.split("Created builds: ")[1].split()]


def build_of(server: Server, build_id: int) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/api_3/build/{build_id}", timeout=10)
    assert answer.status_code == 200
    return dict(answer.json())


def chroot_of(server: Server, build_id: int) -> dict[str, Any]:
    answer = httpx.get(
        f"{server.url}/api_3/build-chroot",
        params={"build_id": build_id, "chrootname": CHROOT},
        timeout=10,
    )
    assert answer.status_code == 200
    return dict(answer.json())


def wait_until_ended(
    server: Server, ids: list[int], seen: dict[int, set[str]], timeout_s: float = 240
) -> None:
    """Poll the builds until all ended, noting every (state, wait_reason) each showed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = {}
        for build_id in ids:
            build = build_of(server, build_id)
            states[build_id] = build["state"]
            seen.setdefault(build_id, set()).add(f"{build['state']}|{build['wait_reason']}")
        if set(states.values()) <= ENDED:
            return
        time.sleep(0.3)
    raise AssertionError(f"builds did not end in {timeout_s} s: {states}")


def test_a_chain_submitted_backwards_is_built_in_dependency_order(
    server: Server, worker: Any, tmp_path: Path
) -> None:
    alice = server.add_user_with_project("alice", "chain", CHROOT)
    libfoo = srpm(tmp_path, "libfoo", spec("libfoo", devel=True, sleep=6))
    bar = srpm(tmp_path, "bar", spec("bar", "libfoo-devel", sleep=2))
    app = srpm(tmp_path, "app", spec("app", "bar"))
    app_id, bar_id, libfoo_id = submit(server, alice, "chain", app, bar, libfoo)

    worker()
    seen: dict[int, set[str]] = {}
    # While libfoo builds, bar waits for it and app for bar, and say so (first, until
    # every source step is done, they wait to learn what the others provide).
    expected = f"waits for build {libfoo_id} (libfoo) which provides libfoo-devel"
    deadline = time.monotonic() + 120
    while build_of(server, bar_id)["wait_reason"] != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert build_of(server, bar_id)["wait_reason"] == expected
    assert chroot_of(server, bar_id)["state"] == "waiting"
    status = server.copr_cli(alice, "status", str(app_id))
    assert status.stdout.strip() == "waiting", status.stdout + status.stderr
    page = httpx.get(f"{server.url}/coprs/alice/chain/build/{app_id}/", timeout=10).text
    assert f"waits for build {bar_id} (bar) which provides bar" in page

    wait_until_ended(server, [app_id, bar_id, libfoo_id], seen)
    tasks = {i: chroot_of(server, i) for i in (libfoo_id, bar_id, app_id)}
    assert {t["state"] for t in tasks.values()} == {"succeeded"}
    assert tasks[libfoo_id]["ended_on"] <= tasks[bar_id]["started_on"]
    assert tasks[bar_id]["ended_on"] <= tasks[app_id]["started_on"]
    assert f"waiting|waits for build {bar_id} (bar) which provides bar" in seen[app_id]
    assert build_of(server, app_id)["wait_reason"] is None


def test_two_builds_that_need_each_other_build_in_submission_order(
    server: Server, worker: Any, tmp_path: Path
) -> None:
    bob = server.add_user_with_project("bob", "cycle", CHROOT)
    worker()
    # As a real cycle is bootstrapped: an older two, built without one, is in the repository
    # for one's build (on a builder host with an rpm database, nothing else provides it).
    [bootstrap] = submit(server, bob, "cycle", srpm(tmp_path, "two-0", spec("two", version="0.9")))
    wait_until_ended(server, [bootstrap], {})
    one = srpm(tmp_path, "one", spec("one", "two", sleep=3))
    two = srpm(tmp_path, "two", spec("two", "one"))
    one_id, two_id = submit(server, bob, "cycle", one, two)
    wait_until_ended(server, [one_id, two_id], {})
    first, second = chroot_of(server, one_id), chroot_of(server, two_id)
    assert first["state"] == second["state"] == "succeeded"
    assert first["ended_on"] <= second["started_on"]
    for build_id in (one_id, two_id):
        assert "cycle is broken in submission order" in build_of(server, build_id)["order_note"]
        page = httpx.get(f"{server.url}/coprs/bob/cycle/build/{build_id}/", timeout=10).text
        assert "cycle is broken in submission order" in page
