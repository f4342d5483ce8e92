"""A package's page: its default source, its builds newest first with their chroots'
states, the badge to paste, and a Rebuild button that builds as ``package/build`` does,
for those allowed to build and for no one else."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import groups, users
from coprd.db.engine import read_session, write_session
from coprd.db.models import Build, BuildState
from coprd.web.pages import packages as package_pages
from tests.conftest import Account, snapshot
from tests.web_ui.conftest import (
    RAWHIDE,
    Login,
    Tasks,
    csrf_of,
    links_of,
    make_build,
    make_project,
    post_form,
)

AARCH64 = "fedora-rawhide-aarch64"
CLONE_URL = "https://example.com/hello.git"


def add_package(
    client: TestClient, account: Account, owner: str = "alice", project: str = "demo"
) -> None:
    r = client.post(
        f"/api_3/package/add/{owner}/{project}/hello/scm",
        json={"package_name": "hello", "clone_url": CLONE_URL, "committish": "v1.0"},
        headers={**account.headers, "accept": "application/json"},
    )
    assert r.status_code == 200, r.text


def build_package(
    client: TestClient, account: Account, owner: str = "alice", project: str = "demo"
) -> int:
    r = client.post(
        "/api_3/package/build",
        json={"ownername": owner, "projectname": project, "package_name": "hello"},
        headers={**account.headers, "accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


def build_ids(session_factory: sessionmaker[Session]) -> list[int]:
    with read_session(session_factory) as session:
        return list(session.scalars(select(Build.id).order_by(Build.id)))


def rebuild_buttons(page: str) -> list[str]:
    return re.findall(r'<form method="post" action="([^"]*/rebuild)"', page)


def test_the_page_shows_the_source_and_the_builds_newest_first(
    web: TestClient, alice: Account, tasks: Tasks
) -> None:
    make_project(web, alice)
    add_package(web, alice)
    older = build_package(web, alice)
    tasks.set(
        older,
        {
            "srpm-builds": BuildState.succeeded,
            RAWHIDE: BuildState.failed,
            AARCH64: BuildState.succeeded,
        },
        pkg_name="hello",
    )
    newer = build_package(web, alice)
    tasks.set(newer, {"srpm-builds": BuildState.running})

    r = web.get("/coprs/alice/demo/package/hello/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<h2>Package hello</h2>" in page
    assert "A Git or Subversion repository" in page
    assert f'<a href="{CLONE_URL}" rel="nofollow noopener">{CLONE_URL}</a>' in page
    assert "<code>v1.0</code>" in page and "<code>git</code>" in page
    assert page.index(f'href="/coprs/alice/demo/build/{newer}/"') < page.index(
        f'href="/coprs/alice/demo/build/{older}/"'
    )
    # The older build's chroots with their states; the newer one's are still pending.
    row = page[page.index(f"/build/{older}/") : page.index("</tr>", page.index(f"/build/{older}/"))]
    assert f'{AARCH64} <span class="state state-succeeded">' in row
    assert f'{RAWHIDE} <span class="state state-failed">' in row
    assert "1.0-1" in row
    # The badge and what to paste for it.
    badge = "/coprs/alice/demo/package/hello/status_image/last_build.png"
    assert f'<img id="badge" src="{badge}"' in page
    assert (
        f"[![Copr build status](http://coprd.test{badge})]"
        "(http://coprd.test/coprs/alice/demo/package/hello/)"
    ) in page
    # Anonymous visitors see no Rebuild button.
    assert rebuild_buttons(page) == []


def test_package_names_lead_to_the_page(web: TestClient, alice: Account, tasks: Tasks) -> None:
    make_project(web, alice)
    add_package(web, alice)
    build_id = build_package(web, alice)
    tasks.finish(build_id)
    url = "/coprs/alice/demo/package/hello/"
    assert url in links_of(web.get("/coprs/alice/demo/packages/").text)
    assert url in links_of(web.get(f"/coprs/alice/demo/build/{build_id}/").text)
    assert url in links_of(web.get("/coprs/alice/demo/builds/").text)
    # A build that has no package yet names none.
    other = make_build(web, alice)
    assert not any(
        "/package/" in link for link in links_of(web.get(f"/coprs/alice/demo/build/{other}/").text)
    )


def test_builds_are_paged(web: TestClient, alice: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(package_pages, "BUILDS_PAGE", 2)
    make_project(web, alice)
    add_package(web, alice)
    ids = [build_package(web, alice) for _ in range(3)]
    first = web.get("/coprs/alice/demo/package/hello/").text
    assert f"/build/{ids[2]}/" in first and f"/build/{ids[1]}/" in first
    assert f"/build/{ids[0]}/" not in first
    assert 'href="/coprs/alice/demo/package/hello/?page=2"' in first
    second = web.get("/coprs/alice/demo/package/hello/", params={"page": 2}).text
    assert f"/build/{ids[0]}/" in second and f"/build/{ids[2]}/" not in second


def test_a_group_projects_package(
    web: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    with write_session(session_factory) as session:
        devs = groups.create_group(session, "devs")
        groups.add_member(session, devs, users.get_user(session, "alice"))
    make_project(web, alice, "shared", owner="@devs")
    add_package(web, alice, owner="@devs", project="shared")
    r = web.get("/coprs/g/devs/shared/package/hello/")
    assert r.status_code == 200
    assert "<h2>Package hello</h2>" in r.text
    assert (
        'href="/coprs/g/devs/shared/package/hello/"'
        in web.get("/coprs/g/devs/shared/packages/").text
    )
    assert "/coprs/g/devs/shared/package/hello/status_image/last_build.png" in r.text


def test_unknown_packages_and_projects_are_not_found(web: TestClient, alice: Account) -> None:
    make_project(web, alice)
    for url in (
        "/coprs/alice/demo/package/nothing/",
        "/coprs/alice/demo/package/bad%20name/",
        "/coprs/alice/demo/package/" + "x" * 300 + "/",
        "/coprs/alice/nothing/package/hello/",
        "/coprs/g/nobody/demo/package/hello/",
    ):
        r = web.get(url)
        assert r.status_code == 404, url
        assert r.headers["content-type"].startswith("text/html"), url


def test_the_owner_rebuilds_from_the_default_source(
    web: TestClient,
    alice: Account,
    login: Login,
    session_factory: sessionmaker[Session],
) -> None:
    make_project(web, alice)
    add_package(web, alice)
    login(web, alice)
    url = "/coprs/alice/demo/package/hello/"
    assert rebuild_buttons(web.get(url).text) == [f"{url}rebuild"]

    r = post_form(web, url, f"{url}rebuild")
    assert r.status_code == 303
    [build_id] = build_ids(session_factory)
    assert r.headers["location"] == f"/coprs/alice/demo/build/{build_id}/"
    assert f"Build {build_id} of hello is submitted." in web.get(r.headers["location"]).text
    # The same build as package/build makes: the package's source, its chroots.
    with read_session(session_factory) as session:
        build = session.get_one(Build, build_id)
        assert (build.source_type, build.source_json["clone_url"]) == ("scm", CLONE_URL)
        assert build.package_id is not None and build.pkg_name == "hello"
    got = web.get(f"/api_3/build/{build_id}", headers={"accept": "application/json"}).json()
    assert sorted(got["chroots"]) == sorted([RAWHIDE, AARCH64])
    assert f"/build/{build_id}/" in web.get(url).text


def test_a_builder_may_rebuild(web: TestClient, alice: Account, bob: Account, login: Login) -> None:
    make_project(web, alice)
    add_package(web, alice)
    r = web.put(
        "/api_3/project/permissions/set/alice/demo",
        json={"bob": {"builder": "approved"}},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    login(web, bob)
    url = "/coprs/alice/demo/package/hello/"
    r = post_form(web, url, f"{url}rebuild")
    assert r.status_code == 303 and "/build/" in r.headers["location"]


def test_others_see_no_button_and_are_refused(
    web: TestClient, engine: Engine, alice: Account, bob: Account, login: Login
) -> None:
    make_project(web, alice)
    add_package(web, alice)
    url = "/coprs/alice/demo/package/hello/"

    # Anonymous: no button, and posting anyway asks to log in.
    token = csrf_of(web.get("/login").text)
    before = snapshot(engine)
    r = web.post(f"{url}rebuild", data={"csrf_token": token})
    assert r.status_code == 401 and "You need to log in" in r.text
    assert snapshot(engine) == before

    login(web, bob)
    page = web.get(url).text
    assert rebuild_buttons(page) == []
    token = csrf_of(page)
    before = snapshot(engine)
    r = web.post(f"{url}rebuild", data={"csrf_token": token})
    assert r.status_code == 403
    assert "user &#39;bob&#39; may not build in project alice/demo" in r.text
    assert "<h2>Package hello</h2>" in r.text
    # Without the page's CSRF token, nobody gets anywhere.
    r = web.post(f"{url}rebuild", data={})
    assert r.status_code == 403
    assert snapshot(engine) == before


def test_a_package_without_a_source_is_not_rebuilt(
    web: TestClient, engine: Engine, alice: Account, login: Login
) -> None:
    make_project(web, alice)
    add_package(web, alice)
    r = web.put(
        "/api_3/package/reset",
        json={"ownername": "alice", "projectname": "demo", "package_name": "hello"},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    login(web, alice)
    url = "/coprs/alice/demo/package/hello/"
    page = web.get(url).text
    assert "No default source" in page
    assert rebuild_buttons(page) == []
    before = snapshot(engine)
    r = web.post(f"{url}rebuild", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 400
    assert "has no default source" in r.text
    assert snapshot(engine) == before


def test_what_a_source_says_is_escaped(web: TestClient, alice: Account) -> None:
    make_project(web, alice)
    script = "#!/bin/sh\necho '</pre><script>alert(1)</script>'\n"
    r = web.post(
        "/api_3/package/add/alice/demo/tool/custom",
        json={"package_name": "tool", "script": script},
        headers={**alice.headers, "accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    page = web.get("/coprs/alice/demo/package/tool/").text
    assert "<script>alert" not in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "A custom script" in page


def test_rebuild_all_and_the_rebuild_dependents_switch(
    web: TestClient,
    alice: Account,
    bob: Account,
    login: Login,
    session_factory: sessionmaker[Session],
    engine: Engine,
) -> None:
    make_project(web, alice)
    add_package(web, alice)
    tab = "/coprs/alice/demo/packages/"
    assert "Rebuild all" not in web.get(tab).text  # anonymous
    login(web, alice)
    assert "Rebuild all" in web.get(tab).text

    before = snapshot(engine)
    r = post_form(web, tab, f"{tab}rebuild-all", packages="nope*")
    assert r.status_code == 303 and r.headers["location"] == tab
    flashed = "Nothing was rebuilt: nope* matches no package of alice/demo"
    assert flashed in web.get(tab).text
    assert build_ids(session_factory) == []
    assert snapshot(engine)["builds"] == before["builds"]

    r = post_form(web, tab, f"{tab}rebuild-all", packages="hel*")
    assert r.status_code == 303 and r.headers["location"] == "/coprs/alice/demo/builds/"
    assert "1 package build(s) submitted" in web.get(r.headers["location"]).text
    [build_id] = build_ids(session_factory)
    with read_session(session_factory) as session:
        assert session.get_one(Build, build_id).is_background

    url = "/coprs/alice/demo/package/hello/"
    assert "Rebuild dependents</dt>\n  <dd>no" in web.get(url).text
    r = post_form(web, url, f"{url}rebuild-dependents", enabled="on")
    assert r.status_code == 303
    assert "yes: a succeeded build rebuilds" in web.get(url).text
    got = web.get(
        "/api_3/package",
        params={"ownername": "alice", "projectname": "demo", "packagename": "hello"},
    ).json()
    assert got["rebuild_dependents"] is True

    other = TestClient(web.app)
    login(other, bob)
    r = post_form(other, url, f"{url}rebuild-dependents", enabled="off")
    assert r.status_code == 403
    r = post_form(other, tab, f"{tab}rebuild-all")
    assert r.status_code == 303
    assert "Nothing was rebuilt" in other.get(tab).text
