"""Forking a project from its page: ``…/fork/``, for anyone logged in, as on Copr.

The form names the fork's owner (the viewer, or a group they belong to) and name; the
core's ``forks.fork_project`` decides whether that may be, and refuses an existing
project unless the form confirms it. The results are copied after the answer (see
``core/forks.py``), which the page says.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from coprd.core import forks, groups
from coprd.core.errors import CoprdError, NotAuthenticated
from coprd.db.models import Project, User
from coprd.http import DB
from coprd.web.pages import urls
from coprd.web.pages.forms import CheckedForm, field, flag, refusal
from coprd.web.pages.projects import OwnerName, add_project_route, find_project, project_rights
from coprd.web.pages.render import render
from coprd.web.pages.sessions import Viewer, flash

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    db: DB,
    viewer: User,
    project: Project,
    shown: dict[str, Any],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "project": project,
        "tab": "fork",
        "rights": project_rights(db, viewer, project),
        "owners": [viewer.name, *(f"@{name}" for name in groups.group_names_of(db, viewer))],
        "values": shown,
        "error": error,
    }
    return render(request, "project_fork.html", context, status=status)


def fork_page(
    request: Request, db: DB, viewer: Viewer, owner: OwnerName, projectname: str
) -> Response:
    project = find_project(db, owner, projectname)
    if viewer is None:
        raise NotAuthenticated("log in to fork a project")
    shown = {"owner": viewer.name, "name": project.name, "confirm": False}
    return _page(request, db, viewer, project, shown)


def fork(
    request: Request,
    form: CheckedForm,
    db: DB,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
) -> Response:
    project = find_project(db, owner, projectname)
    if viewer is None:
        raise NotAuthenticated("log in to fork a project")
    owner_name = field(form, "owner", max_length=200)
    name = field(form, "name", max_length=200).strip()
    confirm = flag(form, "confirm")
    shown = {"owner": owner_name, "name": name, "confirm": confirm}
    try:
        copy, created = forks.fork_project(db, viewer, project, owner_name, name, confirm=confirm)
    except CoprdError as exc:
        message, status = refusal(db, exc)
        return _page(request, db, viewer, project, shown, error=message, status=status)
    done = "is forked into" if created else "updated the packages of"
    flash(
        request,
        f"{project.full_name} {done} {copy.full_name}. Its builds' results are being copied; "
        "that may take a few minutes.",
    )
    return RedirectResponse(urls.project_url(copy), status_code=303)


add_project_route(router, "/fork/", fork_page)
add_project_route(router, "/fork/", fork, methods=["POST"])
