"""A project's permissions page (``…/permissions/``): another logged-in user asks for, or
gives up, builder and admin rights there; the project's editors see every user's entry
and approve, deny or take back. ``core.permissions`` decides both, as for APIv3's
``project/permissions/request`` and ``…/set``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from coprd.core import permissions
from coprd.core.errors import InvalidInput, NotAuthenticated, NotFound
from coprd.db.models import PermissionValue, Project, User
from coprd.http import DB
from coprd.web.pages import urls
from coprd.web.pages.forms import LargeCheckedForm, flag, refusal
from coprd.web.pages.projects import OwnerName, add_project_route, find_project, project_rights
from coprd.web.pages.render import render
from coprd.web.pages.sessions import Viewer, flash

router = APIRouter(include_in_schema=False)

ROLES = tuple(role.value for role in permissions.Role)
VALUES = tuple(value.value for value in PermissionValue)


def _page(
    request: Request,
    db: DB,
    viewer: User | None,
    project: Project,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    if viewer is None:
        raise NotAuthenticated("log in to see or ask for permissions")
    rights = project_rights(db, viewer, project)
    context: dict[str, Any] = {
        "project": project,
        "tab": "permissions",
        "rights": rights,
        "roles": ROLES,
        "values": VALUES,
        "entries": permissions.list_permissions(db, viewer, project) if rights["edit"] else {},
        "mine": permissions.roles_of(db, project, viewer) if rights["ask"] else None,
        "error": error,
    }
    return render(request, "project_permissions.html", context, status=status)


def permissions_page(
    request: Request, db: DB, viewer: Viewer, owner: OwnerName, projectname: str
) -> Response:
    return _page(request, db, viewer, find_project(db, owner, projectname))


def request_roles(
    request: Request,
    form: LargeCheckedForm,
    db: DB,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
) -> Response:
    project = find_project(db, owner, projectname)
    try:
        permissions.request_permissions(
            db, viewer, project, {role: flag(form, role) for role in ROLES}
        )
    except InvalidInput as exc:
        message, status = refusal(db, exc)
        project = find_project(db, owner, projectname)
        return _page(request, db, viewer, project, error=message, status=status)
    flash(request, "Your request is saved; the project's owners decide on it.")
    return RedirectResponse(urls.project_url(project, "permissions/"), status_code=303)


def set_roles(
    request: Request,
    form: LargeCheckedForm,
    db: DB,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
) -> Response:
    """Fields ``<role>:<user>`` with a value each, for the users the page listed."""
    project = find_project(db, owner, projectname)
    changes: dict[str, dict[str, str]] = {}
    for key, value in form.multi_items():
        role, sep, username = key.partition(":")
        if sep and role in ROLES and isinstance(value, str):
            changes.setdefault(username, {})[role] = value
    try:
        if not changes:
            raise InvalidInput("the form names no user", "permissions")
        permissions.set_permissions(db, viewer, project, changes)
    except (InvalidInput, NotFound) as exc:
        message, status = refusal(db, exc)
        project = find_project(db, owner, projectname)
        return _page(request, db, viewer, project, error=message, status=status)
    flash(request, "The permissions are saved.")
    return RedirectResponse(urls.project_url(project, "permissions/"), status_code=303)


add_project_route(router, "/permissions/", permissions_page)
add_project_route(router, "/permissions/request", request_roles, methods=["POST"])
add_project_route(router, "/permissions/", set_roles, methods=["POST"])
