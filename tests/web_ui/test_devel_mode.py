"""Devel mode is one setting: APIv3's ``devel_mode``, APIv2's and the legacy API's
``disable_createrepo`` (read back as ``auto_createrepo``) and the web form's box are the
same stored fact, whichever dialect sets it. And the Regenerate button on the overview."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from coprd.config import Settings
from tests.conftest import Account, snapshot
from tests.web_ui.conftest import CHROOTS, RAWHIDE, Login, csrf_of, make_project, post_form

JSON = {"accept": "application/json"}
BASE = "/coprs/alice/demo/"


def read_all(web: TestClient, project_id: int) -> dict[str, bool]:
    """The setting as every dialect and the settings form show it."""
    v3 = web.get(
        "/api_3/project", params={"ownername": "alice", "projectname": "demo"}, headers=JSON
    ).json()
    v2 = web.get(f"/api_2/projects/{project_id}", headers=JSON).json()["project"]
    legacy = web.get("/api/coprs/alice/demo/detail/", headers=JSON).json()["detail"]
    form = web.get(BASE + "edit/").text
    return {
        "v3 devel_mode": v3["devel_mode"],
        "v3 disable_createrepo": v3["disable_createrepo"],
        "v2 disable_createrepo": v2["disable_createrepo"],
        "legacy not auto_createrepo": not legacy["auto_createrepo"],
        "web form box": 'name="devel_mode" value="y" checked' in form,
    }


def _v3_devel_mode(web: TestClient, alice: Account, on: bool) -> Any:
    body = {"devel_mode": on}
    return web.put("/api_3/project/edit/alice/demo", json=body, headers=alice.headers | JSON)


def _v3_disable_createrepo(web: TestClient, alice: Account, on: bool) -> Any:
    body = {"disable_createrepo": on}
    return web.put("/api_3/project/edit/alice/demo", json=body, headers=alice.headers | JSON)


def _v2(web: TestClient, alice: Account, on: bool, project_id: int) -> Any:
    body = {"disable_createrepo": on}
    return web.put(f"/api_2/projects/{project_id}", json=body, headers=alice.headers | JSON)


def _legacy(web: TestClient, alice: Account, on: bool) -> Any:
    data = {"disable_createrepo": "true" if on else "false"}
    return web.post("/api/coprs/alice/demo/modify/", data=data, headers=alice.headers | JSON)


def _web(web: TestClient, alice: Account, on: bool) -> Any:
    edit = BASE + "edit/"
    flags = {"devel_mode": "y"} if on else {}
    # The form sends every field: keep the others as they are shown.
    return post_form(
        web, edit, edit, chroots=CHROOTS, auto_prune="y", follow_fedora_branching="y", **flags
    )


SETTERS: dict[str, Callable[..., Any]] = {
    "v3 devel_mode": _v3_devel_mode,
    "v3 disable_createrepo": _v3_disable_createrepo,
    "v2 disable_createrepo": _v2,
    "legacy disable_createrepo": _legacy,
    "web form": _web,
}


@pytest.fixture
def demo(web: TestClient, alice: Account, login: Login) -> int:
    make_project(web, alice)
    login(web, alice)
    r = web.get("/api_3/project", params={"ownername": "alice", "projectname": "demo"})
    return int(r.json()["id"])


@pytest.mark.parametrize("dialect", sorted(SETTERS))
def test_each_dialect_sets_what_every_dialect_reads(
    web: TestClient, alice: Account, demo: int, dialect: str
) -> None:
    assert set(read_all(web, demo).values()) == {False}
    setter = SETTERS[dialect]
    extra = (demo,) if dialect.startswith("v2") else ()

    on = setter(web, alice, True, *extra)
    assert on.status_code in (200, 303), on.text
    assert set(read_all(web, demo).values()) == {True}, read_all(web, demo)

    off = setter(web, alice, False, *extra)
    assert off.status_code in (200, 303), off.text
    assert set(read_all(web, demo).values()) == {False}, read_all(web, demo)


def test_both_names_at_once_must_agree(
    web: TestClient, alice: Account, demo: int, engine: Engine
) -> None:
    before = snapshot(engine)
    body = {"devel_mode": True, "disable_createrepo": False}
    r = web.put("/api_3/project/edit/alice/demo", json=body, headers=alice.headers | JSON)
    assert r.status_code == 400
    assert "one setting" in r.json()["error"]
    assert snapshot(engine) == before
    agreeing = {"devel_mode": True, "disable_createrepo": True}
    r = web.put("/api_3/project/edit/alice/demo", json=agreeing, headers=alice.headers | JSON)
    assert r.status_code == 200 and r.json()["devel_mode"] is True


def test_the_form_has_one_box_for_it(web: TestClient, demo: int) -> None:
    form = web.get(BASE + "edit/").text
    assert 'name="devel_mode"' in form
    assert 'name="disable_createrepo"' not in form


def test_devel_mode_gives_each_chroot_a_devel_repo_and_builds_see_it(
    web: TestClient, alice: Account, demo: int, settings: Settings
) -> None:
    chroot_dir = Path(settings.results_dir) / "alice" / "demo" / RAWHIDE
    assert (chroot_dir / "repodata" / "repomd.xml").is_file()
    assert not (chroot_dir / "devel").exists()
    params = {"ownername": "alice", "projectname": "demo", "chrootname": RAWHIDE}

    assert _v3_devel_mode(web, alice, True).status_code == 200

    assert (chroot_dir / "devel" / "repodata" / "repomd.xml").is_file()
    config = web.get("/api_3/project-chroot/build-config", params=params, headers=JSON).json()
    baseurls = {repo["id"]: repo["baseurl"] for repo in config["repos"]}
    results = f"{settings.public_url}/results/alice/demo/{RAWHIDE}"
    assert baseurls["copr_base"] == f"{results}/"
    assert baseurls["copr_base_devel"] == f"{results}/devel/"
    assert "copr://alice/demo/devel" in config["additional_repos"]
    # The .repo file users install from names the main repository, as Copr's does.
    repofile = web.get("/coprs/alice/demo/repo/fedora-rawhide/", headers=JSON).text
    assert "/results/alice/demo/fedora-$releasever-$basearch/\n" in repofile
    assert "devel" not in repofile

    assert _v3_devel_mode(web, alice, False).status_code == 200

    assert not (chroot_dir / "devel").exists()
    config = web.get("/api_3/project-chroot/build-config", params=params, headers=JSON).json()
    assert [repo["id"] for repo in config["repos"]] == ["copr_base"]


def test_the_regenerate_button_is_for_those_who_may_edit(
    web: TestClient, alice: Account, bob: Account, login: Login, demo: int, engine: Engine
) -> None:
    page = web.get(BASE).text
    assert f'action="{BASE}createrepo/"' in page
    r = web.post(BASE + "createrepo/", data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == BASE
    assert "regenerated" in web.get(BASE).text

    login(web, bob)
    page = web.get(BASE).text
    assert "createrepo/" not in page
    before = snapshot(engine)
    r = web.post(BASE + "createrepo/", data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 403
    assert snapshot(engine) == before
