"""The builds and packages tabs: bounded pages, filters by state and package."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import builds, projects, users
from coprd.core.builds import BuildOptions, Source
from coprd.db.engine import write_session
from coprd.db.models import BuildState
from coprd.web.pages.projects import BUILDS_PAGE
from tests.conftest import Account
from tests.web_ui.conftest import Tasks, make_project

_BUILD_LINK = re.compile(r'href="/coprs/alice/demo/build/(\d+)/"')


def _submit(
    session_factory: sessionmaker[Session], count: int, pkg: str | None = None
) -> list[int]:
    with write_session(session_factory) as session:
        alice = users.get_user(session, "alice")
        project = projects.get_project(session, "alice", "demo")
        made = [
            builds.submit_build(
                session,
                alice,
                project,
                Source(type="link", data={"url": "https://example.com/x.src.rpm"}),
                BuildOptions(),
                pkg_name=pkg,
            ).id
            for _ in range(count)
        ]
    return made


def _shown(page: str) -> list[int]:
    return [int(found) for found in _BUILD_LINK.findall(page)]


def test_builds_are_paged_newest_first(
    web: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    make_project(web, alice)
    ids = _submit(session_factory, BUILDS_PAGE + 7)
    newest_first = sorted(ids, reverse=True)

    first = web.get("/coprs/alice/demo/builds/")
    assert first.status_code == 200
    assert _shown(first.text) == newest_first[:BUILDS_PAGE]
    assert 'href="/coprs/alice/demo/builds/?page=2"' in first.text
    assert 'rel="prev"' not in first.text

    second = web.get("/coprs/alice/demo/builds/", params={"page": 2})
    assert _shown(second.text) == newest_first[BUILDS_PAGE:]
    assert 'href="/coprs/alice/demo/builds/"' in second.text  # back to page 1
    assert 'rel="next"' not in second.text

    assert _shown(web.get("/coprs/alice/demo/builds/?page=9").text) == []
    assert web.get("/coprs/alice/demo/builds/?page=0").status_code == 400
    assert web.get("/coprs/alice/demo/builds/?page=x").status_code == 400


def test_builds_filter_by_state_and_package(
    web: TestClient, alice: Account, session_factory: sessionmaker[Session], tasks: Tasks
) -> None:
    make_project(web, alice)
    hello = _submit(session_factory, 3, pkg="hello")
    other = _submit(session_factory, 2, pkg="other")
    tasks.finish(hello[0], BuildState.failed)
    tasks.finish(other[0], BuildState.failed)
    tasks.finish(hello[1])

    failed = web.get("/coprs/alice/demo/builds/", params={"state": "failed"})
    assert sorted(_shown(failed.text)) == [hello[0], other[0]]
    assert '<option value="failed" selected>' in failed.text

    of_hello = web.get("/coprs/alice/demo/builds/", params={"package": "hello"})
    assert sorted(_shown(of_hello.text)) == hello

    both = web.get("/coprs/alice/demo/builds/", params={"package": "hello", "state": "failed"})
    assert _shown(both.text) == [hello[0]]

    # Filters are kept by the pager's links.
    many = _submit(session_factory, BUILDS_PAGE + 1, pkg="hello")
    paged = web.get("/coprs/alice/demo/builds/", params={"package": "hello", "state": "pending"})
    assert 'href="/coprs/alice/demo/builds/?package=hello&amp;state=pending&amp;page=2"' in (
        paged.text
    )
    assert len(_shown(paged.text)) == BUILDS_PAGE and max(many) in _shown(paged.text)

    bad_state = web.get("/coprs/alice/demo/builds/", params={"state": "exploded"})
    assert bad_state.status_code == 400
    assert "unknown state" in bad_state.text
    assert web.get("/coprs/alice/demo/builds/", params={"package": "../x"}).status_code == 400


def test_packages_tab_shows_each_package_with_its_latest_build(
    web: TestClient, alice: Account, session_factory: sessionmaker[Session], tasks: Tasks
) -> None:
    make_project(web, alice)
    r = web.post(
        "/api_3/package/add/alice/demo/hello/pypi",
        json={"package_name": "hello", "pypi_package_name": "hello"},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    web.post(
        "/api_3/package/add/alice/demo/unbuilt/pypi",
        json={"package_name": "unbuilt", "pypi_package_name": "unbuilt"},
        headers=alice.headers,
    )
    built = web.post(
        "/api_3/package/build",
        json={"ownername": "alice", "projectname": "demo", "package_name": "hello"},
        headers=alice.headers,
    )
    assert built.status_code == 200, built.text
    build_id = built.json()["id"]
    tasks.finish(build_id)

    page = web.get("/coprs/alice/demo/packages/")
    assert page.status_code == 200
    assert 'href="/coprs/alice/demo/package/hello/"' in page.text
    assert f'href="/coprs/alice/demo/build/{build_id}/"' in page.text
    assert "state-succeeded" in page.text and "pypi" in page.text
    assert "unbuilt" in page.text and "not built yet" in page.text


def test_a_project_with_many_builds_keeps_its_pages_small(
    web: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    make_project(web, alice)
    _submit(session_factory, 600, pkg="hello")
    for url in ("/coprs/alice/demo/", "/coprs/alice/demo/builds/", "/coprs/alice/demo/packages/"):
        r = web.get(url)
        assert r.status_code == 200
        assert len(r.content) < 200_000, url
    assert len(_shown(web.get("/coprs/alice/demo/").text)) == 5
