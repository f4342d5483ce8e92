"""The build queue: which task an agent gets, its lease, and what its end does to the build.

Policy lives in :func:`claim_task`'s query, in this order:

1. only ``pending`` tasks an agent can build: the source task on any agent, a chroot task
   on an agent of its architecture, and only once the build's SRPM exists;
2. lower ``priority`` first (background builds have a high number, so they go last);
3. fair share: the owner with the fewest tasks being built right now first, so one owner's
   thousand queued builds do not starve another owner's one;
4. oldest first.

Batches (``after_build_id``) keep tasks ``waiting`` until the build before them ends
(``core/builds.py`` releases them); so does a build's need of another's packages
(``core/ordering.py`` decides when a source step ends, and releases). A claimed task holds
a lease; :func:`requeue_expired` returns tasks whose agent stopped renewing it, and fails
them after ``max_attempts``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload, sessionmaker

from coprd.builder.macros import target_cpu
from coprd.core.builds import TERMINAL, refresh_build
from coprd.core.errors import Conflict, InvalidInput, NotFound
from coprd.core.names import check_package_name, is_id
from coprd.core.ordering import lock_project, order_project, rebuild_dependents
from coprd.core.packages import link_build
from coprd.db.engine import write_session
from coprd.db.models import SOURCE_TASK_CHROOT, Build, Builder, BuildState, BuildTask, utcnow

log = logging.getLogger("coprd.scheduling")

DEFAULT_LEASE_S = 60
DEFAULT_MAX_ATTEMPTS = 3
_ACTIVE = (BuildState.starting, BuildState.running)


@dataclass(frozen=True)
class SourceResult:
    """What the source task learned from the SRPM it made."""

    name: str
    version: str
    srpm_name: str
    exclusive_arch: list[str] = field(default_factory=list)
    exclude_arch: list[str] = field(default_factory=list)
    build_requires: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TaskOutcome:
    state: Literal["succeeded", "failed", "canceled"]
    message: str = ""
    packages: list[dict[str, Any]] = field(default_factory=list)
    source: SourceResult | None = None


def claim_task(
    session: Session,
    builder: Builder,
    arches: Sequence[str],
    *,
    lease_s: int = DEFAULT_LEASE_S,
    now: dt.datetime | None = None,
) -> BuildTask | None:
    """Give ``builder`` the next task it can build, under a lease; None if there is none."""
    now = now or utcnow()
    builder.last_seen_on = now
    busy = (
        select(BuildTask.owner_name, func.count().label("n"))
        .where(BuildTask.state.in_(_ACTIVE))
        .group_by(BuildTask.owner_name)
        .subquery()
    )
    source = aliased(BuildTask)
    source_done = exists(
        select(source.id).where(
            source.build_id == BuildTask.build_id,
            source.chroot_name == SOURCE_TASK_CHROOT,
            source.state == BuildState.succeeded,
        )
    )
    stmt = (
        select(BuildTask)
        .outerjoin(busy, busy.c.owner_name == BuildTask.owner_name)
        .where(BuildTask.state == BuildState.pending)
        .where(
            or_(
                BuildTask.chroot_name == SOURCE_TASK_CHROOT,
                BuildTask.arch.in_(list(arches)) & source_done,
            )
        )
        .order_by(BuildTask.priority, func.coalesce(busy.c.n, 0), BuildTask.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=BuildTask)
    task = session.scalar(stmt)
    if task is None:
        return None
    task.state = BuildState.starting
    task.builder_id = builder.id
    task.lease_expires_on = now + dt.timedelta(seconds=lease_s)
    task.attempts += 1
    task.started_on = task.started_on or now
    task.message = ""
    _refresh(session, task)
    session.flush()
    return task


def _refresh(session: Session, task: BuildTask) -> Build:
    build = session.scalar(
        select(Build).where(Build.id == task.build_id).options(selectinload(Build.tasks))
    )
    assert build is not None
    refresh_build(session, build)
    return build


def _project_of(session: Session, task: BuildTask) -> int:
    return session.execute(select(Build.project_id).where(Build.id == task.build_id)).scalar_one()


def held_task(session: Session, builder: Builder, task_id: int) -> BuildTask:
    task = session.get(BuildTask, task_id) if is_id(task_id) else None
    if task is None:
        raise NotFound(f"task {task_id} does not exist")
    if task.builder_id != builder.id or task.state not in _ACTIVE:
        raise Conflict(f"task {task_id} is not held by builder {builder.name!r} any more")
    return task


def heartbeat(
    session: Session,
    builder: Builder,
    task_id: int,
    *,
    lease_s: int = DEFAULT_LEASE_S,
    now: dt.datetime | None = None,
) -> Literal["continue", "cancel"]:
    """Renew the lease of a running task; "cancel" when the user canceled it."""
    now = now or utcnow()
    task = held_task(session, builder, task_id)
    task.lease_expires_on = now + dt.timedelta(seconds=lease_s)
    if task.state == BuildState.starting:
        task.state = BuildState.running
        _refresh(session, task)
    session.flush()
    return "cancel" if task.cancel_requested else "continue"


def arch_allowed(arch: str, exclusive: Sequence[str], exclude: Sequence[str]) -> bool:
    """ExclusiveArch/ExcludeArch of a spec, for a chroot's architecture: rpmbuild's rule.

    The architecture compared is the chroot's rpm target (Copr's ``i386`` is rpm's
    ``i686``), case-insensitively. A ``noarch`` package is checked against the builder's
    cpu like any other, so ``ExclusiveArch: noarch`` admits no chroot, as rpm refuses it.
    """
    wanted = target_cpu(arch).lower()
    if any(entry.lower() == wanted for entry in exclude):
        return False
    return not exclusive or any(entry.lower() == wanted for entry in exclusive)


def finish_task(
    session: Session,
    builder: Builder,
    task_id: int,
    outcome: TaskOutcome,
    *,
    now: dt.datetime | None = None,
    results_url: str | None = None,
) -> Build:
    """Record how a task ended, and what that means for the rest of the build, and for the
    project's other builds (``core/ordering.py``). ``results_url`` (where the results are
    served) lets a succeeded build queue its package's dependents; without it, none are."""
    now = now or utcnow()
    task = held_task(session, builder, task_id)
    # Before any row changes: this end may order the project (see lock_project).
    lock_project(session, _project_of(session, task))
    state = BuildState(outcome.state)
    if task.is_source and state == BuildState.succeeded and outcome.source is not None:
        try:
            check_package_name(outcome.source.name)
        except InvalidInput as exc:
            state, outcome = BuildState.failed, TaskOutcome(state="failed", message=str(exc))
    if task.cancel_requested:
        state = BuildState.canceled
    task.state = state
    task.ended_on = now
    task.lease_expires_on = None
    task.message = outcome.message[:10_000]
    task.built_packages = list(outcome.packages)
    build = _refresh(session, task)
    if task.is_source:
        _after_source(build, state, outcome, now)
        refresh_build(session, build)
        link_build(session, build)
        order_project(session, build.project_id)
    elif state == BuildState.succeeded and results_url is not None:
        rebuild_dependents(session, build, results_url=results_url)
    session.flush()
    return build


