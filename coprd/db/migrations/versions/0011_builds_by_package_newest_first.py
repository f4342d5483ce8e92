"""an index of builds by package, newest first

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 21:30:00

The monitor (core/monitor.py) finds, for each package and chroot, the package's newest
build with a task in that chroot by walking the package's builds from the newest; with
this index that is a few index steps per cell, whatever the length of the history.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_builds_package_id_id", "builds", ["package_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_builds_package_id_id", table_name="builds")
