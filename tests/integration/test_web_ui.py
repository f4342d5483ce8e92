"""The web UI against a real ``coprd serve``: log in, get a token from /api, and use it
with the real copr-cli."""

from __future__ import annotations

import html
import re
import stat
import subprocess

import httpx
import pytest

from coprd.web.pages.sessions import KEY_FILE
from tests.integration.conftest import BIN, Server

pytestmark = pytest.mark.integration

PASSWORD = "a web password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_CONFIG = re.compile(r'<pre class="config" id="copr-config">(.*?)</pre>', re.S)


def _csrf(page: str) -> str:
    found = _CSRF.search(page)
    assert found, page
    return html.unescape(found.group(1))


def test_log_in_get_a_token_and_use_it_with_copr_cli(server: Server) -> None:
    subprocess.run(
        [str(BIN / "coprd"), "user", "add", "carol", "--password-stdin"],
        env=server.env,
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )
    browser = httpx.Client(base_url=server.url, headers={"accept": "text/html"}, timeout=30)
    home = browser.get("/")
    assert home.status_code == 200 and 'href="/api"' in home.text
    assert httpx.get(f"{server.url}/").json()["service"] == "coprd"

    token = _csrf(browser.get("/login").text)
    wrong = browser.post(
        "/login", data={"username": "carol", "password": "nope", "csrf_token": token}
    )
    assert wrong.status_code == 401
    r = browser.post(
        "/login",
        data={"username": "carol", "password": PASSWORD, "csrf_token": token, "next": "/api"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/api"
    page = browser.get("/api")
    assert "Generate a new API token" in page.text

    made = browser.post("/account/api-token", data={"csrf_token": _csrf(page.text)})
    assert made.status_code == 200
    found = _CONFIG.search(made.text)
    assert found
    config = server.home / "carol.conf"
    config.write_text(html.unescape(found.group(1)))

    whoami = server.copr_cli(config, "whoami")
    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout.strip() == "carol"
    created = server.copr_cli(config, "create", "demo", "--chroot", "fedora-rawhide-x86_64")
    assert created.returncode == 0, created.stderr
    # The URL copr-cli prints for the new project is its page.
    printed = re.search(r"https?://\S+/coprs/carol/demo/", created.stdout)
    assert printed, created.stdout
    project = browser.get(printed.group(0).replace(server.url, ""))
    assert project.status_code == 200
    assert f"dnf copr --hub {server.url} enable carol/demo" in project.text

    key = server.data_dir / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    logout = browser.post("/logout", data={"csrf_token": _csrf(project.text)})
    assert logout.status_code == 303
    assert browser.get("/account").status_code == 303
