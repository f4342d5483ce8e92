"""``/api_2/projects/<id>/chroots``: a project's chroots, enabled, changed and disabled."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy.orm import Session

from coprd.api_v2 import links
from coprd.api_v2.params import checked
from coprd.api_v2.schemas import (
    V2ProjectChrootIn,
    V2ProjectChrootList,
    V2ProjectChrootOut,
    V2ProjectChrootUpdateIn,
    link_map,
)
from coprd.auth import CurrentUser
from coprd.core.names import json_schema
from coprd.core.project_chroots import (
    ChrootFields,
    disable_project_chroot,
    edit_project_chroot,
    enable_project_chroot,
    get_project_chroot,
)
from coprd.core.projects import get_project_by_id
from coprd.db.models import Project, ProjectChroot, User
from coprd.http import DB, AppSettings

router = APIRouter(prefix="/projects/{project_id}/chroots", tags=["api_2 project chroots"])
ChrootName = Annotated[
    str, Path(description="the chroot's name", json_schema_extra=json_schema("chroot"))
]


def _apply(
    db: Session, user: User, project: Project, name: str, body: V2ProjectChrootUpdateIn
) -> ProjectChroot:
    """The body's settings, through the core; ``null`` keeps a setting, as it does there."""
    fields = checked(
        ChrootFields,
        {"additional_packages": body.buildroot_pkgs, "delete_comps": body.comps == ""},
    )
    comps = None
    if body.comps:
        comps = (body.comps_name or "comps.xml", body.comps.encode("utf-8"))
    return edit_project_chroot(db, user, project, name, fields, comps)


@router.get("", response_model=V2ProjectChrootList, summary="The project's chroots")
def list_chroots(db: DB, project_id: int) -> V2ProjectChrootList:
    project = get_project_by_id(db, project_id)
    enabled = sorted(project.chroots, key=lambda pc: pc.mock_chroot.name)
    return V2ProjectChrootList(
        links=link_map(self=links.project_chroots(project_id)),
        chroots=[V2ProjectChrootOut.of(pc) for pc in enabled],
    )


@router.post(
    "",
    status_code=201,
    response_model=V2ProjectChrootOut,
    summary="Enable a chroot (201, Location: the project chroot)",
)
def enable_chroot(
    response: Response,
    db: DB,
    settings: AppSettings,
    user: CurrentUser,
    project_id: int,
    body: V2ProjectChrootIn,
) -> V2ProjectChrootOut:
    project = get_project_by_id(db, project_id)
    pc = enable_project_chroot(db, user, project, body.name)
    pc = _apply(db, user, project, pc.mock_chroot.name, body)
    href = links.project_chroot(project_id, pc.mock_chroot.name)
    response.headers["Location"] = links.absolute(settings.public_url, href)
    return V2ProjectChrootOut.of(pc)


@router.get("/{name}", response_model=V2ProjectChrootOut, summary="One chroot of the project")
def get_chroot(db: DB, project_id: int, name: ChrootName) -> V2ProjectChrootOut:
    return V2ProjectChrootOut.of(get_project_chroot(get_project_by_id(db, project_id), name))


@router.put("/{name}", response_model=V2ProjectChrootOut, summary="Change the project's chroot")
def update_chroot(
    db: DB, user: CurrentUser, project_id: int, name: ChrootName, body: V2ProjectChrootUpdateIn
) -> V2ProjectChrootOut:
    # The name in the body is read-only: the path says which chroot.
    return V2ProjectChrootOut.of(_apply(db, user, get_project_by_id(db, project_id), name, body))


@router.delete("/{name}", status_code=204, response_class=Response, summary="Disable a chroot")
def disable_chroot(db: DB, user: CurrentUser, project_id: int, name: ChrootName) -> Response:
    disable_project_chroot(db, user, get_project_by_id(db, project_id), name)
    return Response(status_code=204)
