"""Builds: submitting them, their state, canceling and deleting them.

A build has one source task (``srpm-builds``), which turns the source into an SRPM, and one
task per chroot, which turns the SRPM into RPMs. The build's own state follows from its
tasks by :func:`derive_state`, the one rule; :func:`refresh_build` stores it in the indexed
``builds.state`` column whenever a task changes, so lists filter on a column.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Collection, Iterable, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from coprd.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooLarge,
)
from coprd.core.limits import DEFAULT_TIMEOUT, MAX_SPEC_BYTES, MAX_TIMEOUT
from coprd.core.names import MAX_ID, check_owner_name, check_package_name, is_id
from coprd.core.packit import require_forge_project
from coprd.core.pagination import Page, fetch_page
from coprd.core.permissions import Action, may, require
from coprd.core.project_chroots import (
    BuildConfig,
    chroot_settings,
    expand_config,
    get_project_chroot,
)
from coprd.core.projects import get_project
from coprd.core.results import check_result_file, unwant_build
from coprd.core.text import SPACES, Integer, Rule, split_schema
from coprd.core.unsupported import UNSUPPORTED, refuse_unsupported
from coprd.db.models import (
    SOURCE_TASK_CHROOT,
    Build,
    BuildState,
    BuildTask,
    Project,
    ProjectChroot,
    User,
    utcnow,
)

BACKGROUND_PRIORITY = 100

TERMINAL = frozenset(
    {
        BuildState.succeeded,
        BuildState.failed,
        BuildState.canceled,
        BuildState.skipped,
        BuildState.forked,
    }
)
# When tasks disagree, the build shows the first of these any task is in: work still going
# on wins over results, and a failure wins over success.
_PRECEDENCE = (
    BuildState.running,
    BuildState.starting,
    BuildState.importing,
    BuildState.pending,
    BuildState.waiting,
    BuildState.failed,
    BuildState.canceled,
    BuildState.succeeded,
    BuildState.forked,
    BuildState.skipped,
)

Glob = Annotated[str, Field(min_length=1, max_length=200)]


def _number(low: int, high: int) -> Integer:
    """A whole number from ``low`` to ``high``, or the same in ASCII digits (copr-cli sends
    its options as typed); a boolean is no number. Within the databases' integer."""
    return Integer(low, high, reason=f"must be a whole number from {low} to {high}")


_Seconds = Annotated[int, _number(0, MAX_TIMEOUT)]
_MiB = Annotated[int, _number(64, MAX_ID)]
_BuildId = Annotated[int, _number(1, MAX_ID)]


class BuildOptions(BaseModel):
    """Options every kind of build takes (copr-cli's ``buildopts``)."""

    model_config = ConfigDict(extra="ignore")

    chroots: list[Glob] | None = Field(default=None, max_length=200)
    exclude_chroots: list[Glob] | None = Field(default=None, max_length=200)
    timeout: _Seconds | None = Field(default=None, description="seconds; 0 or none: the default")
    memory: _MiB | None = Field(default=None, description="memory limit in MiB")
    background: bool | None = None
    bootstrap: Literal["unchanged", "untouched", "default", "on", "off", "image"] | None = None
    isolation: Literal["unchanged", "default", "simple", "nspawn"] | None = None
    after_build_id: _BuildId | None = None
    with_build_id: _BuildId | None = None
    enable_net: bool | None = None
    fedora_review: bool | None = Field(
        default=None,
        description=f"not supported by this server ({UNSUPPORTED['fedora_review'].reason}): "
        "true is refused",
    )
    project_dirname: str | None = Field(default=None, max_length=200)
    packit_forge_project: str | None = Field(
        default=None, max_length=2048, description="The forge project Packit builds for."
    )

    @model_validator(mode="after")
    def _normalise(self) -> BuildOptions:
        # "unchanged" means: as the project (chroot) says, which is what None means here.
        if self.bootstrap in ("unchanged", "untouched"):
            self.bootstrap = None
        if self.isolation == "unchanged":
            self.isolation = None
        return self


class Source(BaseModel):
    """What the source task starts from: a type and its parameters, as stored."""

    type: str
    data: dict[str, Any]


