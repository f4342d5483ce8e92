"""``.repo`` files for dnf, at the paths Copr serves them (``dnf copr enable`` asks for
``/coprs/<owner>/<project>/repo/<name-release>/dnf.repo?arch=<arch>``)."""

from __future__ import annotations

import base64
import json
import re
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from coprd.core.errors import NotFound
from coprd.core.projects import get_project
from coprd.http import DB, AppSettings
from coprd.publish.repofiles import NAME_RELEASE, ChrootNotFound, repo_file, resolve_chroot

__all__ = ["router"]

router = APIRouter(tags=["repositories"])

_ARCH = re.compile(r"[a-z0-9_]{1,20}")
_FILE = re.compile(r"[A-Za-z0-9_.:@+-]{1,200}\.repo")
Arch = Annotated[str | None, Query(max_length=20)]


def _repo(
    db: DB,
    settings: AppSettings,
    owner: str,
    project: str,
    release: str,
    file: str | None,
    arch: str | None,
) -> PlainTextResponse:
    if (
        not NAME_RELEASE.fullmatch(release)
        or (arch is not None and not _ARCH.fullmatch(arch))
        or (file is not None and not _FILE.fullmatch(file))
    ):
        raise NotFound(f"No repository for {release!r}.")
    found = get_project(db, owner, project)
    try:
        chroot = resolve_chroot(found, release, arch)
    except ChrootNotFound as exc:
        data = json.dumps({"available chroots": exc.available}).encode()
        return PlainTextResponse(
            f"Chroot not found: {exc.wanted} is not enabled in {owner}/{project}.\n",
            status_code=404,
            headers={"Copr-Error-Data": base64.b64encode(data).decode()},
        )
    text = repo_file(found, chroot, settings.public_url, arch, signed=settings.signing)
    return PlainTextResponse(text, headers={"Cache-Control": "max-age=300"})


@router.get("/coprs/{owner}/{project}/repo/{release}/")
def user_repo(
    db: DB, settings: AppSettings, owner: str, project: str, release: str, arch: Arch = None
) -> PlainTextResponse:
    return _repo(db, settings, owner, project, release, None, arch)


@router.get("/coprs/{owner}/{project}/repo/{release}/{file}")
def user_repo_file(
    db: DB,
    settings: AppSettings,
    owner: str,
    project: str,
    release: str,
    file: str,
    arch: Arch = None,
) -> PlainTextResponse:
    return _repo(db, settings, owner, project, release, file, arch)


@router.get("/coprs/g/{group}/{project}/repo/{release}/")
def group_repo(
    db: DB, settings: AppSettings, group: str, project: str, release: str, arch: Arch = None
) -> PlainTextResponse:
    return _repo(db, settings, f"@{group}", project, release, None, arch)


@router.get("/coprs/g/{group}/{project}/repo/{release}/{file}")
def group_repo_file(
    db: DB,
    settings: AppSettings,
    group: str,
    project: str,
    release: str,
    file: str,
    arch: Arch = None,
) -> PlainTextResponse:
    return _repo(db, settings, f"@{group}", project, release, file, arch)
