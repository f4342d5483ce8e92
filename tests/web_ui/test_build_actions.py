"""Cancel, resubmit and delete from the build page: shown to those the core allows, and
refused (403, changing nothing) to the others even when they post the form anyway."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from coprd.db.models import BuildState
from tests.conftest import Account, MakeAccount, snapshot
from tests.web_ui.conftest import Login, Tasks, csrf_of, make_build, make_project, post_form

ACTIONS = ("cancel", "resubmit", "delete")


def _buttons(page: str, build_url: str) -> set[str]:
    return {action for action in ACTIONS if f'action="{build_url}{action}"' in page}


def test_the_owner_sees_the_buttons_that_apply(
    web: TestClient, alice: Account, login: Login, tasks: Tasks
) -> None:
    make_project(web, alice)
    running = make_build(web, alice)
    tasks.set(running, {"srpm-builds": BuildState.running})
    ended = make_build(web, alice)
    tasks.finish(ended, BuildState.failed)
    login(web, alice)

    url = f"/coprs/alice/demo/build/{running}/"
    assert _buttons(web.get(url).text, url) == {"cancel", "resubmit"}
    url = f"/coprs/alice/demo/build/{ended}/"
    assert _buttons(web.get(url).text, url) == {"resubmit", "delete"}


def test_cancel_resubmit_and_delete(
    web: TestClient, alice: Account, login: Login, tasks: Tasks
) -> None:
    make_project(web, alice)
    build_id = make_build(web, alice)
    login(web, alice)
    page = f"/coprs/alice/demo/build/{build_id}/"

    r = post_form(web, page, f"{page}cancel")
    assert r.status_code == 303 and r.headers["location"] == page
    shown = web.get(page).text
    assert f"Build {build_id} is canceled." in shown
    state = web.get(f"/api_3/build/{build_id}", headers={"accept": "application/json"})
    assert state.json()["state"] == "canceled"

    r = post_form(web, page, f"{page}resubmit")
    assert r.status_code == 303
    new_id = build_id + 1
    assert r.headers["location"] == f"/coprs/alice/demo/build/{new_id}/"
    again = web.get(f"/api_3/build/{new_id}", headers={"accept": "application/json"}).json()
    assert again["submitter"] == "alice"
    source = web.get(f"/api_3/build/source-build-config/{new_id}").json()
    assert source["source_dict"] == {"url": "https://example.com/hello-1.0-1.src.rpm"}

    r = post_form(web, page, f"{page}delete")
    assert r.status_code == 303 and r.headers["location"] == "/coprs/alice/demo/builds/"
    assert f"Build {build_id} is deleted." in web.get("/coprs/alice/demo/builds/").text
    assert web.get(page).status_code == 404


def test_others_see_no_buttons_and_are_refused(
    web: TestClient,
    engine: Engine,
    alice: Account,
    bob: Account,
    login: Login,
    tasks: Tasks,
) -> None:
    make_project(web, alice)
    running = make_build(web, alice)
    tasks.set(running, {"srpm-builds": BuildState.running})
    ended = make_build(web, alice)
    tasks.finish(ended)
    login(web, bob)
    token = csrf_of(web.get("/account").text)

    before = snapshot(engine)
    for build_id, actions in ((running, ("cancel", "resubmit")), (ended, ("resubmit", "delete"))):
        url = f"/coprs/alice/demo/build/{build_id}/"
        assert _buttons(web.get(url).text, url) == set()
        for action in actions:
            r = web.post(f"{url}{action}", data={"csrf_token": token}, follow_redirects=False)
            assert r.status_code == 403, action
            assert r.headers["content-type"].startswith("text/html")
            assert "may not" in r.text
    assert snapshot(engine) == before


def test_anonymous_visitors_see_no_buttons_and_must_log_in(
    web: TestClient, engine: Engine, alice: Account, tasks: Tasks
) -> None:
    make_project(web, alice)
    build_id = make_build(web, alice)
    url = f"/coprs/alice/demo/build/{build_id}/"
    assert _buttons(web.get(url).text, url) == set()
    token = csrf_of(web.get("/login").text)
    before = snapshot(engine)
    r = web.post(f"{url}cancel", data={"csrf_token": token})
    assert r.status_code == 401
    assert "You need to log in" in r.text and "/login?next=" in r.text
    assert snapshot(engine) == before


def test_builders_may_cancel_but_not_delete(
    web: TestClient,
    make_account: MakeAccount,
    alice: Account,
    bob: Account,
    login: Login,
    tasks: Tasks,
) -> None:
    make_project(web, alice)
    r = web.put(
        "/api_3/project/permissions/set/alice/demo",
        json={"bob": {"builder": "approved"}},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    running = make_build(web, alice)
    ended = make_build(web, alice)
    tasks.finish(ended)
    login(web, bob)
    url = f"/coprs/alice/demo/build/{running}/"
    assert _buttons(web.get(url).text, url) == {"cancel", "resubmit"}
    url = f"/coprs/alice/demo/build/{ended}/"
    assert _buttons(web.get(url).text, url) == {"resubmit"}
    assert post_form(web, url, f"{url}delete").status_code == 403