def derive_state(states: Iterable[BuildState]) -> BuildState:
    """The build's state from its tasks' states (the source task's and the chroots')."""
    present = set(states)
    if not present:
        return BuildState.pending
    # A source step that failed or was canceled ends the build whatever the chroots say.
    for state in _PRECEDENCE:
        if state in present:
            return state
    return BuildState.failed


def effective_state(task: BuildTask) -> BuildState:
    """A task the user canceled counts as canceled while its agent is still stopping it."""
    return state_shown(task.state, task.cancel_requested)


def state_shown(state: BuildState, cancel_requested: bool) -> BuildState:
    """:func:`effective_state` of a task read as a row (its state and cancel flag)."""
    if cancel_requested and state not in TERMINAL:
        return BuildState.canceled
    return state


def refresh_build(session: Session, build: Build) -> BuildState:
    """Store the derived state and timestamps; release builds waiting on this one, and
    tasks waiting for one of its tasks that ended (``core/ordering.py``)."""
    from coprd.core.ordering import release_waiters

    release_waiters(session, build.tasks)
    before = build.state
    build.state = derive_state(effective_state(task) for task in build.tasks)
    started = [t.started_on for t in build.tasks if t.started_on]
    build.started_on = min(started) if started else None
    if build.state in TERMINAL:
        ended = [t.ended_on for t in build.tasks if t.ended_on]
        build.ended_on = max(ended) if ended else utcnow()
        if before not in TERMINAL:
            _release_followers(session, build)
    else:
        build.ended_on = None
    return build.state


def _release_followers(session: Session, build: Build) -> None:
    """Builds submitted with ``after_build_id`` of this one may start now."""
    followers = session.scalars(
        select(Build).where(Build.after_build_id == build.id).options(selectinload(Build.tasks))
    ).all()
    for follower in followers:
        for task in follower.tasks:
            if task.state == BuildState.waiting:
                task.state = BuildState.pending
        refresh_build(session, follower)


def select_chroots(
    project: Project, patterns: Sequence[str] | None, exclude: Sequence[str] | None
) -> list[ProjectChroot]:
    """The project chroots a build goes to: all, or those the (glob) patterns name."""
    enabled = sorted(project.chroots, key=lambda pc: pc.mock_chroot.name)
    chosen = enabled
    if patterns:
        unmatched = [p for p in patterns if not any(_match(pc, p) for pc in enabled)]
        if unmatched:
            names = ", ".join(pc.mock_chroot.name for pc in enabled)
            raise InvalidInput(
                f"{', '.join(unmatched)} matches no chroot of {project.full_name} "
                f"(enabled: {names})",
                "chroots",
            )
        chosen = [pc for pc in enabled if any(_match(pc, p) for p in patterns)]
    if exclude:
        chosen = [pc for pc in chosen if not any(_match(pc, p) for p in exclude)]
    chosen = [pc for pc in chosen if pc.mock_chroot.is_active]
    if not chosen:
        raise InvalidInput(f"no active chroot of {project.full_name} is selected", "chroots")
    return chosen


def _match(pc: ProjectChroot, pattern: str) -> bool:
    return fnmatch.fnmatchcase(pc.mock_chroot.name, pattern)


_DIRNAME_SUFFIX = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+:-]{0,99}")


def _dirname(project: Project, dirname: str | None) -> str:
    """``project`` or ``project:suffix`` (Copr's CoprDirs); it becomes a results path."""
    if not dirname or dirname == project.name:
        return project.name
    prefix = project.name + ":"
    if not dirname.startswith(prefix) or not _DIRNAME_SUFFIX.fullmatch(dirname[len(prefix) :]):
        shown = dirname[:120].encode("unicode_escape").decode("ascii")
        raise InvalidInput(
            f"{shown!r} is not {project.name!r} or '{project.name}:<suffix>' "
            "(letters, digits and . _ + - :)",
            "project_dirname",
        )
    return dirname


