"""Alembic owns the schema: the migrations build exactly what the models describe."""

from __future__ import annotations

import datetime as dt
from functools import partial
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from coprd.db.engine import make_engine
from coprd.db.migrate import head_revision, include_object, is_up_to_date, upgrade
from coprd.db.models import Base
from tests.conftest import POSTGRES, create_postgres_database, drop_postgres_database


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"include_object": partial(include_object, dialect=engine.dialect.name)},
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_test_database_is_at_head(engine: Engine) -> None:
    assert head_revision() is not None
    assert is_up_to_date(engine)


def _insert(conn: Connection, table: str, **given: object) -> None:
    """A row with ``given`` values and a plain value of its type in every other column the
    table requires (whatever that revision's columns are); the database picks the id
    unless it is given."""
    row: dict[str, object] = {}
    for column in inspect(conn).get_columns(table):
        name = column["name"]
        if name in given:
            row[name] = given[name]
        elif name != "id" and not column["nullable"] and column.get("default") is None:
            kind = str(column["type"]).upper()
            if "INT" in kind:
                row[name] = 1
            elif "BOOL" in kind:
                row[name] = False
            elif "TIME" in kind or "DATE" in kind:
                row[name] = dt.datetime(2026, 1, 1)
            elif "JSON" in kind:
                row[name] = "{}" if name.endswith("json") else "[]"
            else:
                row[name] = "x"
    names = ", ".join(row)
    values = ", ".join(f":{n}" for n in row)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({values})"), row)


def test_upgrading_keeps_the_data(tmp_path: Path) -> None:
    """Rows written at an earlier revision survive the later ones (on SQLite, Alembic
    rebuilds a table to change it; with foreign keys on, that used to empty build_tasks)."""
    url = create_postgres_database() if POSTGRES else f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    try:
        upgrade(engine, "0002")
        with engine.begin() as conn:
            _insert(conn, "users", id=1, name="alice")
            _insert(
                conn,
                "projects",
                id=1,
                name="demo",
                owner_name="alice",
                user_id=1,
                storage="backend",
                delete_after_days=3,
            )
            _insert(conn, "builds", id=1, project_id=1, submitter_id=1, state="running")
            _insert(conn, "builds", id=2, project_id=1, submitter_id=1, after_build_id=1)
            for task_id, chroot in enumerate(("srpm-builds", "fedora-rawhide-x86_64"), 1):
                _insert(conn, "build_tasks", id=task_id, build_id=1, chroot_name=chroot)
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM build_tasks")).scalar_one() == 2
            waiting = conn.execute(text("SELECT after_build_id FROM builds WHERE id = 2"))
            assert waiting.scalar_one() == 1
            # The count of days became a deadline: three whole days from the upgrade.
            deadline = conn.execute(text("SELECT delete_after FROM projects")).scalar_one()
            if isinstance(deadline, str):  # SQLite hands back the stored text
                deadline = dt.datetime.fromisoformat(deadline)
            left = deadline - dt.datetime.now(dt.UTC).replace(tzinfo=None)
            assert dt.timedelta(days=3) < left <= dt.timedelta(days=4)
        assert is_up_to_date(engine)
    finally:
        engine.dispose()
        if POSTGRES:
            drop_postgres_database(url)


def _shape(engine: Engine) -> dict[str, tuple[object, ...]]:
    """What ``compare_metadata`` leaves out, per table: the CHECK constraints and whether
    ids are never handed out again (SQLite's AUTOINCREMENT; a sequence on PostgreSQL)."""
    inspector = inspect(engine)
    shape: dict[str, tuple[object, ...]] = {}
    with engine.connect() as conn:
        for table in inspector.get_table_names():
            if table == "alembic_version":
                continue
            checks = sorted(
                (c["name"] or "", " ".join(c["sqltext"].split()))
                for c in inspector.get_check_constraints(table)
            )
            if engine.dialect.name == "sqlite":
                sql = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                    {"t": table},
                ).scalar_one()
                never_reused = "AUTOINCREMENT" in sql
            else:
                never_reused = any(
                    "nextval" in str(c.get("default") or "") or c.get("identity")
                    for c in inspector.get_columns(table)
                )
            shape[table] = (checks, never_reused)
    return shape


def test_models_and_migrations_agree_on_checks_and_id_reuse(engine: Engine, tmp_path: Path) -> None:
    url = create_postgres_database() if POSTGRES else f"sqlite:///{tmp_path / 'models.sqlite'}"
    from_models = make_engine(url)
    try:
        if POSTGRES:
            with from_models.begin() as conn:  # as migration 0001 does
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        Base.metadata.create_all(from_models)
        expected = _shape(from_models)
    finally:
        from_models.dispose()
        if POSTGRES:
            drop_postgres_database(url)
    migrated = _shape(engine)
    assert migrated == expected
    # The tables whose ids leave the database never hand one out twice.
    for table in ("users", "projects", "packages", "builds", "build_tasks"):
        assert migrated[table][1], table


