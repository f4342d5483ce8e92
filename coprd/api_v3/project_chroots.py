"""``project-chroot/…``: a project's settings for one chroot, and its build config."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from coprd.api_v3.deps import CurrentUser
from coprd.api_v3.errors import validation_message
from coprd.api_v3.schemas import BuildConfigOut, ProjectChrootEditIn, ProjectChrootOut
from coprd.core.errors import InvalidInput
from coprd.core.project_chroots import (
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
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "json": {"$ref": "#/components/schemas/ProjectChrootEditIn"},
                        "upload_comps": {"type": "string", "format": "binary"},
                    },
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/ProjectChrootEditIn"}},
        }
    }
}


async def _read_edit_body(request: Request) -> tuple[ProjectChrootEditIn, tuple[str, bytes] | None]:
    content_type = request.headers.get("content-type", "")
    comps: tuple[str, bytes] | None = None
    raw: Any
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=4, max_fields=50, max_part_size=MAX_EDIT_BODY)
        except Exception as exc:  # the multipart parser's own errors, e.g. a bad boundary
            raise InvalidInput(f"malformed multipart body: {exc}") from None
        part = form.get("json")
        if part is None:
            # Clients always send it, last: without it the body is not theirs, or cut short.
            raise InvalidInput("the multipart body has no 'json' part")
        text = await part.read() if isinstance(part, UploadFile) else part
        try:
            raw = json.loads(text)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidInput("the 'json' part is not valid JSON") from None
        upload = form.get("upload_comps")
        if isinstance(upload, UploadFile):
            data = await upload.read(MAX_COMPS + 1)
            comps = (upload.filename or "comps.xml", data)
    elif content_type.startswith("application/json"):
        try:
            raw = await request.json()
        except (ValueError, RecursionError):
            raise InvalidInput("the body is not valid JSON") from None
    else:
        raise InvalidInput("send multipart/form-data with a 'json' part, or application/json")
    if not isinstance(raw, dict):
        raise InvalidInput("the JSON body must be an object")
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