def _batch_predecessor(session: Session, project: Project, options: BuildOptions) -> int | None:
    if options.after_build_id and options.with_build_id:
        raise InvalidInput("use after_build_id or with_build_id, not both", "with_build_id")
    ref = options.after_build_id or options.with_build_id
    if ref is None:
        return None
    other = session.get(Build, ref) if is_id(ref) else None
    if other is None or other.project_id != project.id:
        field = "with_build_id" if options.with_build_id else "after_build_id"
        raise InvalidInput(f"build {ref} is not a build of {project.full_name}", field)
    # with_build_id: the same batch, so wait for what that build waits for.
    return other.after_build_id if options.with_build_id else other.id


def submit_build(
    session: Session,
    actor: User | None,
    project: Project,
    source: Source,
    options: BuildOptions,
    *,
    pkg_name: str | None = None,
    package_id: int | None = None,
    together_with: Build | None = None,
) -> Build:
    """Queue a build of ``source`` in ``project``; the source task is claimable at once.
    ``together_with``: a build of the same request, ordered with it (``core/ordering.py``)."""
    if actor is None:
        raise NotAuthenticated("submitting a build requires an API token")
    require(session, actor, Action.build, project)
    require_forge_project(project, options.packit_forge_project)
    return queue_build(
        session,
        actor,
        project,
        source,
        options,
        pkg_name=pkg_name,
        package_id=package_id,
        together_with=together_with,
    )


def queue_build(
    session: Session,
    submitter: User | None,
    project: Project,
    source: Source,
    options: BuildOptions,
    *,
    pkg_name: str | None = None,
    package_id: int | None = None,
    together_with: Build | None = None,
) -> Build:
    """:func:`submit_build` without asking whether ``submitter`` may build: for callers that
    decided that themselves (a webhook, by the project's secret, submits with no user)."""
    from coprd.core.ordering import join_submission, lock_project

    if pkg_name is not None:
        check_package_name(pkg_name)
    refuse_unsupported(options)
    # Before the build's rows: joining a submission orders the project (lock_project).
    lock_project(session, project.id)
    chroots = select_chroots(project, options.chroots, options.exclude_chroots)
    after = _batch_predecessor(session, project, options)
    if after is not None:
        predecessor = session.get(Build, after)
        if predecessor is not None and predecessor.state in TERMINAL:
            after = None

    background = bool(options.background)
    build = Build(
        project=project,
        project_id=project.id,
        submitter_id=submitter.id if submitter else None,
        state=BuildState.pending,
        source_type=source.type,
        source_json=source.data,
        pkg_name=pkg_name,
        package_id=package_id,
        project_dirname=_dirname(project, options.project_dirname),
        is_background=background,
        timeout=options.timeout or DEFAULT_TIMEOUT,
        memory_limit=options.memory,
        enable_net=project.enable_net if options.enable_net is None else options.enable_net,
        bootstrap=None
        if options.bootstrap in (None, "unchanged", "untouched")
        else options.bootstrap,
        isolation=None if options.isolation in (None, "unchanged") else options.isolation,
        after_build_id=after,
    )
    first_state = BuildState.waiting if after is not None else BuildState.pending
    priority = BACKGROUND_PRIORITY if background else 0
    build.tasks = [
        BuildTask(
            chroot_name=SOURCE_TASK_CHROOT,
            arch=None,
            owner_name=project.owner_name,
            state=first_state,
            priority=priority,
        ),
        *(
            BuildTask(
                chroot_name=pc.mock_chroot.name,
                arch=pc.mock_chroot.arch,
                owner_name=project.owner_name,
                state=first_state,
                priority=priority,
                config=_task_settings(project, pc, options.timeout, build),
            )
            for pc in chroots
        ),
    ]
    build.state = first_state
    session.add(build)
    session.flush()
    batched = options.after_build_id is not None or options.with_build_id is not None
    join_submission(session, build, submitter, together_with=together_with, batched=batched)
    return build


def _task_settings(
    project: Project, pc: ProjectChroot, timeout: int | None, build: Build
) -> dict[str, Any]:
    """What a chroot task of ``build`` is built with, kept with the task at submit
    (``BuildTask.config``): the chroot's settings, with the build's own isolation and
    bootstrap over them, and its timeout: the build's (or its package's) if it names one,
    else the chroot's, else :data:`DEFAULT_TIMEOUT`."""
    settings = chroot_settings(project, pc)
    if build.isolation is not None:
        settings["isolation"] = build.isolation
    if build.bootstrap is not None:
        settings["bootstrap"] = build.bootstrap
    settings["timeout"] = timeout or settings["timeout"] or DEFAULT_TIMEOUT
    return settings


