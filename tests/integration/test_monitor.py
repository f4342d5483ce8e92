"""``copr-cli monitor`` (2.6) and python-copr's ``MonitorProxy.monitor`` (2.7) against a real
server after real builds: a package that built in both chroots, one that failed in one,
and the log and build URLs the monitor names, fetched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from copr.v3 import CoprNoResultException, CoprRequestException

from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_builds import make_srpm
from tests.integration.test_python_copr import client_for

pytestmark = pytest.mark.integration

RAWHIDE = "fedora-rawhide-x86_64"
F45 = "fedora-45-x86_64"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-monitor"), builders=1)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def built(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """alice/demo with two chroots: greeting built (and succeeded) in both, then failing,
    which fails, in rawhide only. Returns alice's config and the two build ids."""
    alice = server.add_user_with_project("alice", "demo", RAWHIDE, F45)
    ids = {}
    for spec, args, status in (
        ("greeting.spec", (), 0),
        ("failing.spec", ("--chroot", RAWHIDE), 4),  # 4: copr-cli saw the build fail
    ):
        srpm = make_srpm(spec, tmp_path_factory.mktemp("srpm"))
        result = server.copr_cli(alice, "build", "demo", str(srpm), *args)
        assert result.returncode == status, result.stdout + result.stderr
        ids[spec] = int(result.stdout.split("Created builds: ")[1].split()[0])
    return {"config": alice, "greeting": ids["greeting.spec"], "failing": ids["failing.spec"]}


def test_copr_cli_monitor(server: Server, built: dict[str, Any]) -> None:
    fields = "name,chroot,build_id,state,url_build_log,url_build"
    result = server.copr_cli(built["config"], "monitor", "demo", "--fields", fields)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    by_cell = {(row["name"], row["chroot"]): row for row in rows}
    assert sorted(by_cell) == [("failing", RAWHIDE), ("greeting", F45), ("greeting", RAWHIDE)]
    greeting, failing = built["greeting"], built["failing"]
    assert by_cell["greeting", RAWHIDE] == {
        "name": "greeting",
        "chroot": RAWHIDE,
        "build_id": greeting,
        "state": "succeeded",
        "url_build_log": (
            f"{server.url}/results/alice/demo/{RAWHIDE}/{greeting:08d}-greeting/builder-live.log.gz"
        ),
        # copr-cli makes this one itself (it never asks the server for url_build).
        "url_build": f"{server.url}/coprs/build/{greeting}",
    }
    assert by_cell["failing", RAWHIDE]["state"] == "failed"
    assert by_cell["failing", RAWHIDE]["build_id"] == failing

    # The URLs lead somewhere: the (gzipped) log of the build, and the build's page.
    log = httpx.get(by_cell["failing", RAWHIDE]["url_build_log"])
    assert log.status_code == 200 and "error: Bad exit status" in log.text
    page = httpx.get(by_cell["greeting", F45]["url_build"], follow_redirects=True)
    assert page.status_code == 200
    assert page.url.path == f"/coprs/alice/demo/build/{greeting}/"

    # --output-format json says the same; the default fields add pkg_version.
    explicit = server.copr_cli(
        built["config"], "monitor", "demo", "--fields", fields, "--output-format", "json"
    )
    assert json.loads(explicit.stdout) == rows
    default = json.loads(server.copr_cli(built["config"], "monitor", "demo").stdout)
    assert {(r["name"], r["chroot"], r["pkg_version"]) for r in default} == {
        ("failing", RAWHIDE, "1-1"),
        ("greeting", F45, "1.0-1"),
        ("greeting", RAWHIDE, "1.0-1"),
    }
    text = server.copr_cli(
        built["config"],
        "monitor",
        "alice/demo",
        "--fields",
        "name,chroot,state",
        "--output-format",
        "text-row",
    )
    assert f"failing\t{RAWHIDE}\tfailed" in text.stdout.splitlines()


def test_copr_cli_monitor_refusals(server: Server, built: dict[str, Any]) -> None:
    missing = server.copr_cli(built["config"], "monitor", "alice/nope")
    assert missing.returncode == 1 and "Project alice/nope does not exist." in missing.stderr
    no_dir = server.copr_cli(built["config"], "monitor", "demo", "--dirname", "demo:pr:1")
    assert no_dir.returncode == 1
    assert "Dirname 'demo:pr:1' doesn't exist in 'alice/demo' copr" in no_dir.stderr


def test_python_copr_monitor(server: Server, built: dict[str, Any]) -> None:
    client = client_for(built["config"])
    answer = client.monitor_proxy.monitor(
        "alice", "demo", additional_fields=["url_build_log", "url_backend_log"]
    )
    assert answer.output == "ok"
    # python-copr munchifies only the envelope: the packages are plain dicts.
    assert [package["name"] for package in answer.packages] == ["failing", "greeting"]
    failing, greeting = answer.packages
    assert list(failing["chroots"]) == [RAWHIDE]
    cell = failing["chroots"][RAWHIDE]
    assert (cell["build_id"], cell["state"], cell["status"], cell["pkg_version"]) == (
        built["failing"],
        "failed",
        0,
        "1-1",
    )
    assert cell["url_build_log"].endswith(f"/{built['failing']:08d}-failing/builder-live.log.gz")
    assert cell["url_backend_log"].endswith(f"/{built['failing']:08d}-failing/backend.log.gz")
    assert {name: c["status"] for name, c in greeting["chroots"].items()} == {F45: 1, RAWHIDE: 1}
    # Nothing asked, nothing extra.
    plain = client.monitor_proxy.monitor("alice", "demo")
    assert set(plain.packages[1]["chroots"][F45]) == {"state", "status", "build_id", "pkg_version"}
    # The project's own directory by name is the default one.
    named = client.monitor_proxy.monitor("alice", "demo", project_dirname="demo")
    assert named.packages == plain.packages

    with pytest.raises(CoprRequestException, match="Wrong additional_fields argument"):
        client.monitor_proxy.monitor("alice", "demo", additional_fields=["build_url"])
    with pytest.raises(CoprNoResultException, match="doesn't exist in 'alice/demo'"):
        client.monitor_proxy.monitor("alice", "demo", project_dirname="demo:custom:x")


def test_the_monitor_tab_shows_the_same(server: Server, built: dict[str, Any]) -> None:
    page = httpx.get(f"{server.url}/coprs/alice/demo/monitor/", params={"state": "failed"})
    assert page.status_code == 200
    assert f'href="/coprs/alice/demo/build/{built["failing"]}/"' in page.text
    assert "/coprs/alice/demo/package/greeting/" not in page.text