def _after_source(build: Build, state: BuildState, outcome: TaskOutcome, now: dt.datetime) -> None:
    chroots = [t for t in build.tasks if not t.is_source and t.state not in TERMINAL]
    if state != BuildState.succeeded:
        why = "the source build failed" if state == BuildState.failed else "canceled"
        for task in chroots:
            task.state = state
            task.ended_on = now
            task.message = why
        return
    source = outcome.source
    if source is None:
        raise InvalidInput("a successful source task must report the SRPM it made", "source")
    build.pkg_name = source.name
    build.pkg_version = source.version
    build.srpm_name = source.srpm_name
    build.build_requires = list(dict.fromkeys(source.build_requires))
    # rpmspec's answer names the packages; without one, the source package's name.
    build.provides = list(dict.fromkeys(source.provides or [source.name]))
    for task in chroots:
        if task.arch and not arch_allowed(task.arch, source.exclusive_arch, source.exclude_arch):
            task.state = BuildState.skipped
            task.ended_on = now
            task.message = (
                f"skipped: {source.name} does not build on {task.arch} "
                f"(ExclusiveArch: {' '.join(source.exclusive_arch) or '-'}, "
                f"ExcludeArch: {' '.join(source.exclude_arch) or '-'})"
            )


def requeue_expired(
    session: Session,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: dt.datetime | None = None,
) -> list[BuildTask]:
    """Take tasks back from agents that stopped renewing their lease.

    A task goes back to ``pending`` for another agent; after ``max_attempts`` claims it
    fails, with a message saying why. Canceled ones end canceled. No task stays running
    without a live agent.
    """
    now = now or utcnow()
    # By project: each project's lock is taken before its rows change (lock_project), and
    # in one order, so that two sweeps cannot wait for each other's.
    expired = session.scalars(
        select(BuildTask)
        .join(Build, Build.id == BuildTask.build_id)
        .where(BuildTask.state.in_(_ACTIVE), BuildTask.lease_expires_on < now)
        .order_by(Build.project_id, BuildTask.id)
    ).all()
    for task in expired:
        lock_project(session, _project_of(session, task))
        builder = session.get(Builder, task.builder_id) if task.builder_id else None
        who = f"builder {builder.name!r}" if builder else "its builder"
        task.builder_id = None
        task.lease_expires_on = None
        if task.cancel_requested:
            task.state = BuildState.canceled
            task.ended_on = now
            task.message = "canceled"
        elif task.attempts >= max_attempts:
            task.state = BuildState.failed
            task.ended_on = now
            task.message = (
                f"failed: {who} stopped answering, and this task was tried "
                f"{task.attempts} times (the limit is {max_attempts})"
            )
        else:
            task.state = BuildState.pending
            task.message = f"requeued: {who} stopped answering (attempt {task.attempts})"
        build = _refresh(session, task)
        if task.is_source and task.state in TERMINAL:
            _after_source(build, task.state, TaskOutcome(state="failed"), now)
            refresh_build(session, build)
            order_project(session, build.project_id)
    session.flush()
    return list(expired)


SWEEP_INTERVAL_S = 10.0


def sweep_forever(
    factory: sessionmaker[Session], stop: threading.Event, interval_s: float = SWEEP_INTERVAL_S
) -> None:
    """Requeue expired leases every ``interval_s`` until ``stop`` is set.

    Claims sweep too, but a server whose agents all died gets no claims; without this,
    their builds would read ``running`` forever.
    """
    while not stop.wait(interval_s):
        try:
            with write_session(factory) as session:
                requeued = requeue_expired(session)
            if requeued:
                log.info("requeued or failed %d task(s) whose lease expired", len(requeued))
        except Exception:
            log.exception("the lease sweep failed; retrying in %.0f s", interval_s)
