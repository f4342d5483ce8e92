"""The new-build forms of a project, one per source type the APIs take, at Copr's URLs:
``…/add_build/`` (SRPM URLs), ``…/add_build_upload/``, ``…/add_build_scm/``,
``…/add_build_pypi/``, ``…/add_build_rubygems/``, ``…/add_build_custom/`` and
``…/add_build_distgit/``. Each posts to its own URL.

The forms translate their fields into the calls the APIs make — ``builds.url_source``,
``uploads.submit_upload``, ``sources.check_source`` and ``builds.submit_build`` — whose
refusals are shown next to the form. An upload is read (bounded, and only for a logged-in
session) before the request's write transaction begins, as the APIs read theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRouter
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from coprd import uploads
from coprd.config import Settings
from coprd.core import builds, limits, permissions, sources
from coprd.core.builds import BuildOptions, Source
from coprd.core.errors import InvalidInput, NotAuthenticated
from coprd.core.sources import SourceSettings, check_source
from coprd.db.models import Build, Project, User
from coprd.http import DB, AppSettings, read_form
from coprd.web.pages import urls
from coprd.web.pages.forms import (
    CSRF_FIELD,
    MAX_LARGE_FIELD_BYTES,
    MAX_LARGE_FIELDS,
    LargeCheckedForm,
    check_csrf,
    field,
    flag,
    refusal,
    values,
)
from coprd.web.pages.projects import OwnerName, add_project_route, find_project, project_rights
from coprd.web.pages.render import render
from coprd.web.pages.sessions import Viewer, flash, require_login

router = APIRouter(include_in_schema=False)

# As the APIs: the configured upload limit is enforced by uploads.bounded; this is only
# the ceiling above which nothing is read at all.
MAX_UPLOAD_BODY = 64 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class Kind:
    """One source type's form: its tab, and the text fields it sends to the core."""

    name: str
    title: str
    fields: tuple[str, ...] = ()

    @property
    def suffix(self) -> str:
        return "/add_build/" if self.name == "url" else f"/add_build_{self.name}/"


KINDS = {
    kind.name: kind
    for kind in (
        Kind("url", "SRPM URL", ("pkgs",)),
        Kind("upload", "Upload"),
        Kind(
            "scm",
            "SCM",
            ("clone_url", "committish", "subdirectory", "spec", "scm_type", "source_build_method"),
        ),
        Kind(
            "pypi",
            "PyPI",
            ("pypi_package_name", "pypi_package_version", "spec_generator", "spec_template"),
        ),
        Kind("rubygems", "RubyGems", ("gem_name",)),
        Kind("custom", "Custom script", ("script", "chroot", "builddeps", "resultdir", "repos")),
        Kind("distgit", "DistGit", ("package_name", "namespace", "committish", "distgit")),
    )
}
_WORD_LISTS = ("builddeps", "repos")
CHOICES = {
    "scm_type": sources.SCM_TYPES,
    "source_build_method": sources.SCM_METHODS,
    "spec_generator": sources.SPEC_GENERATORS,
    "spec_template": sources.SPEC_TEMPLATES,
}


def _active_chroots(project: Project) -> list[str]:
    return sorted(pc.mock_chroot.name for pc in project.chroots if pc.mock_chroot.is_active)


def _source_fields(form: FormData, kind: Kind) -> dict[str, Any]:
    """The source's fields as typed: the script as it is, the other fields without the
    spaces around them, lists of words (builddeps, repos) separated by single spaces, and
    an empty field not given (the default)."""
    data: dict[str, Any] = {}
    for name in kind.fields:
        value = field(form, name, max_length=sources.MAX_SCRIPT + 1)
        if name != "script":
            value = " ".join(value.split()) if name in _WORD_LISTS else value.strip()
        data[name] = value or None
    return data


def _options(form: FormData) -> BuildOptions:
    """The build options the form carries, as the core's input type."""
    chosen = values(form, "chroots", max_length=200)
    timeout = field(form, "timeout", max_length=100).strip()
    data: dict[str, Any] = {
        "chroots": chosen or None,
        # Every box unchecked: none selected, which the core refuses (not "all").
        "exclude_chroots": ["*"] if not chosen else None,
        "timeout": timeout or None,
        "enable_net": flag(form, "enable_net"),
        "background": flag(form, "background"),
    }
    return BuildOptions.model_validate(data)


