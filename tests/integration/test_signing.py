"""Signed repositories end to end: a real server and agent build, dnf's copr plugin
writes the repo file, dnf installs with gpgcheck on, and refuses a stranger's package."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from coprd.publish import update_repo
from coprd.publish.signing import Keyring, signer_of
from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_builds import binary_rpm, make_srpm
from tests.publish.test_signing import verify

pytestmark = pytest.mark.integration

CHROOT = "fedora-41-x86_64"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-signing"), builders=1)
    srv.coprd("chroot", "add", CHROOT)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def alice(server: Server) -> Path:
    return server.add_user_with_project("alice", "demo", CHROOT)


def dnf(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """dnf on the scratch install root ``root`` (its own repo files and rpm database)."""
    cmd = ["dnf", "-y", "--disableplugin=local", f"--installroot={root}", "--releasever=41"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=300)


def enable(server: Server, root: Path, project: str = "alice/demo") -> str:
    """``dnf copr enable --hub`` ``project`` into ``root``; the repo file it wrote."""
    # dnf uses the scratch root's repo directory only if it exists (else the host's).
    (root / "etc" / "yum.repos.d").mkdir(parents=True)
    enabled = dnf(root, "copr", "--hub", server.url, "enable", project, CHROOT)
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    repo_file = f"_copr:127.0.0.1:{project.replace('/', ':')}.repo"
    return (root / "etc" / "yum.repos.d" / repo_file).read_text()


def test_dnf_installs_a_built_package_with_gpgcheck_on(
    server: Server, alice: Path, tmp_path: Path
) -> None:
    srpm = make_srpm("greeting.spec", tmp_path / "srpm")
    built = server.copr_cli(alice, "build", "demo", str(srpm))
    assert built.returncode == 0, built.stdout + built.stderr
    build_id = int(built.stdout.split("Created builds: ")[1].split()[0])
    pubkey = httpx.get(f"{server.url}/results/alice/demo/pubkey.gpg")
    assert pubkey.status_code == 200
    assert pubkey.text.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    # The source step's SRPM is signed too.
    srpms = server.data_dir / "results" / "alice" / "demo" / "srpm-builds" / f"{build_id:08d}"
    checked = verify(next(srpms.glob("*.src.rpm")), pubkey.content, tmp_path)
    assert checked.endswith("digests signatures OK\n")

    root = tmp_path / "root"
    repo_file = enable(server, root)
    assert "gpgcheck=1\n" in repo_file
    assert f"gpgkey={server.url}/results/alice/demo/pubkey.gpg\n" in repo_file
    install = dnf(root, "install", "greeting")
    assert install.returncode == 0, install.stdout + install.stderr
    assert (root / "usr" / "share" / "greeting" / "hello.txt").is_file()
    imported = subprocess.run(
        ["rpm", "--root", str(root), "-q", "gpg-pubkey", "--qf", "%{SUMMARY}\n"],
        capture_output=True,
        text=True,
    )
    assert "alice_demo (None) <alice#demo@copr.127.0.0.1>" in imported.stdout


def test_a_package_signed_with_another_key_is_refused(
    server: Server, alice: Path, tmp_path: Path
) -> None:
    rpm = binary_rpm("prebuilt.spec", tmp_path / "rpmbuild")
    stranger = Keyring(tmp_path / "stranger")
    stranger.sign("mallory", "evil", [rpm])
    # Uploaded through the service, it is published signed with the project's key.
    uploaded = server.copr_cli(alice, "uploadrpm", "demo", str(rpm))
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    build_id = int(uploaded.stdout.split("Created builds: ")[1].split()[0])
    repo = server.data_dir / "results" / "alice" / "demo" / CHROOT
    published = repo / f"{build_id:08d}-prebuilt" / rpm.name
    assert signer_of(published) not in (None, signer_of(rpm))
    root = tmp_path / "root"
    enable(server, root)
    installed = dnf(root, "install", "prebuilt")
    assert installed.returncode == 0, installed.stdout + installed.stderr

    # Put into the repository behind the service's back (a tampered store or mirror),
    # with metadata that matches the file: only its signature is wrong.
    # createrepo_c --update keeps an entry whose file has the same size and mtime in whole
    # seconds: both signatures are the same size, and the copy may land in the second
    # the service wrote its file, so the copy is dated later, as a later tampering is.
    indexed = published.stat().st_mtime
    shutil.copy(rpm, published)
    os.utime(published, (indexed + 2, indexed + 2))
    update_repo(repo)
    fresh = tmp_path / "fresh"
    enable(server, fresh)
    refused = dnf(fresh, "install", "prebuilt")
    assert refused.returncode != 0
    assert "GPG check FAILED" in refused.stderr, refused.stdout + refused.stderr
    assert not (fresh / "usr" / "share" / "prebuilt" / "hello.txt").exists()


def test_a_new_project_gets_its_key_in_the_background_and_loses_it_when_deleted(
    server: Server, alice: Path
) -> None:
    assert server.copr_cli(alice, "create", "later", "--chroot", CHROOT).returncode == 0
    key_file = server.data_dir / "signing" / "alice" / "later" / "key.json"
    pubkey = server.data_dir / "results" / "alice" / "later" / "pubkey.gpg"
    for _ in range(600):  # the key maker is niced and may be busy with other projects
        if key_file.is_file() and pubkey.is_file():
            break
        time.sleep(0.1)
    else:
        pytest.fail("no key was made for the new project")

    assert server.copr_cli(alice, "delete", "later").returncode == 0
    assert not key_file.parent.exists()
    assert httpx.get(f"{server.url}/results/alice/later/pubkey.gpg").status_code == 404
