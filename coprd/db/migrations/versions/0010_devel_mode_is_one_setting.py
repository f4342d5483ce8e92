"""projects: devel_mode and disable_createrepo are one setting

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:45:00

Copr stores one fact, ``auto_createrepo``; its APIs call it ``devel_mode`` (v3) and
``disable_createrepo`` (v2, legacy, the web form). coprd stored two columns that could
disagree. ``devel_mode`` stays; a project that had either flag on keeps devel mode on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_projects = sa.table(
    "projects",
    sa.column("devel_mode", sa.Boolean()),
    sa.column("disable_createrepo", sa.Boolean()),
)


# SQLite rebuilds the table to drop a column: it must stay AUTOINCREMENT (0007).
_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    op.get_bind().execute(
        _projects.update().where(_projects.c.disable_createrepo.is_(True)).values(devel_mode=True)
    )
    with op.batch_alter_table("projects", table_kwargs=_KEEP_IDS) as batch_op:
        batch_op.drop_column("disable_createrepo")


def downgrade() -> None:
    with op.batch_alter_table("projects", table_kwargs=_KEEP_IDS) as batch_op:
        batch_op.add_column(
            sa.Column("disable_createrepo", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.get_bind().execute(_projects.update().values(disable_createrepo=_projects.c.devel_mode))
    with op.batch_alter_table("projects", table_kwargs=_KEEP_IDS) as batch_op:
        batch_op.alter_column("disable_createrepo", server_default=None)