def _page(
    request: Request,
    db: DB,
    settings: Settings,
    viewer: User | None,
    project: Project,
    kind: Kind,
    form: FormData | None = None,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    chroots = _active_chroots(project)
    if form is None:
        shown: dict[str, Any] = {name: "" for name in kind.fields}
        shown.update(
            chroots=set(chroots),
            enable_net=project.enable_net,
            background=False,
            timeout="",
            python_versions={"3"},
        )
    else:
        shown = {name: field(form, name, max_length=sources.MAX_SCRIPT) for name in kind.fields}
        shown.update(
            chroots=set(values(form, "chroots", max_length=200)),
            enable_net=flag(form, "enable_net"),
            background=flag(form, "background"),
            timeout=field(form, "timeout", max_length=100),
            python_versions=set(values(form, "python_versions", max_length=10)),
        )
    source_settings = SourceSettings.of(settings)
    context = {
        "project": project,
        "tab": "new-build",
        "rights": project_rights(db, viewer, project),
        "kinds": KINDS.values(),
        "kind": kind,
        "action": urls.project_url(project, kind.suffix[1:]),
        "values": shown,
        "chroots": chroots,
        "choices": CHOICES,
        "distgits": [d.name for d in source_settings.distgits],
        "default_timeout": limits.DEFAULT_TIMEOUT,
        "max_timeout": limits.MAX_TIMEOUT,
        "error": error,
    }
    return render(request, "build_new.html", context, status=status)


def _submitted(request: Request, project: Project, created: list[Build]) -> Response:
    if len(created) == 1:
        flash(request, f"Build {created[0].id} is submitted.")
        return RedirectResponse(urls.build_url(created[0]), status_code=303)
    flash(request, f"Builds {', '.join(str(b.id) for b in created)} are submitted.")
    return RedirectResponse(urls.project_url(project, "builds/"), status_code=303)


def _form_page(kind: Kind) -> Callable[..., Response]:
    def page(
        request: Request,
        db: DB,
        settings: AppSettings,
        viewer: Viewer,
        owner: OwnerName,
        projectname: str,
    ) -> Response:
        project = find_project(db, owner, projectname)
        permissions.require(db, viewer, permissions.Action.build, project)
        return _page(request, db, settings, viewer, project, kind)

    page.__name__ = f"new_build_{kind.name}_page"
    return page


def _refused(
    request: Request,
    db: DB,
    settings: Settings,
    viewer: User | None,
    where: tuple[str, str],
    kind: Kind,
    form: FormData,
    exc: InvalidInput | ValidationError,
) -> Response:
    message, status = refusal(db, exc)
    project = find_project(db, *where)
    return _page(request, db, settings, viewer, project, kind, form, error=message, status=status)


def create_from_url(
    request: Request,
    form: LargeCheckedForm,
    db: DB,
    settings: AppSettings,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
) -> Response:
    project = find_project(db, owner, projectname)
    try:
        options = _options(form)
        links = field(form, "pkgs", max_length=builds.MAX_URLS * 2100).split()
        found = builds.url_sources(links)
        created = [builds.submit_build(db, viewer, project, s, options) for s in found]
    except (InvalidInput, ValidationError) as exc:
        where = (owner, projectname)
        return _refused(request, db, settings, viewer, where, KINDS["url"], form, exc)
    return _submitted(request, project, created)


def _create_from(kind: Kind) -> Callable[..., Response]:
    def create(
        request: Request,
        form: LargeCheckedForm,
        db: DB,
        settings: AppSettings,
        viewer: Viewer,
        owner: OwnerName,
        projectname: str,
    ) -> Response:
        project = find_project(db, owner, projectname)
        data = _source_fields(form, kind)
        if kind.name == "pypi":
            data["python_versions"] = values(form, "python_versions", max_length=10)
        try:
            options = _options(form)
            stored = check_source(kind.name, data, SourceSettings.of(settings))
            build = builds.submit_build(
                db, viewer, project, Source(type=kind.name, data=stored), options
            )
        except (InvalidInput, ValidationError) as exc:
            where = (owner, projectname)
            return _refused(request, db, settings, viewer, where, kind, form, exc)
        return _submitted(request, project, [build])

    create.__name__ = f"create_from_{kind.name}"
    return create


async def _upload_form(request: Request) -> FormData:
    """The upload form's body: read only for a logged-in session, bounded by the upload
    limit, before the write transaction; then its CSRF field is checked."""
    settings: Settings = request.app.state.settings
    await run_in_threadpool(require_login, request)
    form = await read_form(
        uploads.bounded(request, settings),
        max_files=1,
        max_fields=MAX_LARGE_FIELDS,
        max_part_size=MAX_LARGE_FIELD_BYTES,
    )
    try:
        check_csrf(request, form.get(CSRF_FIELD))
    except BaseException:
        await form.close()
        raise
    return form


UploadForm = Annotated[FormData, Depends(_upload_form)]


def create_from_upload(
    request: Request,
    form: UploadForm,  # first: read before the write transaction (sessions.require_login)
    db: DB,
    settings: AppSettings,
    viewer: Viewer,
    owner: OwnerName,
    projectname: str,
) -> Response:
    upload = form.get("pkgs")
    try:
        project = find_project(db, owner, projectname)
        try:
            if not isinstance(upload, UploadFile):
                raise InvalidInput("choose the SRPM to upload", "pkgs")
            if viewer is None:
                raise NotAuthenticated("log in to submit builds")
            options = _options(form)
            build = uploads.submit_upload(
                db, settings, viewer, project, upload.file, upload.filename or "", options
            )
        except (InvalidInput, ValidationError) as exc:
            where = (owner, projectname)
            return _refused(request, db, settings, viewer, where, KINDS["upload"], form, exc)
    finally:
        if isinstance(upload, UploadFile):
            upload.file.close()  # the spooled copy of the upload goes now
    return _submitted(request, project, [build])


for _kind in KINDS.values():
    add_project_route(router, _kind.suffix, _form_page(_kind))
add_project_route(router, KINDS["url"].suffix, create_from_url, methods=["POST"])
add_project_route(
    router,
    KINDS["upload"].suffix,
    create_from_upload,
    methods=["POST"],
    max_body_size=MAX_UPLOAD_BODY,
)
for _kind in KINDS.values():
    if _kind.name not in ("url", "upload"):
        add_project_route(router, _kind.suffix, _create_from(_kind), methods=["POST"])
