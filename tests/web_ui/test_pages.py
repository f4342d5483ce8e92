"""Each page renders what a visitor comes for, and every page is reachable from home."""

from __future__ import annotations

from collections import deque
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import groups, users
from coprd.db.engine import write_session
from coprd.db.models import BuildState
from tests.conftest import Account, MakeAccount
from tests.web_ui.conftest import RAWHIDE, Login, Tasks, links_of, make_build, make_project


def test_home_shows_recent_builds_and_listed_projects(
    web: TestClient, alice: Account, tasks: Tasks
) -> None:
    make_project(web, alice, "listed", description="The **listed** one\nsecond line")
    make_project(web, alice, "hidden", unlisted_on_hp=True)
    shown = make_build(web, alice, "listed")
    unlisted = make_build(web, alice, "hidden")
    tasks.set(shown, {"srpm-builds": BuildState.running}, pkg_name="hello")

    r = web.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert 'href="/coprs/alice/listed/"' in page
    assert "The **listed** one" in page  # the first line of the description, as text
    assert "second line" not in page
    assert f'href="/coprs/alice/listed/build/{shown}/"' in page
    assert "hello" in page and "state-running" in page
    # Unlisted projects stay off the home page, with their builds.
    assert "alice/hidden" not in page
    assert f"/build/{unlisted}/" not in page
    assert 'action="/search"' in page


def test_home_still_answers_json_to_api_clients(client: TestClient) -> None:
    for accept in (None, "*/*", "application/json"):
        headers = {"accept": accept} if accept else {}
        r = client.get("/", headers=headers)
        assert r.status_code == 200
        assert r.json() == {
            "service": "coprd",
            "api_3": "http://coprd.test/api_3/",
            "docs": "http://coprd.test/api_3/docs",
        }


def test_search_finds_projects_and_pages_through_them(web: TestClient, alice: Account) -> None:
    for i in range(33):
        make_project(web, alice, f"tool{i:02d}", description="a fine tool")
    make_project(web, alice, "other", description="nothing alike", unlisted_on_hp=True)

    empty = web.get("/search")
    assert empty.status_code == 200 and "Search projects" in empty.text

    first = web.get("/search", params={"q": "FINE TOOL"})
    assert first.status_code == 200
    assert "alice/tool00" in first.text and "alice/tool29" in first.text
    assert "alice/tool30" not in first.text and "alice/other" not in first.text
    assert 'href="/search?q=FINE+TOOL&amp;page=2"' in first.text
    second = web.get("/search", params={"q": "FINE TOOL", "page": 2})
    assert "alice/tool30" in second.text and "alice/tool32" in second.text
    assert "alice/tool00" not in second.text
    # Search is not the home page: unlisted projects are found.
    assert "alice/other" in web.get("/search", params={"q": "alike"}).text
    assert "No project matches" in web.get("/search", params={"q": "zzz"}).text


def test_user_and_group_pages_list_their_projects(
    web: TestClient,
    alice: Account,
    session_factory: sessionmaker[Session],
) -> None:
    with write_session(session_factory) as session:
        devs = groups.create_group(session, "devs")
        groups.add_member(session, devs, users.get_user(session, "alice"))
    make_project(web, alice, "mine")
    make_project(web, alice, "shared", owner="@devs")

    user = web.get("/coprs/alice/")
    assert user.status_code == 200
    assert 'href="/coprs/alice/mine/"' in user.text
    assert "shared" not in user.text.replace("@devs", "")
    assert 'href="/coprs/g/devs/"' in user.text  # her groups

    group = web.get("/coprs/g/devs/")
    assert group.status_code == 200
    assert "@devs" in group.text
    assert 'href="/coprs/g/devs/shared/"' in group.text
    assert 'href="/coprs/alice/"' in group.text  # its members

    project = web.get("/coprs/g/devs/shared/")
    assert project.status_code == 200
    assert "dnf copr --hub http://coprd.test enable @devs/shared" in project.text
    assert (
        'href="/coprs/g/devs/shared/repo/fedora-rawhide/group_devs-shared-fedora-rawhide.repo"'
        in project.text
    )
    assert web.get("/coprs/g/nobody/").status_code == 404
    assert web.get("/coprs/nobody/").status_code == 404


def test_project_page(web: TestClient, alice: Account, tasks: Tasks) -> None:
    make_project(
        web,
        alice,
        "demo",
        description="# Demo\n\nBuilds *hello*.",
        instructions="Run `hello`.",
        homepage="https://example.com/demo",
        runtime_dependencies="copr://bob/base",
    )
    build_id = make_build(web, alice)
    tasks.finish(build_id)

    r = web.get("/coprs/alice/demo/")
    assert r.status_code == 200
    page = r.text
    assert "<h1>Demo</h1>" in page and "<em>hello</em>" in page
    assert "<code>hello</code>" in page
    assert "dnf copr --hub http://coprd.test enable alice/demo" in page
    assert 'href="/coprs/alice/demo/repo/fedora-rawhide/alice-demo-fedora-rawhide.repo"' in page
    assert "aarch64, x86_64" in page
    for chroot in ("fedora-rawhide-aarch64", RAWHIDE):
        assert f'href="http://coprd.test/results/alice/demo/{chroot}/"' in page
    assert 'href="https://example.com/demo"' in page
    assert "copr://bob/base" in page
    assert f'href="/coprs/alice/demo/build/{build_id}/"' in page
    # The repo file link is the one dnf copr enable fetches.
    repo = web.get("/coprs/alice/demo/repo/fedora-rawhide/alice-demo-fedora-rawhide.repo")
    assert repo.status_code == 200 and "[copr:coprd.test:alice:demo]" in repo.text


