"""``/api_2/builds``: translation of APIv2 build calls into core calls.

A build is submitted by one POST in one of two forms, told apart by the content type: JSON
``{"project_id", "srpm_url", "chroots", "enable_net"}``, or multipart with a ``metadata``
part (the same JSON without ``srpm_url``, sent without a filename) and an ``srpm`` file
part. 1.63 labels that file ``appliction/x-rpm``; its content, not its label, is checked.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from coprd import uploads
from coprd.api_v2 import links
from coprd.api_v2.params import NewestFirst, checked
from coprd.api_v2.schemas import (
    V2BuildFileIn,
    V2BuildList,
    V2BuildOut,
    V2BuildUpdateIn,
    V2BuildUrlIn,
    link_map,
)
from coprd.auth import CurrentUser, require_credentials
from coprd.config import Settings
from coprd.core import builds
from coprd.core.builds import BuildOptions
from coprd.core.errors import InvalidInput, TooLarge
from coprd.core.names import parse_digits
from coprd.core.projects import get_project_by_id
from coprd.db.models import BuildState
from coprd.http import DB, AppSettings, read_form

router = APIRouter(prefix="/builds", tags=["api_2 builds"])

# As APIv3's upload route: the configured upload limit is enforced by uploads.bounded.
MAX_UPLOAD_BODY = 64 * 1024 * 1024 * 1024
MAX_JSON = 1024 * 1024


def _json_object(text: bytes | str, what: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidInput(f"{what} is not valid JSON") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return raw


async def _json_body(request: Request) -> dict[str, Any]:
    too_large = TooLarge(f"a JSON body may be at most {MAX_JSON} bytes")
    length = parse_digits(request.headers.get("content-length", ""))
    if length is not None and length > MAX_JSON:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON:
            raise too_large
    return _json_object(bytes(body), "the body")


async def _multipart(request: Request) -> tuple[dict[str, Any], UploadFile]:
    settings: Settings = request.app.state.settings
    form = await read_form(
        uploads.bounded(request, settings), max_files=4, max_fields=16, max_part_size=MAX_JSON
    )
    metadata = form.get("metadata")
    if metadata is None:
        raise InvalidInput("the multipart body has no 'metadata' part")
    text = metadata if isinstance(metadata, str) else await metadata.read(MAX_JSON + 1)
    raw = _json_object(text, "the 'metadata' part")
    srpm = form.get("srpm")
    if not isinstance(srpm, UploadFile):
        raise InvalidInput("the multipart body has no 'srpm' file part", "srpm")
    return raw, srpm


async def _submission(request: Request) -> V2BuildUrlIn | tuple[V2BuildFileIn, UploadFile]:
    await run_in_threadpool(require_credentials, request)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        raw, srpm = await _multipart(request)
        return checked(V2BuildFileIn, raw), srpm
    if content_type.startswith("application/json"):
        return checked(V2BuildUrlIn, await _json_body(request))
    raise InvalidInput(
        "send application/json (a build from srpm_url) or multipart/form-data "
        "(parts 'metadata' and 'srpm')"
    )


# The body is read by _submission, so the docs are told what it takes.
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": V2BuildUrlIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["metadata", "srpm"],
                    "properties": {
                        "metadata": V2BuildFileIn.model_json_schema(),
                        "srpm": {"type": "string", "format": "binary"},
                    },
                }
            },
        },
    }
}
Submission = Annotated[V2BuildUrlIn | tuple[V2BuildFileIn, UploadFile], Depends(_submission)]


@router.get("", response_model=V2BuildList, summary="Builds, newest first")
def list_builds(
    request: Request,
    db: DB,
    page: NewestFirst,
    project_id: Annotated[int | None, Query(description="wins over owner")] = None,
    owner: Annotated[str | None, Query(description="user name, or @group")] = None,
) -> V2BuildList:
    if project_id is not None:
        found = builds.list_builds(db, get_project_by_id(db, project_id), page)
    else:
        found = builds.list_builds(db, None, page, ownername=owner)
    return V2BuildList(
        links=link_map(self=links.requested(request)), builds=[V2BuildOut.of(b) for b in found]
    )


@router.post(
    "",
    status_code=201,
    response_model=V2BuildOut,
    summary="Submit a build from srpm_url (JSON) or an uploaded SRPM (multipart)",
    max_body_size=MAX_UPLOAD_BODY,
    openapi_extra=_BODY_DOC,
)
def create_build(
    response: Response, body: Submission, db: DB, settings: AppSettings, user: CurrentUser
) -> V2BuildOut:
    # The body first: it is read before the write transaction (auth.require_credentials).
    if isinstance(body, V2BuildUrlIn):
        project = get_project_by_id(db, body.project_id)
        options = _options(body)
        build = builds.submit_build(db, user, project, builds.url_source(body.srpm_url), options)
    else:
        metadata, srpm = body
        project = get_project_by_id(db, metadata.project_id)
        build = uploads.submit_upload(
            db, settings, user, project, srpm.file, srpm.filename or "", _options(metadata)
        )
    response.headers["Location"] = links.absolute(settings.public_url, links.build(build.id))
    return V2BuildOut.of(builds.get_build(db, build.id))


def _options(body: V2BuildUrlIn | V2BuildFileIn) -> BuildOptions:
    """No chroots (``[]``, as the client sends by default) means all of the project's."""
    return checked(BuildOptions, {"chroots": body.chroots or None, "enable_net": body.enable_net})


@router.get("/{build_id}", response_model=V2BuildOut, summary="One build")
def get_build(db: DB, build_id: int) -> V2BuildOut:
    return V2BuildOut.of(builds.get_build(db, build_id))


@router.put("/{build_id}", response_model=V2BuildOut, summary='Cancel: {"state": "canceled"}')
def update_build(db: DB, user: CurrentUser, build_id: int, body: V2BuildUpdateIn) -> V2BuildOut:
    # 200 with the build, where upstream answered 201: 1.63's is_successful() expects 200.
    # The body's only state is "canceled" (V2BuildUpdateIn).
    build = builds.get_build(db, build_id)
    try:
        builds.cancel_build(db, user, build)
    except builds.BuildEnded as ended:
        # As Copr's APIv2: a canceled build stays as it is, and the answer is a success;
        # one that ended otherwise cannot be canceled.
        if ended.state != BuildState.canceled:
            raise InvalidInput(
                f"Cannot update build due to: Cannot cancel build {ended.build_id}"
            ) from None
    return V2BuildOut.of(build)


@router.delete("/{build_id}", status_code=204, response_class=Response, summary="Delete a build")
def delete_build(db: DB, user: CurrentUser, build_id: int) -> Response:
    builds.delete_builds(db, user, [build_id])
    return Response(status_code=204)
