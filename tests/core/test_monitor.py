"""The monitor's rules (core/monitor.py): which build is a cell, filters, log names, and
that its one query is answered from indexes on both databases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import monitor, projects, users
from coprd.core.errors import NotFound
from coprd.core.projects import NewProject
from coprd.db.engine import write_session
from coprd.db.models import SOURCE_TASK_CHROOT, Build, BuildState, BuildTask, Package, Project
from tests.monitor_builds import add_build

X86 = "fedora-rawhide-x86_64"
ARM = "fedora-rawhide-aarch64"
S = BuildState


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """alice's project ``demo`` with two chroots."""
    with write_session(session_factory) as session:
        alice = users.create_user(session, "alice")
        projects.create_project(
            session, alice, "alice", NewProject(name="demo", chroots=[X86, ARM])
        )
    return session_factory


def bulk_fill(
    factory: sessionmaker[Session],
    project_name: str,
    first: int,
    n: int,
    chroots: Sequence[str],
    rounds: int = 2,
) -> None:
    """Packages ``pkg{first:05d}``… of the project, each with ``rounds`` builds into every
    chroot (all succeeded but the newest, failed), inserted in bulk as benchmarks do."""
    with write_session(factory) as session:
        project = session.scalars(select(Project).where(Project.name == project_name)).one()
        now = dt.datetime(2026, 1, 1)
        names = [f"pkg{i:05d}" for i in range(first, first + n)]
        ids = session.scalars(
            insert(Package).returning(Package.id, sort_by_parameter_order=True),
            [
                {
                    "project_id": project.id,
                    "name": name,
                    "source_type": "unset",
                    "source_json": {},
                    "webhook_rebuild": False,
                    "chroot_denylist": [],
                    "created_on": now,
                }
                for name in names
            ],
        ).all()
        rows = [
            {
                "project_id": project.id,
                "submitter_id": project.user_id,
                "state": S.failed if round_ == rounds - 1 else S.succeeded,
                "source_type": "url",
                "source_json": {},
                "pkg_name": name,
                "pkg_version": f"1.{round_}-1",
                "project_dirname": project.name,
                "is_background": False,
                "timeout": 3600,
                "enable_net": False,
                "package_id": package_id,
                "submitted_on": now,
            }
            for round_ in range(rounds)
            for package_id, name in zip(ids, names, strict=True)
        ]
        build_ids = session.scalars(
            insert(Build).returning(Build.id, sort_by_parameter_order=True), rows
        ).all()
        session.execute(
            insert(BuildTask),
            [
                {
                    "build_id": build_id,
                    "chroot_name": chroot,
                    "owner_name": project.owner_name,
                    "state": row["state"] if chroot != SOURCE_TASK_CHROOT else S.succeeded,
                    "priority": 0,
                    "attempts": 1,
                    "cancel_requested": False,
                    "message": "",
                    "built_packages": [],
                    "started_on": now,
                    "ended_on": now,
                }
                for build_id, row in zip(build_ids, rows, strict=True)
                for chroot in (SOURCE_TASK_CHROOT, *chroots)
            ],
        )


def demo(session: Session) -> Project:
    """alice/demo, read in a new transaction: one that sees the builds added since."""
    session.rollback()
    return projects.get_project(session, "alice", "demo")


def test_cells_are_the_newest_build_per_chroot(factory: sessionmaker[Session], db: Session) -> None:
    old = add_build(factory, "alice", "demo", "b", {X86: S.succeeded, ARM: S.succeeded})
    new = add_build(factory, "alice", "demo", "b", {X86: S.pending}, version="2")
    only = add_build(factory, "alice", "demo", "a", {ARM: S.skipped})
    found = monitor.project_monitor(db, demo(db))
    assert found.chroots == [ARM, X86]
    assert [row.name for row in found.packages] == ["a", "b"]
    a, b = found.packages
    assert list(a.cells) == [ARM] and a.cells[ARM].build_id == only
    assert list(b.cells) == [ARM, X86]
    assert (b.cells[ARM].build_id, b.cells[ARM].pkg_version) == (old, "1.0-1")
    assert (b.cells[X86].build_id, b.cells[X86].state) == (new, S.pending)


