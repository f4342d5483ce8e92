"""Dependency-aware ordering: a project's builds wait for the builds that provide their
BuildRequires, so a chain submitted in any order builds in dependency order.

What is recorded. The source task reports, with the SRPM, the names the source package
BuildRequires and the names its binary packages will provide (their own names and explicit
``Provides``); they are kept on the build (``build_requires``, ``provides``). Matching is by
name only: versions are ignored, which is enough to order builds. Builds submitted together
share a ``submission_id`` (the id of the first of them):

- the builds of one request: several SRPM URLs in one ``build/create/url``, the packages a
  webhook push rebuilds, :func:`~coprd.core.packages.rebuild_all`, the dependents of a
  package rebuilt after it;
- separate requests that follow each other (``copr-cli build a.src.rpm b.src.rpm`` makes one
  request per file): a build joins the submission of the project's newest build when the
  same user submitted that one less than :data:`SUBMISSION_WINDOW_S` ago and no chroot task
  of that submission has started yet. A submission whose builds already started is closed:
  a later build starts a new one.

When a task waits, and for whom. Once a build's source step has succeeded, each of its
chroot tasks that has not started waits (state ``waiting``, with ``wait_reason``) for the
task *of the same chroot* of every other unfinished build of the project that provides one
of its BuildRequires and is either ahead of it (submitted earlier: queued or running) or
submitted together with it. A build submitted later and apart is never waited for: what it
provides is not what this build was submitted against. While a build of its submission has
not finished its source step (so what it provides is not known yet), a chroot task also
waits for that source step; this holds builds submitted together until their graph is
known, and then independent builds run in parallel.

Cycles. Waiting for an earlier build can never close a cycle. Waiting for a later build
(only among builds submitted together) is added in submission order, and left out when
it would close a cycle: the earlier build goes first, and both builds' tasks keep an
``order_note`` saying the cycle was broken.

Explicit batches win. A build submitted with ``after_build_id`` or ``with_build_id`` is
ordered by its batch alone (``core/builds.py``): it joins no submission and waits for no
dependency; others may still wait for it when it is ahead of them. As its batch only points
to earlier builds, no wait of either kind can close a cycle through it.

Release. A wait ends when the task waited for ends, whatever its end (succeeded, failed,
canceled, skipped, or a source step that failed): :func:`release_waiters`, called by
``builds.refresh_build`` on every task change, deletes the ``task_waits`` rows of ended
tasks and returns a task with none left to ``pending``. Everything is rows changed in the
transaction of the change, so no release is lost and replicas agree; the waits of a
project are computed under a lock of its row, so two source steps ending at once on two
replicas do not each miss the other. The claim query is unchanged: it hands out
``pending`` tasks only, computing nothing.

When it is computed. :func:`order_project` recomputes the waits of every chroot task not
yet started in a project whenever a source step of one of its builds ends, and when a
build joins a submission; it is a function of the rows, not of the order events came in.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from coprd.core.builds import TERMINAL, BuildOptions, refresh_build
from coprd.core.errors import CoprdError
from coprd.core.packages import has_default_source, queue_package_build
from coprd.db.models import (
    SOURCE_TASK_CHROOT,
    Build,
    BuildState,
    BuildTask,
    Package,
    Project,
    TaskWait,
    User,
    utcnow,
)

SUBMISSION_WINDOW_S = 120
"""A build joins the submission of the same user's build submitted less than this ago."""

_UNSTARTED = (BuildState.pending, BuildState.waiting)


def join_submission(
    session: Session,
    build: Build,
    submitter: User | None,
    *,
    together_with: Build | None = None,
    batched: bool = False,
    now: dt.datetime | None = None,
) -> None:
    """Give ``build`` (flushed, so it has an id) its submission: ``together_with``'s, an
    open one of ``submitter``'s (see the module docstring), or its own. A ``batched`` build
    gets none. A build that joins an earlier request's submission has the project ordered
    again, so that builds of it whose source step is done hold for this one's; the builds
    of one request (``together_with``) need not, none of them has run yet."""
    if batched:
        build.submission_id = None
        return
    if together_with is not None:
        build.submission_id = together_with.submission_id or together_with.id
        return
    joined = _open_submission(session, build, submitter, now) if submitter else None
    build.submission_id = joined or build.id
    session.flush()
    if joined is not None:
        order_project(session, build.project_id)


