"""``project-chroot/…``: a project's settings for one chroot, and its build config."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from coprd.api_v3.deps import CurrentUser
from coprd.api_v3.errors import validation_message
from coprd.api_v3.multipart import read_json_and_files
from coprd.api_v3.schemas import BuildConfigOut, ProjectChrootEditIn, ProjectChrootOut
from coprd.core.errors import InvalidInput
from coprd.core.project_chroots import (
    COMPS_SCHEMA,
    MAX_COMPS,
    build_config,
    edit_project_chroot,
    get_project_chroot,
)
from coprd.core.projects import get_project
from coprd.http import DB, AppSettings

router = APIRouter(prefix="/project-chroot", tags=["project chroots"])

OwnerQ = Annotated[str, Query()]
ProjectQ = Annotated[str, Query()]
ChrootQ = Annotated[str, Query()]
MAX_EDIT_BODY = MAX_COMPS + 1024 * 1024


@router.get("", response_model=ProjectChrootOut, summary="A project's settings for a chroot")
def get_chroot(db: DB, ownername: OwnerQ, projectname: ProjectQ, chrootname: ChrootQ) -> Any:
    project = get_project(db, ownername, projectname)
    return ProjectChrootOut.of(get_project_chroot(project, chrootname), project)


@router.get(
    "/build-config",
    response_model=BuildConfigOut,
    response_model_exclude_none=True,
    summary="What builds in this chroot use",
)
def get_build_config(
    db: DB, settings: AppSettings, ownername: OwnerQ, projectname: ProjectQ, chrootname: ChrootQ
) -> Any:
    project = get_project(db, ownername, projectname)
    pc = get_project_chroot(project, chrootname)
    return BuildConfigOut.model_validate(build_config(project, pc, settings.results_url))


_EDIT_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "json": {"$ref": "#/components/schemas/ProjectChrootEditIn"},
                        # A file part (as python-copr sends it) or a text field: the file.
                        "upload_comps": COMPS_SCHEMA,
                    },
                    "required": ["json"],
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/ProjectChrootEditIn"}},
        },
    }
}


async def _read_edit_body(request: Request) -> tuple[ProjectChrootEditIn, tuple[str, bytes] | None]:
    raw, form = await read_json_and_files(request, max_part=MAX_EDIT_BODY)
    comps: tuple[str, bytes] | None = None
    upload = form.get("upload_comps") if form is not None else None
    if isinstance(upload, UploadFile):
        comps = (upload.filename or "comps.xml", await upload.read(MAX_EDIT_BODY))
    elif isinstance(upload, str):
        comps = ("comps.xml", upload.encode("utf-8"))
    try:
        return ProjectChrootEditIn.model_validate(raw), comps
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from None


@router.put(
    "/edit/{ownername}/{projectname}/{chrootname}",
    response_model=ProjectChrootOut,
    summary="Change a project's settings for a chroot (multipart, optional comps upload)",
    openapi_extra=_EDIT_BODY_DOC,
    max_body_size=MAX_EDIT_BODY,
)
@router.post(
    "/edit/{ownername}/{projectname}/{chrootname}",
    response_model=ProjectChrootOut,
    include_in_schema=False,
    max_body_size=MAX_EDIT_BODY,
)
def edit_chroot(
    db: DB,
    user: CurrentUser,
    body: Annotated[tuple[ProjectChrootEditIn, tuple[str, bytes] | None], Depends(_read_edit_body)],
    ownername: str,
    projectname: str,
    chrootname: str,
) -> Any:
    fields, comps = body
    project = get_project(db, ownername, projectname)
    pc = edit_project_chroot(db, user, project, chrootname, fields, comps)
    return ProjectChrootOut.of(pc, project)
