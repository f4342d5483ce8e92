"""The monitor: the latest build of every package in every chroot of a project directory.

It answers "what is red" for a whole project at once, as Copr's ``/api_3/monitor`` and its
Monitor tab do. A package is listed once one of its builds in the directory went to one of
the project's active chroots; a chroot a package was never built for has no cell. A
cell is that chroot's task of the package's newest such build (builds are numbered in
the order they were submitted), in the state the build pages show.

The whole monitor is one query whatever the project's size: for every package of the
project and every active chroot, the first of the package's builds in the directory,
newest first (``builds (package_id, id)``), with a task in that chroot
(``build_tasks (build_id, chroot_name)``), then that task and build by their keys. Its
cost follows the number of cells, not the length of the history. A second, cheap query
runs only when a directory other than the project's own has no builds, to tell an empty
directory from one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import (
    Select,
    String,
    and_,
    literal,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from coprd.core.builds import state_shown
from coprd.core.errors import NotFound
from coprd.core.results import BACKEND_LOG, LIVE_LOG, chroot_result_dir
from coprd.db.models import Build, BuildState, BuildTask, Package, Project

__all__ = [
    "Cell",
    "Monitor",
    "PackageRow",
    "active_chroot_names",
    "latest_cells_query",
    "project_monitor",
]

# The logs of a chroot task, and the states in which each is still written as plain text;
# once the task has ended the publisher has gzipped them (publish/builddir.py), before it
# started there are none. Copr's frontend names them by the same rule.
_LOGS_RUNNING = {
    LIVE_LOG: frozenset({BuildState.running}),
    BACKEND_LOG: frozenset({BuildState.starting, BuildState.running}),
}
_LOGS_ENDED = frozenset({BuildState.succeeded, BuildState.failed, BuildState.canceled})
_STATES = {state.value: state for state in BuildState}


class Cell(NamedTuple):
    """One chroot's task of a package's latest build there. (A tuple: a large project's
    monitor makes tens of thousands of them, and a dataclass costs several times as much
    to make.)"""

    build_id: int
    state: BuildState
    """As every page shows it: canceled as soon as the user canceled it."""
    task_state: BuildState
    """As the agent last reported it (which log files exist follows from this)."""
    started: bool
    pkg_name: str | None
    pkg_version: str | None


@dataclass(frozen=True, slots=True)
class PackageRow:
    name: str
    cells: dict[str, Cell]
    """By chroot name, in the order of :attr:`Monitor.chroots`."""


@dataclass(frozen=True)
class Monitor:
    owner_name: str
    dirname: str
    chroots: list[str]
    """The project's active chroots, sorted: the monitor's columns."""
    packages: list[PackageRow]
    """Sorted by name."""

    def log_path(self, chroot: str, cell: Cell, log: str) -> str | None:
        """Where ``log`` (``builder-live.log`` or ``backend.log``) of a cell is, relative
        to the results root: the plain file while the task writes it, the ``.gz`` once
        the task has ended; None before the task started or where it made no logs
        (skipped, forked)."""
        if not cell.started or cell.pkg_name is None:
            return None
        if cell.task_state in _LOGS_RUNNING[log]:
            name = log
        elif cell.task_state in _LOGS_ENDED:
            name = f"{log}.gz"
        else:
            return None
        directory = chroot_result_dir(
            self.owner_name, self.dirname, chroot, cell.build_id, cell.pkg_name
        )
        return f"{directory}/{name}"


def active_chroot_names(project: Project) -> list[str]:
    """The project's enabled chroots that the service still builds for, sorted."""
    return sorted(pc.mock_chroot.name for pc in project.chroots if pc.mock_chroot.is_active)


