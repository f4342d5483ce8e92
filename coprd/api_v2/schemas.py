"""APIv2 wire shapes, as python-copr 1.63's marshmallow 2 schemas (``strict=True``) take them.

What the client's loader refuses decides the output (reference section 2.6/2.7): no
``null`` where a field may not be null (``""``, ``[]`` or ``{}`` instead), ``homepage``
either ``null`` or a URL its validator accepts, timestamps as unix integers, a build
task's ``state`` one of nine names, and ``_links`` on every entity, also inside lists.

Inputs are the bodies the client sends: every field present, ``null`` where unset, and
read-only fields (``id``, ``name``, ``owner``, ``last_modified``) echoed back on update.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from coprd.api_v2 import links
from coprd.core.builds import MAX_URL, URL, Glob, chroot_tasks
from coprd.core.project_chroots import COMPS, MAX_COMPS
from coprd.core.projects import (
    MAX_LIST,
    RepoUrl,
    ShortTextValue,
    TextValue,
    Word,
)
from coprd.core.results import task_dir
from coprd.core.text import Integer, NonEmpty, Rule
from coprd.db.models import Build, BuildState, BuildTask, MockChroot, Project, ProjectChroot

# The task states 1.63 accepts (copr.client_v2.common.ALLOWED_BUILD_STATES), for each of
# coprd's: a build waiting for its batch is pending to this client, and a build a fork
# copied has its results, so it succeeded.
STATES: dict[BuildState, str] = {
    BuildState.importing: "importing",
    BuildState.pending: "pending",
    BuildState.waiting: "pending",
    BuildState.starting: "starting",
    BuildState.running: "running",
    BuildState.succeeded: "succeeded",
    BuildState.forked: "succeeded",
    BuildState.failed: "failed",
    BuildState.canceled: "canceled",
    BuildState.skipped: "skipped",
}
V2_STATES = (
    *("failed", "succeeded", "canceled", "running", "pending"),
    *("skipped", "starting", "importing", "unknown"),
)

# What the client's Url field (marshmallow 2, require_tld) accepts, or a part of it: a
# homepage outside this pattern is sent as null rather than break the client's loader.
_CLIENT_URL = re.compile(
    r"(?:https?|ftps?)://"
    r"(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,6}|[a-z0-9-]{2,})\.?"
    r"|localhost|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})"
    r"(?::\d+)?(?:/?|[/?]\S+)",
    re.IGNORECASE,
)
# Source types under the names upstream's APIv2 gave them.
_SOURCE_TYPES = {"link": "srpm_link", "upload": "srpm_upload"}


def v2_state(state: BuildState) -> str:
    return STATES.get(state, "unknown")


def states_shown_as(name: str) -> set[BuildState]:
    """The coprd states a v2 state name stands for (none for ``unknown``)."""
    return {state for state, shown in STATES.items() if shown == name}


def client_url(value: str | None) -> str | None:
    return value if value and _CLIENT_URL.fullmatch(value) else None


def _encodable(value: str) -> str:
    """JSON can carry lone surrogates, which no database or file name can: refused here."""
    value.encode("utf-8")  # UnicodeEncodeError is a ValueError: a validation error
    return value


Text = Annotated[str, AfterValidator(_encodable)]
# The bodies' fields hold the core's rules (coprd/core/projects.py), the server's and the
# document's at once; JSON says what it means (strict: no "yes" for true, no "5" for 5).
_BODY = ConfigDict(extra="ignore", strict=True)
LongText = Annotated[TextValue, AfterValidator(_encodable)]
ShortText = Annotated[ShortTextValue, AfterValidator(_encodable)]
Repos = Annotated[list[Annotated[RepoUrl, AfterValidator(_encodable)]], Field(max_length=MAX_LIST)]
Packages = Annotated[list[Annotated[Word, AfterValidator(_encodable)]], Field(max_length=MAX_LIST)]
ChrootGlobs = Annotated[list[Glob], Field(max_length=MAX_LIST)]
Comps = Annotated[
    str, Field(max_length=MAX_COMPS), Rule(f"(?:{COMPS.pattern})?", str(COMPS.reason))
]
"""A comps file's text; empty: none."""
Id = Annotated[int, Integer(-(2**63), 2**63 - 1)]


def _unix(moment: dt.datetime | None) -> int | None:
    return None if moment is None else int(moment.replace(tzinfo=dt.UTC).timestamp())


class V2Link(BaseModel):
    href: str


def link_map(**hrefs: str) -> dict[str, V2Link]:
    return {name: V2Link(href=href) for name, href in hrefs.items()}


