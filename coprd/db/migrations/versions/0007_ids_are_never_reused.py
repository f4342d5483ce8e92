"""ids are never reused on SQLite

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:40:00

A build, project or package id is a permanent name (links, ``copr-cli status N``, the
records of tools such as Packit); a task id is held by an agent that may report after its
build was deleted; a user id is in ``auth-check``. SQLite hands the highest rowid out
again once its row is deleted, unless the table is declared AUTOINCREMENT, which SQLite
cannot add to an existing table: each table is rebuilt with it, keeping its rows, indexes,
constraints and foreign keys (SQLite records the highest id copied in, so ids go on from
there; an id deleted before this upgrade above the highest one left may still come again
once). PostgreSQL's sequences never go back: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "projects", "packages", "builds", "build_tasks")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