def project_monitor(
    session: Session,
    project: Project,
    dirname: str | None = None,
    *,
    name_contains: str | None = None,
    state: BuildState | None = None,
) -> Monitor:
    """The monitor of ``project``'s directory ``dirname`` (None or "": the project's own).

    ``name_contains`` keeps the packages whose name contains it; ``state`` those with a
    cell in that state. ``project`` must have its chroots loaded (``get_project`` does).
    Raises NotFound for a directory the project has no builds in.
    """
    dirname = dirname or project.name
    chroots = active_chroot_names(project)
    rows: list[PackageRow] = []
    if chroots:
        stmt = latest_cells_query(project.id, dirname, chroots, name_contains)
        cells: dict[str, Cell] = {}
        last = None
        # Through the connection: rows as Core makes them, without the ORM's result
        # processing, which costs more than the query on a large project. They come
        # sorted by package, so a package's cells are consecutive.
        for (
            name,
            chroot,
            build_id,
            stored,
            canceled,
            started,
            pkg_name,
            version,
        ) in session.connection().execute(stmt).all():
            if name != last:
                cells = {}
                rows.append(PackageRow(name, cells))
                last = name
            task_state = _STATES[stored]
            cells[chroot] = Cell(
                build_id,
                state_shown(task_state, canceled),
                task_state,
                bool(started),
                pkg_name,
                version,
            )
    if not rows and dirname != project.name and not _has_dir(session, project, dirname):
        shown = dirname[:200].encode("unicode_escape").decode("ascii")
        raise NotFound(f"Dirname '{shown}' doesn't exist in '{project.full_name}' copr")
    if state is not None:
        rows = [row for row in rows if any(c.state == state for c in row.cells.values())]
    return Monitor(project.owner_name, dirname, chroots, rows)


def latest_cells_query(
    project_id: int,
    dirname: str,
    chroots: Sequence[str],
    name_contains: str | None = None,
) -> Select[str, str, int, str, bool, bool, str | None, str | None]:
    """The monitor's one query: for each package of the directory and each of ``chroots``,
    the task of its newest build there (package name, chroot, build id, task state as
    stored, cancel requested, started, the build's package name and version), sorted by
    package name and chroot.

    Each cell's build is found by walking the package's builds from the newest
    (``builds (package_id, id)``) to the first with a task in the chroot
    (``build_tasks (build_id, chroot_name)``): usually the newest build itself (only a
    chroot the package was never built for walks all of its builds), so the cost
    follows the number of cells, not the length of the project's history (grouping
    all of the directory's tasks took twice as long at 10 builds a package and grew with
    every build; benchmarks/monitor.py).
    """
    columns = [select(literal(chroot, String).label("chroot_name")) for chroot in chroots]
    wanted = union_all(*columns).subquery("wanted")
    newest = (
        select(Build.id)
        .where(
            Build.package_id == Package.id,
            Build.project_dirname == dirname,
            select(BuildTask.id)
            .where(
                BuildTask.build_id == Build.id,
                BuildTask.chroot_name == wanted.c.chroot_name,
            )
            .correlate(Build, wanted)
            .exists(),
        )
        .order_by(Build.id.desc())
        .limit(1)
        .correlate(Package, wanted)
        .scalar_subquery()
    )
    cells = (
        select(Package.name.label("name"), wanted.c.chroot_name, newest.label("build_id"))
        .select_from(Package)
        .join(wanted, true())  # every package with every chroot
        .where(Package.project_id == project_id)
    )
    if name_contains:
        cells = cells.where(Package.name.contains(name_contains, autoescape=True))
    # Materialized: each cell's walk runs once, and the joins below look its build and
    # task up by key (as a subquery, both databases ran the walk again for each join).
    latest = cells.cte("latest").prefix_with("MATERIALIZED")
    return (
        select(
            latest.c.name,
            latest.c.chroot_name,
            latest.c.build_id,
            # The state's name as stored: the Enum type's check of every value is the
            # largest cost of reading the rows; _STATES maps the names instead.
            type_coerce(BuildTask.state, String),
            BuildTask.cancel_requested,
            BuildTask.started_on.is_not(None),
            Build.pkg_name,
            Build.pkg_version,
        )
        .select_from(latest)
        .join(Build, Build.id == latest.c.build_id)
        .join(
            BuildTask,
            and_(
                BuildTask.build_id == latest.c.build_id,
                BuildTask.chroot_name == latest.c.chroot_name,
            ),
        )
        .order_by(latest.c.name, latest.c.chroot_name)
    )


def _has_dir(session: Session, project: Project, dirname: str) -> bool:
    """Whether any build of the project was submitted into ``dirname`` (Copr makes a
    directory by the first build into it)."""
    found = session.scalar(
        select(Build.id)
        .where(Build.project_id == project.id, Build.project_dirname == dirname)
        .limit(1)
    )
    return found is not None
