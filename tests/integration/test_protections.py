"""Settings that protect a project, through the real clients: ``persistent`` (copr-cli
2.6), ``auto_prune`` (admin-only to turn off) and ``packit_forge_projects_allowed``
(python-copr 2.7, as Packit drives it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from copr.v3 import CoprAuthException

from tests.integration.conftest import Server
from tests.integration.test_builds import make_srpm
from tests.integration.test_python_copr import client_for

pytestmark = pytest.mark.integration

RAWHIDE = "fedora-rawhide-x86_64"
SRPM_URL = "https://example.org/hello-1.0-1.src.rpm"  # never fetched: no builders run


@pytest.fixture(scope="module")
def root(server: Server) -> Path:
    server.coprd("user", "add", "root", "--admin")
    config = server.home / "root.conf"
    config.write_text(server.coprd("token", "root").stdout)
    return config


@pytest.fixture(scope="module")
def alice(server: Server) -> Path:
    return server.add_user_with_project("alice", "demo", RAWHIDE)


def build_id(output: str) -> int:
    match = re.search(r"Created builds: (\d+)", output)
    assert match, output
    return int(match.group(1))


def test_a_persistent_project_and_its_builds_survive_copr_cli(
    server: Server, root: Path, alice: Path
) -> None:
    refused = server.copr_cli(alice, "create", "mine", "--chroot", RAWHIDE, "--persistent")
    assert refused.returncode != 0
    assert "Non-admin cannot create persistent project." in refused.stderr

    created = server.copr_cli(root, "create", "keep", "--chroot", RAWHIDE, "--persistent")
    assert created.returncode == 0, created.stderr
    built = server.copr_cli(root, "build", "--nowait", "keep", SRPM_URL)
    assert built.returncode == 0, built.stderr
    build = build_id(built.stdout)
    canceled = server.copr_cli(root, "cancel", str(build))
    assert canceled.returncode == 0, canceled.stderr

    # Not even a site admin deletes them, as on Copr.
    for who in (root, alice):
        deleted = server.copr_cli(who, "delete", "root/keep")
        assert deleted.returncode != 0
        if who == root:
            assert "This project is protected against deletion." in deleted.stderr
    gone = server.copr_cli(root, "delete-build", str(build))
    assert gone.returncode != 0
    assert f"User 'root' can not delete a persistent build {build}" in gone.stderr

    assert server.copr_cli(root, "get", "root/keep").returncode == 0
    status = server.copr_cli(root, "status", str(build))
    assert (status.returncode, status.stdout.strip()) == (0, "canceled")


def test_only_admins_turn_auto_prune_off(server: Server, root: Path, alice: Path) -> None:
    refused = server.copr_cli(alice, "modify", "demo", "--auto-prune", "off")
    assert refused.returncode != 0
    assert "Non-admin cannot disable auto-prunning." in refused.stderr
    done = server.copr_cli(root, "modify", "alice/demo", "--auto-prune", "off")
    assert done.returncode == 0, done.stderr
    assert client_for(alice).project_proxy.get("alice", "demo").auto_prune is False


def test_packit_builds_only_from_allowed_forge_projects(
    server: Server, alice: Path, tmp_path: Path
) -> None:
    client: Any = client_for(alice)
    client.project_proxy.add(
        "alice",
        "packit",
        [RAWHIDE],
        packit_forge_projects_allowed=["https://github.com/alice/*"],
    )
    assert client.project_proxy.get("alice", "packit").packit_forge_projects_allowed == [
        "github.com/alice/*"
    ]
    outsider = {"packit_forge_project": "github.com/mallory/evil"}
    with pytest.raises(CoprAuthException) as refused:
        client.build_proxy.create_from_url("alice", "packit", SRPM_URL, buildopts=outsider)
    assert str(refused.value) == (
        "Forge project github.com/mallory/evil can't build in this Copr via Packit."
    )
    srpm = make_srpm("greeting.spec", tmp_path)  # as Packit submits: an uploaded SRPM
    with pytest.raises(CoprAuthException, match=r"github\.com/mallory/evil can't build"):
        client.build_proxy.create_from_file("alice", "packit", str(srpm), buildopts=outsider)
    assert client.build_proxy.get_list("alice", "packit") == []

    inside = {"packit_forge_project": "github.com/alice/hello"}
    build = client.build_proxy.create_from_url("alice", "packit", SRPM_URL, buildopts=inside)
    assert build.projectname == "packit"
    uploaded = client.build_proxy.create_from_file("alice", "packit", str(srpm), buildopts=inside)
    assert uploaded.id > build.id
    # Without the option a build is not Packit's and is not asked about.
    assert client.build_proxy.create_from_url("alice", "packit", SRPM_URL).id > uploaded.id
