"""The web UI's route table, pinned: a page that appears or vanishes must be a decision."""

from __future__ import annotations

from fastapi.routing import APIRoute

from coprd.web import pages
from coprd.web.pages.paths import has_session

_PROJECT = ("/coprs/g/{group}/{projectname}", "/coprs/{owner}/{projectname}")
_BUILD = "/build/{build_id:int}"
_ADD = ("/coprs/g/{group}/add/", "/coprs/{owner}/add/")
_NEW_BUILD = (
    "add_build",
    *(f"add_build_{kind}" for kind in ("upload", "scm", "pypi", "rubygems", "custom", "distgit")),
)

EXPECTED = {
    ("GET", "/"),
    ("GET", "/search"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/account"),
    ("GET", "/api"),
    ("POST", "/account/api-token"),
    ("POST", "/account/logout-everywhere"),
    ("GET", "/coprs/build/{build_id:int}/"),
    ("GET", "/coprs/g/{group}/"),
    ("GET", "/coprs/{username}/"),
    *(
        ("GET", f"{prefix}{suffix}")
        for prefix in _PROJECT
        for suffix in ("/", "/builds/", "/packages/", "/monitor/")
    ),
    *(("GET", f"{prefix}{_BUILD}/") for prefix in _PROJECT),
    *(("GET", f"{prefix}{_BUILD}/log/{{chroot}}") for prefix in _PROJECT),
    *(
        ("POST", f"{prefix}{_BUILD}/{action}")
        for prefix in _PROJECT
        for action in ("cancel", "resubmit", "delete")
    ),
    # New projects, at Copr's URLs.
    *((method, path) for method in ("GET", "POST") for path in _ADD),
    # New builds, one form per source type.
    *(
        (method, f"{prefix}/{form}/")
        for method in ("GET", "POST")
        for prefix in _PROJECT
        for form in _NEW_BUILD
    ),
    # Forks, by anyone logged in.
    *((method, f"{prefix}/fork/") for method in ("GET", "POST") for prefix in _PROJECT),
    # Settings and permissions.
    *(
        (method, f"{prefix}/{page}/")
        for method in ("GET", "POST")
        for prefix in _PROJECT
        for page in ("edit", "edit_chroot/{chroot}", "delete", "permissions")
    ),
    *(("GET", f"{prefix}/integrations/") for prefix in _PROJECT),
    *(("POST", f"{prefix}/integrations/regenerate") for prefix in _PROJECT),
    *(("POST", f"{prefix}/createrepo/") for prefix in _PROJECT),
    *(("POST", f"{prefix}/permissions/request") for prefix in _PROJECT),
    # A package's page, its Rebuild button and its status badge, at Copr's URLs.
    *(("GET", f"{prefix}/package/{{packagename}}/") for prefix in _PROJECT),
    *(("POST", f"{prefix}/package/{{packagename}}/rebuild") for prefix in _PROJECT),
    *(("POST", f"{prefix}/package/{{packagename}}/rebuild-dependents") for prefix in _PROJECT),
    *(("POST", f"{prefix}/packages/rebuild-all") for prefix in _PROJECT),
    *(
        (method, f"{prefix}/package/{{packagename}}/status_image/last_build.png")
        for prefix in _PROJECT
        for method in ("GET", "HEAD")
    ),
    ("GET", "/coprs/build/{build_id:int}/status_image.png"),
    ("HEAD", "/coprs/build/{build_id:int}/status_image.png"),
}


def test_route_table() -> None:
    served = set()
    for included in pages.router.routes:
        for route in included.original_router.routes:  # type: ignore[attr-defined]
            assert isinstance(route, APIRoute)
            served |= {(method, route.path) for method in route.methods}
    assert served == EXPECTED


def test_public_names() -> None:
    assert sorted(pages.__all__) == ["install", "is_web_path", "render_error", "router"]


def test_which_paths_are_the_web_uis() -> None:
    for path in ("/", "/api", "/login", "/coprs/alice/", "/coprs/alice/demo/builds/", "/x"):
        assert pages.is_web_path(path), path
    for path in (
        "/api_3/project",
        "/api_2/projects",
        "/api/coprs/alice/",
        "/backend/claim",
        "/results/alice/",
        "/webhooks/github/1/s/",
        "/coprs/alice/demo/repo/fedora-rawhide/dnf.repo",
        "/coprs/g/devs/demo/repo/epel-9/",
    ):
        assert not pages.is_web_path(path), path


def test_badges_are_web_paths_without_a_session() -> None:
    for path in (
        "/coprs/alice/demo/package/hello/status_image/last_build.png",
        "/coprs/g/devs/demo/package/hello/status_image/last_build.png",
        "/coprs/build/12/status_image.png",
    ):
        assert pages.is_web_path(path) and not has_session(path), path
    for path in (
        "/coprs/alice/demo/package/hello/",
        "/coprs/build/12/",
        "/coprs/alice/demo/build/12/",
        "/coprs/alice/status_image/package/x/status_image/last_build.png/more",
    ):
        assert has_session(path), path
