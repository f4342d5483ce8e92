"""python-copr 1.63's APIv2 client (``copr.client_v2``), unchanged, against a real coprd with
a local builder agent; then the same projects and builds through APIv3 with python-copr 2.7.

Each test runs one script in the 1.63 environment (``tests/integration/copr163.py``); the
script prints what it saw as JSON, and the test asserts on that.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coprd.api_v2.schemas import client_url
from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.copr163 import ensure_copr163, run_copr163
from tests.integration.test_builds import DATA, make_srpm
from tests.integration.test_python_copr import client_for

pytestmark = pytest.mark.integration

RAWHIDE = "fedora-rawhide-x86_64"
EPEL9 = "epel-9-x86_64"
# Opens every script: a client from alice's copr-cli config, as a user would make one.
CLIENT = """
import os, time
from copr.client_v2.client import CoprClient
client = CoprClient.create_from_file_config(os.environ["COPR_CONFIG"])
"""
# Waits for a build to end; 1.63's own wait_for_builds would poll every 30 s.
WAIT = """
def wait(build_id, done=("succeeded", "failed", "skipped", "canceled")):
    for _ in range(3000):
        build = client.builds.get_one(build_id)
        if build.state in done:
            return build
        time.sleep(0.2)
    raise AssertionError("build %s is still %s" % (build_id, build.state))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-apiv2"), builders=1)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def copr163() -> Path:
    return ensure_copr163()


@pytest.fixture(scope="module")
def alice(server: Server) -> Path:
    return server.add_user("alice")


@pytest.fixture(scope="module")
def bob(server: Server) -> Path:
    return server.add_user("bob")


def run(python: Path, config: Path, script: str, timeout: float = 120, **env: str) -> Any:
    """``script`` after :data:`CLIENT`, with ``env`` in its environment."""
    environ = {**os.environ, "COPR_CONFIG": str(config), **env}
    return run_copr163(python, CLIENT + WAIT + textwrap.dedent(script), environ, timeout=timeout)


def test_root_and_mock_chroots(server: Server, copr163: Path, alice: Path) -> None:
    # copr_url with a trailing slash: the client then asks for //api_2
    seen = run(
        copr163,
        alice,
        """
        slashed = CoprClient.create_from_params(root_url=os.environ["URL"] + "/")
        active = slashed.mock_chroots.get_list(active_only=True)
        every = client.mock_chroots.get_list(active_only=False)
        one = client.mock_chroots.get_one("fedora-rawhide-x86_64")
        emit({
            "active": sorted(c.name for c in active),
            "every": len(every.chroots),
            "one": [one.name, one.os_release, one.os_version, one.arch, one.is_active],
        })
        """,
        URL=server.url,
    )
    assert RAWHIDE in seen["active"] and EPEL9 in seen["active"]
    assert seen["every"] >= len(seen["active"])
    assert seen["one"] == [RAWHIDE, "fedora", "rawhide", "x86_64", True]


