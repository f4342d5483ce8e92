"""A project's settings for one of its chroots (``copr-cli edit-chroot``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from coprd.core.chroots import resolve_active_chroots
from coprd.core.errors import Conflict, InvalidInput, NotFound
from coprd.core.limits import MAX_TIMEOUT
from coprd.core.names import check_chroot_name
from coprd.core.permissions import Action, require
from coprd.core.projects import (
    ProjectFields,
    RepoList,
    ShortText,
    WordList,
    edit_project,
)
from coprd.core.results import want_comps
from coprd.core.text import Integer, Rule
from coprd.db.models import Project, ProjectChroot, User

MAX_COMPS = 4 * 1024 * 1024

RESETTABLE = {
    "additional_packages": "buildroot_pkgs",
    "additional_repos": "repos",
    "additional_modules": "modules",
    "with_opts": "with_opts",
    "without_opts": "without_opts",
    "isolation": "isolation",
    "bootstrap": "bootstrap",
    "bootstrap_image": "bootstrap_image",
    "comps": "comps",
    "timeout": "timeout",
}
Resettable = Literal[
    "additional_packages",
    "additional_repos",
    "additional_modules",
    "with_opts",
    "without_opts",
    "isolation",
    "bootstrap",
    "bootstrap_image",
    "comps",
    "timeout",
]
assert set(get_args(Resettable)) == set(RESETTABLE)
ChrootBootstrap = Literal["unchanged", "default", "on", "off", "image", "custom_image"]
IMAGE_MODES = ("image", "custom_image")
Timeout = Annotated[int, Integer(0, MAX_TIMEOUT)]
_NEEDS_IMAGE = "bootstrap image mode needs a bootstrap_image"
# The rules between fields of one request, as JSON schema (each checked in
# ChrootFields._check beside them): an image only with an image mode, and an image mode
# not with the image removed (emptied, or reset and not given).
_OTHER_MODES = {"enum": [m for m in get_args(ChrootBootstrap) if m not in IMAGE_MODES]}
_IMAGE_WITHOUT_MODE = {
    "properties": {
        "bootstrap": _OTHER_MODES,
        "bootstrap_image": {"type": "string", "minLength": 1},
    },
    "required": ["bootstrap", "bootstrap_image"],
}
_MODE_IMAGE_EMPTIED = {
    "properties": {"bootstrap": {"enum": list(IMAGE_MODES)}, "bootstrap_image": {"const": ""}},
    "required": ["bootstrap", "bootstrap_image"],
}
_MODE_IMAGE_RESET = {
    "properties": {
        "bootstrap": {"enum": list(IMAGE_MODES)},
        "bootstrap_image": {"type": "null"},
        "reset_fields": {"type": "array", "contains": {"const": "bootstrap_image"}},
    },
    "required": ["bootstrap", "reset_fields"],
}


def _document_rules(schema: dict[str, Any]) -> None:
    schema["allOf"] = [
        {"not": rule} for rule in (_IMAGE_WITHOUT_MODE, _MODE_IMAGE_EMPTIED, _MODE_IMAGE_RESET)
    ]


class ChrootFields(BaseModel):
    """What ``project-chroot/edit`` may change; ``None`` keeps the current value."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_document_rules)

    additional_packages: WordList = None
    additional_repos: RepoList = None
    additional_modules: WordList = None
    with_opts: WordList = None
    without_opts: WordList = None
    isolation: Literal["default", "simple", "nspawn", "unchanged"] | None = None
    bootstrap: ChrootBootstrap | None = None
    bootstrap_image: ShortText = None
    timeout: Timeout | None = None
    delete_comps: bool | None = False
    reset_fields: list[Resettable] | None = Field(default=None, max_length=len(RESETTABLE) + 1)

    @model_validator(mode="after")
    def _check(self) -> ChrootFields:
        if self.bootstrap_image and self.bootstrap not in (None, *IMAGE_MODES):
            raise ValueError("bootstrap_image needs bootstrap 'image' or 'custom_image'")
        if self.bootstrap in IMAGE_MODES and (
            self.bootstrap_image == ""
            or (self.bootstrap_image is None and "bootstrap_image" in (self.reset_fields or []))
        ):
            raise ValueError(_NEEDS_IMAGE)
        return self


def get_project_chroot(project: Project, chrootname: str) -> ProjectChroot:
    check_chroot_name(chrootname)
    for pc in project.chroots:
        if pc.mock_chroot.name == chrootname:
            return pc
    raise NotFound(f"Chroot {chrootname} is not enabled in project {project.full_name}.")


def enable_project_chroot(
    session: Session, actor: User | None, project: Project, chrootname: str
) -> ProjectChroot:
    """Add one chroot to the project's enabled set; Conflict if it is enabled already."""
    require(session, actor, Action.edit, project)
    (mock_chroot,) = resolve_active_chroots(session, [chrootname])
    if any(pc.mock_chroot_id == mock_chroot.id for pc in project.chroots):
        raise Conflict(f"Chroot {chrootname} is already enabled in project {project.full_name}.")
    names = [pc.mock_chroot.name for pc in project.chroots]
    edit_project(session, actor, project, ProjectFields(), [*names, chrootname])
    return get_project_chroot(project, chrootname)


