"""The new-build forms: one per source type, each submitting through the core and showing
its refusals next to the form; an upload is kept for the build's source task."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from coprd.config import Settings
from coprd.core import builders
from coprd.db.engine import write_session
from tests.conftest import Account, snapshot
from tests.web_ui.conftest import CHROOTS, RAWHIDE, Login, csrf_of, make_project, post_form

JSON = {"accept": "application/json"}
BASE = "/coprs/alice/demo/"
SRPM_BYTES = b"\xed\xab\xee\xdb\x03\x00\x00\x01" + b"\x00" * 200
RPM_BYTES = b"\xed\xab\xee\xdb\x03\x00\x00\x00" + b"\x00" * 200

# A good post of each form, and the source the API then shows for the build.
GOOD: dict[str, tuple[dict[str, Any], str, dict[str, Any]]] = {
    "url": (
        {"pkgs": "https://example.com/hello-1.0-1.src.rpm"},
        "link",
        {"url": "https://example.com/hello-1.0-1.src.rpm"},
    ),
    "scm": (
        {
            "clone_url": "https://example.com/hello.git",
            "committish": "main",
            "subdirectory": "pkg",
            "spec": "hello.spec",
            "scm_type": "git",
            "source_build_method": "make_srpm",
        },
        "scm",
        {
            "clone_url": "https://example.com/hello.git",
            "committish": "main",
            "subdirectory": "pkg",
            "spec": "hello.spec",
            "type": "git",
            "source_build_method": "make_srpm",
        },
    ),
    "pypi": (
        {
            "pypi_package_name": "requests",
            "pypi_package_version": "2.0",
            "spec_generator": "pyp2spec",
            "spec_template": "",
            "python_versions": ["3"],
        },
        "pypi",
        {
            "pypi_package_name": "requests",
            "pypi_package_version": "2.0",
            "spec_generator": "pyp2spec",
            "spec_template": "",
            "python_versions": ["3"],
        },
    ),
    "rubygems": ({"gem_name": "rake"}, "rubygems", {"gem_name": "rake"}),
    "custom": (
        {"script": "#!/bin/sh\necho hi\n", "chroot": RAWHIDE, "builddeps": "git make"},
        "custom",
        {
            "script": "#!/bin/sh\necho hi\n",
            "chroot": RAWHIDE,
            "builddeps": "git make",
            "resultdir": "",
            "repos": "",
        },
    ),
    "distgit": (
        {"package_name": "hello", "committish": "f41", "distgit": "fedora"},
        "distgit",
        {
            "clone_url": "https://src.fedoraproject.org/rpms/hello.git",
            "distgit": "fedora",
            "namespace": "rpms",
            "package_name": "hello",
            "committish": "f41",
        },
    ),
}
BAD: dict[str, tuple[dict[str, Any], str]] = {
    "url": ({"pkgs": "file:///etc/passwd"}, "is not an http, https or ftp URL"),
    "scm": ({"clone_url": "../../etc"}, "is not an https, http or git:// URL"),
    "pypi": ({"pypi_package_name": "x", "python_versions": ["4"]}, "python_versions"),
    "rubygems": ({"gem_name": ""}, "gem_name: is required"),
    "custom": ({"script": "   "}, "script: is required"),
    "distgit": ({"package_name": "../x"}, "is not a package name"),
}


def suffix(kind: str) -> str:
    return "add_build/" if kind == "url" else f"add_build_{kind}/"


@pytest.fixture
def demo(web: TestClient, alice: Account, login: Login) -> None:
    make_project(web, alice)
    login(web, alice)


def _build(web: TestClient, build_id: int) -> dict[str, Any]:
    return dict(web.get(f"/api_3/build/{build_id}", headers=JSON).json())


def _source(web: TestClient, build_id: int) -> dict[str, Any]:
    return dict(web.get(f"/api_3/build/source-build-config/{build_id}", headers=JSON).json())


def test_the_tab_and_every_form_render(web: TestClient, demo: None) -> None:
    page = web.get(BASE).text
    assert f'href="{BASE}add_build/"' in page
    for kind in GOOD | {"upload": GOOD["url"]}:
        r = web.get(BASE + suffix(kind))
        assert r.status_code == 200, kind
        assert f'action="{BASE}{suffix(kind)}"' in r.text
        for chroot in CHROOTS:  # all of the project's, checked
            assert f'name="chroots" value="{chroot}" checked' in r.text
        assert csrf_of(r.text)
    assert 'enctype="multipart/form-data"' in web.get(BASE + "add_build_upload/").text


@pytest.mark.parametrize("kind", list(GOOD))
def test_a_good_post_submits_the_build(web: TestClient, demo: None, kind: str) -> None:
    fields, source_type, source = GOOD[kind]
    url = BASE + suffix(kind)
    r = post_form(web, url, url, chroots=[RAWHIDE], timeout="3600", background="y", **fields)
    assert r.status_code == 303, r.text
    build_id = int(r.headers["location"].rstrip("/").rsplit("/", 1)[1])
    assert r.headers["location"] == f"{BASE}build/{build_id}/"
    assert f"Build {build_id} is submitted." in web.get(r.headers["location"]).text
    build = _build(web, build_id)
    assert build["chroots"] == [RAWHIDE]
    config = _source(web, build_id)
    assert config["source_type"] == source_type
    assert config["source_dict"] == source
    assert config["timeout"] == 3600 and config["is_background"] is True


def test_several_urls_are_several_builds(web: TestClient, demo: None) -> None:
    url = BASE + "add_build/"
    pkgs = "https://example.com/a-1-1.src.rpm\nhttps://example.com/b-1-1.src.rpm"
    r = post_form(web, url, url, pkgs=pkgs, chroots=CHROOTS)
    assert r.status_code == 303 and r.headers["location"] == f"{BASE}builds/"
    listed = web.get("/api_3/build/list", params={"ownername": "alice", "projectname": "demo"})
    assert len(listed.json()["items"]) == 2


@pytest.mark.parametrize("kind", list(BAD))
def test_a_bad_post_shows_the_cores_message(
    web: TestClient, engine: Engine, demo: None, kind: str
) -> None:
    fields, message = BAD[kind]
    url = BASE + suffix(kind)
    before = snapshot(engine)
    r = post_form(web, url, url, chroots=CHROOTS, **fields)
    assert r.status_code == 400, r.text
    assert message in r.text.replace("&#39;", "'")
    assert 'id="form-error"' in r.text
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"chroots": "fedora-1-x86_64"}, "fedora-1-x86_64 matches no chroot of alice/demo"),
        ({}, "no active chroot of alice/demo is selected"),  # every box unchecked
        ({"chroots": RAWHIDE, "timeout": "soon"}, "timeout"),
        ({"chroots": RAWHIDE, "timeout": "108001"}, "timeout"),
    ],
)
def test_bad_options_are_refused(
    web: TestClient, engine: Engine, demo: None, options: dict[str, str], message: str
) -> None:
    url = BASE + "add_build/"
    before = snapshot(engine)
    r = post_form(web, url, url, pkgs="https://example.com/a-1-1.src.rpm", **options)
    assert r.status_code == 400, r.text
    assert message in r.text
    assert snapshot(engine) == before


def _upload(web: TestClient, data: bytes, name: str, **fields: Any) -> Any:
    url = BASE + "add_build_upload/"
    token = fields.pop("csrf_token", None)
    if token is None:
        token = csrf_of(web.get(url).text)
    return web.post(
        url,
        data={"csrf_token": token, "chroots": CHROOTS, **fields},
        files={"pkgs": (name, data, "application/x-rpm")},
        follow_redirects=False,
    )


def test_an_upload_is_a_build_whose_source_task_gets_the_srpm(
    web: TestClient,
    demo: None,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    r = _upload(web, SRPM_BYTES, "hello-1.0-1.src.rpm")
    assert r.status_code == 303, r.text
    build_id = int(r.headers["location"].rstrip("/").rsplit("/", 1)[1])
    assert _source(web, build_id)["source_dict"] == {"pkg": "hello-1.0-1.src.rpm"}
    kept = settings.data_dir / "uploads" / f"{build_id:08d}" / "hello-1.0-1.src.rpm"
    assert kept.read_bytes() == SRPM_BYTES
    # An agent claiming the source task downloads it.
    with write_session(session_factory) as session:
        _, token = builders.create_builder(session, "agent1")
    auth = {"Authorization": f"Bearer {token}"}
    task = web.post("/backend/claim", json={"arches": ["x86_64"]}, headers=auth).json()
    assert task["build_id"] == build_id and task["kind"] == "source"
    assert web.get(f"/backend/task/{task['task_id']}/source", headers=auth).content == SRPM_BYTES


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"just text", "hello-1.0-1.src.rpm", "not an RPM"),
        (RPM_BYTES, "hello-1.0-1.src.rpm", "not a source RPM"),
        (SRPM_BYTES, "hello.tar.gz", "not named like"),
    ],
)
def test_a_bad_upload_is_refused_and_leaves_nothing(
    web: TestClient,
    engine: Engine,
    demo: None,
    settings: Settings,
    data: bytes,
    name: str,
    message: str,
) -> None:
    before = snapshot(engine)
    r = _upload(web, data, name)
    assert r.status_code == 400, r.text
    assert message in r.text
    assert snapshot(engine) == before
    assert not any((settings.data_dir / "uploads").glob("*/*"))


@pytest.mark.parametrize("token", ["", "forged"])
def test_an_upload_without_the_csrf_token_is_refused(
    web: TestClient, engine: Engine, demo: None, settings: Settings, token: str
) -> None:
    before = snapshot(engine)
    r = _upload(web, SRPM_BYTES, "hello-1.0-1.src.rpm", csrf_token=token)
    assert r.status_code == 403
    assert snapshot(engine) == before
    assert not any((settings.data_dir / "uploads").glob("*/*"))


def test_an_anonymous_upload_is_not_read(
    web: TestClient, alice: Account, engine: Engine, settings: Settings
) -> None:
    make_project(web, alice)
    before = snapshot(engine)
    r = web.post(
        BASE + "add_build_upload/",
        data={"csrf_token": "x"},
        files={"pkgs": ("hello-1.0-1.src.rpm", SRPM_BYTES)},
    )
    assert r.status_code == 401
    assert snapshot(engine) == before


@pytest.mark.parametrize("kind", [*GOOD, "upload"])
def test_without_the_csrf_token_nothing_is_built(
    web: TestClient, engine: Engine, demo: None, kind: str
) -> None:
    fields = GOOD[kind][0] if kind in GOOD else {}
    before = snapshot(engine)
    r = web.post(BASE + suffix(kind), data={"chroots": CHROOTS, **fields}, follow_redirects=False)
    assert r.status_code == 403
    assert snapshot(engine) == before


def test_others_see_no_tab_and_are_refused(
    web: TestClient, engine: Engine, alice: Account, bob: Account, login: Login
) -> None:
    make_project(web, alice)
    login(web, bob)
    assert f'href="{BASE}add_build/"' not in web.get(BASE).text
    assert web.get(BASE + "add_build/").status_code == 403
    token = csrf_of(web.get("/account").text)
    before = snapshot(engine)
    for kind, (fields, _, _) in GOOD.items():
        r = web.post(
            BASE + suffix(kind),
            data={"csrf_token": token, "chroots": CHROOTS, **fields},
            follow_redirects=False,
        )
        assert r.status_code == 403, kind
    r = _upload(web, SRPM_BYTES, "hello-1.0-1.src.rpm", csrf_token=token)
    assert r.status_code == 403
    assert snapshot(engine) == before