def _open_submission(
    session: Session, build: Build, submitter: User, now: dt.datetime | None
) -> int | None:
    since = (now or utcnow()) - dt.timedelta(seconds=SUBMISSION_WINDOW_S)
    newest = session.execute(
        select(Build.submission_id)
        .where(
            Build.project_id == build.project_id,
            Build.id != build.id,
            Build.submitter_id == submitter.id,
            Build.submission_id.is_not(None),
            Build.submitted_on >= since,
        )
        .order_by(Build.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if newest is None:
        return None
    started = session.scalar(
        select(
            exists().where(
                BuildTask.build_id == Build.id,
                Build.submission_id == newest,
                BuildTask.chroot_name != SOURCE_TASK_CHROOT,
                BuildTask.started_on.is_not(None),
            )
        )
    )
    return None if started else newest


@dataclass(frozen=True)
class _Wait:
    provider: BuildTask
    reason: str


def lock_project(session: Session, project_id: int) -> None:
    """Take the project's row lock (PostgreSQL; SQLite has one writer anyway), which
    :func:`order_project` holds while it rewrites the project's waits. A transaction that
    will order the project takes it *before* it changes any build or task row: one that
    held a task row while waiting for this lock, against :func:`order_project` holding it
    while it waits for that task row, would deadlock (two source steps ending, a build
    submitted while another's source step ends). It is ``FOR NO KEY UPDATE``: inserting a
    build takes ``FOR KEY SHARE`` on its project's row (the foreign key), which a plain
    ``FOR UPDATE`` conflicts with, so two submissions that each inserted a build and then
    asked for the lock would deadlock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(Project.id).where(Project.id == project_id).with_for_update(key_share=True)
        )


def order_project(session: Session, project_id: int) -> None:
    """Recompute which not yet started chroot tasks of ``project_id`` wait, for whom and
    why (the rule of the module docstring), and store it; see :func:`lock_project`."""
    lock_project(session, project_id)
    builds = session.scalars(
        select(Build)
        .where(Build.project_id == project_id, Build.state.not_in(list(TERMINAL)))
        .options(selectinload(Build.tasks))
        .order_by(Build.id)
    ).all()
    known: list[Build] = []
    unknown: list[Build] = []
    for build in builds:
        source = next((t for t in build.tasks if t.is_source), None)
        if source is None:
            continue
        if source.state == BuildState.succeeded and build.provides is not None:
            known.append(build)
        elif source.state not in TERMINAL:
            unknown.append(build)
    waits: dict[int, list[_Wait]] = {}
    notes: dict[int, str] = {}
    chroots = sorted({t.chroot_name for b in known for t in b.tasks if not t.is_source})
    for chroot in chroots:
        _order_chroot(chroot, known, unknown, waits, notes)
    _store(session, {b.id: b for b in builds}, waits, notes)


def _task_in(build: Build, chroot: str) -> BuildTask | None:
    task = next((t for t in build.tasks if t.chroot_name == chroot), None)
    return task if task is not None and task.state not in TERMINAL else None


def _together(a: Build, b: Build) -> bool:
    return a.submission_id is not None and a.submission_id == b.submission_id


def _order_chroot(
    chroot: str,
    known: Sequence[Build],
    unknown: Sequence[Build],
    waits: dict[int, list[_Wait]],
    notes: dict[int, str],
) -> None:
    tasks = {b.id: t for b in known if (t := _task_in(b, chroot)) is not None}
    by_id = {b.id: b for b in known}
    providers: dict[str, list[int]] = defaultdict(list)
    for build_id in tasks:
        for name in by_id[build_id].provides or ():
            providers[name].append(build_id)

    backward: list[tuple[int, int, str]] = []
    forward: list[tuple[int, int, str]] = []
    waiters = [
        build_id
        for build_id, task in tasks.items()
        if task.state in _UNSTARTED and by_id[build_id].submission_id is not None
    ]
    for waiter in waiters:
        build = by_id[waiter]
        found: dict[int, str] = {}
        for name in build.build_requires or ():
            for provider in providers.get(name, ()):
                if provider != waiter and provider not in found:
                    found[provider] = name
        for provider, name in found.items():
            if provider < waiter:
                backward.append((waiter, provider, name))
            elif _together(build, by_id[provider]):
                forward.append((waiter, provider, name))

    graph: dict[int, set[int]] = defaultdict(set)
    for waiter, provider, _name in backward:
        graph[waiter].add(provider)
    kept = list(backward)
    for waiter, provider, name in sorted(forward):
        if _reaches(graph, provider, waiter):
            other = by_id[provider]
            notes[tasks[waiter].id] = (
                f"build {provider} ({other.pkg_name}) provides {name}, which this build "
                "BuildRequires, and needs this build itself: the dependency cycle is broken "
                f"in submission order, so this build goes first"
            )
            notes.setdefault(
                tasks[provider].id,
                f"build {waiter} ({by_id[waiter].pkg_name}) BuildRequires {name} of this "
                "build, and this build needs it: the dependency cycle is broken in "
                f"submission order, so build {waiter} goes first",
            )
            continue
        graph[waiter].add(provider)
        kept.append((waiter, provider, name))

    for waiter in waiters:
        waits[tasks[waiter].id] = []
    for waiter, provider, name in sorted(kept):
        other = by_id[provider]
        waits[tasks[waiter].id].append(
            _Wait(tasks[provider], f"build {provider} ({other.pkg_name}) which provides {name}")
        )
    for waiter in waiters:
        for sibling in unknown:
            source = next(t for t in sibling.tasks if t.is_source)
            if _together(by_id[waiter], sibling):
                waits[tasks[waiter].id].append(
                    _Wait(
                        source,
                        f"the source step of build {sibling.id}, submitted together with "
                        "it, to learn what it provides",
                    )
                )


def _reaches(graph: dict[int, set[int]], start: int, goal: int) -> bool:
    seen = {start}
    stack = [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def wait_reason(reasons: Iterable[str]) -> str | None:
    """The sentence a waiting task shows: "waits for build 41 (libfoo) which provides
    libfoo-devel" (and for the others, if it waits for several); None for none."""
    listed = list(dict.fromkeys(reasons))
    return "waits for " + "; and for ".join(listed) if listed else None


def _store(
    session: Session,
    builds: dict[int, Build],
    waits: dict[int, list[_Wait]],
    notes: dict[int, str],
) -> None:
    if not waits:
        return
    task_ids = list(waits)
    stored: dict[int, dict[int, str]] = defaultdict(dict)
    for row in session.scalars(select(TaskWait).where(TaskWait.task_id.in_(task_ids))):
        stored[row.task_id][row.provider_task_id] = row.reason
    changed: dict[int, Build] = {}
    for task_id, wanted in waits.items():
        want = {w.provider.id: w.reason for w in wanted}
        have = stored.get(task_id, {})
        gone = [p for p in have if p not in want]
        if gone:
            session.execute(
                delete(TaskWait).where(
                    TaskWait.task_id == task_id, TaskWait.provider_task_id.in_(gone)
                )
            )
        for provider, reason in want.items():
            if provider not in have:
                session.add(TaskWait(task_id=task_id, provider_task_id=provider, reason=reason))
            elif have[provider] != reason:
                session.execute(
                    update(TaskWait)
                    .where(TaskWait.task_id == task_id, TaskWait.provider_task_id == provider)
                    .values(reason=reason)
                )
        task = session.get_one(BuildTask, task_id)
        if task_id in notes:
            task.order_note = notes[task_id]
        state = BuildState.waiting if want else BuildState.pending
        why = wait_reason(want.values())
        if task.state != state or task.wait_reason != why:
            task.state = state
            task.wait_reason = why
            changed[task.build_id] = builds[task.build_id]
    for task_id, note in notes.items():
        if task_id not in waits:
            session.get_one(BuildTask, task_id).order_note = note
    session.flush()
    for build in changed.values():
        refresh_build(session, build)


def release_waiters(session: Session, ended: Sequence[BuildTask]) -> None:
    """Tasks that waited for one of ``ended`` (tasks that ended) wait for it no more;
    those left waiting for nothing become ``pending``."""
    ids = [task.id for task in ended if task.state in TERMINAL]
    if not ids:
        return
    waiters = set(
        session.scalars(select(TaskWait.task_id).where(TaskWait.provider_task_id.in_(ids)))
    )
    if not waiters:
        return
    session.execute(delete(TaskWait).where(TaskWait.provider_task_id.in_(ids)))
    left: dict[int, list[str]] = defaultdict(list)
    for row in session.scalars(select(TaskWait).where(TaskWait.task_id.in_(list(waiters)))):
        left[row.task_id].append(row.reason)
    tasks = session.scalars(
        select(BuildTask)
        .where(BuildTask.id.in_(list(waiters)))
        .options(selectinload(BuildTask.build).selectinload(Build.tasks))
    ).all()
    for task in tasks:
        if task.state != BuildState.waiting:
            continue
        task.wait_reason = wait_reason(left.get(task.id, ()))
        if task.wait_reason is None:
            task.state = BuildState.pending
            refresh_build(session, task.build)


def rebuild_dependents(session: Session, build: Build, *, results_url: str) -> list[Build]:
    """When ``build`` succeeded and its package asks for it (``rebuild_dependents``), queue
    builds of the project's packages that BuildRequire what it provides, directly or
    through one another, together and at background priority, so they build in dependency
    order after it. What a package requires and provides is what its latest build's source
    step reported; a package never built, or without a default source, is left out. A
    build queued so queues nothing itself, so a cycle cannot rebuild forever."""
    if build.state != BuildState.succeeded or build.package_id is None:
        return []
    if build.dependent_of_id is not None:
        return []
    package = session.get(Package, build.package_id)
    if package is None or not package.rebuild_dependents:
        return []
    latest = _latest_reports(session, build.project_id)
    provided = set(build.provides or ())
    chosen: list[Package] = []
    left = {pid: report for pid, report in latest.items() if pid != package.id}
    grew = True
    while grew:
        grew = False
        for pid, (candidate, requires, provides) in sorted(left.items()):
            if provided.intersection(requires):
                chosen.append(candidate)
                provided.update(provides)
                del left[pid]
                grew = True
    submitter = session.get(User, build.submitter_id) if build.submitter_id else None
    queued: list[Build] = []
    for dependent in chosen:
        if not has_default_source(dependent) or dependent.source_type == "rpm_upload":
            continue
        try:
            with session.begin_nested():
                queued.append(
                    queue_package_build(
                        session,
                        dependent,
                        BuildOptions(background=True),
                        results_url=results_url,
                        submitter=submitter,
                        together_with=queued[0] if queued else None,
                    )
                )
        except CoprdError:
            continue  # a package that cannot be built now (no chroot left, its source gone)
        queued[-1].dependent_of_id = build.id
    session.flush()
    return queued


def _latest_reports(
    session: Session, project_id: int
) -> dict[int, tuple[Package, set[str], set[str]]]:
    """Each package of the project with what its latest build with a source step reported:
    its BuildRequires and its provides."""
    newest = (
        select(func.max(Build.id))
        .where(
            Build.project_id == project_id,
            Build.package_id.is_not(None),
            Build.srpm_name.is_not(None),
        )
        .group_by(Build.package_id)
    )
    reports: dict[int, tuple[Package, set[str], set[str]]] = {}
    rows = session.execute(
        select(Build, Package)
        .join(Package, Package.id == Build.package_id)
        .where(Build.id.in_(newest))
        .options(joinedload(Package.project))
    )
    for latest, package in rows:
        reports[package.id] = (
            package,
            set(latest.build_requires or ()),
            set(latest.provides or ()),
        )
    return reports


def build_wait_reason(tasks: Iterable[BuildTask]) -> str | None:
    """Why a build's chroot tasks wait: their reason if they share one, else each chroot's
    ("fedora-41-x86_64: waits for …"); None when none waits for another build."""
    waiting = [(t.chroot_name, t.wait_reason) for t in tasks if t.wait_reason and not t.is_source]
    reasons = list(dict.fromkeys(reason for _, reason in waiting))
    if len(reasons) <= 1:
        return reasons[0] if reasons else None
    return "; ".join(f"{chroot}: {reason}" for chroot, reason in waiting)


def build_order_note(tasks: Iterable[BuildTask]) -> str | None:
    """What the ordering decided about a build's chroot tasks (a cycle broken), once."""
    notes = list(dict.fromkeys(t.order_note for t in tasks if t.order_note))
    return "; ".join(notes) if notes else None
