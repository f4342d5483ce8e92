"""The new-project form: shown to logged-in users for themselves and their groups, creating
through the core, and showing the core's refusals next to the form."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import groups, users
from coprd.db.engine import write_session
from tests.conftest import Account, snapshot
from tests.web_ui.conftest import CHROOTS, RAWHIDE, Login, csrf_of, make_project, post_form

JSON = {"accept": "application/json"}
ADD = "/coprs/alice/add/"


def _project(web: TestClient, owner: str, name: str) -> dict[str, object]:
    r = web.get("/api_3/project", params={"ownername": owner, "projectname": name}, headers=JSON)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_form_is_linked_and_creates_the_project(
    web: TestClient, alice: Account, login: Login
) -> None:
    login(web, alice)
    assert f'href="{ADD}"' in web.get("/").text
    assert f'href="{ADD}"' in web.get("/coprs/alice/").text
    page = web.get(ADD)
    assert page.status_code == 200
    for chroot in CHROOTS:
        assert f'value="{chroot}"' in page.text
    # The core's defaults are what the form starts with.
    assert 'name="follow_fedora_branching" value="y" checked' in page.text
    assert 'name="enable_net" value="y">' in page.text

    r = post_form(
        web,
        ADD,
        ADD,
        name="tools",
        description="# Tools\n\nFor **work**.",
        instructions="dnf install tools",
        homepage="https://example.com/tools",
        contact="alice@example.com",
        chroots=CHROOTS,
        additional_repos="https://example.com/repo\ncopr://bob/base",
        enable_net="y",
        unlisted_on_hp="y",
        bootstrap="off",
        isolation="simple",
        repo_priority="20",
        delete_after_days="",
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/coprs/alice/tools/"
    assert "Project alice/tools is created." in web.get("/coprs/alice/tools/").text
    made = _project(web, "alice", "tools")
    assert made["description"] == "# Tools\n\nFor **work**."
    assert made["instructions"] == "dnf install tools"
    assert made["homepage"] == "https://example.com/tools"
    assert made["contact"] == "alice@example.com"
    assert sorted(made["chroot_repos"]) == sorted(CHROOTS)  # type: ignore[call-overload]
    assert made["additional_repos"] == ["https://example.com/repo", "copr://bob/base"]
    assert made["enable_net"] is True and made["unlisted_on_hp"] is True
    assert made["follow_fedora_branching"] is False  # unchecked: off
    assert made["bootstrap"] == "off" and made["isolation"] == "simple"
    assert made["repo_priority"] == 20


def test_a_group_project(
    web: TestClient,
    alice: Account,
    bob: Account,
    login: Login,
    session_factory: sessionmaker[Session],
) -> None:
    with write_session(session_factory) as session:
        devs = groups.create_group(session, "devs")
        groups.add_member(session, devs, users.get_user(session, "alice"))
    login(web, alice)
    assert 'href="/coprs/g/devs/add/"' in web.get(ADD).text
    assert 'href="/coprs/g/devs/add/"' in web.get("/coprs/g/devs/").text
    r = post_form(web, "/coprs/g/devs/add/", "/coprs/g/devs/add/", name="team", chroots=RAWHIDE)
    assert r.status_code == 303 and r.headers["location"] == "/coprs/g/devs/team/"
    assert _project(web, "@devs", "team")["full_name"] == "@devs/team"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "../etc", "chroots": RAWHIDE}, "project name"),
        ({"name": "ok", "chroots": "fedora-1-x86_64"}, "unknown chroot(s): fedora-1-x86_64"),
        ({"name": "ok"}, "select at least one chroot"),
        ({"name": "", "chroots": RAWHIDE}, "project name must not be empty"),
        ({"name": "ok", "chroots": RAWHIDE, "repo_priority": "high"}, "repo_priority"),
        (
            {"name": "ok", "chroots": RAWHIDE, "additional_repos": "file:///etc"},
            "not a repository URL",
        ),
        ({"name": "ok", "chroots": RAWHIDE, "bootstrap": "image"}, "needs a bootstrap_image"),
    ],
)
def test_bad_input_shows_the_cores_message_and_changes_nothing(
    web: TestClient,
    engine: Engine,
    alice: Account,
    login: Login,
    fields: dict[str, str],
    message: str,
) -> None:
    login(web, alice)
    before = snapshot(engine)
    r = post_form(web, ADD, ADD, description="kept <b>text</b>", **fields)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert message in r.text.replace("&#39;", "'")
    assert 'id="form-error"' in r.text
    assert "kept &lt;b&gt;text&lt;/b&gt;" in r.text  # the form keeps what was typed
    assert snapshot(engine) == before


def test_an_existing_name_is_a_conflict(web: TestClient, alice: Account, login: Login) -> None:
    make_project(web, alice, "demo")
    login(web, alice)
    r = post_form(web, ADD, ADD, name="demo", chroots=RAWHIDE)
    assert r.status_code == 409
    assert "already have a project named" in r.text


def test_others_and_strangers_are_refused(
    web: TestClient, engine: Engine, alice: Account, bob: Account, login: Login
) -> None:
    # Anonymous: asked to log in.
    assert web.get(ADD).status_code == 401
    login(web, bob)
    before = snapshot(engine)
    # Bob may not create projects for Alice, nor for a group he is not in.
    r = post_form(web, "/coprs/bob/add/", ADD, name="x", chroots=RAWHIDE)
    assert r.status_code == 403
    assert snapshot(engine) == before
    assert web.get("/coprs/g/nobody/add/").status_code == 404
    assert 'href="/coprs/alice/add/"' not in web.get("/coprs/alice/").text


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_without_the_csrf_token_nothing_is_created(
    web: TestClient, engine: Engine, alice: Account, login: Login, token: str | None
) -> None:
    login(web, alice)
    before = snapshot(engine)
    data = {"name": "x", "chroots": RAWHIDE}
    if token is not None:
        data["csrf_token"] = token
    r = web.post(ADD, data=data, follow_redirects=False)
    assert r.status_code == 403
    assert snapshot(engine) == before


def test_a_project_named_add_keeps_its_page(web: TestClient, alice: Account, login: Login) -> None:
    make_project(web, alice, "add")
    login(web, alice)
    page = web.get(ADD)
    assert page.status_code == 200
    assert "dnf copr --hub http://coprd.test enable alice/add" in page.text
    assert csrf_of(page.text)
