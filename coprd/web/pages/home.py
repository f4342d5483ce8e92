"""The home page (recent builds and projects) and the project search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from coprd.config import Settings
from coprd.core import builds, projects
from coprd.core.pagination import make_page
from coprd.http import DB, AppSettings
from coprd.web.pages.paths import wants_html
from coprd.web.pages.render import PageNumber, Pager, render
from coprd.web.pages.sessions import Viewer

router = APIRouter(include_in_schema=False)

RECENT = 10
# "/" answers HTML or JSON by the Accept header: caches must keep both apart.
VARY = {"Vary": "Accept"}
SEARCH_PAGE = 30


def service_document(settings: Settings) -> dict[str, Any]:
    """What ``/`` answers clients that do not ask for HTML, as it did before the web UI."""
    base = settings.public_url
    return {"service": "coprd", "api_3": f"{base}/api_3/", "docs": f"{base}/api_3/docs"}


@router.get("/")
def home(request: Request, db: DB, settings: AppSettings, viewer: Viewer) -> Response:
    if not wants_html(request):
        return JSONResponse(service_document(settings), headers=VARY)
    recent_builds = builds.list_recent_builds(db, RECENT)
    recent_projects = projects.list_listed_projects(
        db, make_page(limit=RECENT, order="id", order_type="DESC")
    )
    return render(
        request,
        "home.html",
        {"builds": recent_builds, "projects": recent_projects},
        headers=VARY,
    )


@router.get("/search")
def search(
    request: Request,
    db: DB,
    viewer: Viewer,
    q: Annotated[str, Query(max_length=200)] = "",
    page: PageNumber = 1,
) -> Response:
    query = q.strip()
    found: list[Any] = []
    more = False
    if query:
        rows = projects.search_projects(
            db,
            query,
            make_page(limit=SEARCH_PAGE + 1, offset=(page - 1) * SEARCH_PAGE, order="name"),
        )
        found, more = list(rows[:SEARCH_PAGE]), len(rows) > SEARCH_PAGE
    return render(
        request,
        "search.html",
        {"query": query, "projects": found, "pager": Pager.of(request, page, more)},
    )
