"""python-copr 1.109, the last release of the legacy client, unchanged, against a real
coprd: what it sends that 1.63 did not (its user name in every form, ``background=y``,
``chroots`` on modify, checkboxes as ``y`` or ``""``) means what it meant on Copr.

The server runs no builder agent: builds stay pending until canceled.
"""

from __future__ import annotations

import configparser
import json
import os
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Server
from tests.integration.copr163 import ensure_copr109, run_copr163

pytestmark = pytest.mark.integration

RAWHIDE = "fedora-rawhide-x86_64"
EPEL = "epel-9-x86_64"
CLIENT = textwrap.dedent(
    """
    import os
    from copr.client import CoprClient
    from copr.exceptions import CoprRequestException

    cl = CoprClient(**json.loads(os.environ["COPRD_LEGACY"]))
    P = json.loads(os.environ["COPRD_PARAMS"])
    """
)


def run(server: Server, config: Path, script: str, **params: Any) -> Any:
    parser = configparser.ConfigParser()
    parser.read(config)
    section = parser["copr-cli"]
    args = {key: section[key] for key in ("username", "login", "token")}
    env = {
        **os.environ,
        "COPRD_LEGACY": json.dumps({**args, "copr_url": server.url}),
        "COPRD_PARAMS": json.dumps(params),
    }
    return run_copr163(ensure_copr109(), CLIENT + textwrap.dedent(script), env)


def v3(server: Server, path: str, **params: Any) -> Any:
    r = httpx.get(f"{server.url}/api_3/{path}", params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_last_legacy_client_end_to_end(server: Server) -> None:
    alice = server.add_user("alice")
    result = run(
        server,
        alice,
        """
        out = {}
        created = cl.create_project(
            None, "late", [P["rawhide"]], unlisted_on_hp=True, enable_net=False,
            use_bootstrap_container=False,
        )
        out["created"] = created.output
        built = cl.create_new_build(
            "late", [P["url"]], chroots=[P["rawhide"]], background=True
        )
        out["build"] = built.builds_list[0].build_id
        modified = cl.modify_project(
            "late", chroots=[P["rawhide"], P["epel"]], enable_net=True, auto_prune=True
        )
        out["modified"] = modified.output
        chroot = cl.modify_project_chroot_details("late", P["epel"], pkgs=["make"])
        out["chroot"] = chroot.buildroot_pkgs
        out["canceled"] = cl.cancel_build(out["build"]).status
        try:
            cl.cancel_build(out["build"])
        except CoprRequestException as exc:
            out["cancel_again"] = str(exc)
        emit(out)
        """,
        rawhide=RAWHIDE,
        epel=EPEL,
        url="https://example.invalid/hello-1-1.src.rpm",
    )
    assert (result["created"], result["modified"]) == ("ok", "ok")
    build = v3(server, f"build/{result['build']}")
    assert build["is_background"] is True
    assert build["chroots"] == [RAWHIDE]
    project = v3(server, "project", ownername="alice", projectname="late")
    assert sorted(project["chroot_repos"]) == [EPEL, RAWHIDE]
    assert (project["unlisted_on_hp"], project["enable_net"]) == (True, True)
    assert project["bootstrap"] == "off"
    assert result["chroot"] == "make"
    assert result["canceled"] == "Build canceled"
    assert "Cannot cancel build" in result["cancel_again"]
    # Deleting also carries the client's user name.
    deleted = run(server, alice, 'emit(cl.delete_project("late").output)')
    assert deleted == "ok"
