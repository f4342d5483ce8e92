"""A project's Monitor tab: a table of its packages by its active chroots, each cell the
state of the package's latest build there, linking to that build (Copr's ``…/monitor/``).

Filters are query parameters (``package``: a part of the name; ``state``: packages with a
chroot in that state), so the form works without scripts and a filtered view can be
bookmarked. The core reads the whole monitor in one query; the page shows it in pages of
:data:`MONITOR_PAGE` packages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coprd.core.builds import parse_state
from coprd.core.monitor import project_monitor
from coprd.http import DB
from coprd.web.pages import urls
from coprd.web.pages.projects import OwnerName, add_project_route, find_project, project_rights
from coprd.web.pages.render import PackageFilter, PageNumber, Pager, StateFilter, render
from coprd.web.pages.sessions import Viewer

__all__ = ["MONITOR_PAGE", "router"]

router = APIRouter(include_in_schema=False)

MONITOR_PAGE = 100


def monitor_tab(
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
    wanted = parse_state(state, "state") if state else None
    name = package.strip()
    found = project_monitor(db, project, name_contains=name or None, state=wanted)
    first = (page - 1) * MONITOR_PAGE
    shown = found.packages[first : first + MONITOR_PAGE]
    rows: list[dict[str, Any]] = []
    for row in shown:
        cells: list[dict[str, Any] | None] = []
        for chroot in found.chroots:
            cell = row.cells.get(chroot)
            if cell is None:
                cells.append(None)
                continue
            cells.append(
                {
                    "state": cell.state.value,
                    "build_id": cell.build_id,
                    "version": cell.pkg_version,
                    "url": urls.project_url(project, f"build/{cell.build_id}/"),
                }
            )
        rows.append({"name": row.name, "url": urls.package_url(project, row.name), "cells": cells})
    context = {
        "project": project,
        "tab": "monitor",
        "chroots": found.chroots,
        "rows": rows,
        "total": len(found.packages),
        "pager": Pager.of(request, page, len(found.packages) > first + MONITOR_PAGE),
        "state": wanted.value if wanted else "",
        "package": name,
        "rights": project_rights(db, viewer, project),
    }
    return render(request, "project_monitor.html", context)


add_project_route(router, "/monitor/", monitor_tab)
