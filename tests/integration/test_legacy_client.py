"""python-copr 1.63's legacy ``copr.client.CoprClient``, unchanged, against a real coprd with
a local builder agent; then the same projects and builds through APIv3 with python-copr 2.7.

The 1.63 client runs in its own environment (``copr163.py``); each script below prints what
the client parsed, and the tests assert on that. ``copr_url`` ends in a slash, as the
client's default does, so every request goes to ``//api/coprs/…``.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from copr.v3 import Client, CoprNoResultException

from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.copr163 import ensure_copr163, run_copr163
from tests.integration.test_builds import make_srpm

pytestmark = pytest.mark.integration

CHROOT = "fedora-rawhide-x86_64"
PROJECT = "legacy"
# Runs after copr163.PRELUDE: a client made from $COPRD_LEGACY, the test's parameters in P.
CLIENT = textwrap.dedent(
    """
    import os, time
    from copr.client import CoprClient
    from copr.exceptions import CoprRequestException

    cl = CoprClient(**json.loads(os.environ["COPRD_LEGACY"]))
    P = json.loads(os.environ["COPRD_PARAMS"])
    ENDED = ("succeeded", "failed", "canceled", "skipped")

    def wait(build_id, until=ENDED):
        # The 1.63 docs' polling loop; bounded, so that a stuck build fails the test.
        for _ in range(1200):
            details = cl.get_build_details(build_id)
            if details.status in until:
                return details
            time.sleep(0.5)
        raise SystemExit(f"build {build_id} is still {details.status}")
    """
)


@dataclass(frozen=True)
class Legacy:
    """A 1.63 ``CoprClient`` (for ``config``'s user, or without credentials)."""

    python: Path
    server: Server
    config: Path | None

    def credentials(self) -> dict[str, str]:
        if self.config is None:
            return {}
        parser = configparser.ConfigParser()
        parser.read(self.config)
        section = parser["copr-cli"]
        return {key: section[key] for key in ("username", "login", "token")}

    def run(self, script: str, **params: Any) -> Any:
        args = {**self.credentials(), "copr_url": self.server.url + "/"}
        env = {
            **os.environ,
            "COPRD_LEGACY": json.dumps(args),
            "COPRD_PARAMS": json.dumps(params),
        }
        return run_copr163(self.python, CLIENT + textwrap.dedent(script), env)

    def v3(self) -> Any:
        """python-copr 2.7's APIv3 client for the same user."""
        return Client({**self.credentials(), "copr_url": self.server.url})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-legacy"), builders=1)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def python163() -> Path:
    return ensure_copr163()


@pytest.fixture(scope="module")
def alice(server: Server, python163: Path) -> Legacy:
    return Legacy(python163, server, server.add_user("alice"))


@pytest.fixture(scope="module")
def bob(server: Server, python163: Path) -> Legacy:
    return Legacy(python163, server, server.add_user("bob"))


@pytest.fixture(scope="module")
def anonymous(server: Server, python163: Path) -> Legacy:
    """No credentials configured: the client sends ``None:None`` even on public reads."""
    return Legacy(python163, server, None)


@pytest.fixture(scope="module")
def project(alice: Legacy) -> dict[str, Any]:
    """alice/legacy, created by 1.63 with a tuple of chroots (a list crashes the client)."""
    return alice.run(  # type: ignore[no-any-return]
        """
        created = cl.create_project(
            P["name"],
            chroots=(P["chroot"],),
            description="Made by python-copr 1.63",
            instructions="dnf copr enable alice/legacy",
            repos=["https://example.com/extra"],
        )
        details = cl.get_project_details(P["name"])
        emit({
            "output": created.output,
            "message": created.message,
            "name": details.name,
            "description": details.description,
            "instructions": details.instructions,
            "last_modified": details.last_modified,
            "repos": {c.chrootname: c.repo_url for c in details.chroots},
        })
        """,
        name=PROJECT,
        chroot=CHROOT,
    )


@pytest.fixture(scope="module")
def built(
    alice: Legacy, project: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A build from a URL and one from a file, submitted by 1.63 and followed to their end."""
    out = tmp_path_factory.mktemp("srpms")
    served = make_srpm("hello.spec", out / "url")
    shutil.copy(served, alice.server.data_dir / "results" / served.name)
    uploaded = make_srpm("greeting.spec", out / "file")
    url = f"{alice.server.url}/results/{served.name}"
    result: dict[str, Any] = alice.run(
        """
        from_url = cl.create_new_build(
            P["project"], [P["url"]], chroots=[P["chroot"]], timeout="3600", memory="2048"
        )
        from_file = cl.create_new_build(P["project"], [P["file"]])
        result = {}
        for kind, response in (("url", from_url), ("file", from_file)):
            (build,) = response.builds_list
            details = wait(build.build_id)
            result[kind] = {
                "output": response.output,
                "message": response.message,
                "id": build.build_id,
                "status": details.status,
                "project": details.project,
                "owner": details.owner,
                "results": details.results,
                "built_pkgs": details.built_pkgs,
                "src_pkg": details.src_pkg,
                "src_version": details.src_version,
                "times": [details.submitted_on, details.started_on, details.ended_on],
                "chroots": details.data["chroots"],
                "submitted_by": details.data["submitted_by"],
            }
        emit(result)
        """,
        project=PROJECT,
        chroot=CHROOT,
        url=url,
        file=str(uploaded),
    )
    result["url"]["submitted"] = url
    return result


def test_create_project_with_a_tuple_of_chroots(project: dict[str, Any], server: Server) -> None:
    assert project["output"] == "ok"
    assert project["message"] == "New project was successfully created."
    assert project["name"] == PROJECT
    assert project["description"] == "Made by python-copr 1.63"
    assert project["instructions"] == "dnf copr enable alice/legacy"
    assert project["last_modified"] is None  # no build has ended yet
    # The client knows a project's chroots only through yum_repos: there from the start.
    assert project["repos"] == {CHROOT: f"{server.url}/results/alice/{PROJECT}/{CHROOT}/"}
    repomd = httpx.get(project["repos"][CHROOT] + "repodata/repomd.xml")
    assert repomd.status_code == 200


def test_builds_from_a_url_and_a_file_succeed(built: dict[str, Any], server: Server) -> None:
    for kind, package in (("url", "hello"), ("file", "greeting")):
        build = built[kind]
        assert build["output"] == "ok"
        assert build["message"] == f"Build was added to {PROJECT}."
        assert build["status"] == "succeeded", build
        assert build["chroots"] == {CHROOT: "succeeded"}
        assert (build["owner"], build["project"]) == ("alice", PROJECT)
        assert build["submitted_by"] == "alice"
        assert build["results"] == f"{server.url}/results/alice/{PROJECT}"
        assert build["built_pkgs"] == [f"{package} 1.0"]
        assert build["src_version"] == "1.0-1"
        submitted, started, ended = build["times"]
        assert submitted <= started <= ended
    assert built["url"]["src_pkg"] == built["url"]["submitted"]
    srpm_dir = f"{server.url}/results/alice/{PROJECT}/srpm-builds/{built['file']['id']:08d}"
    assert built["file"]["src_pkg"] == f"{srpm_dir}/greeting-1.0-1.src.rpm"
    assert built["url"]["id"] != built["file"]["id"]
    # The client's copr_url ends in "/": the streamed uploads went to //api/… and were
    # answered there, not redirected.
    log = server.server_log()
    assert f'"POST //api/coprs/alice/{PROJECT}/new_build/ HTTP/1.1" 200' in log
    assert f'"POST //api/coprs/alice/{PROJECT}/new_build_upload/ HTTP/1.1" 200' in log


def test_apiv3_sees_the_same_project_and_builds(
    alice: Legacy, project: dict[str, Any], built: dict[str, Any]
) -> None:
    client = alice.v3()
    seen = client.project_proxy.get("alice", PROJECT)
    assert seen.description == project["description"]
    assert seen.chroot_repos == project["repos"]
    assert seen.additional_repos == ["https://example.com/extra"]
    for build in built.values():
        same = client.build_proxy.get(build["id"])
        assert same.state == build["status"]
        assert (same.ownername, same.projectname) == (build["owner"], build["project"])
        assert same.chroots == list(build["chroots"])
        assert same.submitter == build["submitted_by"]
        assert [same.submitted_on, same.started_on, same.ended_on] == build["times"]
        chroot = client.build_chroot_proxy.get(build["id"], CHROOT)
        assert chroot.state == build["chroots"][CHROOT]
    url_build = client.build_proxy.get_source_build_config(built["url"]["id"])
    assert (url_build.timeout, url_build.memory_limit) == (3600, 2048)


def test_cancel_a_running_build(alice: Legacy, project: dict[str, Any], tmp_path: Path) -> None:
    srpm = make_srpm("sleeper.spec", tmp_path / "srpm")
    result = alice.run(
        """
        (build,) = cl.create_new_build(P["project"], [P["file"]]).builds_list
        running = wait(build.build_id, until=("running",) + ENDED)
        canceled = cl.cancel_build(build.build_id)
        after = cl.get_build_details(build.build_id)
        emit({
            "id": build.build_id,
            "before": running.data["chroots"],
            "output": canceled.output,
            "status": canceled.status,
            "after": after.status,
        })
        """,
        project=PROJECT,
        file=str(srpm),
    )
    assert result["before"] == {CHROOT: "running"}
    assert (result["output"], result["status"]) == ("ok", "Build canceled")
    assert result["after"] == "canceled"
    assert alice.v3().build_proxy.get(result["id"]).state == "canceled"
    # The agent stops the build at its next heartbeat; then the chroot task ends canceled.
    ended = alice.run(
        """
        for _ in range(600):
            chroots = cl.get_build_details(P["id"]).data["chroots"]
            if chroots[P["chroot"]] != "running":
                break
            time.sleep(0.5)
        emit(chroots)
        """,
        id=result["id"],
        chroot=CHROOT,
    )
    assert ended == {CHROOT: "canceled"}


def test_modify_project_and_chroot(alice: Legacy) -> None:
    result = alice.run(
        """
        cl.create_project(P["project"], chroots=(P["chroot"],), description="As created")
        modified = cl.modify_project(
            P["project"],
            description="Changed by 1.63",
            instructions="Read me",
            repos="https://example.com/one https://example.com/two",
            disable_createrepo="true",
        )
        chroot = cl.modify_project_chroot_details(P["project"], P["chroot"], pkgs=["make", "gcc"])
        detail = cl.get_project_chroot_details(P["project"], P["chroot"])
        cleared = cl.modify_project_chroot_details(P["project"], P["chroot"])
        emit({
            "output": modified.output,
            "description": modified.description,
            "instructions": modified.instructions,
            "name": modified.name,
            "buildroot_pkgs": modified.buildroot_pkgs,
            "chroot": [chroot.output, chroot.buildroot_pkgs],
            "detail": detail.buildroot_pkgs,
            "cleared": cleared.buildroot_pkgs,
        })
        """,
        project="edited",
        chroot=CHROOT,
    )
    assert result["output"] == "ok"
    assert (result["description"], result["instructions"]) == ("Changed by 1.63", "Read me")
    assert result["name"] == "edited"
    assert result["buildroot_pkgs"] == {CHROOT: ""}
    assert result["chroot"] == ["ok", "make gcc"]
    assert result["detail"] == "make gcc"
    assert result["cleared"] == ""
    seen = alice.v3().project_proxy.get("alice", "edited")
    assert seen.description == "Changed by 1.63"
    assert seen.additional_repos == ["https://example.com/one", "https://example.com/two"]
    assert seen.disable_createrepo is True
    chroot = alice.v3().project_chroot_proxy.get("alice", "edited", CHROOT)
    assert chroot.additional_packages == []


def test_list_and_search_also_without_credentials(
    alice: Legacy, anonymous: Legacy, project: dict[str, Any]
) -> None:
    script = """
        listed = cl.get_projects_list(P["owner"]).projects_list
        found = cl.search_projects(P["query"]).projects_list
        emit({
            "listed": [[p.username, p.projectname, sorted(p.yum_repos)] for p in listed],
            "found": [[p.username, p.projectname] for p in found],
        })
        """
    for who in (alice, anonymous):
        result = who.run(script, owner="alice", query="LEGACY")
        assert ["alice", PROJECT, [CHROOT]] in result["listed"]
        assert {owner for owner, _, _ in result["listed"]} == {"alice"}
        assert result["found"] == [["alice", PROJECT]]
    nothing = anonymous.run(script, owner="nobody", query="no such project")
    assert nothing == {"listed": [], "found": []}


def test_refusals_reach_the_client_as_errors(
    alice: Legacy, bob: Legacy, anonymous: Legacy, project: dict[str, Any]
) -> None:
    before = alice.v3().project_proxy.get("alice", PROJECT).description
    helper = """
        def error(call, *args, **kwargs):
            try:
                call(*args, **kwargs)
            except CoprRequestException as exc:
                return str(exc)
            return None
        """
    errors = bob.run(
        helper
        + """
        emit({
            "no-chroot": error(cl.create_project, "other", chroots=("fedora-1-vax",)),
            "modify": error(cl.modify_project, P["project"], "alice", description="x"),
            "build": error(cl.create_new_build, P["project"], ["https://e.org/a.src.rpm"], "alice"),
            "unknown-build": error(cl.get_build_details, 999999),
            "unknown-project": error(cl.get_project_details, "nope", "alice"),
        })
        """,
        project=PROJECT,
    )
    assert errors == {
        "no-chroot": "chroots: unknown chroot(s): fedora-1-vax",
        "modify": "user 'bob' may not change project alice/legacy",
        "build": "user 'bob' may not build in project alice/legacy",
        "unknown-build": "Build 999999 does not exist.",
        "unknown-project": "Project alice/nope does not exist.",
    }
    again = alice.run(
        helper + 'emit(error(cl.create_project, P["project"], chroots=(P["chroot"],)))',
        project=PROJECT,
        chroot=CHROOT,
    )
    assert again == "You already have a project named 'legacy' (alice/legacy)."
    denied = anonymous.run(
        helper + 'emit(error(cl.modify_project, P["project"], "alice", description="x"))',
        project=PROJECT,
    )
    assert denied.startswith("Login invalid/expired.")
    assert alice.v3().project_proxy.get("alice", PROJECT).description == before


def test_delete_project(alice: Legacy, project: dict[str, Any]) -> None:
    result = alice.run(
        """
        cl.create_project("doomed", chroots=(P["chroot"],))
        deleted = cl.delete_project("doomed")
        try:
            cl.get_project_details("doomed")
            after = None
        except CoprRequestException as exc:
            after = str(exc)
        emit({"output": deleted.output, "message": deleted.message, "after": after})
        """,
        chroot=CHROOT,
    )
    assert result == {
        "output": "ok",
        "message": "Project was deleted successfully.",
        "after": "Project alice/doomed does not exist.",
    }
    with pytest.raises(CoprNoResultException):
        alice.v3().project_proxy.get("alice", "doomed")
