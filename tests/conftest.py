"""Fixtures: every test starts from a clean, migrated database.

SQLite (default): the schema is migrated once into a template file that each test copies.
PostgreSQL (``COPRD_TEST_POSTGRES`` = URL of a maintenance database such as ``postgres``):
the session creates its own database, migrates it once, empties it between tests and drops
it at the end.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from coprd.app import create_app
from coprd.config import Settings
from coprd.core import chroots, tokens, users
from coprd.core.tokens import IssuedToken
from coprd.db.engine import make_engine, make_session_factory, write_session
from coprd.db.migrate import upgrade
from coprd.db.models import AuthFailure, Base, User

POSTGRES = os.environ.get("COPRD_TEST_POSTGRES")


# What the builder's sandbox does depends on no database: these run in the SQLite pass of
# CI only (COPRD_TEST_POSTGRES deselects them; `-m sandbox` selects just them).
_SANDBOX_PATHS = ("tests/builder/", "tests/sources/")
# What Chromium sees of a page depends on no database either (the pages' queries run on
# both in tests/web_ui): the same (`-m browser` selects just them).
_BROWSER_PATHS = ("tests/browser/",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = item.nodeid.replace("\\", "/")
        if path.startswith(_SANDBOX_PATHS):
            item.add_marker(pytest.mark.sandbox)
        if path.startswith(_BROWSER_PATHS):
            item.add_marker(pytest.mark.browser)
    if not POSTGRES or config.getoption("markexpr"):
        return
    kept = [
        item
        for item in items
        if item.get_closest_marker("sandbox") is None and item.get_closest_marker("browser") is None
    ]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


_passable: Path | None = None


def passable_dir(prefix: str) -> Path:
    """A new directory for a test's files that builds' uids can pass through, when the
    tests run as root: a root agent's builds run as other uids, and bubblewrap opens their
    work directory with those uids' permissions, which pytest's own directory
    (``/tmp/pytest-of-root``, 0700, and re-tightened by every pytest run that starts) does
    not grant. They all lie in one ``/var/tmp/coprd-tests-*``, removed with the session."""
    global _passable
    if _passable is None:
        _passable = Path(tempfile.mkdtemp(prefix="coprd-tests-", dir="/var/tmp"))
        _passable.chmod(0o711)
    # Only plain characters (rpm expands glob characters such as "[local]" in the paths
    # it is given), and short: gpg's sockets live in some of these directories (108 bytes).
    name = re.sub(r"[^A-Za-z0-9_-]", "_", prefix)[:16]
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=_passable))
    path.chmod(0o711)
    return path


@pytest.fixture(scope="session", autouse=True)
def _passable_root() -> Iterator[None]:
    yield
    if _passable is not None:
        shutil.rmtree(_passable, ignore_errors=True)


@pytest.fixture
def tmp_path(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """pytest's ``tmp_path``; when the tests run as root, a :func:`passable_dir` instead."""
    if os.geteuid() != 0:
        return tmp_path
    return passable_dir(request.node.name)


def create_postgres_database(prefix: str = "coprd_test") -> str:
    """A new empty database on the test PostgreSQL; returns its URL."""
    assert POSTGRES
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    assert POSTGRES
    name = make_url(url).database
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, seeded database: a SQLite file to copy, or a PostgreSQL URL."""
    if POSTGRES:
        url = create_postgres_database()
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        drop_postgres_database(url)
        return
    path = tmp_path_factory.mktemp("template") / "coprd.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    yield str(path)


def clean_engine(template: str, directory: Path) -> Engine:
    """A migrated, seeded, otherwise empty database made from the session's template."""
    if POSTGRES:
        engine = make_engine(template)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    else:
        path = directory / "coprd.sqlite"
        shutil.copyfile(template, path)
        engine = make_engine(f"sqlite:///{path}")
    with write_session(make_session_factory(engine)) as session:
        chroots.seed_mock_chroots(session)
    return engine


@pytest.fixture
def engine(_template: str, tmp_path: Path) -> Iterator[Engine]:
    engine = clean_engine(_template, tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, engine: Engine) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=str(engine.url.render_as_string(hide_password=False)),
        url="http://coprd.test",
    )


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for arranging and checking; call ``db.commit()`` to make data visible."""
    with session_factory() as session:
        yield session


@pytest.fixture
def client(settings: Settings, engine: Engine) -> TestClient:
    return TestClient(create_app(settings, engine), raise_server_exceptions=False)


class Account:
    """A user with an API token, for requests that need credentials."""

    def __init__(self, user: User, token: IssuedToken) -> None:
        self.user = user
        self.name = user.name
        self.token = token
        pair = f"{token.login}:{token.token}".encode()
        self.headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}


MakeAccount = Callable[..., "Account"]


@pytest.fixture
def make_account(session_factory: sessionmaker[Session]) -> MakeAccount:
    def make(name: str, *, admin: bool = False, days: int = 30) -> Account:
        with write_session(session_factory) as session:
            user = users.create_user(session, name, is_admin=admin)
            issued = tokens.issue_token(session, user, days)
        return Account(user, issued)

    return make


@pytest.fixture
def alice(make_account: MakeAccount) -> Account:
    return make_account("alice")


@pytest.fixture
def bob(make_account: MakeAccount) -> Account:
    return make_account("bob")


def snapshot(engine: Engine, *, failures: bool = False) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, to show that a refused request changed nothing.

    Failed authentications are left out unless ``failures``: counting them is what a
    refused credential is meant to change (``core/throttling.py``).
    """
    with engine.connect() as conn:
        return {
            table.name: sorted((tuple(row) for row in conn.execute(table.select())), key=repr)
            for table in Base.metadata.sorted_tables
            if failures or table.name != "auth_failures"
        }


def age_failures(engine: Engine, by: dt.timedelta) -> None:
    """Move every counted failed authentication ``by`` into the past: the clock of the
    throttling rule, turned forward without sleeping."""
    with write_session(make_session_factory(engine)) as session:
        for failure in session.scalars(select(AuthFailure)):
            failure.failed_on -= by
