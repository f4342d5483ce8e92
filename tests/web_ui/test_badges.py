"""Build-status badges at Copr's URLs: an SVG saying the state of a package's latest build
(or of one build) in its colour, with the cache headers README proxies need."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import groups, users
from coprd.db.engine import write_session
from coprd.db.models import BuildState
from coprd.web.pages import badges
from coprd.web.pages.badges import Badge, badge_of, draw
from tests.conftest import Account
from tests.web_ui.conftest import Login, Tasks, make_project
from tests.web_ui.test_package_page import add_package, build_package

SVG = "{http://www.w3.org/2000/svg}"
URL = "/coprs/alice/demo/package/hello/status_image/last_build.png"


def parse(response: Response) -> tuple[ET.Element, list[str]]:
    """The badge's SVG root and its texts (each drawn twice: shadow and text)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["x-content-type-options"] == "nosniff"
    root = ET.fromstring(response.content)
    assert root.tag == f"{SVG}svg"
    assert int(root.attrib["width"]) > 0 and root.attrib["height"] == "20"
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    return root, texts


def colours(root: ET.Element) -> set[str]:
    return {rect.attrib["fill"] for rect in root.iter(f"{SVG}rect")}


def test_the_badge_follows_the_latest_build(web: TestClient, alice: Account, tasks: Tasks) -> None:
    make_project(web, alice)
    add_package(web, alice)

    root, texts = parse(r := web.get(URL))
    assert texts == ["build", "build", "unknown", "unknown"]
    assert r.headers["cache-control"] == "public, max-age=60"

    build_id = build_package(web, alice)
    root, texts = parse(r := web.get(URL))
    assert texts[2] == "pending" and badges.YELLOW in colours(root)
    assert r.headers["cache-control"] == "no-cache" and r.headers["pragma"] == "no-cache"

    tasks.set(build_id, {"srpm-builds": BuildState.running})
    assert parse(web.get(URL))[1][2] == "running"

    tasks.finish(build_id)
    root, texts = parse(r := web.get(URL))
    assert texts[2] == "succeeded" and badges.GREEN in colours(root)
    assert root.findtext(f"{SVG}title") == f"hello: build {build_id} succeeded"
    # The latest build may change any minute: caches must ask again.
    assert r.headers["cache-control"] == "no-cache"

    failed = build_package(web, alice)
    tasks.finish(failed, BuildState.failed)
    root, texts = parse(web.get(URL))
    assert texts[2] == "failed" and badges.RED in colours(root)


def test_builds_of_other_directories_do_not_count(
    web: TestClient, alice: Account, tasks: Tasks
) -> None:
    """As on Copr, the badge is the main directory's: Packit's pull-request builds
    (``demo:pr:1``) do not turn it red."""
    make_project(web, alice)
    add_package(web, alice)
    main = build_package(web, alice)
    tasks.finish(main)
    r = web.post(
        "/api_3/package/build",
        json={
            "ownername": "alice",
            "projectname": "demo",
            "package_name": "hello",
            "project_dirname": "demo:pr:1",
        },
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    tasks.finish(int(r.json()["id"]), BuildState.failed)
    assert parse(web.get(URL))[1][2] == "succeeded"


def test_unknown_packages_and_projects(web: TestClient, alice: Account) -> None:
    make_project(web, alice)
    # A package that does not exist (or cannot): a badge saying so, as Copr answers.
    for name in ("nothing", "bad%20name", "x" * 300):
        url = f"/coprs/alice/demo/package/{name}/status_image/last_build.png"
        _root, texts = parse(r := web.get(url))
        assert texts[2] == "no such package", url
        assert r.headers["cache-control"] == "no-cache"
    # A project that does not exist: the web UI's 404.
    for url in (
        "/coprs/alice/nothing/package/hello/status_image/last_build.png",
        "/coprs/g/nobody/demo/package/hello/status_image/last_build.png",
    ):
        r = web.get(url)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


def test_a_group_projects_badge(
    web: TestClient,
    alice: Account,
    tasks: Tasks,
    session_factory: sessionmaker[Session],
) -> None:
    with write_session(session_factory) as session:
        devs = groups.create_group(session, "devs")
        groups.add_member(session, devs, users.get_user(session, "alice"))
    make_project(web, alice, "shared", owner="@devs")
    add_package(web, alice, owner="@devs", project="shared")
    tasks.finish(build_package(web, alice, owner="@devs", project="shared"))
    url = "/coprs/g/devs/shared/package/hello/status_image/last_build.png"
    assert parse(web.get(url))[1][2] == "succeeded"


def test_one_builds_badge(web: TestClient, alice: Account, tasks: Tasks) -> None:
    make_project(web, alice)
    add_package(web, alice)
    build_id = build_package(web, alice)
    url = f"/coprs/build/{build_id}/status_image.png"
    texts = parse(r := web.get(url))[1]
    assert texts[2] == "pending" and r.headers["cache-control"] == "no-cache"
    tasks.finish(build_id, BuildState.failed)
    texts = parse(r := web.get(url))[1]
    assert texts[2] == "failed"
    # An ended build's state stays: it may be kept a while.
    assert r.headers["cache-control"] == "public, max-age=600"
    for missing in ("999999", str(2**40)):
        _root, texts = parse(web.get(f"/coprs/build/{missing}/status_image.png"))
        assert texts[2] == "unknown"
    # A link checker's HEAD gets the headers of the image, not a 405.
    for head_url in (url, "/coprs/alice/demo/package/hello/status_image/last_build.png"):
        head = web.head(head_url)
        assert head.status_code == 200, head_url
        assert head.headers["content-type"].startswith("image/svg+xml")


def test_badges_never_carry_a_session(
    web: TestClient, alice: Account, tasks: Tasks, login: Login
) -> None:
    """Proxies keep badges; a visitor's cookie must not be kept with them."""
    make_project(web, alice)
    add_package(web, alice)
    build_id = build_package(web, alice)
    login(web, alice)
    assert "set-cookie" in web.get("/coprs/alice/demo/package/hello/").headers
    for url in (URL, f"/coprs/build/{build_id}/status_image.png"):
        r = web.get(url)
        assert r.status_code == 200 and "set-cookie" not in r.headers, url


@pytest.mark.parametrize(
    "state",
    [*BuildState, None],
)
def test_every_state_has_a_well_formed_badge(state: BuildState | None) -> None:
    badge = badge_of(state)
    root = ET.fromstring(draw(badge, "title"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["build", "build", badge.text, badge.text]
    assert badge.text == (state.value if state else "unknown")
    expected = {
        BuildState.succeeded: badges.GREEN,
        BuildState.skipped: badges.GREEN,
        BuildState.failed: badges.RED,
        BuildState.canceled: badges.GREY,
        BuildState.forked: badges.GREY,
        None: badges.GREY,
    }.get(state, badges.YELLOW)
    assert badge.colour == expected


def test_what_a_badge_says_is_escaped() -> None:
    nasty = "</text><script>alert(1)</script>&\"'\x00\x1b\ufffe"
    svg = draw(Badge(nasty, badges.GREY), nasty)
    root = ET.fromstring(svg)  # well-formed whatever it says
    assert "<script>" not in svg
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
    kept = "</text><script>alert(1)</script>&\"'"
    assert root.findtext(f"{SVG}title") == kept
    assert [t.text for t in root.iter(f"{SVG}text")][2:] == [kept, kept]
    assert root.attrib["aria-label"] == f"build: {kept}"
