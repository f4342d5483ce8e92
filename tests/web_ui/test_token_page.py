"""The API token page at /api: the [copr-cli] block, made on request, that the clients use."""

from __future__ import annotations

import base64
import configparser
import datetime as dt
import html
import re
from dataclasses import replace

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from coprd.app import create_app
from coprd.config import Settings
from tests.conftest import Account
from tests.web_ui.conftest import BROWSER_ACCEPT, Login, post_form

_CONFIG = re.compile(r'<pre class="config" id="copr-config">(.*?)</pre>', re.S)


def _block(page: str) -> str:
    found = _CONFIG.search(page)
    assert found, "no [copr-cli] block on the page"
    return html.unescape(found.group(1))


def test_logged_out_the_page_says_to_log_in(web: TestClient) -> None:
    for path in ("/api", "/api/"):
        r = web.get(path)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert 'href="/login?next=/api"' in r.text
        assert "Generate" not in r.text


def test_clients_keep_the_json(client: TestClient) -> None:
    for accept in (None, "application/json", "*/*"):
        headers = {"accept": accept} if accept else {}
        r = client.get("/api/", headers=headers)
        assert r.status_code == 200
        assert r.json()["token_command"] == "coprd token NAME"
        assert r.json()["copr_url"] == "http://coprd.test"


def test_generate_a_token_that_copr_clients_can_use(
    web: TestClient, alice: Account, login: Login
) -> None:
    login(web, alice)
    page = web.get("/api")
    assert "Generate a new API token" in page.text
    assert "copr-config" not in page.text

    r = post_form(web, "/api", "/account/api-token")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert "cannot show it" in r.text  # the secret is shown once
    block = _block(r.text)
    lines = block.splitlines()
    assert lines[0] == "[copr-cli]"
    config = configparser.ConfigParser()
    config.read_string(block)
    section = config["copr-cli"]
    assert section["username"] == "alice"
    assert section["copr_url"] == "http://coprd.test"
    assert section["encrypted"] == "False"
    expires = dt.date.today() + dt.timedelta(days=180)
    assert lines[-1] in {
        f"# expiration date: {(expires + dt.timedelta(days=d)).isoformat()}" for d in (-1, 0, 1)
    }

    pair = f"{section['login']}:{section['token']}".encode()
    auth = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    who = web.get("/api_3/auth-check", headers=auth)
    assert who.status_code == 200 and who.json()["name"] == "alice"

    # Shown once: the page lists the token by its login, never its secret again.
    later = web.get("/api").text
    assert section["login"] in later and section["token"] not in later
    # The older token keeps working.
    assert web.get("/api_3/auth-check", headers=alice.headers).status_code == 200


def test_no_encrypted_line_behind_https(
    settings: Settings, engine: Engine, alice: Account, login: Login
) -> None:
    app = create_app(replace(settings, url="https://copr.example"), engine)
    web = TestClient(app, base_url="https://copr.example", headers={"accept": BROWSER_ACCEPT})
    login(web, alice)
    block = _block(post_form(web, "/api", "/account/api-token").text)
    assert "copr_url = https://copr.example" in block
    assert "encrypted" not in block


def test_generating_needs_a_login(web: TestClient, alice: Account) -> None:
    r = post_form(web, "/login", "/account/api-token")
    assert r.status_code == 401
