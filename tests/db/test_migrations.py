"""Alembic owns the schema: the migrations build exactly what the models describe."""

from __future__ import annotations

from functools import partial

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from coprd.db.migrate import head_revision, include_object, is_up_to_date
from coprd.db.models import Base


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