def test_build_page(web: TestClient, alice: Account, tasks: Tasks) -> None:
    make_project(web, alice)
    build_id = make_build(web, alice)
    tasks.set(
        build_id,
        {
            "srpm-builds": BuildState.succeeded,
            RAWHIDE: BuildState.running,
            "fedora-rawhide-aarch64": BuildState.failed,
        },
        pkg_name="hello",
        minutes=7,
    )
    r = web.get(f"/coprs/alice/demo/build/{build_id}/")
    assert r.status_code == 200
    page = r.text
    assert f"Build {build_id}" in page
    assert "hello" in page and "1.0-1" in page
    assert "https://example.com/hello-1.0-1.src.rpm" in page
    for state in ("state-running", "state-failed", "state-succeeded"):
        assert state in page
    assert "7 min" in page  # durations
    base = "http://coprd.test/results/alice/demo"
    assert f'href="{base}/{RAWHIDE}/{build_id:08d}-hello/"' in page
    assert f'href="{base}/{RAWHIDE}/{build_id:08d}-hello/builder-live.log"' in page
    assert f'href="{base}/srpm-builds/{build_id:08d}/builder-live.log"' in page
    # It follows the running task's log.
    assert f'data-url="/coprs/alice/demo/build/{build_id}/log/{RAWHIDE}"' in page
    assert '<script src="/static/live-log.js' in page
    assert "Log of fedora-rawhide-x86_64" in page
    # The URL copr-cli prints leads here.
    short = web.get(f"/coprs/build/{build_id}/", follow_redirects=False)
    assert short.status_code == 302
    assert short.headers["location"] == f"/coprs/alice/demo/build/{build_id}/"
    # A build is found only under its own project.
    make_project(web, alice, "other")
    assert web.get(f"/coprs/alice/other/build/{build_id}/").status_code == 404
    assert web.get("/coprs/alice/demo/build/999999/").status_code == 404


def test_a_user_named_like_a_path_keeps_their_pages(
    web: TestClient, make_account: MakeAccount
) -> None:
    for name in ("build", "g"):
        account = make_account(name)
        make_project(web, account, "tools")
        page = web.get(f"/coprs/{name}/")
        assert page.status_code == 200 and f'href="/coprs/{name}/tools/"' in page.text
    assert web.get("/coprs/build/tools/").status_code == 200
    assert web.get("/coprs/build/tools/builds/").status_code == 200


def test_static_files_are_served(web: TestClient) -> None:
    css = web.get("/static/coprd.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = web.get("/static/live-log.js")
    assert js.status_code == 200 and "fetch(" in js.text


def _crawl(client: TestClient, start: str, limit: int = 200) -> dict[str, int]:
    """Every page of this site reachable by links from ``start``, with its status."""
    seen: dict[str, int] = {}
    queue = deque([start])
    while queue and len(seen) < limit:
        url = queue.popleft()
        if url in seen:
            continue
        r = client.get(url)
        seen[url] = r.status_code
        if not r.headers.get("content-type", "").startswith("text/html"):
            continue
        for href in links_of(r.text):
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue  # other sites, and the results tree at its absolute URL
            if parts.path.startswith(("/api_3", "/results", "/static")) or "/repo/" in href:
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen:
                queue.append(target)
    return seen


def test_every_page_is_reachable_from_home(
    web: TestClient,
    alice: Account,
    make_account: MakeAccount,
    session_factory: sessionmaker[Session],
    login: Login,
    tasks: Tasks,
) -> None:
    with write_session(session_factory) as session:
        devs = groups.create_group(session, "devs")
        groups.add_member(session, devs, users.get_user(session, "alice"))
    make_project(web, alice, "demo")
    make_project(web, alice, "team", owner="@devs")
    build_id = make_build(web, alice, "team", owner="@devs")
    tasks.set(build_id, {"srpm-builds": BuildState.succeeded}, pkg_name="hello")
    tasks.finish(build_id)
    login(web, alice)

    seen = _crawl(web, "/")
    assert all(status == 200 for status in seen.values()), {
        url: status for url, status in seen.items() if status != 200
    }
    paths = {url.split("?")[0] for url in seen}
    assert {
        "/",
        "/search",
        "/api",
        "/account",
        "/coprs/alice/",
        "/coprs/g/devs/",
        "/coprs/alice/demo/",
        "/coprs/g/devs/team/",
        "/coprs/g/devs/team/builds/",
        "/coprs/g/devs/team/packages/",
        f"/coprs/g/devs/team/build/{build_id}/",
        # Forms: new project, new builds, settings, permissions.
        "/coprs/alice/add/",
        "/coprs/g/devs/add/",
        "/coprs/g/devs/team/add_build/",
        "/coprs/g/devs/team/add_build_upload/",
        "/coprs/g/devs/team/add_build_scm/",
        "/coprs/g/devs/team/add_build_pypi/",
        "/coprs/g/devs/team/add_build_rubygems/",
        "/coprs/g/devs/team/add_build_custom/",
        "/coprs/g/devs/team/add_build_distgit/",
        "/coprs/g/devs/team/edit/",
        "/coprs/g/devs/team/edit_chroot/fedora-rawhide-x86_64/",
        "/coprs/g/devs/team/integrations/",
        "/coprs/g/devs/team/delete/",
        "/coprs/g/devs/team/permissions/",
    } <= paths


def test_logged_out_visitors_see_the_login_link(web: TestClient) -> None:
    page = web.get("/").text
    assert 'href="/login?next=/"' in page
    assert "Log out" not in page
    login = web.get("/login")
    assert login.status_code == 200
    assert 'type="password"' in login.text
