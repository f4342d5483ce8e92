"""projects.delete_after: the deadline, not a count of days

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 02:20:00

A project's ``delete_after_days`` was stored as a number with no start, so nothing could
tell when it was due. The deadline is stored now; a project that had N days gets N days
from the upgrade.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_projects = sa.table(
    "projects",
    sa.column("id", sa.Integer()),
    sa.column("delete_after_days", sa.Integer()),
    sa.column("delete_after", sa.DateTime()),
)


def _midnight_after(days: int) -> dt.datetime:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return (now + dt.timedelta(days=days + 1)).replace(hour=0, minute=0, second=0, microsecond=0)


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delete_after", sa.DateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_projects_delete_after"), ["delete_after"], unique=False
        )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_projects.c.id, _projects.c.delete_after_days).where(
            _projects.c.delete_after_days.is_not(None)
        )
    ).all()
    for project_id, days in rows:
        conn.execute(
            _projects.update()
            .where(_projects.c.id == project_id)
            .values(delete_after=_midnight_after(int(days)))
        )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("delete_after_days")


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delete_after_days", sa.Integer(), nullable=True))
    conn = op.get_bind()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = conn.execute(
        sa.select(_projects.c.id, _projects.c.delete_after).where(
            _projects.c.delete_after.is_not(None)
        )
    ).all()
    for project_id, deadline in rows:
        conn.execute(
            _projects.update()
            .where(_projects.c.id == project_id)
            .values(delete_after_days=max(1, (deadline - now).days))
        )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_delete_after"))
        batch_op.drop_column("delete_after")
