"""build_tasks.config: what a chroot's build was submitted with

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:40:00

A build runs, and ``build-chroot/build-config`` answers, with the chroot's settings as they
were when the build was submitted (repos, buildroot packages, modules, bconds, isolation,
bootstrap, timeout), not as they are after a later ``edit-chroot``. Tasks of builds from
before this revision have none and read the project chroot's current settings.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("build_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("config", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("build_tasks", schema=None) as batch_op:
        batch_op.drop_column("config")
