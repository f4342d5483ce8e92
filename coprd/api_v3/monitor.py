"""``monitor``: the latest build of every package in every chroot (``copr-cli monitor``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic_core import to_json

from coprd.api_v3.schemas import STATUS_CODES, MonitorOut
from coprd.core import projects
from coprd.core.errors import InvalidInput
from coprd.core.monitor import project_monitor
from coprd.core.results import BACKEND_LOG, LIVE_LOG
from coprd.db.models import BuildState
from coprd.http import DB, AppSettings

router = APIRouter(prefix="/monitor", tags=["monitor"])

# What ``additional_fields[]`` may ask for, as Copr names them.
ADDITIONAL_FIELDS = ("url_build_log", "url_backend_log", "url_build")
_LOG_FIELDS = (("url_build_log", LIVE_LOG), ("url_backend_log", BACKEND_LOG))
MESSAGE = "Project monitor request successful"
# Each state's name as a plain str and its number: the JSON encoder takes an Enum member
# several times slower than a str, and .value is a property; tens of thousands of cells.
_WIRE_STATES = {state: (state.value, STATUS_CODES[state]) for state in BuildState}


def _wanted(fields: list[str] | None) -> set[str]:
    asked = set(fields or ())
    bad = sorted(asked.difference(ADDITIONAL_FIELDS))
    if bad:
        shown = ", ".join(f[:50].encode("unicode_escape").decode("ascii") for f in bad)
        raise InvalidInput(f"Wrong additional_fields argument(s): {shown}")
    return asked


@router.get(
    "",
    response_model=MonitorOut,
    summary="The latest build of every package in every chroot",
    description="Packages (by name) that have builds in the project directory, each with "
    "its latest build in every active chroot it was built for.",
)
def monitor(
    db: DB,
    settings: AppSettings,
    ownername: Annotated[str, Query(max_length=200, description="user name, or @group")],
    projectname: Annotated[str, Query(max_length=200)],
    project_dirname: Annotated[
        str | None,
        Query(max_length=200, description="the project's directory (default: its own)"),
    ] = None,
    additional_fields: Annotated[
        list[Annotated[str, Query(max_length=50)]],
        Query(
            alias="additional_fields[]",
            max_length=len(ADDITIONAL_FIELDS) * 4,
            description=f"Also send these, each a URL: {', '.join(ADDITIONAL_FIELDS)}",
            json_schema_extra={"items": {"type": "string", "enum": list(ADDITIONAL_FIELDS)}},
        ),
    ] = [],  # noqa: B006 (never mutated; a list, not Optional, keeps the enum in the document)
) -> Any:
    wanted = _wanted(additional_fields)
    project = projects.get_project(db, ownername, projectname)
    found = project_monitor(db, project, project_dirname)
    results = settings.results_url
    build_page = f"{settings.public_url}/coprs/build"
    logs = [(f, log) for f, log in _LOG_FIELDS if f in wanted]
    packages = []
    # Plain dicts, serialised once by pydantic's JSON encoder (several times faster than
    # the json module here): the monitor of a large project has tens of thousands of
    # cells, and checking each against the response model again would cost more than
    # reading them from the database (the model documents the shape).
    for row in found.packages:
        chroots = {}
        for chroot, cell in row.cells.items():
            name, code = _WIRE_STATES[cell.state]
            out: dict[str, Any] = {"state": name, "status": code, "build_id": cell.build_id}
            for field, log in logs:
                path = found.log_path(chroot, cell, log)
                out[field] = None if path is None else f"{results}/{path}"
            if "url_build" in wanted:
                out["url_build"] = f"{build_page}/{cell.build_id}/"
            out["pkg_version"] = cell.pkg_version
            chroots[chroot] = out
        packages.append({"name": row.name, "chroots": chroots})
    body = {"output": "ok", "message": MESSAGE, "packages": packages}
    return Response(to_json(body), media_type="application/json")