def test_project_create_change_list_and_delete(copr163: Path, alice: Path, bob: Path) -> None:
    seen = run(
        copr163,
        alice,
        """
        made = client.projects.create(
            name="v2demo", owner="alice", chroots=["fedora-rawhide-x86_64"],
            description="Made by 1.63", homepage="https://example.org/v2demo",
            build_enable_net=False, repos=["https://example.org/repo"],
        )
        client.projects.create(name="v2other", owner="alice",
                               chroots=["fedora-rawhide-x86_64"])
        out = {"made": [made.id, made.name, made.owner, made.description, made.homepage,
                        made.repos, made.build_enable_net]}

        made.description = "Changed by 1.63"
        made.homepage = None
        made.build_enable_net = True
        out["updated"] = made.update().is_successful()
        again = client.projects.get_one(made.id)
        out["again"] = [again.description, again.homepage, again.build_enable_net, again.name]

        enabled = again.enable_project_chroot("epel-9-x86_64")
        out["enabled"] = [enabled._response.status_code, enabled.new_location]
        chroot = again.get_project_chroot("epel-9-x86_64")
        chroot.buildroot_pkgs = ["make", "gcc"]
        out["chroot_updated"] = chroot.update().is_successful()
        out["chroot"] = again.get_project_chroot("epel-9-x86_64").buildroot_pkgs
        out["chroots"] = sorted(c.name for c in again.get_project_chroot_list())
        out["disabled"] = chroot.disable()._response.status_code
        out["after_disable"] = sorted(c.name for c in again.get_project_chroot_list())

        out["search"] = [p.name for p in client.projects.get_list(search_query="CHANGED by")]
        out["by_name"] = [p.id for p in client.projects.get_list(owner="alice", name="v2demo")]
        out["page1"] = [p.name for p in client.projects.get_list(owner="alice", limit=1)]
        out["page2"] = [p.name for p in client.projects.get_list(
            owner="alice", limit=1, offset=1)]
        emit(out)
        """,
    )
    made_id = seen["made"][0]
    assert seen["made"][1:] == [
        "v2demo",
        "alice",
        "Made by 1.63",
        "https://example.org/v2demo",
        ["https://example.org/repo"],
        False,
    ]
    assert seen["updated"] is True
    assert seen["again"] == ["Changed by 1.63", None, True, "v2demo"]
    assert seen["enabled"][0] == 201
    assert seen["enabled"][1].endswith(f"/api_2/projects/{made_id}/chroots/{EPEL9}")
    assert seen["chroot_updated"] is True
    assert seen["chroot"] == ["make", "gcc"]
    assert seen["chroots"] == [EPEL9, RAWHIDE]
    assert seen["disabled"] == 204
    assert seen["after_disable"] == [RAWHIDE]
    assert seen["search"] == ["v2demo"]
    assert seen["by_name"] == [made_id]
    assert seen["page1"] == ["v2demo"] and seen["page2"] == ["v2other"]

    # bob may not change alice's project; the client raises AuthError on 403.
    refused = run(
        copr163,
        bob,
        f"""
        from copr.client_v2.net_client import AuthError
        project = client.projects.get_one({made_id})
        project.description = "bob was here"
        try:
            project.update()
        except AuthError as err:
            emit([err.response.status_code, err.__unicode__()])
        """,
    )
    assert refused[0] == 403
    assert "bob" in refused[1] and "alice/v2demo" in refused[1]

    deleted = run(
        copr163,
        alice,
        f"""
        from copr.client_v2.net_client import RequestError
        gone = client.projects.delete({made_id}).is_successful()
        try:
            client.projects.get_one({made_id})
            emit([gone, None])
        except RequestError as err:
            emit([gone, err.response.status_code])
        """,
    )
    assert deleted == [True, 404]


