"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from coprd.datadir import create_private_file, sqlite_path

SQLITE_BUSY_TIMEOUT_S = 30


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the connection settings coprd relies on.

    SQLite runs in WAL mode with foreign keys on. Its driver's own transaction handling is
    switched off so that SQLAlchemy emits ``BEGIN`` itself: a write transaction then starts
    with ``BEGIN IMMEDIATE`` (see :func:`write_session`), which takes the write lock up
    front instead of failing with "database is locked" when two readers both try to upgrade.
    """
    if url.startswith("sqlite"):
        database = sqlite_path(url)
        if database is not None and database.parent.is_dir():
            # SQLite gives -wal and -shm the database file's mode: created private here,
            # before SQLite would create it with the umask's.
            create_private_file(database)
        # More connections than the server has worker threads (40): a thread waiting in
        # BEGIN IMMEDIATE holds its connection, and the one holding the lock must never
        # wait for a connection behind them.
        kwargs = {"pool_size": 10, "max_overflow": 50, **kwargs}
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("coprd_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def begin_write(session: Session) -> None:
    """Mark the session's transaction as a writer before it starts.

    On SQLite this makes the transaction take the database's write lock at ``BEGIN``; on
    PostgreSQL it changes nothing.
    """
    session.connection(execution_options={"coprd_write": True})


@contextmanager
def transaction(factory: sessionmaker[Session], *, write: bool) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on error."""
    with factory() as session:
        if write:
            begin_write(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def write_session(factory: sessionmaker[Session]) -> AbstractContextManager[Session]:
    return transaction(factory, write=True)


@contextmanager
def read_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session:
        yield session
