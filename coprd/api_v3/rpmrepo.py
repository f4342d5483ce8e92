"""``/api_3/rpmrepo``: the project's repositories as DNF5's copr plugin reads them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from coprd.core.errors import NotFound
from coprd.core.projects import get_project
from coprd.http import DB, AppSettings
from coprd.publish.repofiles import NAME_RELEASE, rpmrepo

router = APIRouter(tags=["repositories"])


@router.get("/rpmrepo/{ownername}/{dirname}/{name_release}", summary="Repositories for DNF5")
def get_rpmrepo(
    db: DB, settings: AppSettings, ownername: str, dirname: str, name_release: str
) -> dict[str, Any]:
    if not NAME_RELEASE.fullmatch(name_release):
        raise NotFound(f"No repository for {name_release!r}.")
    project = get_project(db, ownername, dirname)
    return rpmrepo(project, name_release, settings.public_url)
