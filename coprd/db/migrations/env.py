"""Alembic environment: coprd passes its own connection in ``config.attributes``."""

from __future__ import annotations

from functools import partial

from alembic import context

from coprd.db.migrate import include_object
from coprd.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from coprd.config import load_settings
        from coprd.db.engine import make_engine

        engine = make_engine(load_settings().effective_database_url)
        with engine.connect() as conn:
            _run(conn)
        return
    _run(connection)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=partial(include_object, dialect=connection.dialect.name),  # type: ignore[attr-defined]
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