def test_filters(factory: sessionmaker[Session], db: Session) -> None:
    add_build(factory, "alice", "demo", "python-foo", {X86: S.succeeded, ARM: S.failed})
    add_build(factory, "alice", "demo", "python_bar", {X86: S.succeeded})
    add_build(factory, "alice", "demo", "rust-foo", {X86: S.running})
    project = demo(db)

    def names(**how: object) -> list[str]:
        return [row.name for row in monitor.project_monitor(db, project, **how).packages]  # type: ignore[arg-type]

    assert names(name_contains="foo") == ["python-foo", "rust-foo"]
    # A substring, not a LIKE pattern: "_" is an underscore.
    assert names(name_contains="n_b") == ["python_bar"]
    assert names(name_contains="%") == []
    assert names(state=S.failed) == ["python-foo"]
    assert names(state=S.succeeded) == ["python-foo", "python_bar"]
    assert names(state=S.succeeded, name_contains="bar") == ["python_bar"]
    assert names(state=S.canceled) == []


def test_log_paths(factory: sessionmaker[Session], db: Session) -> None:
    states = {X86: S.running, ARM: S.starting}
    running = add_build(factory, "alice", "demo", "p", states)
    found = monitor.project_monitor(db, demo(db))
    [row] = found.packages
    x86, arm = row.cells[X86], row.cells[ARM]
    assert found.log_path(X86, x86, "builder-live.log") == (
        f"alice/demo/{X86}/{running:08d}-p/builder-live.log"
    )
    assert found.log_path(ARM, arm, "builder-live.log") is None
    assert (
        found.log_path(ARM, arm, "backend.log") == f"alice/demo/{ARM}/{running:08d}-p/backend.log"
    )
    for state in (S.succeeded, S.failed, S.canceled):
        add_build(factory, "alice", "demo", "p", {X86: state})
        found = monitor.project_monitor(db, demo(db))
        cell = found.packages[0].cells[X86]
        assert str(found.log_path(X86, cell, "builder-live.log")).endswith(".log.gz")
    for state in (S.pending, S.skipped, S.waiting):
        add_build(factory, "alice", "demo", "p", {X86: state})
        found = monitor.project_monitor(db, demo(db))
        assert found.log_path(X86, found.packages[0].cells[X86], "backend.log") is None


def test_directories(factory: sessionmaker[Session], db: Session) -> None:
    add_build(factory, "alice", "demo", "p", {X86: S.succeeded}, dirname="demo:pr:1")
    project = demo(db)
    assert monitor.project_monitor(db, project).packages == []
    assert monitor.project_monitor(db, project, "demo:pr:1").dirname == "demo:pr:1"
    with pytest.raises(NotFound, match="Dirname 'demo:pr:2' doesn't exist in 'alice/demo'"):
        monitor.project_monitor(db, project, "demo:pr:2")


# --- the query plan --------------------------------------------------------------------


def _plan(engine: Engine, project_id: int) -> list[str]:
    stmt = monitor.latest_cells_query(project_id, "demo", [X86, ARM], "pkg")
    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # At test size (4,000 builds) a hash join over a scan of builds costs
            # PostgreSQL less than 40 lookups; with scans priced out, any scan left in the
            # plan is one no index can replace.
            conn.execute(text("SET enable_seqscan = off"))
            return [row[0] for row in conn.execute(text(f"EXPLAIN {sql}"))]
        return [row[-1] for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]


def test_the_query_reads_builds_tasks_and_packages_through_indexes(
    factory: sessionmaker[Session], engine: Engine
) -> None:
    with write_session(factory) as session:
        # Another project's builds, which the monitor of demo must not walk through.
        projects.create_project(
            session,
            users.get_user(session, "alice"),
            "alice",
            NewProject(name="other", chroots=[X86]),
        )
    bulk_fill(factory, "other", 0, 2000, [X86])
    bulk_fill(factory, "demo", 0, 20, [X86, ARM])
    with engine.connect() as conn:
        project_id = conn.execute(text("SELECT id FROM projects WHERE name = 'demo'")).scalar_one()
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
            conn.commit()
    plan = _plan(engine, project_id)
    shown = "\n".join(plan)
    if engine.dialect.name == "postgresql":
        assert "Seq Scan" not in shown, shown
        assert "ix_builds_package_id_id" in shown, shown
    else:
        # SQLite: every table is searched by an index; only the grouped subquery is scanned.
        # (The chroots' list and the materialized cells are scanned: they are the input.)
        scans = [
            line
            for line in plan
            if line.startswith("SCAN")
            and line not in ("SCAN latest", "SCAN wanted", "SCAN CONSTANT ROW")
        ]
        assert scans == [], shown
        assert "ix_builds_package_id_id" in shown, shown
