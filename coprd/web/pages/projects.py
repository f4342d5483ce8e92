"""A project's pages: the overview, its builds and its packages.

Each is served for a user's project (``/coprs/<user>/<project>/…``) and a group's
(``/coprs/g/<group>/<project>/…``); ``…/repo/…`` below them are the ``.repo`` files
(``coprd.web.repofiles``). Lists are pages of a bounded size, read by indexed queries, so a
project with many builds costs what one with a few does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from coprd.core import builds, packages, permissions, projects
from coprd.core.errors import InvalidInput, NotFound
from coprd.core.pagination import make_page
from coprd.db.models import Project, User
from coprd.http import DB, AppSettings
from coprd.publish.repofiles import name_release
from coprd.web.pages import urls
from coprd.web.pages.render import PackageFilter, PageNumber, Pager, StateFilter, render
from coprd.web.pages.sessions import Viewer

__all__ = ["OwnerName", "add_project_route", "find_project", "project_rights", "router"]

router = APIRouter(include_in_schema=False)

BUILDS_PAGE = 50
PACKAGES_PAGE = 50
RECENT_BUILDS = 5
_PREFIXES = ("/coprs/g/{group}/{projectname}", "/coprs/{owner}/{projectname}")


def _owner_name(request: Request) -> str:
    params = request.path_params
    return f"@{params['group']}" if "group" in params else str(params["owner"])


OwnerName = Annotated[str, Depends(_owner_name)]
"""The owner a project path names: ``alice``, or ``@group`` for ``/coprs/g/group/…``."""


def add_project_route(
    router: APIRouter,
    suffix: str,
    endpoint: Callable[..., Any],
    methods: Sequence[str] = ("GET",),
    **options: Any,
) -> None:
    """Serve ``endpoint`` below a group's project and a user's (group paths first, so that
    ``/coprs/g/…`` is never read as a project of a user named "g")."""
    for prefix in _PREFIXES:
        router.add_api_route(prefix + suffix, endpoint, methods=list(methods), **options)


def find_project(db: DB, owner_name: str, projectname: str) -> Project:
    """The project, with a 404 also for names that cannot be a project's."""
    try:
        return projects.get_project(db, owner_name, projectname)
    except InvalidInput:
        raise NotFound(f"Project {owner_name}/{projectname} does not exist.") from None


def project_rights(db: DB, viewer: User | None, project: Project) -> dict[str, bool]:
    """Which of the project's tabs and buttons ``viewer`` sees; the core decides the same
    again on every post."""
    edit = permissions.may(db, viewer, permissions.Action.edit, project)
    return {
        "build": permissions.may(db, viewer, permissions.Action.build, project),
        "edit": edit,
        "ask": viewer is not None and not permissions.is_owner(db, viewer, project),
    }


def _repositories(project: Project) -> list[dict[str, Any]]:
    """One ``.repo`` link per name-release (``fedora-41``) with its architectures."""
    arches: dict[str, list[str]] = {}
    for pc in sorted(project.chroots, key=lambda pc: pc.mock_chroot.name):
        if pc.mock_chroot.is_active:
            arches.setdefault(name_release(pc.mock_chroot.name), []).append(pc.mock_chroot.arch)
    return [
        {"name": release, "arches": found, "url": urls.repo_file_url(project, release)}
        for release, found in arches.items()
    ]


def overview(
    request: Request,
    db: DB,
    settings: AppSettings,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
) -> Response:
    project = find_project(db, owner, projectname)
    recent = builds.list_builds(
        db, project, make_page(limit=RECENT_BUILDS, order="id", order_type="DESC")
    )
    chroots = [
        {
            "name": pc.mock_chroot.name,
            "active": pc.mock_chroot.is_active,
            "url": urls.results_url(
                settings.results_url,
                f"{project.owner_name}/{project.name}/{pc.mock_chroot.name}",
                directory=True,
            ),
        }
        for pc in sorted(project.chroots, key=lambda pc: pc.mock_chroot.name)
    ]
    context = {
        "project": project,
        "tab": "overview",
        "chroots": chroots,
        "repos": _repositories(project),
        "enable": f"dnf copr --hub {settings.public_url} enable {project.full_name}",
        "builds": recent,
        "rights": project_rights(db, viewer, project),
    }
    return render(request, "project.html", context)


def builds_tab(
    request: Request,
    db: DB,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
    page: PageNumber = 1,
    state: StateFilter = "",
    package: PackageFilter = "",
) -> Response:
    project = find_project(db, owner, projectname)
    rows = builds.list_builds(
        db,
        project,
        make_page(
            limit=BUILDS_PAGE + 1,
            offset=(page - 1) * BUILDS_PAGE,
            order="id",
            order_type="DESC",
        ),
        packagename=package.strip() or None,
        status=state or None,
    )
    context = {
        "project": project,
        "tab": "builds",
        "builds": rows[:BUILDS_PAGE],
        "pager": Pager.of(request, page, len(rows) > BUILDS_PAGE),
        "state": state,
        "package": package.strip(),
        "rights": project_rights(db, viewer, project),
    }
    return render(request, "project_builds.html", context)


def packages_tab(
    request: Request,
    db: DB,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
    page: PageNumber = 1,
) -> Response:
    project = find_project(db, owner, projectname)
    views = packages.list_packages(
        db,
        project,
        make_page(limit=PACKAGES_PAGE + 1, offset=(page - 1) * PACKAGES_PAGE, order="name"),
        latest=True,
    )
    context = {
        "project": project,
        "tab": "packages",
        "packages": views[:PACKAGES_PAGE],
        "pager": Pager.of(request, page, len(views) > PACKAGES_PAGE),
        "rights": project_rights(db, viewer, project),
    }
    return render(request, "project_packages.html", context)


add_project_route(router, "/", overview)
add_project_route(router, "/builds/", builds_tab)
add_project_route(router, "/packages/", packages_tab)
