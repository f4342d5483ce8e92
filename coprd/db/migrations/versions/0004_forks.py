"""forks: where a project and a build were forked from

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("projects", "builds"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("forked_from_id", sa.Integer(), nullable=True))
            batch_op.create_index(
                batch_op.f(f"ix_{table}_forked_from_id"), ["forked_from_id"], unique=False
            )
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_forked_from_id_{table}"),
                table,
                ["forked_from_id"],
                ["id"],
                ondelete="SET NULL",
            )


def downgrade() -> None:
    for table in ("builds", "projects"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_forked_from_id_{table}"), type_="foreignkey"
            )
            batch_op.drop_index(batch_op.f(f"ix_{table}_forked_from_id"))
            batch_op.drop_column("forked_from_id")