def test_builds_from_url_and_file_then_apiv3_agrees(
    server: Server, copr163: Path, alice: Path, tmp_path: Path
) -> None:
    from_file = make_srpm("greeting.spec", tmp_path / "file")
    linked = make_srpm("hello.spec", tmp_path / "url")
    shutil.copy(linked, server.data_dir / "results" / linked.name)
    seen = run(
        copr163,
        alice,
        """
        patch_v2_map()
        project = client.projects.create(
            name="v2builds", owner="alice",
            chroots=["fedora-rawhide-x86_64", "epel-9-x86_64"])
        by_file = project.create_build_from_file(file_path=os.environ["SRPM"])
        by_url = project.create_build_from_url(
            srpm_url=os.environ["SRPM_URL"], chroots=["fedora-rawhide-x86_64"],
            enable_net=False)
        out = {"project": project.id, "submitted": {}}
        for build in (by_file, by_url):
            out["submitted"][build.id] = [build.state, build.submitter, build.source_type]
        out["builds"] = {}
        for build in (by_file, by_url):
            done = wait(build.id)
            tasks = done.get_build_tasks()
            out["builds"][done.id] = {
                "state": done.state,
                "package": [done.package_name, done.package_version],
                "built": sorted(p["name"] for p in done.built_packages),
                "enable_net": done.enable_net,
                "times": [done.submitted_on, done.started_on, done.ended_on],
                "tasks": {t.chroot_name: [t.state, t.result_dir_url, t.started_on, t.ended_on]
                          for t in tasks},
            }
        one = client.build_tasks.get_one(by_url.id, "fedora-rawhide-x86_64")
        out["one_task"] = [one.build_id, one.chroot_name, one.state]
        out["listed"] = sorted(b.id for b in project.get_builds())
        out["succeeded_tasks"] = len(project.get_build_tasks(state="succeeded"))
        out["owner_tasks"] = len(client.build_tasks.get_list(owner="alice"))
        emit(out)
        """,
        timeout=600,
        SRPM=str(from_file),
        SRPM_URL=f"{server.url}/results/{linked.name}",
    )
    file_id, url_id = (int(i) for i in seen["submitted"])
    # The client reads the build back after creating it: the agent (one, idle) may have
    # taken its source task by then.
    early = {"pending", "starting", "running"}
    file_state, *file_rest = seen["submitted"][str(file_id)]
    url_state, *url_rest = seen["submitted"][str(url_id)]
    assert file_state in early and file_rest == ["alice", "srpm_upload"]
    assert url_state in early and url_rest == ["alice", "srpm_link"]
    by_file, by_url = seen["builds"][str(file_id)], seen["builds"][str(url_id)]
    assert by_file["state"] == by_url["state"] == "succeeded", seen
    assert by_file["package"][0] == "greeting" and by_file["package"][1].startswith("1.0-1")
    assert by_file["built"] == ["greeting"]
    assert by_url["package"][0] == "hello"
    assert by_file["enable_net"] is True and by_url["enable_net"] is False
    assert set(by_file["tasks"]) == {RAWHIDE, EPEL9}
    assert set(by_url["tasks"]) == {RAWHIDE}
    assert all(task[0] == "succeeded" for task in by_file["tasks"].values())
    assert seen["one_task"] == [url_id, RAWHIDE, "succeeded"]
    assert seen["listed"] == sorted([file_id, url_id])
    assert seen["succeeded_tasks"] == 3
    assert seen["owner_tasks"] >= 3

    # The same project and builds, through APIv3 and python-copr 2.7.
    v3 = client_for(alice)
    project = v3.project_proxy.get("alice", "v2builds")
    assert project.id == seen["project"]
    assert sorted(project.chroot_repos) == [EPEL9, RAWHIDE]
    for build_id, v2 in ((file_id, by_file), (url_id, by_url)):
        build = v3.build_proxy.get(build_id)
        assert build.state == v2["state"]
        assert build.projectname == "v2builds" and build.ownername == "alice"
        assert sorted(build.chroots) == sorted(v2["tasks"])
        assert [build.source_package["name"], build.source_package["version"]] == v2["package"]
        assert [build.submitted_on, build.started_on, build.ended_on] == v2["times"]
        for chroot, (state, result_dir, started, ended) in v2["tasks"].items():
            task = v3.build_chroot_proxy.get(build_id, chroot)
            assert [task.state, task.result_url, task.started_on, task.ended_on] == [
                state,
                result_dir,
                started,
                ended,
            ]
    listed = v3.build_proxy.get_list("alice", "v2builds")
    assert sorted(b.id for b in listed) == sorted([file_id, url_id])


