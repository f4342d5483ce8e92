"""Chain builds end to end: a three-link chain (libfoo → bar, compiled against
libfoo-devel's header and running its script → app, running bar's script), submitted in
the wrong order (one ``copr-cli build`` call), through a webhook push, and through
"rebuild all". Real agents build the links in dependency order; each link's BuildRequires
come from the project's own repository, which the local backend resolves and lays over
/usr; the finished chain installs with dnf over HTTP."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from coprd.builder.buildroot import host_rpmdb, solver_problem
from tests.conftest import passable_dir
from tests.integration.conftest import (
    UNPRIVILEGED_UID,
    Server,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
)
from tests.integration.test_builds import HERE, make_srpm
from tests.integration.test_python_copr import client_for
from tests.publish.conftest import dnf
from tests.sources.servers import FileServer, GitHost, git_host  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(solver_problem() is not None, reason="needs python3-solv"),
]

CHROOT = "fedora-rawhide-x86_64"
LINKS = ("libfoo", "bar", "app")
ENDED = {"succeeded", "failed", "canceled", "skipped"}
SAID = "bar 2.0 built against libfoo 1.0, magic 42"


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # No agent at first: each test queues its builds, then starts one, so the order they
    # are built in is the ordering's alone, not how fast copr-cli submits. A server per
    # test: a stopped agent's pending claim takes the next task for a lease (issue 14).
    srv = start_server(tmp_path_factory.mktemp("coprd-chain"))
    yield srv
    stop_server(srv)


def log_of(server: Server, owner: str, project: str, build_id: int, name: str, log: str) -> str:
    path = server.data_dir / "results" / owner / project / CHROOT / f"{build_id:08d}-{name}"
    found = list(path.glob(f"{log}.log*"))
    assert found, f"no {log}.log in {path}"
    raw = found[0].read_bytes()
    return (gzip.decompress(raw) if found[0].suffix == ".gz" else raw).decode(errors="replace")


def chroot_task(server: Server, build_id: int) -> dict[str, Any]:
    answer = httpx.get(
        f"{server.url}/api_3/build-chroot",
        params={"build_id": build_id, "chrootname": CHROOT},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def built_in_order(server: Server, ids: dict[str, int], timeout_s: float = 300) -> None:
    """Wait for the chain's builds; each succeeded, each link started after the one it
    needs ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tasks = {name: chroot_task(server, i) for name, i in ids.items()}
        if {t["state"] for t in tasks.values()} <= ENDED:
            break
        time.sleep(0.5)
    states = {name: t["state"] for name, t in tasks.items()}
    assert states == dict.fromkeys(ids, "succeeded"), states
    assert tasks["libfoo"]["ended_on"] <= tasks["bar"]["started_on"]
    assert tasks["bar"]["ended_on"] <= tasks["app"]["started_on"]


def check_chain(server: Server, owner: str, project: str, ids: dict[str, int], root: Path) -> None:
    """Each link built against the previous one's published files; all three install."""
    bar_log = log_of(server, owner, project, ids["bar"], "bar", "builder-live")
    assert "[buildroot] installed: libfoo-devel-1.0-1.noarch from copr_base" in bar_log
    assert SAID in bar_log
    app_log = log_of(server, owner, project, ids["app"], "app", "builder-live")
    assert "[buildroot] installed: bar-2.0-1.noarch from copr_base" in app_log
    assert f"app 3.0 saw: {SAID}" in app_log
    root_log = log_of(server, owner, project, ids["app"], "app", "root")
    assert "installed: bar-2.0-1.noarch from copr_base" in root_log

    url = f"{server.url}/results/{owner}/{project}/{CHROOT}/"
    done = dnf(root, url, "install", "app", "libfoo-devel")
    assert done.returncode == 0, done.stderr
    assert (root / "usr/share/app/built-with").read_text() == SAID + "\n"
    assert (root / "usr/bin/bar-info").is_file()
    assert (root / "usr/include/libfoo.h").is_file()


def test_one_copr_cli_call_in_the_wrong_order(server: Server, tmp_path: Path) -> None:
    alice = server.add_user_with_project("alice", "chain", CHROOT)
    srpms = [make_srpm(f"chain-{name}.spec", tmp_path / f"srpm-{name}") for name in LINKS]
    built = server.copr_cli(alice, "build", "--nowait", "chain", *map(str, reversed(srpms)))
    assert built.returncode == 0, built.stdout + built.stderr
    app_id, bar_id, libfoo_id = map(int, built.stdout.split("Created builds: ")[1].split())
    worker = start_worker(server, passable_dir("chain-worker"), concurrency=2)
    try:
        ids = {"libfoo": libfoo_id, "bar": bar_id, "app": app_id}
        built_in_order(server, ids)
    finally:
        stop_worker(worker)
    check_chain(server, "alice", "chain", ids, tmp_path / "root")


def _push(clone_url: str, sha: str) -> bytes:
    changed = [f"{name}/{name}.spec" for name in LINKS]
    payload = {
        "ref": "refs/heads/main",
        "after": sha,
        "repository": {"clone_url": clone_url, "html_url": clone_url.removesuffix(".git")},
        "commits": [{"id": sha, "added": [], "removed": [], "modified": changed}],
    }
    return json.dumps(payload).encode()