def disable_project_chroot(
    session: Session, actor: User | None, project: Project, chrootname: str
) -> None:
    """Remove one chroot from the project's enabled set; a project keeps at least one (its
    last chroot stays: the project as it is refuses, 409)."""
    require(session, actor, Action.edit, project)
    gone = get_project_chroot(project, chrootname)
    names = [pc.mock_chroot.name for pc in project.chroots if pc is not gone]
    if not names:
        raise Conflict(f"a project needs at least one chroot: {chrootname} is its last")
    edit_project(session, actor, project, ProjectFields(), names)


def edit_project_chroot(
    session: Session,
    actor: User | None,
    project: Project,
    chrootname: str,
    fields: ChrootFields,
    comps: tuple[str, bytes] | None = None,
) -> ProjectChroot:
    """Apply ``fields`` (and an uploaded comps.xml as ``(filename, content)``)."""
    require(session, actor, Action.edit, project)
    pc = get_project_chroot(project, chrootname)
    defaults = ProjectChroot.__table__.columns
    for name in fields.reset_fields or []:
        column = RESETTABLE[name]
        if column == "comps":
            pc.comps = pc.comps_name = None
            continue
        default = defaults[column].default
        value = default.arg if default is not None else None
        setattr(pc, column, value(None) if callable(value) else value)

    updates = {
        "buildroot_pkgs": fields.additional_packages,
        "repos": fields.additional_repos,
        "modules": fields.additional_modules,
        "with_opts": fields.with_opts,
        "without_opts": fields.without_opts,
        "isolation": fields.isolation,
        "bootstrap": fields.bootstrap,
        "bootstrap_image": fields.bootstrap_image,
        "timeout": fields.timeout,
    }
    for column, value in updates.items():
        if value is not None:
            setattr(pc, column, value)
    if pc.bootstrap in IMAGE_MODES and not pc.bootstrap_image:
        # The request's own fields were checked (ChrootFields): what is missing is the
        # image the chroot would keep, so its state is refused.
        raise Conflict(f"{_NEEDS_IMAGE}, and the chroot has none")

    if fields.delete_comps:
        pc.comps = pc.comps_name = None
    if comps is not None:
        filename, content = comps
        pc.comps_name, pc.comps = _check_comps(filename, content)
    if fields.delete_comps or comps is not None or "comps" in (fields.reset_fields or []):
        want_comps(session, project.owner_name, project.name, chrootname, pc.comps)
    session.flush()
    return pc


COMPS = Rule(
    # Markup (after any leading whitespace) with a <comps element somewhere.
    r"[\t\n\x0b\x0c\r ]*<(?:[^<]*<)*comps(?:[^<]|<)*",
    "not a comps.xml file (no <comps> element)",
)
"""What a comps file holds, as UTF-8 text of at most :data:`MAX_COMPS` characters."""
COMPS_SCHEMA = {**COMPS.json_schema(), "maxLength": MAX_COMPS}
"""The comps file's JSON schema, for the API documents."""


def check_comps(content: bytes | str) -> bytes:
    """The comps file ``content`` (its bytes, or its text), if it is one (:data:`COMPS`)."""
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("not a comps.xml file (not UTF-8 text)", "upload_comps") from None
    if len(content) > MAX_COMPS:
        raise InvalidInput(f"comps file is longer than {MAX_COMPS} characters", "upload_comps")
    if not COMPS.matches(content):
        raise InvalidInput(str(COMPS.reason), "upload_comps")
    return content.encode("utf-8")


def _check_comps(filename: str, content: bytes) -> tuple[str, bytes]:
    content = check_comps(content)
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1] or "comps.xml"
    if len(name) > 255 or name.startswith(".") or any(ord(c) < 32 for c in name):
        name = "comps.xml"
    return name, content


@dataclass(frozen=True)
class RepoSpec:
    id: str
    name: str
    baseurl: str
    priority: int | None = None
    module_hotfixes: bool | None = None
    repo_gpgcheck: bool = False


@dataclass(frozen=True)
class BuildConfig:
    """What a build in this chroot of this project is built with.

    ``memory_limit`` and ``is_background`` are a submitted build's own (None for the
    project chroot's config, which no build has yet)."""

    chroot: str
    repos: list[RepoSpec]
    additional_repos: list[str]
    additional_packages: list[str]
    additional_modules: list[str]
    enable_net: bool
    with_opts: list[str]
    without_opts: list[str]
    isolation: str
    bootstrap: str
    bootstrap_image: str | None
    timeout: int | None
    memory_limit: int | None = None
    is_background: bool | None = None


_REPO_ID = re.compile(r"[^A-Za-z0-9]+")


