"""A project's settings, for those who may edit it: every project field and the enabled
chroots (``…/edit/``), each chroot's buildroot (``…/edit_chroot/<chroot>/``), the webhook
URLs and their secret (``…/integrations/``), regenerating its repositories
(``…/createrepo/``, a button on the overview, as on Copr), and deleting the project
(``…/delete/``).

Each form becomes one core call (``edit_project``, ``edit_project_chroot``,
``webhooks.generate_secret``, ``delete_project``), which decides who may; the pages ask
``permissions.require`` first only so that a visitor who may not edit gets 403 rather
than a form.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from coprd.core import permissions, project_chroots, projects, repositories, webhooks
from coprd.core.errors import CoprdError, InvalidInput
from coprd.core.project_chroots import ChrootFields
from coprd.core.projects import ProjectFields
from coprd.db.models import Project, User
from coprd.http import DB, AppSettings, status_of
from coprd.web.pages import project_form, urls
from coprd.web.pages.forms import CheckedForm, LargeCheckedForm, field, refusal
from coprd.web.pages.projects import OwnerName, add_project_route, find_project, project_rights
from coprd.web.pages.render import render
from coprd.web.pages.sessions import Viewer, flash

router = APIRouter(include_in_schema=False)

# Copr's forges, in the order its integrations page lists them (see coprd.web.webhooks).
FORGES = ("github", "gitlab", "forgejo", "gitea", "codeberg", "bitbucket", "pagure")
CHROOT_LISTS = (
    "additional_packages",
    "additional_repos",
    "additional_modules",
    "with_opts",
    "without_opts",
)
CHROOT_MODES = {
    "bootstrap": ("unchanged", "default", "on", "off", "image"),
    "isolation": ("unchanged", "default", "simple", "nspawn"),
}
MAX_CHROOT_TEXT = 64 * 1024


def _editable(db: DB, viewer: User | None, owner: str, projectname: str) -> Project:
    project = find_project(db, owner, projectname)
    permissions.require(db, viewer, permissions.Action.edit, project)
    return project


def _context(db: DB, viewer: User | None, project: Project, section: str) -> dict[str, Any]:
    return {
        "project": project,
        "tab": "settings",
        "section": section,
        "rights": project_rights(db, viewer, project),
    }


# --- the project's fields and chroots ---------------------------------------------------


def _edit_page(
    request: Request,
    db: DB,
    viewer: User | None,
    project: Project,
    shown: dict[str, Any],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = _context(db, viewer, project, "general") | {
        "values": shown,
        "chroots": project_form.active_chroot_names(db, project),
        "enabled": projects.chroot_names(project),
        "flags": project_form.flags_for(viewer),
        "bootstrap_modes": project_form.BOOTSTRAP_MODES,
        "isolations": project_form.ISOLATIONS,
        "error": error,
    }
    return render(request, "project_edit.html", context, status=status)


def edit_page(
    request: Request, db: DB, viewer: Viewer, owner: OwnerName, projectname: str
) -> Response:
    project = _editable(db, viewer, owner, projectname)
    return _edit_page(request, db, viewer, project, project_form.project_values(project))


def edit(
    request: Request,
    form: LargeCheckedForm,
    db: DB,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
) -> Response:
    project = find_project(db, owner, projectname)
    try:
        fields = ProjectFields.model_validate(project_form.fields_of(form, viewer))
        projects.edit_project(db, viewer, project, fields, project_form.chosen_chroots(form))
    except (InvalidInput, ValidationError) as exc:
        message, status = refusal(db, exc)
        project = find_project(db, owner, projectname)
        shown = project_form.form_values(form) | {"name": project.name}
        return _edit_page(request, db, viewer, project, shown, error=message, status=status)
    flash(request, "The project's settings are saved.")
    return RedirectResponse(urls.project_url(project, "edit/"), status_code=303)


# --- one chroot's buildroot -------------------------------------------------------------


def _chroot_values(pc: Any) -> dict[str, Any]:
    return {
        "additional_packages": " ".join(pc.buildroot_pkgs),
        "additional_repos": "\n".join(pc.repos),
        "additional_modules": ", ".join(pc.modules),
        "with_opts": " ".join(pc.with_opts),
        "without_opts": " ".join(pc.without_opts),
        "bootstrap": pc.bootstrap,
        "bootstrap_image": pc.bootstrap_image or "",
        "isolation": pc.isolation,
        "timeout": "" if pc.timeout is None else str(pc.timeout),
    }


def _chroot_form_values(form: FormData) -> dict[str, Any]:
    names = (*CHROOT_LISTS, *CHROOT_MODES, "bootstrap_image", "timeout")
    return {name: field(form, name, max_length=MAX_CHROOT_TEXT) for name in names}


def _chroot_fields(form: FormData) -> ChrootFields:
    """The form as the core's input: lists replace the chroot's, empty texts reset."""
    data: dict[str, Any] = {
        name: field(form, name, max_length=MAX_CHROOT_TEXT) for name in CHROOT_LISTS
    }
    reset = []
    for name in (*CHROOT_MODES, "bootstrap_image", "timeout"):
        value = field(form, name, max_length=MAX_CHROOT_TEXT).strip()
        if value:
            data[name] = value
        else:
            reset.append(name)
    data["reset_fields"] = reset
    return ChrootFields.model_validate(data)


def _chroot_page(
    request: Request,
    db: DB,
    viewer: User | None,
    project: Project,
    chroot: str,
    shown: dict[str, Any],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = _context(db, viewer, project, "chroots") | {
        "chroot": chroot,
        "values": shown,
        "modes": CHROOT_MODES,
        "error": error,
    }
    return render(request, "project_chroot_edit.html", context, status=status)


def edit_chroot_page(
    request: Request, db: DB, viewer: Viewer, owner: OwnerName, projectname: str, chroot: str
) -> Response:
    project = _editable(db, viewer, owner, projectname)
    pc = project_chroots.get_project_chroot(project, chroot)
    return _chroot_page(request, db, viewer, project, chroot, _chroot_values(pc))


def edit_chroot(
    request: Request,
    form: LargeCheckedForm,
    db: DB,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
    chroot: str,
) -> Response:
    project = find_project(db, owner, projectname)
    try:
        project_chroots.edit_project_chroot(db, viewer, project, chroot, _chroot_fields(form))
    except (InvalidInput, ValidationError) as exc:
        message, status = refusal(db, exc)
        project = find_project(db, owner, projectname)
        shown = _chroot_form_values(form)
        return _chroot_page(
            request, db, viewer, project, chroot, shown, error=message, status=status
        )
    flash(request, f"The settings of {chroot} are saved.")
    return RedirectResponse(urls.project_url(project, f"edit_chroot/{chroot}/"), status_code=303)


# --- webhooks ---------------------------------------------------------------------------


def integrations(
    request: Request,
    db: DB,
    settings: AppSettings,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
) -> Response:
    project = _editable(db, viewer, owner, projectname)
    base = f"{settings.public_url}/webhooks"
    secret = project.webhook_secret
    hooks = (
        [(forge, f"{base}/{forge}/{project.id}/{secret}/") for forge in FORGES] if secret else []
    )
    context = _context(db, viewer, project, "integrations") | {
        "hooks": hooks,
        "custom": f"{base}/custom/{project.id}/{secret}/<package>/" if secret else None,
    }
    return render(request, "project_integrations.html", context)


def regenerate_secret(
    request: Request, form: CheckedForm, db: DB, viewer: Viewer, owner: OwnerName, projectname: str
) -> Response:
    project = find_project(db, owner, projectname)
    webhooks.generate_secret(db, viewer, project)
    flash(request, "The webhook secret is new: the old webhook URLs no longer work.")
    return RedirectResponse(urls.project_url(project, "integrations/"), status_code=303)


def regenerate_repos(
    request: Request, form: CheckedForm, db: DB, viewer: Viewer, owner: OwnerName, projectname: str
) -> Response:
    project = find_project(db, owner, projectname)
    repositories.regenerate_repos(db, viewer, project)
    flash(request, "The repository metadata of every chroot is regenerated.")
    return RedirectResponse(urls.project_url(project, ""), status_code=303)


# --- deleting ---------------------------------------------------------------------------


def _delete_page(
    request: Request,
    db: DB,
    viewer: User | None,
    project: Project,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = _context(db, viewer, project, "delete") | {"error": error}
    return render(request, "project_delete.html", context, status=status)


def delete_page(
    request: Request, db: DB, viewer: Viewer, owner: OwnerName, projectname: str
) -> Response:
    return _delete_page(request, db, viewer, _editable(db, viewer, owner, projectname))


def delete(
    request: Request,
    form: CheckedForm,
    db: DB,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
) -> Response:
    project = _editable(db, viewer, owner, projectname)
    if field(form, "confirm", max_length=200).strip() != project.name:
        error = f"Type the project's name, {project.name}, to confirm that it goes."
        return _delete_page(request, db, viewer, project, error=error, status=400)
    full_name, owner_name = project.full_name, project.owner_name
    # Uploads its builds still held go with the uploads sweep, as after the APIs' delete.
    try:
        projects.delete_project(db, viewer, project)
    except CoprdError as exc:  # a persistent project; refused before anything changed
        return _delete_page(request, db, viewer, project, error=exc.message, status=status_of(exc))
    flash(request, f"Project {full_name} is deleted.")
    return RedirectResponse(urls.owner_url(owner_name), status_code=303)


add_project_route(router, "/edit/", edit_page)
add_project_route(router, "/edit/", edit, methods=["POST"])
add_project_route(router, "/edit_chroot/{chroot}/", edit_chroot_page)
add_project_route(router, "/edit_chroot/{chroot}/", edit_chroot, methods=["POST"])
add_project_route(router, "/integrations/", integrations)
add_project_route(router, "/integrations/regenerate", regenerate_secret, methods=["POST"])
add_project_route(router, "/createrepo/", regenerate_repos, methods=["POST"])
add_project_route(router, "/delete/", delete_page)
add_project_route(router, "/delete/", delete, methods=["POST"])