class V2Envelope(BaseModel):
    """An entity or a collection with its ``_links``."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    links: dict[str, V2Link] = Field(alias="_links")


class V2RootOut(V2Envelope):
    @classmethod
    def make(cls) -> V2RootOut:
        return cls(
            links=link_map(
                self=links.root(),
                projects=links.projects(),
                builds=links.builds(),
                build_tasks=links.build_tasks(),
                mock_chroots=links.mock_chroots(),
            )
        )


class V2Project(BaseModel):
    id: int
    name: str
    owner: str = Field(description="user name, or @group")
    group: str | None = Field(description="the owning group's name; null for a user's project")
    description: str
    instructions: str
    homepage: str | None
    contact: str | None
    disable_createrepo: bool
    build_enable_net: bool
    repos: list[str]
    last_modified: str | None = Field(
        description="when a build of the project last ended, ISO 8601 in UTC as Copr's "
        "schema wrote it (2026-01-02T03:04:05+00:00); null before any did"
    )


class V2ProjectOut(V2Envelope):
    project: V2Project

    @classmethod
    def of(cls, project: Project, last_modified: dt.datetime | None) -> V2ProjectOut:
        owner = project.owner_name
        return cls(
            links=link_map(
                self=links.project(project.id),
                chroots=links.project_chroots(project.id),
                builds=f"{links.builds()}?project_id={project.id}",
                build_tasks=f"{links.build_tasks()}?project_id={project.id}",
            ),
            project=V2Project(
                id=project.id,
                name=project.name,
                owner=owner,
                group=owner[1:] if owner.startswith("@") else None,
                description=project.description or "",
                instructions=project.instructions or "",
                homepage=client_url(project.homepage),
                contact=project.contact or None,
                disable_createrepo=project.disable_createrepo,
                build_enable_net=project.enable_net,
                repos=list(project.additional_repos),
                last_modified=None
                if last_modified is None
                else last_modified.replace(tzinfo=dt.UTC).isoformat(),
            ),
        )


class V2ProjectList(V2Envelope):
    projects: list[V2ProjectOut]


class V2ProjectCreateIn(BaseModel):
    """``ProjectCreateSchema`` as dumped: every field, ``null`` where unset; ``id`` and
    ``last_modified`` are ignored, ``owner`` defaults to the acting user."""

    model_config = _BODY

    name: Text
    owner: Text | None = None
    chroots: Annotated[
        list[Text], Field(max_length=MAX_LIST), NonEmpty("select at least one chroot")
    ]
    description: LongText | None = None
    instructions: LongText | None = None
    homepage: ShortText | None = None
    contact: ShortText | None = None
    disable_createrepo: bool | None = None
    build_enable_net: bool | None = None
    repos: Repos | None = None

    def core_fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "chroots": self.chroots,
            "description": self.description,
            "instructions": self.instructions,
            "homepage": self.homepage,
            "contact": self.contact,
            "disable_createrepo": self.disable_createrepo,
            "enable_net": self.build_enable_net,
            "additional_repos": self.repos,
        }


class V2ProjectUpdateIn(BaseModel):
    """``ProjectSchema`` as dumped from a fetched project (the whole entity, PUT).

    ``id``, ``name``, ``owner`` and ``last_modified`` are read-only and ignored. A field
    left out keeps its value; ``null`` clears a text field (the client sends ``null``
    for a homepage or contact the project does not have) and keeps a flag or the repos.
    """

    model_config = _BODY

    description: LongText | None = None
    instructions: LongText | None = None
    homepage: ShortText | None = None
    contact: ShortText | None = None
    disable_createrepo: bool | None = None
    build_enable_net: bool | None = None
    repos: Repos | None = None

    def core_fields(self) -> dict[str, Any]:
        given = self.model_fields_set
        fields: dict[str, Any] = {
            name: getattr(self, name) or ""
            for name in ("description", "instructions", "homepage", "contact")
            if name in given
        }
        fields["disable_createrepo"] = self.disable_createrepo
        fields["enable_net"] = self.build_enable_net
        fields["additional_repos"] = self.repos
        return fields


class V2ProjectChroot(BaseModel):
    name: str
    buildroot_pkgs: list[str]
    comps: str | None = Field(description="the comps.xml text; null without one")
    comps_name: str | None
    comps_len: int


class V2ProjectChrootOut(V2Envelope):
    chroot: V2ProjectChroot

    @classmethod
    def of(cls, pc: ProjectChroot) -> V2ProjectChrootOut:
        name = pc.mock_chroot.name
        return cls(
            links=link_map(
                self=links.project_chroot(pc.project_id, name),
                project=links.project(pc.project_id),
            ),
            chroot=V2ProjectChroot(
                name=name,
                buildroot_pkgs=list(pc.buildroot_pkgs),
                comps=None if pc.comps is None else pc.comps.decode("utf-8", "replace"),
                comps_name=pc.comps_name if pc.comps else None,
                comps_len=len(pc.comps or b""),
            ),
        )


class V2ProjectChrootList(V2Envelope):
    chroots: list[V2ProjectChrootOut]


class V2ProjectChrootUpdateIn(BaseModel):
    """``ProjectChrootSchema`` as dumped: ``name`` (read-only, ignored: the path names the
    chroot), ``buildroot_pkgs``, ``comps`` (the comps.xml text; ``""`` removes it, ``null``
    keeps it) and ``comps_name``."""

    model_config = _BODY

    name: Text | None = None
    buildroot_pkgs: Packages | None = None
    comps: Comps | None = None
    comps_name: Text | None = None


class V2ProjectChrootIn(V2ProjectChrootUpdateIn):
    """``ProjectChrootSchema`` as dumped, to enable the chroot ``name``."""

    name: Text


class V2BuiltPackage(BaseModel):
    name: str
    version: str


class V2Build(BaseModel):
    id: int
    state: str
    submitter: str
    built_packages: list[V2BuiltPackage]
    package_name: str | None
    package_version: str | None
    repos: list[str]
    submitted_on: int
    started_on: int | None
    ended_on: int | None
    enable_net: bool
    source_type: str
    source_metadata: dict[str, Any]


def _built_packages(build: Build) -> list[V2BuiltPackage]:
    seen: dict[tuple[str, str], V2BuiltPackage] = {}
    for task in chroot_tasks(build):
        for package in task.built_packages:
            name, version = str(package.get("name", "")), str(package.get("version", ""))
            seen.setdefault((name, version), V2BuiltPackage(name=name, version=version))
    return list(seen.values())


class V2BuildOut(V2Envelope):
    build: V2Build

    @classmethod
    def of(cls, build: Build) -> V2BuildOut:
        """``build`` with its tasks, project and submitter loaded (``core.builds``' reads)."""
        return cls(
            links=link_map(
                self=links.build(build.id),
                project=links.project(build.project_id),
                build_tasks=f"{links.build_tasks()}?build_id={build.id}",
            ),
            build=V2Build(
                id=build.id,
                state=v2_state(build.state),
                submitter=build.submitter.name if build.submitter else "",
                built_packages=_built_packages(build),
                package_name=build.pkg_name,
                package_version=build.pkg_version,
                repos=list(build.project.additional_repos),
                submitted_on=_unix(build.submitted_on) or 0,
                started_on=_unix(build.started_on),
                ended_on=_unix(build.ended_on),
                enable_net=build.enable_net,
                source_type=_SOURCE_TYPES.get(build.source_type, build.source_type),
                source_metadata=dict(build.source_json),
            ),
        )


class V2BuildList(V2Envelope):
    builds: list[V2BuildOut]


class V2BuildFileIn(BaseModel):
    """The ``metadata`` part of a build from an uploaded SRPM; no chroots (``[]``, as the
    client sends by default) means all of the project's."""

    model_config = _BODY

    project_id: Id
    chroots: ChrootGlobs | None = None
    enable_net: bool | None = None


class V2BuildUrlIn(V2BuildFileIn):
    """A build from a URL: ``{"project_id", "srpm_url", "chroots", "enable_net"}``."""

    srpm_url: Annotated[str, Field(max_length=MAX_URL), URL]


class V2BuildUpdateIn(BaseModel):
    """What a PUT of a build may change: its state, to ``canceled``."""

    model_config = _BODY

    # The client sends the first; upstream's docs the second.
    state: Annotated[
        str, Rule("canceled|cancelled", "a build's state can only be set to 'canceled'")
    ]


class V2BuildTask(BaseModel):
    build_id: int
    chroot_name: str
    state: str
    started_on: int | None
    ended_on: int | None
    git_hash: str | None
    result_dir_url: str | None


class V2BuildTaskOut(V2Envelope):
    build_task: V2BuildTask

    @classmethod
    def of(cls, build: Build, task: BuildTask, results_url: str) -> V2BuildTaskOut:
        """``task`` of ``build``; the build's project loaded."""
        result_dir = f"{results_url}/{task_dir(build, task)}/" if build.pkg_name else None
        return cls(
            links=link_map(
                self=links.build_task(build.id, task.chroot_name),
                build=links.build(build.id),
                project=links.project(build.project_id),
            ),
            build_task=V2BuildTask(
                build_id=build.id,
                chroot_name=task.chroot_name,
                state=v2_state(task.state),
                started_on=_unix(task.started_on),
                ended_on=_unix(task.ended_on),
                git_hash=None,
                result_dir_url=result_dir,
            ),
        )


class V2BuildTaskList(V2Envelope):
    build_tasks: list[V2BuildTaskOut]


class V2MockChroot(BaseModel):
    name: str
    os_release: str
    os_version: str
    arch: str
    is_active: bool


class V2MockChrootOut(V2Envelope):
    chroot: V2MockChroot

    @classmethod
    def of(cls, chroot: MockChroot) -> V2MockChrootOut:
        return cls(
            links=link_map(self=links.mock_chroot(chroot.name)),
            chroot=V2MockChroot(
                name=chroot.name,
                os_release=chroot.os_release,
                os_version=chroot.os_version,
                arch=chroot.arch,
                is_active=chroot.is_active,
            ),
        )


class V2MockChrootList(V2Envelope):
    chroots: list[V2MockChrootOut]