def _reuses_newest_id(conn: Connection, table: str, **given: object) -> bool:
    """Delete the newest row of ``table``, insert one: does it get the deleted id back?"""
    newest = conn.execute(text(f"SELECT max(id) FROM {table}")).scalar_one()
    conn.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": newest})
    _insert(conn, table, **given)
    return bool(conn.execute(text(f"SELECT max(id) FROM {table}")).scalar_one() <= newest)


def test_upgrading_from_0006_keeps_the_data_and_stops_reusing_ids(tmp_path: Path) -> None:
    url = create_postgres_database() if POSTGRES else f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    try:
        upgrade(engine, "0006")
        with engine.begin() as conn:
            # Ids from the database, as the server gets them (an explicit id would not
            # move PostgreSQL's sequence): 1 and 2 in each table.
            _insert(conn, "users", name="alice")
            _insert(conn, "users", name="bob")
            for user_id, project in enumerate(("demo", "other"), 1):
                _insert(
                    conn,
                    "projects",
                    name=project,
                    owner_name="alice",
                    user_id=user_id,
                    storage="backend",
                )
            _insert(conn, "packages", project_id=1, name="hello")
            _insert(conn, "packages", project_id=1, name="world")
            _insert(conn, "builds", project_id=1, package_id=1, state="succeeded")
            _insert(conn, "builds", project_id=1, after_build_id=1, package_id=2)
            _insert(conn, "build_tasks", build_id=1, chroot_name="srpm-builds")
            _insert(conn, "build_tasks", build_id=2, chroot_name="fedora-rawhide-x86_64")
            _insert(conn, "api_tokens", user_id=1, login="abc", secret_hash="h")
            before = {
                table: [
                    dict(row._mapping)
                    for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))
                ]
                for table in ("users", "projects", "packages", "builds", "build_tasks")
            }
        upgrade(engine)
        assert is_up_to_date(engine)
        with engine.begin() as conn:
            # Every value is kept, in the columns that are still there (0010 merged
            # disable_createrepo into devel_mode; later migrations only add columns).
            dropped = {"projects": {"disable_createrepo"}}
            for table, rows in before.items():
                after = [
                    dict(row._mapping)
                    for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))
                ]
                assert set(rows[0]) - set(after[0]) == dropped.get(table, set())
                kept = [{k: v for k, v in row.items() if k in after[0]} for row in rows]
                assert [{k: row[k] for k in rows[0] if k in row} for row in after] == kept
            assert conn.execute(text("SELECT count(*) FROM api_tokens")).scalar_one() == 1
            # Foreign keys still act: deleting a build empties its tasks.
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM builds WHERE id = 2"))
            assert conn.execute(text("SELECT count(*) FROM build_tasks")).scalar_one() == 1
            # The name rule is still checked.
            with pytest.raises(IntegrityError), conn.begin_nested():
                _insert(conn, "packages", project_id=1, name="a/b")
            # The newest row of each table goes; the next one gets a new id.
            assert not _reuses_newest_id(conn, "builds", project_id=1)
            assert not _reuses_newest_id(conn, "packages", project_id=1, name="x")
            project = {"name": "p", "owner_name": "alice", "user_id": 1, "storage": "backend"}
            assert not _reuses_newest_id(conn, "projects", **project)
    finally:
        engine.dispose()
        if POSTGRES:
            drop_postgres_database(url)


def test_devel_mode_keeps_either_flag_that_was_on(tmp_path: Path) -> None:
    """0010: devel_mode and disable_createrepo became one column; on if either was."""
    url = create_postgres_database() if POSTGRES else f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    try:
        upgrade(engine, "0006")
        with engine.begin() as conn:
            _insert(conn, "users", id=1, name="alice")
            for project_id, (devel, disable) in enumerate(
                [(False, False), (True, False), (False, True), (True, True)], 1
            ):
                _insert(
                    conn,
                    "projects",
                    id=project_id,
                    name=f"p{project_id}",
                    owner_name="alice",
                    user_id=1,
                    storage="backend",
                    devel_mode=devel,
                    disable_createrepo=disable,
                )
        upgrade(engine, "0010")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, devel_mode FROM projects ORDER BY id")).all()
            assert [(i, bool(on)) for i, on in rows] == [
                (1, False),
                (2, True),
                (3, True),
                (4, True),
            ]
            columns = {c["name"] for c in inspect(conn).get_columns("projects")}
            assert "disable_createrepo" not in columns
    finally:
        engine.dispose()
        if POSTGRES:
            drop_postgres_database(url)