def expand_repo_url(url: str, chroot: str, results_url: str) -> str:
    """The base URL of an additional repository for ``chroot``, as Copr writes it:
    ``copr://owner/project`` → that project's repository of the chroot; ``$chroot`` and
    ``$distname`` (``fedora``, ``epel`` …) expanded; a ``priority`` in the query (a
    setting, see :func:`repo_priority_of`) taken out."""
    parts = urlsplit(url)
    if parts.scheme == "copr":
        url = f"{results_url}/{url[len('copr://') :].split('?', 1)[0].strip('/')}/{chroot}/"
    else:
        query = parse_qsl(parts.query, keep_blank_values=True)
        if any(key == "priority" for key, _ in query):
            kept = urlencode([(k, v) for k, v in query if k != "priority"])
            url = urlunsplit(parts._replace(query=kept))
    return url.replace("$chroot", chroot).replace("$distname", chroot.rsplit("-", 2)[0])


def repo_priority_of(url: str) -> int | None:
    """The ``priority`` an additional repository's URL sets (``…/repo/?priority=5``), as
    on Copr; None when it sets none, or no number from 1 to 99 (dnf's range)."""
    for key, value in parse_qsl(urlsplit(url).query):
        if key == "priority" and value.isdecimal() and value.isascii() and 1 <= int(value) <= 99:
            return int(value)
    return None


def repo_id_of(url: str) -> str:
    """An additional repository's id, as Copr makes it from the URL it was given: every run
    of other characters than ASCII letters and digits one ``_``, none at the ends."""
    return _REPO_ID.sub("_", url).strip("_")[:100] or "repo"


def chroot_settings(project: Project, pc: ProjectChroot) -> dict[str, Any]:
    """The project's build settings for the chroot as they are now, as JSON, with no URL
    expanded: what a build keeps when it is submitted (``BuildTask.config``), so that a
    later edit of the project or chroot changes the builds submitted after it only.

    The chroot's ``isolation`` and ``bootstrap`` win over the project's unless they are
    ``unchanged``; a build's own options win over both (``core/builds.py``)."""
    return {
        # A chroot enabled in this session and not flushed yet has None for its lists.
        "repos": list(dict.fromkeys([*project.additional_repos, *(pc.repos or ())])),
        "buildroot_pkgs": list(pc.buildroot_pkgs or ()),
        "modules": list(pc.modules or ()),
        "with_opts": list(pc.with_opts or ()),
        "without_opts": list(pc.without_opts or ()),
        "isolation": project.isolation if pc.isolation in (None, "unchanged") else pc.isolation,
        "bootstrap": project.bootstrap if pc.bootstrap in (None, "unchanged") else pc.bootstrap,
        "bootstrap_image": pc.bootstrap_image or project.bootstrap_image,
        "timeout": pc.timeout,
        "repo_priority": project.repo_priority,
        "module_hotfixes": project.module_hotfixes,
        "devel_mode": project.devel_mode,
    }


def expand_config(
    owner: str,
    project: str,
    chroot: str,
    settings: dict[str, Any],
    *,
    enable_net: bool,
    results_url: str,
    memory_limit: int | None = None,
    is_background: bool | None = None,
) -> BuildConfig:
    """The :class:`BuildConfig` of ``settings`` (:func:`chroot_settings`), with the
    project's own repository first and every URL expanded for ``chroot``."""
    devel = bool(settings.get("devel_mode"))
    own = [("copr_base", "Copr repository", "")]
    if devel:
        # As on Copr: builds also see what is published into the devel repo, so a chain
        # of builds works before regenerate-repos; the main repo still comes first.
        own.append(("copr_base_devel", "Copr buildroot", "devel/"))
    repos = [
        RepoSpec(
            id=ident,
            name=name,
            baseurl=f"{results_url}/{owner}/{project}/{chroot}/{sub}",
            priority=settings.get("repo_priority"),
            module_hotfixes=settings.get("module_hotfixes") or None,
        )
        for ident, name, sub in own
    ]
    extra = list(settings.get("repos", []))
    for url in extra:
        ident = repo_id_of(url)
        repos.append(
            RepoSpec(
                id=ident,
                name=f"Additional repo {ident}",
                baseurl=expand_repo_url(url, chroot, results_url),
                priority=repo_priority_of(url),
            )
        )
    if devel:
        extra.append(f"copr://{owner}/{project}/devel")
    bootstrap = str(settings.get("bootstrap") or "default")
    return BuildConfig(
        chroot=chroot,
        repos=repos,
        additional_repos=extra,
        additional_packages=list(settings.get("buildroot_pkgs", [])),
        additional_modules=list(settings.get("modules", [])),
        enable_net=enable_net,
        with_opts=list(settings.get("with_opts", [])),
        without_opts=list(settings.get("without_opts", [])),
        isolation=str(settings.get("isolation") or "default"),
        bootstrap=bootstrap,
        bootstrap_image=settings.get("bootstrap_image")
        if bootstrap in ("image", "custom_image")
        else None,
        timeout=settings.get("timeout"),
        memory_limit=memory_limit,
        is_background=is_background,
    )


def build_config(project: Project, pc: ProjectChroot, results_url: str) -> BuildConfig:
    """What a build submitted now to this chroot would be built with."""
    return expand_config(
        project.owner_name,
        project.name,
        pc.mock_chroot.name,
        chroot_settings(project, pc),
        enable_net=project.enable_net,
        results_url=results_url,
    )