def task_config(session: Session, build: Build, task: BuildTask, results_url: str) -> BuildConfig:
    """The configuration a chroot task of ``build`` runs with, as kept at submit; for a
    task from before tasks kept theirs, the project chroot's current settings (NotFound
    if that chroot is no longer enabled)."""
    settings = task.config
    if settings is None:
        project = get_project(session, build.project.owner_name, build.project.name)
        pc = get_project_chroot(project, task.chroot_name)
        settings = _task_settings(project, pc, build.timeout, build)
    return expand_config(
        build.project.owner_name,
        build.project.name,
        task.chroot_name,
        settings,
        enable_net=build.enable_net,
        results_url=results_url,
        memory_limit=build.memory_limit,
        is_background=build.is_background,
    )


def _with_tasks(stmt: Any) -> Any:
    return stmt.options(
        selectinload(Build.tasks), selectinload(Build.project), selectinload(Build.submitter)
    )


def get_build(session: Session, build_id: int) -> Build:
    # Ids past the databases' integer do not exist (SQLite cannot even bind them).
    build = None
    if is_id(build_id):
        build = session.scalar(_with_tasks(select(Build).where(Build.id == build_id)))
    if build is None:
        raise NotFound(f"Build {build_id} does not exist.")
    return build  # type: ignore[no-any-return]


def get_build_of_task(session: Session, task: BuildTask) -> Build:
    """The build of ``task`` with its project only (one query): what the agent protocol
    needs to find the task's directory, on the hot path of every build."""
    build = session.scalar(
        select(Build).options(joinedload(Build.project)).where(Build.id == task.build_id)
    )
    if build is None:  # deleted meanwhile; the task row went with it
        raise NotFound(f"Build {task.build_id} does not exist.")
    return build


BUILD_ORDERS = {
    "id": Build.id,
    "state": Build.state,
    "submitted_on": Build.submitted_on,
    "pkg_name": Build.pkg_name,
}


def list_builds(
    session: Session,
    project: Project | None,
    page: Page,
    *,
    ownername: str | None = None,
    packagename: str | None = None,
    status: str | None = None,
) -> Sequence[Build]:
    """Builds of ``project`` (of every project when None), of projects of ``ownername``."""
    stmt = select(Build)
    if project is not None:
        stmt = stmt.where(Build.project_id == project.id)
    if ownername is not None:
        check_owner_name(ownername)
        stmt = stmt.join(Project, Project.id == Build.project_id).where(
            Project.owner_name == ownername
        )
    if packagename is not None:
        check_package_name(packagename)
        stmt = stmt.where(Build.pkg_name == packagename)
    if status is not None:
        stmt = stmt.where(Build.state == parse_state(status))
    return fetch_page(session, _with_tasks(stmt), page, BUILD_ORDERS, Build.id)


def parse_state(value: str, field: str = "status") -> BuildState:
    """The build state named ``value``; InvalidInput (on ``field``) naming the states else."""
    try:
        return BuildState(value)
    except ValueError:
        names = ", ".join(s.value for s in BuildState)
        raise InvalidInput(f"unknown state {value!r}; use one of {names}", field) from None


TASK_ORDERS = {"id": BuildTask.id}


def list_build_tasks(
    session: Session,
    page: Page,
    *,
    build_id: int | None = None,
    project_id: int | None = None,
    ownername: str | None = None,
    states: Collection[BuildState] | None = None,
) -> Sequence[BuildTask]:
    """Chroot tasks (never source tasks) of a build, of a project's builds, of an owner's
    projects, in one of ``states``; each with its build and the build's project loaded."""
    stmt = select(BuildTask).where(BuildTask.chroot_name != SOURCE_TASK_CHROOT)
    if build_id is not None:
        stmt = stmt.where(BuildTask.build_id == build_id)
    if project_id is not None:
        stmt = stmt.join(Build, Build.id == BuildTask.build_id).where(
            Build.project_id == project_id
        )
    if ownername is not None:
        check_owner_name(ownername)
        stmt = stmt.where(BuildTask.owner_name == ownername)
    if states is not None:
        stmt = stmt.where(BuildTask.state.in_(list(states)))
    stmt = stmt.options(selectinload(BuildTask.build).selectinload(Build.project))
    return fetch_page(session, stmt, page, TASK_ORDERS, BuildTask.id)


