"""The project's Monitor tab: packages by chroots, each cell the latest build's state linking
to it, filtered by query parameters."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import groups, users
from coprd.db.engine import write_session
from coprd.db.models import BuildState
from tests.conftest import Account
from tests.core.test_monitor import bulk_fill
from tests.monitor_builds import add_build
from tests.web_ui.conftest import CHROOTS, RAWHIDE, links_of, make_project

S = BuildState
ARM = "fedora-rawhide-aarch64"
_ROW = re.compile(r'<th scope="row"><a href="[^"]*">([^<]+)</a></th>')


def shown_packages(page: str) -> list[str]:
    return _ROW.findall(page)


def test_the_table_of_latest_builds(
    web: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    make_project(web, alice)
    old = add_build(
        session_factory, "alice", "demo", "hello", {RAWHIDE: S.succeeded, ARM: S.failed}
    )
    new = add_build(session_factory, "alice", "demo", "hello", {RAWHIDE: S.running}, version="2-1")
    world = add_build(session_factory, "alice", "demo", "world", {ARM: S.pending})

    page = web.get("/coprs/alice/demo/monitor/")
    assert page.status_code == 200
    text = page.text
    # Columns: the project's chroots, sorted; rows: packages by name.
    assert [c for c in re.findall(r'<th scope="col">([^<]+)</th>', text)] == [
        "Package",
        *sorted(CHROOTS),
    ]
    assert shown_packages(text) == ["hello", "world"]
    links = links_of(text)
    assert "/coprs/alice/demo/package/hello/" in links
    assert "/coprs/alice/demo/package/world/" in links
    for build_id in (old, new, world):
        assert f"/coprs/alice/demo/build/{build_id}/" in links
    # hello: aarch64 from the first build (failed), x86_64 from the second (running).
    hello = text.split("package/hello/")[1].split("</tr>")[0]
    cells = re.findall(r'<td class="cell[^"]*">(.*?)</td>', hello, re.S)
    assert f"build/{old}/" in cells[0] and "state-failed" in cells[0]
    assert f"build/{new}/" in cells[1] and "state-running" in cells[1] and "2-1" in cells[1]
    world_row = text.split("package/world/")[1].split("</tr>")[0]
    assert "state-pending" in world_row and "—" in world_row
    # The tab is in the project's header, current here, and on the other tabs.
    assert 'href="/coprs/alice/demo/monitor/" aria-current="page">Monitor' in text
    assert 'href="/coprs/alice/demo/monitor/"' in web.get("/coprs/alice/demo/").text


def test_filters_are_query_parameters(
    web: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    make_project(web, alice)
    add_build(session_factory, "alice", "demo", "python-foo", {RAWHIDE: S.failed, ARM: S.succeeded})
    add_build(session_factory, "alice", "demo", "python-bar", {RAWHIDE: S.succeeded})
    add_build(session_factory, "alice", "demo", "rust-foo", {RAWHIDE: S.succeeded})

    def shown(**params: str) -> list[str]:
        r = web.get("/coprs/alice/demo/monitor/", params=params)
        assert r.status_code == 200, r.text
        return shown_packages(r.text)

    assert shown(package="foo") == ["python-foo", "rust-foo"]
    assert shown(state="failed") == ["python-foo"]
    assert shown(package="python", state="succeeded") == ["python-bar", "python-foo"]
    assert shown(package="  rust  ") == ["rust-foo"]
    empty = web.get("/coprs/alice/demo/monitor/", params={"state": "canceled"}).text
    assert "No package matches." in empty
    # The form shows the filter in use and offers to clear it.
    kept = web.get("/coprs/alice/demo/monitor/", params={"package": "foo", "state": "failed"}).text
    assert 'name="package" value="foo"' in kept
    assert '<option value="failed" selected>' in kept
    assert ">Clear</a>" in kept

    bad = web.get("/coprs/alice/demo/monitor/", params={"state": "exploded"})
    assert bad.status_code == 400 and "unknown state" in bad.text
    assert web.get("/coprs/alice/demo/monitor/", params={"package": "x" * 101}).status_code == 400
    assert web.get("/coprs/alice/nope/monitor/").status_code == 404


def test_pages_of_packages(
    web: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    make_project(web, alice)
    bulk_fill(session_factory, "demo", 0, 150, CHROOTS)
    first = web.get("/coprs/alice/demo/monitor/", params={"state": "failed"}).text
    assert len(shown_packages(first)) == 100 and "150 packages match" in first
    assert 'href="/coprs/alice/demo/monitor/?state=failed&amp;page=2"' in first
    second = web.get("/coprs/alice/demo/monitor/", params={"state": "failed", "page": "2"}).text
    assert shown_packages(second) == [f"pkg{i:05d}" for i in range(100, 150)]
    assert 'href="/coprs/alice/demo/monitor/?state=failed"' in second


def test_a_group_projects_monitor(
    web: TestClient, alice: Account, session_factory: sessionmaker[Session]
) -> None:
    with write_session(session_factory) as session:
        devs = groups.create_group(session, "devs")
        groups.add_member(session, devs, users.get_user(session, "alice"))
    make_project(web, alice, "team", owner="@devs")
    build_id = add_build(
        session_factory, "@devs", "team", "hello", {RAWHIDE: S.succeeded}, by="alice"
    )
    page = web.get("/coprs/g/devs/team/monitor/")
    assert page.status_code == 200
    links = links_of(page.text)
    assert f"/coprs/g/devs/team/build/{build_id}/" in links
    assert "/coprs/g/devs/team/package/hello/" in links
    assert "/coprs/g/devs/team/monitor/" in links


def test_an_empty_project(web: TestClient, alice: Account) -> None:
    make_project(web, alice)
    page = web.get("/coprs/alice/demo/monitor/").text
    assert "No builds yet" in page and "<table" not in page
