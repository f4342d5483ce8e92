"""One build, three dialects: a build submitted through APIv3 (python-copr 2.7), the legacy
API and APIv2 (python-copr 1.63) is the same build in all three: the same id, state,
chroots with their states, result directories and package version.

The submissions go through the real clients; the three views are read over plain HTTP, as
each dialect's JSON, and compared field by field.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.copr163 import ensure_copr163, run_copr163
from tests.integration.test_builds import make_srpm
from tests.integration.test_python_copr import client_for

pytestmark = pytest.mark.integration

CHROOT = "fedora-rawhide-x86_64"
ENDED = {"succeeded", "failed", "canceled", "skipped"}


@dataclass(frozen=True)
class View:
    """A build as one dialect shows it."""

    id: int
    state: str
    chroots: dict[str, str]  # chroot name → state
    results: dict[str, str]  # chroot name → result directory URL
    version: str | None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-dialects"), builders=1)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def submitted(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """alice/mixed (made over APIv3) and one build of hello through each dialect."""
    config = server.add_user("alice")
    v3 = client_for(config)
    project = v3.project_proxy.add("alice", "mixed", chroots=[CHROOT])
    srpm = make_srpm("hello.spec", tmp_path_factory.mktemp("dialect-srpms"))

    ids = {"api_3": v3.build_proxy.create_from_file("alice", "mixed", str(srpm)).id}
    python = ensure_copr163()
    env = {**os.environ, "COPR_CONFIG": str(config), "SRPM": str(srpm)}
    ids["legacy"] = run_copr163(
        python,
        """
        import os
        from copr.client import CoprClient
        cl = CoprClient.create_from_file_config(os.environ["COPR_CONFIG"])
        done = cl.create_new_build("mixed", [os.environ["SRPM"]], username="alice")
        emit(done.builds_list[0].build_id)
        """,
        env,
    )
    ids["api_2"] = run_copr163(
        python,
        f"""
        import os
        from copr.client_v2.client import CoprClient
        patch_v2_map()
        client = CoprClient.create_from_file_config(os.environ["COPR_CONFIG"])
        build = client.builds.create_from_file({project.id}, file_path=os.environ["SRPM"])
        emit(build.id)
        """,
        env,
    )
    assert all(isinstance(i, int) for i in ids.values()), ids
    assert len(set(ids.values())) == 3, ids
    deadline = time.monotonic() + 600
    for build_id in ids.values():
        while httpx.get(f"{server.url}/api_3/build/{build_id}").json()["state"] not in ENDED:
            assert time.monotonic() < deadline, f"build {build_id} did not end"
            time.sleep(0.2)
    return ids


def through_api_3(url: str, build_id: int) -> View:
    build = httpx.get(f"{url}/api_3/build/{build_id}").json()
    tasks = httpx.get(f"{url}/api_3/build-chroot/list", params={"build_id": build_id}).json()
    items = tasks["items"]
    return View(
        id=build["id"],
        state=build["state"],
        chroots={t["name"]: t["state"] for t in items},
        results={t["name"]: t["result_url"] for t in items},
        version=build["source_package"]["version"],
    )


def through_legacy(url: str, build_id: int) -> View:
    answer = httpx.get(f"{url}/api/coprs/build/{build_id}/")
    assert answer.status_code == 200
    build = answer.json()
    assert build["output"] == "ok"
    return View(
        id=build["id"],
        state=build["status"],
        chroots=build["chroots"],
        results=build["results_by_chroot"],
        version=build["src_version"],
    )


def through_api_2(url: str, build_id: int) -> View:
    build = httpx.get(f"{url}/api_2/builds/{build_id}").json()["build"]
    listed = httpx.get(f"{url}/api_2/build_tasks", params={"build_id": build_id}).json()
    tasks = [item["build_task"] for item in listed["build_tasks"]]
    return View(
        id=build["id"],
        state=build["state"],
        chroots={t["chroot_name"]: t["state"] for t in tasks},
        results={t["chroot_name"]: t["result_dir_url"] for t in tasks},
        version=build["package_version"],
    )


@pytest.mark.parametrize("dialect", ["api_3", "legacy", "api_2"])
def test_a_build_from_one_dialect_is_the_same_build_in_all_three(
    server: Server, submitted: dict[str, int], dialect: str
) -> None:
    build_id = submitted[dialect]
    views = {
        "api_3": through_api_3(server.url, build_id),
        "legacy": through_legacy(server.url, build_id),
        "api_2": through_api_2(server.url, build_id),
    }
    expected = views["api_3"]
    assert expected.id == build_id
    assert expected.state == "succeeded"
    assert expected.chroots == {CHROOT: "succeeded"}
    assert expected.version == "1.0-1"
    (result,) = expected.results.values()
    assert result.endswith(f"/results/alice/mixed/{CHROOT}/{build_id:08d}-hello/")
    for name, view in views.items():
        assert view == expected, f"{name} shows build {build_id} differently"
    # The results are really there: the RPM the three views point at.
    listing = httpx.get(result)
    assert listing.status_code == 200 and "hello-1.0-1" in listing.text


def test_each_build_is_listed_once_in_every_dialect(
    server: Server, submitted: dict[str, int]
) -> None:
    ids = sorted(submitted.values())
    v3 = httpx.get(
        f"{server.url}/api_3/build/list", params={"ownername": "alice", "projectname": "mixed"}
    ).json()
    legacy = httpx.get(f"{server.url}/api/coprs/alice/mixed/detail/").json()
    v2_project = httpx.get(f"{server.url}/api_2/projects", params={"name": "mixed"}).json()
    (project,) = v2_project["projects"]
    v2 = httpx.get(
        f"{server.url}/api_2/builds", params={"project_id": project["project"]["id"]}
    ).json()
    assert sorted(b["id"] for b in v3["items"]) == ids
    assert sorted(b["build"]["id"] for b in v2["builds"]) == ids
    # The legacy API lists no builds; its project detail names the same chroot repository.
    assert list(legacy["detail"]["yum_repos"]) == [CHROOT]