def last_modified(session: Session, project: Project) -> dt.datetime | None:
    """When a build of ``project`` last ended (Copr's "last modified"); None before any did."""
    return session.scalar(select(func.max(Build.ended_on)).where(Build.project_id == project.id))


def last_modified_of(
    session: Session, projects: Sequence[Project]
) -> dict[int, dt.datetime | None]:
    """:func:`last_modified` of each of ``projects``, by project id, in one query."""
    ids = [project.id for project in projects]
    found: dict[int, dt.datetime | None] = dict.fromkeys(ids)
    if ids:
        rows = session.execute(
            select(Build.project_id, func.max(Build.ended_on))
            .where(Build.project_id.in_(ids))
            .group_by(Build.project_id)
        )
        found.update({project_id: ended for project_id, ended in rows})
    return found


def source_task(build: Build) -> BuildTask:
    return next(t for t in build.tasks if t.is_source)


def chroot_tasks(build: Build) -> list[BuildTask]:
    return [t for t in build.tasks if not t.is_source]


class BuildEnded(Conflict):
    """:func:`cancel_build` of a build that has already ended, as ``state`` says: a
    conflict (409) with Copr's words; the old APIs answer it as Copr's did."""

    def __init__(self, build: Build) -> None:
        super().__init__(
            f"Cannot cancel build {build.id}: it has already ended ({build.state.value})"
        )
        self.build_id = build.id
        self.state = build.state


def cancel_build(session: Session, actor: User | None, build: Build) -> Build:
    """Stop a build: tasks not yet claimed end at once, claimed ones at the next heartbeat.
    Who may not build in the project is refused before a build that has ended
    (:class:`BuildEnded`)."""
    require(session, actor, Action.build, build.project)
    if build.state in TERMINAL:
        raise BuildEnded(build)
    now = utcnow()
    for task in build.tasks:
        if task.state in TERMINAL:
            continue
        if task.state in (BuildState.starting, BuildState.running):
            task.cancel_requested = True
        else:
            task.state = BuildState.canceled
            task.ended_on = now
            task.message = "canceled by the user"
    refresh_build(session, build)
    session.flush()
    return build


def resubmit_refusal(build: Build) -> str | None:
    """Why ``build`` cannot be submitted again (``packages.resubmit_build``); None if it can."""
    if build.source_type == "rpm_upload":
        return (
            f"build {build.id} published an uploaded binary RPM; there is nothing to build "
            "again (upload the RPM again instead)"
        )
    if build.source_type == "upload" and not build.srpm_name:
        # The uploaded SRPM is not kept once the source task has it; the SRPM that task
        # made is, among the build's results, and a resubmit builds from that.
        return (
            f"build {build.id} was made from an upload whose SRPM was never built; upload it again"
        )
    return None


def allowed_actions(session: Session, actor: User | None, build: Build) -> dict[str, bool]:
    """Which of cancel, resubmit and delete ``actor`` may do to ``build`` now, by the same
    rules :func:`cancel_build`, ``packages.resubmit_build`` and :func:`delete_builds`
    enforce: for showing only the buttons that would work."""
    may_build = may(session, actor, Action.build, build.project)
    ended = build.state in TERMINAL
    return {
        "cancel": may_build and not ended,
        "resubmit": may_build and resubmit_refusal(build) is None,
        "delete": ended
        and not build.project.persistent
        and may(session, actor, Action.edit, build.project),
    }


def delete_builds(session: Session, actor: User | None, build_ids: Sequence[int]) -> list[int]:
    """Delete finished builds; all-or-nothing, so one refusal deletes none."""
    if actor is None:
        raise NotAuthenticated("deleting builds requires an API token")
    if not build_ids:
        raise InvalidInput("name at least one build", "builds")
    builds = [get_build(session, build_id) for build_id in dict.fromkeys(build_ids)]
    for build in builds:
        require_build_deletable(actor, build)
        require(session, actor, Action.edit, build.project)
        if build.state not in TERMINAL:
            # 400, as Copr answers: the request is wrong now, not forbidden to this user.
            raise InvalidInput(
                f"build {build.id} is {build.state.value}; cancel it before deleting it"
            )
    for build in builds:
        remove_build(session, build)
    session.flush()
    return [build.id for build in builds]


