"""build_tasks.pruned_on: when the pruner removed a chroot build's results

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:40:00

The pruner (core/pruning.py) removes the results of old chroot builds but keeps the
builds, as Copr does. It records here when, so that no later run looks at them again and
a page can tell that their files are gone. Existing rows were never pruned.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("build_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pruned_on", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_build_tasks_prunable", ["pruned_on", "ended_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("build_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_build_tasks_prunable")
        batch_op.drop_column("pruned_on")
