"""Guessing API tokens against a real ``coprd serve``, as copr-cli authenticates (HTTP
Basic ``login:token``): throttled per login, another account unaffected, and the limit
lifted after the delay."""

from __future__ import annotations

import configparser
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from coprd.db.engine import make_engine
from tests.conftest import age_failures
from tests.integration.conftest import Server, start_server, stop_server

pytestmark = pytest.mark.integration

CHROOT = "fedora-rawhide-x86_64"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("coprd-throttling"))
    yield srv
    stop_server(srv)


def login_of(config: Path) -> str:
    parser = configparser.ConfigParser()
    parser.read(config)
    return parser["copr-cli"]["login"]


def test_guessing_a_token_is_throttled_and_other_accounts_work(server: Server) -> None:
    alice = server.add_user("alice")
    bob = server.add_user("bob")
    guesses = [
        httpx.get(
            f"{server.url}/api_3/auth-check", auth=(login_of(alice), f"guess-{i}"), timeout=30
        )
        for i in range(20)
    ]
    assert [r.status_code for r in guesses] == [401] * 10 + [429] * 10
    refused = guesses[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"].startswith("Too many failed attempts to authenticate")

    # alice's own copr-cli is refused too, says why, and creates nothing; bob's works.
    own = server.copr_cli(alice, "create", "demo", "--chroot", CHROOT)
    assert own.returncode != 0
    assert "Too many failed attempts to authenticate" in own.stderr + own.stdout
    assert httpx.get(f"{server.url}/api_3/project/list?ownername=alice").json()["items"] == []
    theirs = server.copr_cli(bob, "create", "demo", "--chroot", CHROOT)
    assert theirs.returncode == 0, theirs.stderr

    # After the delay (the failures moved a minute into the past), alice gets in again.
    url = server.env.get("COPRD_DATABASE_URL") or f"sqlite:///{server.data_dir / 'coprd.sqlite'}"
    engine = make_engine(url)
    try:
        age_failures(engine, dt.timedelta(seconds=61))
    finally:
        engine.dispose()
    again = server.copr_cli(alice, "create", "demo", "--chroot", CHROOT)
    assert again.returncode == 0, again.stderr
    listed = httpx.get(f"{server.url}/api_3/project/list?ownername=alice").json()["items"]
    assert [p["name"] for p in listed] == ["demo"]