def require_build_deletable(actor: User, build: Build) -> None:
    """Refuse to delete a build of a persistent project (anyone's, an admin's too), with
    Copr's message; see ``projects.require_deletable``."""
    if build.project.persistent:
        raise Forbidden(f"User '{actor.name}' can not delete a persistent build {build.id}")


def remove_build(session: Session, build: Build) -> None:
    """Delete a finished build and (after the commit) its results, asking no one: for
    :func:`delete_builds` and the cleanup of old builds."""
    unwant_build(session, build)
    session.delete(build)


MAX_URL = 2048
RPM_MAGIC = b"\xed\xab\xee\xdb"
URL = Rule(rf"(?:https?|ftp)://[^\x00-\x1f{SPACES}]*", "is not an http, https or ftp URL")
"""A URL the source task may download: a network scheme, no whitespace nor control
characters (at most :data:`MAX_URL` characters)."""


def url_source(url: str) -> Source:
    """A build from a URL the source task downloads; only network schemes are accepted."""
    if not isinstance(url, str) or len(url) > MAX_URL or not URL.matches(url):
        shown = str(url)[:100].encode("unicode_escape").decode("ascii")
        raise InvalidInput(f"{shown!r} is not an http, https or ftp URL", "pkgs")
    return Source(type="link", data={"url": url})


MAX_URLS = 100
URL_SCHEMA = {**URL.json_schema(), "maxLength": MAX_URL}
"""What :func:`url_source` takes, for the API documents."""
URLS_SCHEMA = split_schema(URL.pattern, SPACES, min_items=1, max_items=MAX_URLS, max_token=MAX_URL)
"""What :func:`url_sources` takes, written as one string separated by whitespace (as
``str.split`` reads it), for the documents of the APIs that send it so."""


def url_sources(urls: Sequence[str]) -> list[Source]:
    """One build source per SRPM URL of one submission: at least one, at most
    :data:`MAX_URLS` (each submission makes that many builds), each a network URL."""
    if not urls:
        raise InvalidInput("name at least one SRPM URL", "pkgs")
    if len(urls) > MAX_URLS:
        raise InvalidInput(f"at most {MAX_URLS} SRPM URLs at once, not {len(urls)}", "pkgs")
    return [url_source(url) for url in urls]


SOURCE_UPLOADS = (".src.rpm", ".nosrc.rpm", ".spec")
"""What a source upload may be, as on Copr: a source RPM (one without its sources is a
``.nosrc.rpm``), or a spec file the source task builds an SRPM from."""
_SPEC_NAME_TAG = re.compile(rb"^[ \t]*Name[ \t]*:", re.IGNORECASE | re.MULTILINE)


def check_package_upload(filename: str, head: bytes, *, source: bool) -> str:
    """The name under which an uploaded package is kept, if it looks like what it claims.

    An RPM's lead is read: the magic number, and the type (0 binary, 1 source). A spec
    (source uploads only) is checked whole by :func:`check_spec_upload`.
    """
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if source:
        if not name.endswith(SOURCE_UPLOADS):
            raise InvalidInput(
                f"{name[:100]!r} is not named like a source package: only .src.rpm, "
                ".nosrc.rpm and .spec files can be uploaded",
                "pkgs",
            )
        what = "a source RPM (.src.rpm)"
    else:
        if not name.endswith(".rpm") or name.endswith(SOURCE_UPLOADS):
            raise InvalidInput(f"{name[:100]!r} is not named like a binary RPM (.rpm)", "pkgs")
        what = "a binary RPM (.rpm)"
    check_result_file(name)
    if name.endswith(".spec"):
        return name
    if len(head) < 8 or not head.startswith(RPM_MAGIC):
        raise InvalidInput(f"{name} is not an RPM package (no RPM lead)", "pkgs")
    kind = int.from_bytes(head[6:8], "big")
    if kind != (1 if source else 0):
        raise InvalidInput(f"{name} is not {what}", "pkgs")
    return name