def test_a_webhook_push_and_rebuild_all(
    server: Server,
    git_host: GitHost,  # noqa: F811
    tmp_path: Path,
) -> None:
    """One repository holds the three specs in subdirectories, one package each, as a
    monorepo does; a push rebuilds all three, then "rebuild all" does it again. The agent
    runs unprivileged here (the overlay in a user namespace of its own)."""
    bob = server.add_user_with_project("bob", "mono", CHROOT)
    files = {
        f"{name}/{name}.spec": (HERE / "data" / f"chain-{name}.spec").read_text() for name in LINKS
    }
    repo = git_host.create("bob/mono", files)
    for name in reversed(LINKS):
        added = server.copr_cli(
            bob,
            "add-package-scm",
            "mono",
            "--name",
            name,
            "--clone-url",
            repo.url,
            "--subdir",
            name,
            "--spec",
            f"{name}.spec",
            "--webhook-rebuild",
            "on",
        )
        assert added.returncode == 0, added.stdout + added.stderr
    secret_out = server.copr_cli(bob, "new-webhook-secret", "mono", input="y\n").stdout
    secret = re.search(r"Generated new token: (\S+)", secret_out).group(1)  # type: ignore[union-attr]
    project = client_for(bob).project_proxy.get("bob", "mono")
    body = _push(repo.url, repo.commit)
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    pushed = httpx.post(
        f"{server.url}/webhooks/github/{project.id}/{secret}/",
        content=body,
        headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": signature},
        timeout=30,
    )
    assert pushed.status_code == 200, pushed.text
    assert len(pushed.json()["builds"]) == 3
    names = {
        b: httpx.get(f"{server.url}/api_3/build/{b}", timeout=10).json()["source_package"]["name"]
        for b in pushed.json()["builds"]
    }

    home = passable_dir("chain-unprivileged-worker")
    # Not test_escapes' uid: the two modules may run at once, and limits count per uid.
    worker = start_worker(server, home, uid=UNPRIVILEGED_UID + 13)
    try:
        # Source packages' names are known once their source step ran.
        deadline = time.monotonic() + 120
        while None in names.values() and time.monotonic() < deadline:
            time.sleep(0.5)
            names = {
                b: httpx.get(f"{server.url}/api_3/build/{b}", timeout=10).json()["source_package"][
                    "name"
                ]
                for b in names
            }
        ids = {name: b for b, name in names.items()}
        built_in_order(server, ids)
        check_chain(server, "bob", "mono", ids, tmp_path / "root1")

        # Rebuild all: the same chain again, in dependency order, at background priority.
        login = client_for(bob).config
        again = httpx.post(
            f"{server.url}/api_3/package/rebuild-all",
            json={"ownername": "bob", "projectname": "mono"},
            auth=(login["login"], login["token"]),
            timeout=30,
        )
        assert again.status_code == 200, again.text
        rebuilt = {b["source_package"]["name"]: b["id"] for b in again.json()["items"]}
        assert sorted(rebuilt) == sorted(LINKS)
        assert {b["is_background"] for b in again.json()["items"]} == {True}
        built_in_order(server, rebuilt)
        check_chain(server, "bob", "mono", rebuilt, tmp_path / "root2")
    finally:
        stop_worker(worker)
    if host_rpmdb() is None:
        log = (home / "worker.log").read_text(errors="replace")
        assert "Traceback" not in log


def test_a_buildrequire_from_the_projects_additional_repository(
    server: Server, tmp_path: Path
) -> None:
    """libfoo is not built here: the project names a repository elsewhere that has it
    (``?priority=`` as on Copr), and bar's buildroot installs it from there, fetched from
    inside the build's sandbox."""
    outside = FileServer(tmp_path / "www")
    try:
        repo = outside.root / "libs" / CHROOT
        repo.mkdir(parents=True)
        libfoo = make_srpm("chain-libfoo.spec", tmp_path / "srpm-libfoo")
        subprocess.run(
            ["rpmbuild", "--rebuild", "--define", f"_topdir {tmp_path / 'top'}", str(libfoo)],
            check=True,
            capture_output=True,
        )
        for rpm in (tmp_path / "top/RPMS").rglob("*.rpm"):
            shutil.copy(rpm, repo)
        subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
        carol = server.add_user("carol")
        created = server.copr_cli(
            carol,
            "create",
            "extra",
            "--chroot",
            CHROOT,
            "--repo",
            f"{outside.url}/libs/$chroot/?priority=10",
        )
        assert created.returncode == 0, created.stdout + created.stderr
        bar = make_srpm("chain-bar.spec", tmp_path / "srpm-bar")
        built = server.copr_cli(carol, "build", "--nowait", "extra", str(bar))
        assert built.returncode == 0, built.stdout + built.stderr
        [bar_id] = map(int, built.stdout.split("Created builds: ")[1].split())
        worker = start_worker(server, passable_dir("chain-extra-worker"), concurrency=1)
        try:
            deadline = time.monotonic() + 120
            while chroot_task(server, bar_id)["state"] not in ENDED:
                assert time.monotonic() < deadline
                time.sleep(0.5)
        finally:
            stop_worker(worker)
        log = log_of(server, "carol", "extra", bar_id, "bar", "builder-live")
        assert chroot_task(server, bar_id)["state"] == "succeeded", log
        ident = re.sub("[^A-Za-z0-9]+", "_", f"{outside.url}/libs/$chroot/?priority=10").strip("_")
        assert f"[buildroot] installed: libfoo-devel-1.0-1.noarch from {ident}" in log
        assert f"{outside.url}/libs/{CHROOT}/ (priority 10, fetched in the sandbox)" in (
            log_of(server, "carol", "extra", bar_id, "bar", "root")
        )
        assert SAID in log
    finally:
        outside.close()
