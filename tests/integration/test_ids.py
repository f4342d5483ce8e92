"""A build, project or package id names one thing for good: after the newest one is
deleted, the next one gets a new id (copr-cli 2.6, unchanged, on either database).

The server runs no builder agent: builds stay pending until canceled.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Server

pytestmark = pytest.mark.integration

RAWHIDE = "fedora-rawhide-x86_64"
SRPM_URL = "https://example.invalid/hello-1-1.src.rpm"


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def alice(server: Server) -> Path:
    return server.add_user_with_project("alice", "demo", RAWHIDE)


def submit(server: Server, alice: Path) -> int:
    out = ok(server.copr_cli(alice, "build", "--nowait", "demo", SRPM_URL))
    return int(out.split("Created builds: ")[1].split()[0])


def test_a_deleted_builds_id_is_not_given_again(server: Server, alice: Path) -> None:
    first = submit(server, alice)
    newest = submit(server, alice)
    ok(server.copr_cli(alice, "cancel", str(newest)))
    out = ok(server.copr_cli(alice, "delete-build", str(newest)))
    assert f"Build(s) {newest} were deleted." in out
    assert server.copr_cli(alice, "status", str(newest)).returncode == 1
    again = submit(server, alice)
    assert again > newest > first
    # The deleted id still names nothing.
    assert server.copr_cli(alice, "status", str(newest)).returncode == 1


def project_id(server: Server, name: str) -> int:
    r = httpx.get(f"{server.url}/api_3/project", params={"ownername": "alice", "projectname": name})
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


def test_a_deleted_projects_id_is_not_given_again(server: Server, alice: Path) -> None:
    ok(server.copr_cli(alice, "create", "short-lived", "--chroot", RAWHIDE))
    gone = project_id(server, "short-lived")
    ok(server.copr_cli(alice, "delete", "short-lived"))
    ok(server.copr_cli(alice, "create", "short-lived", "--chroot", RAWHIDE))
    assert project_id(server, "short-lived") > gone


def test_a_deleted_packages_id_is_not_given_again(server: Server, alice: Path) -> None:
    def add_and_get() -> int:
        ok(
            server.copr_cli(
                alice, "add-package-pypi", "demo", "--name", "python-x", "--packagename", "x"
            )
        )
        out = ok(server.copr_cli(alice, "get-package", "demo", "--name", "python-x"))
        return int(json.loads(out)["id"])

    gone = add_and_get()
    ok(server.copr_cli(alice, "delete-package", "demo", "--name", "python-x"))
    assert add_and_get() > gone