def check_spec_upload(name: str, text: bytes) -> None:
    """An uploaded ``.spec`` must be a spec file: text (no NUL byte, no RPM) with a
    ``Name:`` tag; its size is bounded by ``core.limits.MAX_SPEC_BYTES``."""
    if len(text) > MAX_SPEC_BYTES:
        raise TooLarge(f"pkgs: {name} is larger than the limit of {MAX_SPEC_BYTES} bytes")
    if text.startswith(RPM_MAGIC) or b"\0" in text or not _SPEC_NAME_TAG.search(text):
        raise InvalidInput(f"{name} is not a spec file (it has no Name: tag)", "pkgs")


def submit_prebuilt(
    session: Session,
    actor: User | None,
    project: Project,
    package: dict[str, Any],
    filename: str,
    options: BuildOptions,
) -> Build:
    """Record an uploaded binary RPM as a finished build (``copr-cli uploadrpm``).

    ``package`` is the RPM's NEVRA. It goes to every selected chroot of its architecture
    (a noarch package to all of them); the others are skipped, saying why. There is no
    source step: the package is published as it is.
    """
    if actor is None:
        raise NotAuthenticated("submitting a build requires an API token")
    require(session, actor, Action.build, project)
    name = check_package_name(package["name"])
    refuse_unsupported(options)
    arch = str(package["arch"])
    chroots = select_chroots(project, options.chroots, options.exclude_chroots)
    fits = [pc for pc in chroots if arch == "noarch" or pc.mock_chroot.arch == arch]
    if not fits:
        names = ", ".join(pc.mock_chroot.name for pc in chroots)
        raise InvalidInput(f"{filename} is built for {arch}; no selected chroot is ({names})")
    now = utcnow()
    version = f"{package['version']}-{package['release']}"
    if package.get("epoch"):
        version = f"{package['epoch']}:{version}"
    build = Build(
        project=project,
        project_id=project.id,
        submitter_id=actor.id,
        source_type="rpm_upload",
        source_json={"pkg": filename},
        pkg_name=name,
        pkg_version=version,
        project_dirname=_dirname(project, options.project_dirname),
        is_background=bool(options.background),
        timeout=options.timeout or DEFAULT_TIMEOUT,
        enable_net=project.enable_net,
        submitted_on=now,
    )
    source = BuildTask(
        chroot_name=SOURCE_TASK_CHROOT,
        owner_name=project.owner_name,
        state=BuildState.succeeded,
        started_on=now,
        ended_on=now,
        message="a prebuilt binary RPM: no source build",
    )
    tasks = [source]
    for pc in chroots:
        fit = pc in fits
        tasks.append(
            BuildTask(
                chroot_name=pc.mock_chroot.name,
                arch=pc.mock_chroot.arch,
                owner_name=project.owner_name,
                state=BuildState.succeeded if fit else BuildState.skipped,
                started_on=now,
                ended_on=now,
                built_packages=[dict(package)] if fit else [],
                message="" if fit else f"skipped: the package is built for {arch}",
                config=_task_settings(project, pc, options.timeout, build),
            )
        )
    build.tasks = tasks
    session.add(build)
    session.flush()
    refresh_build(session, build)
    return build


def list_recent_builds(session: Session, limit: int) -> Sequence[Build]:
    """The newest builds of projects listed on the home page (not ``unlisted_on_hp``),
    newest first, each with its project and submitter; their tasks are not loaded."""
    if not 0 < limit <= 1000:
        raise InvalidInput("must be between 1 and 1000", "limit")
    # NOT IN the (few) unlisted projects, not a join with the listed ones: the newest builds
    # are then read in id order and the scan stops at ``limit``, whatever their number.
    unlisted = select(Project.id).where(Project.unlisted_on_hp.is_(True))
    stmt = (
        select(Build)
        .where(Build.project_id.not_in(unlisted))
        .order_by(Build.id.desc())
        .limit(limit)
        .options(joinedload(Build.project), joinedload(Build.submitter))
    )
    return session.scalars(stmt).all()
