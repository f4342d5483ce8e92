"""The pages of a user and of a group, with their projects."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coprd.core import groups, projects, users
from coprd.core.errors import InvalidInput, NotFound
from coprd.core.names import check_group_name, check_user_name
from coprd.core.pagination import make_page
from coprd.db.models import Project
from coprd.http import DB
from coprd.web.pages.render import PageNumber, Pager, render
from coprd.web.pages.sessions import Viewer

router = APIRouter(include_in_schema=False)

PROJECTS_PAGE = 50


def _projects(request: Request, db: DB, owner_name: str, page: int) -> tuple[list[Project], Pager]:
    rows = projects.list_projects(
        db,
        owner_name,
        make_page(limit=PROJECTS_PAGE + 1, offset=(page - 1) * PROJECTS_PAGE, order="name"),
    )
    return list(rows[:PROJECTS_PAGE]), Pager.of(request, page, len(rows) > PROJECTS_PAGE)


@router.get("/coprs/g/{group}/")
def group_page(
    request: Request, db: DB, viewer: Viewer, group: str, page: PageNumber = 1
) -> Response:
    try:
        found = groups.get_group(db, check_group_name(group))
    except (InvalidInput, NotFound):
        raise NotFound(f"There is no group @{group}.") from None
    listed, pager = _projects(request, db, f"@{found.name}", page)
    context = {
        "group": found,
        "members": groups.member_names(db, found),
        "projects": listed,
        "pager": pager,
    }
    return render(request, "group.html", context)


@router.get("/coprs/{username}/")
def user_page(
    request: Request, db: DB, viewer: Viewer, username: str, page: PageNumber = 1
) -> Response:
    try:
        found = users.get_user(db, check_user_name(username))
    except (InvalidInput, NotFound):
        raise NotFound(f"There is no user {username}.") from None
    listed, pager = _projects(request, db, found.name, page)
    context = {
        "owner": found,
        "groups": groups.group_names_of(db, found),
        "projects": listed,
        "pager": pager,
    }
    return render(request, "user.html", context)