def test_cancel_a_running_build(copr163: Path, alice: Path, tmp_path: Path) -> None:
    # The sleeper spec with a sleep of its own, not to be confused with other tests' builds.
    spec = tmp_path / "sleeper.spec"
    spec.write_text("%global sleep_marker 2602\n" + (DATA / "sleeper.spec").read_text())
    srpm = make_srpm(spec, tmp_path / "srpm")
    seen = run(
        copr163,
        alice,
        """
        patch_v2_map()
        project = client.projects.get_list(owner="alice", name="v2builds").projects[0]
        build = project.create_build_from_file(
            file_path=os.environ["SRPM"], chroots=["fedora-rawhide-x86_64"])
        for _ in range(3000):
            task = client.build_tasks.get_one(build.id, "fedora-rawhide-x86_64")
            if task.state == "running":
                break
            time.sleep(0.2)
        out = {"id": build.id, "before": task.state}
        out["canceled"] = build.cancel().is_successful()
        done = client.builds.get_one(build.id)
        out["after"] = [done.state, done.is_finished()]
        # The task ends when its agent hears of the cancel (at its next heartbeat).
        for _ in range(3000):
            task = client.build_tasks.get_one(build.id, "fedora-rawhide-x86_64")
            if task.state != "running":
                break
            time.sleep(0.2)
        out["task"] = [task.state, task.ended_on is not None]
        emit(out)
        """,
        timeout=600,
        SRPM=str(srpm),
    )
    assert seen["before"] == "running"
    assert seen["canceled"] is True
    # 1.63 does not count canceled as finished (its wait_for_builds would poll forever).
    assert seen["after"] == ["canceled", False]
    assert seen["task"] == ["canceled", True]
    v3 = client_for(alice)
    assert v3.build_proxy.get(seen["id"]).state == "canceled"
    assert v3.build_chroot_proxy.get(seen["id"], RAWHIDE).state == "canceled"


def test_refusals_reach_the_client_as_its_errors(copr163: Path, alice: Path) -> None:
    seen = run(
        copr163,
        alice,
        """
        from copr.client_v2.net_client import RequestError
        patch_v2_map()
        out = {}
        def refused(name, call):
            try:
                call()
                out[name] = None
            except RequestError as err:
                # the client's own account of the error, which reads the v2 envelope
                out[name] = [err.response.status_code, err.__unicode__()]
        refused("unknown-chroot", lambda: client.projects.create(
            name="v2bad", owner="alice", chroots=["fedora-1-x86_64"]))
        refused("taken", lambda: client.projects.create(
            name="v2builds", owner="alice", chroots=["fedora-rawhide-x86_64"]))
        project = client.projects.get_list(owner="alice", name="v2builds").projects[0]
        refused("build-chroot", lambda: project.create_build_from_url(
            srpm_url="https://example.org/x.src.rpm", chroots=["epel-10-x86_64"]))
        refused("unknown-build", lambda: client.builds.get_one(999999))
        anonymous = CoprClient.create_from_params(root_url=client.root_url)
        try:
            anonymous.projects.delete(project.id)
            out["no-credentials"] = None
        except RequestError as err:
            out["no-credentials"] = str(err.msg)
        emit(out)
        """,
    )
    assert seen["unknown-chroot"][0] == 400 and "fedora-1-x86_64" in seen["unknown-chroot"][1]
    assert seen["taken"][0] == 409
    assert seen["build-chroot"][0] == 400 and "epel-10-x86_64" in seen["build-chroot"][1]
    assert seen["unknown-build"][0] == 404
    # The client refuses to send a write without credentials at all.
    assert "not set" in seen["no-credentials"]


HOMEPAGES = [
    "https://example.org/x",
    "https://EXAMPLE.org:8443/a?b=c",
    "http://localhost:8080/",
    "http://127.0.0.1/",
    "ftp://ftp.example.org/pub",
    "ftps://a.example.org",
    "http://ab.cd",
    "http://user:pw@example.org/",
    "http://[::1]/",
    "",
    "example.com",
    "https://x.y/z",
    "http://-bad-.com/",
    "https://ex_ample.org/",
    "https://example.org/a b",
    "mailto:someone@example.org",
    "gopher://example.org/",
]


def test_homepages_sent_are_ones_the_clients_validator_accepts(copr163: Path) -> None:
    accepted = run_copr163(
        copr163,
        f"""
        from marshmallow import ValidationError
        from marshmallow.validate import URL
        check = URL()
        def ok(value):
            try:
                check(value)
                return True
            except ValidationError:
                return False
        emit([ok(value) for value in {HOMEPAGES!r}])
        """,
    )
    assert isinstance(accepted, list)
    for value, ok in zip(HOMEPAGES, accepted, strict=True):
        shown = client_url(value)
        assert shown is None or ok, value  # never a homepage the client cannot load
        if value in (
            "https://example.org/x",
            "http://localhost:8080/",
            "ftp://ftp.example.org/pub",
        ):
            assert shown == value
