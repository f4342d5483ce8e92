"""``copr-cli fork`` end to end: a real server and agent build, another user forks the
project, the fork's repository serves the builds signed with the fork's own key, and a
copy a stopped server had not finished is finished at its next start."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coprd.publish import update_repo
from coprd.publish.signing import Keyring, signer_of
from tests.integration.conftest import Server, restart_server, start_server, stop_server
from tests.integration.test_builds import binary_rpm, make_srpm
from tests.integration.test_signing import dnf, enable
from tests.publish.conftest import primary

pytestmark = pytest.mark.integration

CHROOT = "fedora-41-x86_64"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-forks"), builders=1)
    srv.coprd("chroot", "add", CHROOT)
    yield srv
    stop_server(srv)


def build_id(done: str) -> int:
    return int(done.split("Created builds: ")[1].split()[0])


def wait_for_packages(
    repo: Path, names: set[str], directory: str = ""
) -> list[tuple[str, str, str]]:
    """The repository's packages once it lists ``names`` (from the build ``directory``,
    if given): the fork copies in the background. Fails after a minute."""
    for _ in range(600):
        if (repo / "repodata" / "repomd.xml").is_file():
            listed = primary(repo)
            found = {name for name, _arch, href in listed if href.startswith(directory)}
            if names <= found:
                return listed
        time.sleep(0.1)
    pytest.fail(f"{repo} never listed {sorted(names)} from {directory or 'any build'}")


def test_a_fork_serves_the_builds_signed_with_its_own_key(server: Server, tmp_path: Path) -> None:
    alice, bob = server.add_user("alice"), server.add_user("bob")
    assert server.copr_cli(alice, "create", "demo", "--chroot", CHROOT).returncode == 0
    built = server.copr_cli(alice, "build", "demo", str(make_srpm("greeting.spec", tmp_path)))
    assert built.returncode == 0, built.stdout + built.stderr
    rpm = binary_rpm("prebuilt.spec", tmp_path / "rpmbuild")
    uploaded = server.copr_cli(alice, "uploadrpm", "demo", str(rpm))
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    originals = {build_id(built.stdout), build_id(uploaded.stdout)}

    forked = server.copr_cli(bob, "fork", "alice/demo", "mine")
    assert forked.returncode == 0, forked.stdout + forked.stderr
    assert "Forking project alice/demo for you into bob/mine." in forked.stdout

    results = server.data_dir / "results" / "bob" / "mine"
    listed = wait_for_packages(results / CHROOT, {"greeting", "prebuilt"})
    listing = server.copr_cli(bob, "list-builds", "bob/mine")
    rows = [line.split("\t") for line in listing.stdout.splitlines()]
    assert sorted(state for _id, _name, state in rows) == ["forked", "forked"]
    assert not originals & {int(build) for build, _name, _state in rows}

    keys = Keyring(server.data_dir / "signing")
    ours, theirs = keys.key("bob", "mine"), keys.key("alice", "demo")
    assert ours is not None and theirs is not None and ours != theirs
    packages = [results / CHROOT / href for _name, _arch, href in listed]
    packages += list((results / "srpm-builds").glob("*/*.src.rpm"))
    # greeting's RPM and SRPM in the chroot's repodata, prebuilt's RPM, the source step's SRPM.
    assert len(packages) == 4
    assert {signer_of(package) for package in packages} == {ours.key_id}
    assert (results / "pubkey.gpg").read_bytes() == keys.public_key("bob", "mine")

    root = tmp_path / "root"
    assert "gpgcheck=1\n" in enable(server, root, "bob/mine")
    installed = dnf(root, "install", "greeting", "prebuilt")
    assert installed.returncode == 0, installed.stdout + installed.stderr

    again = server.copr_cli(bob, "fork", "alice/demo", "mine")
    assert again.returncode == 1
    assert "--confirm" in again.stderr
    confirmed = server.copr_cli(bob, "fork", "alice/demo", "mine", "--confirm")
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    assert "Updating packages in bob/mine from alice/demo." in confirmed.stdout


def test_a_copy_the_server_had_not_finished_is_finished_at_its_next_start(
    server: Server,
) -> None:
    results = server.data_dir / "results" / "bob" / "mine"
    repo = results / CHROOT
    newest = max(repo.glob("0*-greeting"))  # the --confirm fork's copy
    wait_for_packages(repo, {"greeting"}, f"{newest.name}/")
    server.process.terminate()
    server.process.wait(timeout=30)
    # What a server stopped before the copier reached this build leaves: no directory.
    for leftover in newest.iterdir():
        leftover.unlink()
    newest.rmdir()
    update_repo(repo)
    assert not any(href.startswith(f"{newest.name}/") for _n, _a, href in primary(repo))
    restarted = restart_server(server, builders=1)
    try:
        wait_for_packages(repo, {"greeting"}, f"{newest.name}/")
    finally:
        server.process = restarted.process
