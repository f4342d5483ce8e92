"""The new-project form: ``/coprs/<user>/add/`` and ``/coprs/g/<group>/add/``, as on Copr.

The form's fields become the core's ``NewProject``; ``create_project`` decides who may
create a project for that owner (the user themself, a group's members, site admins).
A project named ``add`` keeps its page: the form then gives way to it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from coprd.core import groups, projects, users
from coprd.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from coprd.core.names import check_owner_name
from coprd.core.projects import NewProject
from coprd.db.models import User
from coprd.http import DB, AppSettings
from coprd.web.pages import project_form, urls
from coprd.web.pages.forms import LargeCheckedForm, field, refusal
from coprd.web.pages.projects import overview
from coprd.web.pages.render import render
from coprd.web.pages.sessions import Viewer, flash

router = APIRouter(include_in_schema=False)

ADD = "add"


def _owner(request: Request) -> str:
    params = request.path_params
    return f"@{params['group']}" if "group" in params else str(params["owner"])


def _checked_owner(db: DB, owner: str) -> str:
    try:
        check_owner_name(owner)
        if owner.startswith("@"):
            groups.get_group(db, owner[1:])
        else:
            users.get_user(db, owner)
    except InvalidInput:
        raise NotFound(f"There is no user or group {owner}.") from None
    return owner


def _page(
    request: Request,
    db: DB,
    viewer: User,
    owner: str,
    shown: dict[str, Any],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "owner": owner,
        "values": shown,
        "chroots": project_form.active_chroot_names(db),
        "flags": project_form.flags_for(viewer),
        "bootstrap_modes": project_form.BOOTSTRAP_MODES,
        "isolations": project_form.ISOLATIONS,
        "groups": groups.group_names_of(db, viewer),
        "error": error,
    }
    return render(request, "project_new.html", context, status=status)


def _has_project_named_add(db: DB, owner: str) -> bool:
    try:
        projects.get_project(db, owner, ADD)
    except (InvalidInput, NotFound):
        return False
    return True


def new_project_page(request: Request, db: DB, settings: AppSettings, viewer: Viewer) -> Response:
    owner = _checked_owner(db, _owner(request))
    if _has_project_named_add(db, owner):
        return overview(request, db, settings, viewer, owner, ADD)
    if viewer is None:
        raise NotAuthenticated("log in to create a project")
    return _page(request, db, viewer, owner, project_form.new_project_values())


def create_project(request: Request, form: LargeCheckedForm, db: DB, viewer: Viewer) -> Response:
    owner = _checked_owner(db, _owner(request))
    if viewer is None:
        raise NotAuthenticated("log in to create a project")
    data = project_form.fields_of(form, viewer)
    data["name"] = field(form, "name", max_length=200).strip()
    data["chroots"] = project_form.chosen_chroots(form)
    try:
        project = projects.create_project(db, viewer, owner, NewProject.model_validate(data))
    except (InvalidInput, Conflict, ValidationError) as exc:
        message, status = refusal(db, exc)
        return _page(
            request, db, viewer, owner, project_form.form_values(form), error=message, status=status
        )
    flash(request, f"Project {project.full_name} is created.")
    return RedirectResponse(urls.project_url(project), status_code=303)


for _path in ("/coprs/g/{group}/add/", "/coprs/{owner}/add/"):
    router.add_api_route(_path, new_project_page, methods=["GET"])
    router.add_api_route(_path, create_project, methods=["POST"])
