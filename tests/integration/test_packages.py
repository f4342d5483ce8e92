"""Packages and webhooks with copr-cli 2.6, unchanged, against a real coprd process.

The server runs no builder agent: builds stay pending, which is all these tests look at
(turning these sources into SRPMs is tested where the builder is).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Server

pytestmark = pytest.mark.integration

RAWHIDE = "fedora-rawhide-x86_64"
SHA = "9e1b2c3d4e5f60718293a4b5c6d7e8f901234567"


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def alice(server: Server) -> Path:
    config = server.add_user("alice")
    ok(server.copr_cli(config, "create", "demo", "--chroot", RAWHIDE, "--chroot", "epel-9-x86_64"))
    return config


def api(server: Server, path: str, **params: Any) -> Any:
    r = httpx.get(f"{server.url}/api_3/{path}", params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def builds_of(server: Server, package: str | None = None) -> list[int]:
    params = {"ownername": "alice", "projectname": "demo"}
    if package:
        params["packagename"] = package
    return [b["id"] for b in api(server, "build/list", **params)["items"]]


def get_package(server: Server, alice: Path, name: str, *flags: str) -> dict[str, Any]:
    out = ok(server.copr_cli(alice, "get-package", "demo", "--name", name, *flags))
    package: dict[str, Any] = json.loads(out)
    return package


def test_add_package_of_every_type(server: Server, alice: Path, tmp_path: Path) -> None:
    ok(
        server.copr_cli(
            alice,
            "add-package-scm",
            "demo",
            "--name",
            "hello",
            "--clone-url",
            "https://github.com/alice/hello.git",
            "--commit",
            "main",
            "--webhook-rebuild",
            "on",
            "--max-builds",
            "5",
            "--timeout",
            "3600",
            "--chroot-denylist",
            "epel-*",
        )
    )
    ok(
        server.copr_cli(
            alice,
            "add-package-pypi",
            "demo",
            "--name",
            "python-foo",
            "--packagename",
            "foo",
            "--packageversion",
            "1.0",
            "--pythonversions",
            "3",
        )
    )
    ok(
        server.copr_cli(
            alice, "add-package-rubygems", "demo", "--name", "rubygem-rake", "--gem", "rake"
        )
    )
    script = tmp_path / "gen.sh"
    script.write_text("#!/bin/sh\necho generating\n")
    ok(
        server.copr_cli(
            alice,
            "add-package-custom",
            "demo",
            "--name",
            "gen",
            "--script",
            str(script),
            "--script-chroot",
            RAWHIDE,
            "--script-builddeps",
            "make gcc",
            "--script-resultdir",
            "out",
        )
    )
    ok(
        server.copr_cli(
            alice,
            "add-package-distgit",
            "demo",
            "--name",
            "bash",
            "--distgit",
            "fedora",
            "--commit",
            "rawhide",
        )
    )
    again = server.copr_cli(
        alice, "add-package-rubygems", "demo", "--name", "rubygem-rake", "--gem", "rake"
    )
    assert again.returncode == 1 and "already exists" in again.stderr

    hello = get_package(server, alice, "hello")
    assert hello["source_type"] == "scm" and hello["auto_rebuild"] is True
    assert hello["source_dict"] == {
        "clone_url": "https://github.com/alice/hello.git",
        "committish": "main",
        "subdirectory": "",
        "spec": "",
        "type": "git",
        "source_build_method": "rpkg",
    }
    assert (hello["latest_build"], hello["latest_succeeded_build"]) == (None, None)
    pypi = get_package(server, alice, "python-foo")["source_dict"]
    assert (pypi["pypi_package_name"], pypi["pypi_package_version"]) == ("foo", "1.0")
    assert pypi["python_versions"] == ["3"]
    assert get_package(server, alice, "rubygem-rake")["source_dict"] == {"gem_name": "rake"}
    custom = get_package(server, alice, "gen")["source_dict"]
    assert custom["script"] == "#!/bin/sh\necho generating\n"
    assert (custom["chroot"], custom["builddeps"], custom["resultdir"]) == (
        RAWHIDE,
        "make gcc",
        "out",
    )
    bash = get_package(server, alice, "bash")["source_dict"]
    assert bash["clone_url"] == "https://src.fedoraproject.org/rpms/bash.git"
    assert bash["committish"] == "rawhide"


def test_edit_list_build_reset_delete(server: Server, alice: Path) -> None:
    ok(
        server.copr_cli(
            alice,
            "edit-package-scm",
            "demo",
            "--name",
            "hello",
            "--clone-url",
            "https://github.com/alice/hello.git",
            "--commit",
            "main",
            "--subdir",
            "pkg",
            "--method",
            "make_srpm",
        )
    )
    hello = get_package(server, alice, "hello")
    assert hello["source_dict"]["subdirectory"] == "pkg"
    assert hello["source_dict"]["source_build_method"] == "make_srpm"
    assert hello["auto_rebuild"] is True  # not given: kept

    out = ok(server.copr_cli(alice, "build-package", "demo", "--name", "hello", "--nowait"))
    build_id = int(re.search(r"Created builds: (\d+)", out).group(1))  # type: ignore[union-attr]
    config = api(server, f"build/source-build-config/{build_id}")
    assert config["source_type"] == "scm"
    assert config["source_dict"] == hello["source_dict"]
    assert config["timeout"] == 3600  # the package's
    assert api(server, f"build/{build_id}")["chroots"] == [RAWHIDE]  # epel-* denied

    listed = json.loads(ok(server.copr_cli(alice, "list-packages", "demo", "--with-latest-build")))
    assert sorted(p["name"] for p in listed) == [
        "bash",
        "gen",
        "hello",
        "python-foo",
        "rubygem-rake",
    ]
    by_name = {p["name"]: p for p in listed}
    assert by_name["hello"]["latest_build"]["id"] == build_id
    assert by_name["hello"]["latest_succeeded_build"] is None
    assert by_name["gen"]["latest_build"] is None
    names = ok(server.copr_cli(alice, "list-package-names", "demo")).split()
    assert sorted(names) == sorted(by_name)
    with_builds = get_package(server, alice, "hello", "--with-latest-build", "--with-all-builds")
    assert [b["id"] for b in with_builds["builds"]] == [build_id]

    ok(server.copr_cli(alice, "reset-package", "demo", "--name", "rubygem-rake"))
    reset = get_package(server, alice, "rubygem-rake")
    assert (reset["source_type"], reset["source_dict"]) == ("unset", {})
    refused = server.copr_cli(alice, "build-package", "demo", "--name", "rubygem-rake", "--nowait")
    assert refused.returncode == 1 and "no default source" in refused.stderr

    out = ok(server.copr_cli(alice, "delete-package", "demo", "--name", "python-foo"))
    assert "python-foo was successfully deleted" in out
    gone = server.copr_cli(alice, "get-package", "demo", "--name", "python-foo")
    assert gone.returncode == 1 and "does not exist" in gone.stderr
    # A package with a build still going is kept, builds and all.
    busy = server.copr_cli(alice, "delete-package", "demo", "--name", "hello")
    assert busy.returncode == 1 and str(build_id) in busy.stderr
    assert builds_of(server, "hello") == [build_id]


def test_others_may_not_change_packages(server: Server, alice: Path) -> None:
    bob = server.add_user("bob")
    refused = server.copr_cli(bob, "reset-package", "alice/demo", "--name", "hello")
    assert refused.returncode == 7  # 403: copr-cli's "Operation requires API authentication"
    assert get_package(server, alice, "hello")["source_type"] == "scm"


def _push(repo: str, ref: str) -> bytes:
    payload = {
        "ref": ref,
        "before": "0" * 40,
        "after": SHA,
        "repository": {"clone_url": f"{repo}.git", "html_url": repo},
        "commits": [{"id": SHA, "added": ["pkg/hello.spec"], "removed": [], "modified": []}],
    }
    return json.dumps(payload).encode()


def _sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_webhooks_build_the_pushed_package_once(server: Server, alice: Path) -> None:
    ok(
        server.copr_cli(
            alice,
            "add-package-scm",
            "demo",
            "--name",
            "widget",
            "--clone-url",
            "https://codeberg.org/alice/widget",
            "--webhook-rebuild",
            "on",
        )
    )
    out = ok(server.copr_cli(alice, "new-webhook-secret", "demo", input="y\n"))
    secret = re.search(r"Generated new token: (\S+)", out).group(1)  # type: ignore[union-attr]
    project_id = api(server, "project", ownername="alice", projectname="demo")["id"]
    before = builds_of(server)

    def post(forge: str, body: bytes, headers: dict[str, str], key: str = secret) -> httpx.Response:
        url = f"{server.url}/webhooks/{forge}/{project_id}/{key}/"
        return httpx.post(url, content=body, headers=headers, timeout=30)

    github = _push("https://github.com/alice/hello", "refs/heads/main")
    event = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
    signed = {**event, "X-Hub-Signature-256": "sha256=" + _sign(secret, github)}
    # Unsigned, wrongly signed, or with a wrong secret in the URL: 403, nothing built.
    assert post("github", github, event).status_code == 403
    wrong = {**event, "X-Hub-Signature-256": "sha256=" + _sign("guess", github)}
    assert post("github", github, wrong).status_code == 403
    assert post("github", github, signed, key="0" * 36).status_code == 403
    assert builds_of(server) == before

    r = post("github", github, signed)
    assert r.status_code == 200, r.text
    [hello_build] = r.json()["builds"]
    assert builds_of(server, "hello")[-1] == hello_build
    config = api(server, f"build/source-build-config/{hello_build}")
    assert config["source_dict"]["committish"] == SHA and config["is_background"] is True

    forgejo = _push("https://codeberg.org/alice/widget", "refs/heads/main")
    event = {"X-Forgejo-Event": "push", "X-Gitea-Event": "push"}
    assert post("forgejo", forgejo, event).status_code == 403
    bad = {**event, "X-Forgejo-Signature": _sign("guess", forgejo)}
    assert post("forgejo", forgejo, bad).status_code == 403
    r = post("forgejo", forgejo, {**event, "X-Forgejo-Signature": _sign(secret, forgejo)})
    assert r.status_code == 200, r.text
    [widget_build] = r.json()["builds"]
    assert builds_of(server, "widget") == [widget_build]
    assert sorted(builds_of(server)) == sorted([*before, hello_build, widget_build])

    # A ping is answered and builds nothing.
    ping = b'{"zen": "Design for failure.", "hook_id": 1}'
    pinged = post(
        "github",
        ping,
        {"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + _sign(secret, ping)},
    )
    assert pinged.status_code == 200 and pinged.json()["builds"] == []
    assert len(builds_of(server)) == len(before) + 2
