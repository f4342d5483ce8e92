"""Devel mode end to end with copr-cli 2.6 and python-copr 2.7: a build goes into the
chroot's devel repository, which dnf installs from over HTTP; the repository users
install from gains it only with ``copr-cli regenerate-repos``. And ``can_build_in``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_builds import make_srpm
from tests.integration.test_python_copr import client_for
from tests.publish.conftest import dnf, primary

pytestmark = pytest.mark.integration

# The binary package and its SRPM: a chroot's repository lists both, as on Copr.
GREETING = [("greeting", "noarch"), ("greeting", "src")]

CHROOT = "fedora-rawhide-x86_64"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-devel"), builders=1)
    yield srv
    stop_server(srv)


def repoquery(repo_url: str, root: Path) -> list[str]:
    """Package names dnf sees in the repository at ``repo_url`` (over HTTP)."""
    done = dnf(root, repo_url, "repoquery", "--available", "--qf", "%{name}")
    assert done.returncode == 0, done.stderr
    return sorted(set(done.stdout.split()))


def dnf_install(repo_url: str, root: Path, package: str) -> None:
    done = dnf(root, repo_url, "install", package)
    assert done.returncode == 0, done.stderr


def test_a_devel_build_waits_for_regenerate_repos(server: Server, tmp_path: Path) -> None:
    alice = server.add_user("alice")
    created = server.copr_cli(
        alice, "create", "demo", "--chroot", CHROOT, "--disable_createrepo", "true"
    )
    assert created.returncode == 0, created.stderr
    client = client_for(alice)
    assert client.project_proxy.get("alice", "demo").devel_mode is True

    srpm = make_srpm("greeting.spec", tmp_path / "srpm")
    built = server.copr_cli(alice, "build", "demo", str(srpm))
    assert built.returncode == 0, built.stdout + built.stderr
    build_id = int(built.stdout.split("Created builds: ")[1].split()[0])
    assert f"Build {build_id}: succeeded" in built.stdout

    chroot_dir = server.data_dir / "results" / "alice" / "demo" / CHROOT
    main_url = f"{server.url}/results/alice/demo/{CHROOT}/"
    devel_url = f"{main_url}devel/"
    assert primary(chroot_dir) == []
    assert sorted((n, a) for n, a, _ in primary(chroot_dir / "devel")) == GREETING
    assert repoquery(main_url, tmp_path / "c1") == []
    assert repoquery(devel_url, tmp_path / "c2") == ["greeting"]
    # Over HTTP, dnf fetches the package the devel metadata names from the chroot directory.
    dnf_install(devel_url, tmp_path / "root1", "greeting")
    assert (tmp_path / "root1/usr/share/greeting/hello.txt").is_file()
    # Builds of the project see the devel repository (so a chain of builds works).
    config = client.project_chroot_proxy.get_build_config("alice", "demo", CHROOT)
    assert {r["id"]: r["baseurl"] for r in config["repos"]}["copr_base_devel"] == devel_url

    regenerated = server.copr_cli(alice, "regenerate-repos", "demo")

    assert regenerated.returncode == 0, regenerated.stderr
    assert "alice/demo" in regenerated.stdout
    assert sorted((n, a) for n, a, _ in primary(chroot_dir)) == GREETING
    assert repoquery(main_url, tmp_path / "c3") == ["greeting"]
    dnf_install(main_url, tmp_path / "root2", "greeting")

    # A stranger may not regenerate another's repositories.
    bob = server.add_user("bob")
    refused = server.copr_cli(bob, "regenerate-repos", "alice/demo")
    assert refused.returncode != 0
    assert "bob" in refused.stderr

    # Leaving devel mode publishes as before: the devel repository goes, builds no longer
    # look for it, and what the main one holds stays.
    modified = server.copr_cli(alice, "modify", "demo", "--disable_createrepo", "false")
    assert modified.returncode == 0, modified.stderr
    assert client.project_proxy.get("alice", "demo").devel_mode is False
    assert not (chroot_dir / "devel").exists()
    config = client.project_chroot_proxy.get_build_config("alice", "demo", CHROOT)
    assert [r["id"] for r in config["repos"]] == ["copr_base"]
    assert config["additional_repos"] == []
    assert sorted((n, a) for n, a, _ in primary(chroot_dir)) == GREETING


def test_can_build_in_for_owner_stranger_and_builder(server: Server) -> None:
    owner: Any = client_for(server.add_user("carol"))
    owner.project_proxy.add("carol", "proj", [CHROOT])
    server.add_user("dave")
    server.add_user("erin")
    owner.project_proxy.set_permissions("carol", "proj", {"erin": {"builder": "approved"}})

    assert owner.project_proxy.can_build_in("carol", "carol", "proj") is True
    assert owner.project_proxy.can_build_in("dave", "carol", "proj") is False
    assert owner.project_proxy.can_build_in("erin", "carol", "proj") is True
