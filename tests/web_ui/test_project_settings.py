"""A project's settings: fields and chroots, a chroot's buildroot, webhooks, deletion —
for those who may edit, through the core, with its refusals shown next to the form."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import Account, snapshot
from tests.web_ui.conftest import CHROOTS, RAWHIDE, Login, csrf_of, make_project, post_form

JSON = {"accept": "application/json"}
BASE = "/coprs/alice/demo/"
EDIT = BASE + "edit/"
CHROOT = f"{BASE}edit_chroot/{RAWHIDE}/"
EPEL = "epel-9-x86_64"


def _project(web: TestClient) -> dict[str, Any]:
    r = web.get("/api_3/project", params={"ownername": "alice", "projectname": "demo"})
    return dict(r.json())


def _chroot(web: TestClient, chroot: str = RAWHIDE) -> dict[str, Any]:
    r = web.get(
        "/api_3/project-chroot",
        params={"ownername": "alice", "projectname": "demo", "chrootname": chroot},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture
def demo(web: TestClient, alice: Account, login: Login) -> None:
    make_project(
        web,
        alice,
        description="old",
        homepage="https://example.com/old",
        follow_fedora_branching=True,
        repo_priority=10,
    )
    login(web, alice)


def test_the_form_shows_the_project_as_it_is(web: TestClient, demo: None) -> None:
    assert f'href="{EDIT}"' in web.get(BASE).text
    page = web.get(EDIT)
    assert page.status_code == 200
    text = page.text
    assert ">old</textarea>" in text and 'value="https://example.com/old"' in text
    for chroot in CHROOTS:
        assert f'name="chroots" value="{chroot}" checked' in text
    assert f'name="chroots" value="{EPEL}">' in text  # offered, not enabled
    assert 'name="follow_fedora_branching" value="y" checked' in text
    assert 'name="repo_priority" inputmode="numeric" value="10"' in text
    for link in (CHROOT, BASE + "integrations/", BASE + "delete/"):
        assert f'href="{link}"' in text


def test_unsupported_settings_are_shown_as_such_and_not_offered(
    web: TestClient, demo: None
) -> None:
    text = web.get(EDIT).text
    for name in ("appstream", "fedora_review"):
        assert f"{name}: not supported by this server (" in text
        assert f'name="{name}"' not in text
    # The form has no such field: one sent anyway is not read.
    r = post_form(web, EDIT, EDIT, chroots=RAWHIDE, fedora_review="y")
    assert r.status_code == 303
    assert _project(web)["fedora_review"] is False


def test_saving_changes_every_field_and_the_chroots(web: TestClient, demo: None) -> None:
    r = post_form(
        web,
        EDIT,
        EDIT,
        description="new *text*",
        instructions="how",
        homepage="",
        contact="bob@example.com",
        chroots=[RAWHIDE, EPEL],
        additional_repos="https://example.com/r1 https://example.com/r2",
        runtime_dependencies="copr://bob/base",
        enable_net="y",
        multilib="y",
        bootstrap="image",
        bootstrap_image="fedora:41",
        isolation="nspawn",
        repo_priority="5",
        delete_after_days="30",
    )
    assert r.status_code == 303 and r.headers["location"] == EDIT
    assert "settings are saved" in web.get(EDIT).text
    got = _project(web)
    assert got["description"] == "new *text*" and got["instructions"] == "how"
    assert got["homepage"] == "" or got["homepage"] is None
    assert got["contact"] == "bob@example.com"
    assert sorted(got["chroot_repos"]) == sorted([RAWHIDE, EPEL])
    assert got["additional_repos"] == ["https://example.com/r1", "https://example.com/r2"]
    assert got["runtime_dependencies"] == ["copr://bob/base"]
    assert got["enable_net"] is True and got["multilib"] is True
    assert got["follow_fedora_branching"] is False  # unchecked
    assert got["bootstrap"] == "image" and got["bootstrap_image"] == "fedora:41"
    assert got["isolation"] == "nspawn" and got["repo_priority"] == 5
    assert got["delete_after_days"] == 30


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"chroots": "fedora-1-x86_64"}, "unknown chroot(s): fedora-1-x86_64"),
        ({}, "a project needs at least one chroot"),
        ({"chroots": RAWHIDE, "repo_priority": "top"}, "repo_priority"),
        ({"chroots": RAWHIDE, "delete_after_days": "9999"}, "delete_after_days"),
        ({"chroots": RAWHIDE, "additional_repos": "../../etc"}, "not a repository URL"),
        ({"chroots": RAWHIDE, "bootstrap": "image"}, "needs a bootstrap_image"),
    ],
)
def test_bad_settings_show_the_cores_message_and_change_nothing(
    web: TestClient, engine: Engine, demo: None, fields: dict[str, str], message: str
) -> None:
    before = snapshot(engine)
    r = post_form(web, EDIT, EDIT, description="changed", **fields)
    assert r.status_code == 400, r.text
    assert message in r.text.replace("&#39;", "'")
    assert ">changed</textarea>" in r.text
    assert snapshot(engine) == before


def test_a_chroots_buildroot(web: TestClient, demo: None) -> None:
    page = web.get(CHROOT)
    assert page.status_code == 200 and f"Chroot {RAWHIDE}" in page.text
    r = post_form(
        web,
        CHROOT,
        CHROOT,
        additional_packages="gcc make",
        additional_repos="https://example.com/extra",
        additional_modules="nodejs:20",
        with_opts="tests",
        without_opts="docs",
        bootstrap="off",
        isolation="simple",
        bootstrap_image="",
        timeout="7200",
    )
    assert r.status_code == 303 and r.headers["location"] == CHROOT
    got = _chroot(web)
    assert got["additional_packages"] == ["gcc", "make"]
    assert got["additional_repos"] == ["https://example.com/extra"]
    assert got["additional_modules"] == ["nodejs:20"]
    assert got["with_opts"] == ["tests"] and got["without_opts"] == ["docs"]
    assert got["bootstrap"] == "off" and got["isolation"] == "simple"
    assert 'value="7200"' in web.get(CHROOT).text
    # Emptied fields are reset.
    r = post_form(web, CHROOT, CHROOT, bootstrap="unchanged", isolation="unchanged")
    got = _chroot(web)
    assert got["additional_packages"] == [] and got["bootstrap"] == "unchanged"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timeout": "-5"}, "timeout"),
        ({"timeout": "long"}, "timeout"),
        ({"additional_repos": "file:///etc"}, "not a repository URL"),
        ({"bootstrap": "sideways"}, "bootstrap"),
    ],
)
def test_bad_chroot_settings_are_refused(
    web: TestClient, engine: Engine, demo: None, fields: dict[str, str], message: str
) -> None:
    before = snapshot(engine)
    r = post_form(web, CHROOT, CHROOT, additional_packages="kept", **fields)
    assert r.status_code == 400, r.text
    assert message in r.text
    assert ">kept</textarea>" in r.text
    assert snapshot(engine) == before


def test_a_chroot_the_project_lacks(web: TestClient, demo: None) -> None:
    assert web.get(f"{BASE}edit_chroot/{EPEL}/").status_code == 404


def test_webhook_urls_and_a_new_secret(web: TestClient, demo: None) -> None:
    page = web.get(BASE + "integrations/").text
    project_id = _project(web)["id"]
    secret = page.split(f"/webhooks/github/{project_id}/", 1)[1].split("/", 1)[0]
    assert len(secret) >= 16
    assert f"http://coprd.test/webhooks/gitlab/{project_id}/{secret}/" in page
    assert f"http://coprd.test/webhooks/custom/{project_id}/{secret}/&lt;package&gt;/" in page
    action = BASE + "integrations/regenerate"
    r = post_form(web, BASE + "integrations/", action)
    assert r.status_code == 303
    again = web.get(BASE + "integrations/").text
    assert secret not in again and f"/webhooks/github/{project_id}/" in again


def test_deleting_needs_the_name(web: TestClient, engine: Engine, demo: None) -> None:
    page = BASE + "delete/"
    assert web.get(page).status_code == 200
    before = snapshot(engine)
    r = post_form(web, page, page, confirm="dem")
    assert r.status_code == 400 and "to confirm" in r.text
    assert snapshot(engine) == before
    r = post_form(web, page, page, confirm="demo")
    assert r.status_code == 303 and r.headers["location"] == "/coprs/alice/"
    assert "Project alice/demo is deleted." in web.get("/coprs/alice/").text
    assert web.get(BASE).status_code == 404


def test_only_site_admins_see_the_pruner_box(
    web: TestClient, demo: None, make_account: Any, login: Login
) -> None:
    assert 'name="auto_prune"' not in web.get(EDIT).text
    r = post_form(web, EDIT, EDIT, description="x", chroots=RAWHIDE)
    assert r.status_code == 303 and _project(web)["auto_prune"] is True  # kept as it was
    login(web, make_account("root", admin=True))
    assert 'name="auto_prune" value="y" checked' in web.get(EDIT).text
    r = post_form(web, EDIT, EDIT, description="x", chroots=RAWHIDE)
    assert r.status_code == 303 and _project(web)["auto_prune"] is False


def test_a_persistent_project_offers_no_deletion_and_refuses_one(
    web: TestClient, engine: Engine, alice: Account, make_account: Any, login: Login
) -> None:
    root = make_account("root", admin=True)
    make_project(web, root, owner="alice", persistent=True)
    login(web, alice)
    page = BASE + "delete/"
    shown = web.get(page)
    assert shown.status_code == 200 and "protected against deletion" in shown.text
    assert 'name="confirm"' not in shown.text
    before = snapshot(engine)
    r = post_form(web, BASE + "edit/", page, confirm="demo")
    assert r.status_code == 403
    assert "This project is protected against deletion." in r.text
    assert snapshot(engine) == before


FORMS = {
    EDIT: {"description": "x", "chroots": RAWHIDE},
    CHROOT: {"additional_packages": "x"},
    BASE + "integrations/regenerate": {},
    BASE + "delete/": {"confirm": "demo"},
}


def test_others_see_no_settings_and_are_refused(
    web: TestClient, engine: Engine, alice: Account, bob: Account, login: Login
) -> None:
    make_project(web, alice)
    login(web, bob)
    assert f'href="{EDIT}"' not in web.get(BASE).text
    for page in (EDIT, CHROOT, BASE + "integrations/", BASE + "delete/"):
        assert web.get(page).status_code == 403, page
    token = csrf_of(web.get("/account").text)
    before = snapshot(engine)
    for action, fields in FORMS.items():
        r = web.post(action, data={"csrf_token": token, **fields}, follow_redirects=False)
        assert r.status_code == 403, action
    assert snapshot(engine) == before


@pytest.mark.parametrize("token", [None, "forged"])
def test_without_the_csrf_token_nothing_changes(
    web: TestClient, engine: Engine, demo: None, token: str | None
) -> None:
    before = snapshot(engine)
    for action, fields in FORMS.items():
        data = dict(fields) if token is None else {"csrf_token": token, **fields}
        r = web.post(action, data=data, follow_redirects=False)
        assert r.status_code == 403, action
    assert snapshot(engine) == before
