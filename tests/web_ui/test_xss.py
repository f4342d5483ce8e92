"""Text users write comes back inert on every page that shows it: no <script>, no
javascript: link, no event handler attribute."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import builds, projects
from coprd.db.engine import write_session
from coprd.db.models import BuildState, Package
from tests.conftest import Account
from tests.web_ui.conftest import Login, Tasks, make_build, make_project

EVIL = (
    "<script>alert('xss')</script> "
    "[click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=) "
    '[tab](java\tscript:alert(1)) <a href="javascript:alert(2)">raw</a> '
    "<img src=x onerror=alert(3)> ![img](javascript:alert(4)) "
    "<javascript:alert(5)> [ok](https://example.com/fine)"
)
EVIL_PACKAGE = "<script>alert(6)"  # no "/", so the database's name guard lets it through
EVIL_PKG_NAME = "<img src=x onerror=alert(7)>"
_JS_HREF = re.compile(r"""(href|src|action)\s*=\s*["']?\s*(javascript|data|vbscript):""", re.I)
_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)


def _assert_inert(page: str, where: str) -> None:
    assert "<script>" not in page.lower(), where
    assert "<script" not in page.lower().replace('<script src="/static/live-log.js', ""), where
    assert not _JS_HREF.search(page), where
    assert not _HANDLER.search(page), where
    assert "<img src=x" not in page, where


def test_project_texts_and_package_names_are_inert_everywhere(
    web: TestClient,
    alice: Account,
    login: Login,
    tasks: Tasks,
    session_factory: sessionmaker[Session],
) -> None:
    make_project(
        web,
        alice,
        "demo",
        description=EVIL,
        instructions=EVIL,
        homepage="javascript:alert(8)",
        contact="data:text/html,<script>alert(9)</script>",
    )
    build_id = make_build(web, alice)
    with write_session(session_factory) as session:
        project = projects.get_project(session, "alice", "demo")
        package = Package(project_id=project.id, name=EVIL_PACKAGE, source_type="unset")
        session.add(package)
        # A package whose default source says what a link must not.
        session.add(
            Package(
                project_id=project.id,
                name="hello",
                source_type="link",
                source_json={"url": "javascript:alert(11)"},
            )
        )
        session.flush()
        build = builds.get_build(session, build_id)
        build.package_id = package.id
        build.source_json = {"url": "javascript:alert(10)"}
    tasks.set(build_id, {"srpm-builds": BuildState.running}, pkg_name=EVIL_PKG_NAME)
    login(web, alice)

    pages = [
        "/",
        "/search?q=demo",
        "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
        "/coprs/alice/",
        "/coprs/alice/demo/",
        "/coprs/alice/demo/builds/",
        "/coprs/alice/demo/packages/",
        "/coprs/alice/demo/monitor/",
        f"/coprs/alice/demo/build/{build_id}/",
        "/coprs/alice/demo/package/hello/",
        "/account",
        "/api",
    ]
    for url in pages:
        r = web.get(url)
        assert r.status_code == 200, url
        _assert_inert(r.text, url)

    overview = web.get("/coprs/alice/demo/").text
    assert "&lt;script&gt;alert('xss')&lt;/script&gt;" in overview
    assert 'href="https://example.com/fine"' in overview  # good links stay links
    assert "javascript:alert(8)" in overview  # shown as text, not as a link
    packages = web.get("/coprs/alice/demo/packages/").text
    assert "&lt;script&gt;alert(6)" in packages
    assert 'href="/coprs/alice/demo/package/%3Cscript%3Ealert%286%29/"' in packages
    build_page = web.get(f"/coprs/alice/demo/build/{build_id}/").text
    assert "&lt;img src=x onerror=alert(7)&gt;" in build_page
    assert "<code>javascript:alert(10)</code>" in build_page
    package_page = web.get("/coprs/alice/demo/package/hello/").text
    assert "<code>javascript:alert(11)</code>" in package_page


def test_error_pages_show_the_path_as_text(web: TestClient) -> None:
    r = web.get("/coprs/<script>alert(1)<")
    assert r.status_code == 404
    _assert_inert(r.text, "404")
    r = web.get("/coprs/alice/%3Cscript%3E/")
    assert r.status_code == 404
    _assert_inert(r.text, "404")


def test_pages_forbid_inline_scripts(web: TestClient) -> None:
    policy = web.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert web.get("/").headers["x-content-type-options"] == "nosniff"
