"""``coprd chroot branch fedora-rawhide fedora-46`` on a real server: a project that
follows Fedora branching gets the new chroot with its rawhide settings and its rawhide
build, copied, signed and indexed, as Copr's ``branch-fedora`` does; one that does not
follow is left alone. Seen through copr-cli 2.6 and python-copr 2.7."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from copr.v3 import CoprNoResultException

from coprd.publish import update_repo
from coprd.publish.signing import Keyring, signer_of
from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_builds import make_srpm
from tests.integration.test_python_copr import client_for
from tests.publish.conftest import primary


def binaries(repo: Path) -> list[tuple[str, str, str]]:
    """The binary packages of a repository's metadata (its SRPMs are listed too)."""
    return [entry for entry in primary(repo) if entry[1] != "src"]


pytestmark = pytest.mark.integration

RAWHIDE = "fedora-rawhide-x86_64"
NEW = "fedora-46-x86_64"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-branching"), builders=1)
    yield srv
    stop_server(srv)


def build(server: Server, config: Path, project: str, srpm: Path) -> int:
    built = server.copr_cli(config, "build", project, str(srpm))  # waits for the end
    assert built.returncode == 0, built.stdout + built.stderr
    assert "succeeded" in built.stdout
    return int(built.stdout.split("Created builds: ")[1].split()[0])


def test_a_following_project_gets_the_new_release_with_its_rawhide_builds(
    server: Server, tmp_path: Path
) -> None:
    alice = server.add_user("alice")
    for name, follow in (("follows", "on"), ("stays", "off")):
        created = server.copr_cli(
            alice, "create", name, "--chroot", RAWHIDE, "--follow-fedora-branching", follow
        )
        assert created.returncode == 0, created.stdout + created.stderr
    edited = server.copr_cli(
        alice, "edit-chroot", f"follows/{RAWHIDE}", "--packages", "make", "--isolation", "simple"
    )
    assert edited.returncode == 0, edited.stdout + edited.stderr
    srpm = make_srpm("greeting.spec", tmp_path)
    followed, stayed = build(server, alice, "follows", srpm), build(server, alice, "stays", srpm)

    branched = server.coprd("chroot", "branch", "fedora-rawhide", "fedora-46")
    lines = branched.stdout.splitlines()
    assert "added chroot fedora-46-x86_64" in lines
    assert "added chroot fedora-46-aarch64" in lines
    assert f"enabled alice/follows {NEW}" in lines
    assert f"forked 1 build(s) into alice/follows {NEW}: {followed}" in lines
    assert "copied the results of 1 build(s)" in lines
    assert "stays" not in branched.stdout

    client = client_for(alice)
    project = client.project_proxy.get("alice", "follows")
    assert sorted(project.chroot_repos) == [NEW, RAWHIDE]
    chroot = client.project_chroot_proxy.get("alice", "follows", NEW)
    assert (chroot.additional_packages, chroot.isolation) == (["make"], "simple")
    task = client.build_chroot_proxy.get(followed, NEW)
    assert task.state == "forked"
    assert task.result_url.endswith(f"/alice/follows/{NEW}/{followed:08d}-greeting/")
    assert client.build_proxy.get(followed).state == "succeeded"
    listed = server.copr_cli(alice, "list-builds", "alice/follows")
    assert listed.stdout.split("\t")[2].strip() == "succeeded", listed.stdout

    # In the new chroot's repository, signed with the project's key.
    repo = server.data_dir / "results" / "alice" / "follows" / NEW
    packages = binaries(repo)
    # The SRPM is copied and indexed too, as in every chroot repository.
    assert [arch for _name, arch, _href in primary(repo)].count("src") == 1
    assert [(name, href.split("/")[0]) for name, _arch, href in packages] == [
        ("greeting", f"{followed:08d}-greeting")
    ]
    key = Keyring(server.data_dir / "signing").key("alice", "follows")
    assert key is not None
    assert signer_of(repo / packages[0][2]) == key.key_id
    shown = server.copr_cli(alice, "get-chroot", f"alice/follows/{NEW}")
    assert shown.returncode == 0, shown.stdout + shown.stderr

    # The project that does not follow branching has no new chroot, and its build none.
    stays = client.project_proxy.get("alice", "stays")
    assert list(stays.chroot_repos) == [RAWHIDE]
    with pytest.raises(CoprNoResultException):
        client.build_chroot_proxy.get(stayed, NEW)
    assert not (server.data_dir / "results" / "alice" / "stays" / NEW).exists()

    # A second run does nothing new.
    again = server.coprd("chroot", "branch", "fedora-rawhide", "fedora-46")
    assert again.stdout == "nothing to do: already branched\n"
    assert binaries(repo) == packages

    # What a run stopped before its copies leaves (the records, no results) is finished
    # by the next run.
    copied = repo / f"{followed:08d}-greeting"
    shutil.rmtree(copied)
    update_repo(repo)
    assert binaries(repo) == []
    finished = server.coprd("chroot", "branch", "fedora-rawhide", "fedora-46")
    assert finished.stdout == "copied the results of 1 build(s)\n"
    assert binaries(repo) == packages
    assert signer_of(repo / packages[0][2]) == key.key_id


def test_copr_s_own_command_name_branches_too(server: Server) -> None:
    """``branch-fedora 47``, as ``copr-frontend branch-fedora 47`` is called."""
    alice = server.home / "alice.conf"
    client = client_for(alice)
    (followed,) = [b.id for b in client.build_proxy.get_list("alice", "follows")]
    branched = server.coprd("chroot", "branch-fedora", "47")
    assert f"forked 1 build(s) into alice/follows fedora-47-x86_64: {followed}" in (
        branched.stdout.splitlines()
    )
    assert client.build_chroot_proxy.get(followed, "fedora-47-x86_64").state == "forked"
    repo = server.data_dir / "results" / "alice" / "follows" / "fedora-47-x86_64"
    assert [name for name, _arch, _href in binaries(repo)] == ["greeting"]
    refused = server.coprd("chroot", "branch-fedora", "fedora-47-x86_64", check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("coprd: error: 'fedora-47-x86_64' is a chroot")
