"""dependency-aware ordering of a project's builds, and rebuilding dependents

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 04:10:00

core/ordering.py makes a chroot task wait for the builds that provide its BuildRequires:
builds keep what the source step reported (``build_requires``, ``provides``), which
builds were submitted together (``submission_id``) and which build's success queued them
(``dependent_of_id``); a task says why it waits
(``wait_reason``) and what the ordering decided (``order_note``); ``task_waits`` holds
who waits for whom, looked up by the task that ends. Packages may ask for their dependents
to be rebuilt (``rebuild_dependents``). Existing builds have no known requirements and
wait for nobody.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A table SQLite's batch mode rebuilds keeps its ids unique (see 0007).
_KEEP_IDS = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("builds", table_kwargs=_KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("submission_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("build_requires", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("provides", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("dependent_of_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_builds_submission_id", ["submission_id"], unique=False)
        batch_op.create_index("ix_builds_dependent_of_id", ["dependent_of_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_builds_dependent_of_id_builds",
            "builds",
            ["dependent_of_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("build_tasks", table_kwargs=_KEEP_IDS) as batch_op:
        batch_op.add_column(sa.Column("wait_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("order_note", sa.Text(), nullable=True))
    with op.batch_alter_table("packages", table_kwargs=_KEEP_IDS) as batch_op:
        batch_op.add_column(
            sa.Column("rebuild_dependents", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("packages", table_kwargs=_KEEP_IDS) as batch_op:
        batch_op.alter_column("rebuild_dependents", server_default=None)
    op.create_table(
        "task_waits",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("provider_task_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["build_tasks.id"],
            name=op.f("fk_task_waits_task_id_build_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provider_task_id"],
            ["build_tasks.id"],
            name=op.f("fk_task_waits_provider_task_id_build_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "provider_task_id", name=op.f("pk_task_waits")),
    )
    op.create_index(
        "ix_task_waits_provider_task_id", "task_waits", ["provider_task_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_task_waits_provider_task_id", table_name="task_waits")
    op.drop_table("task_waits")
    with op.batch_alter_table("packages", table_kwargs=_KEEP_IDS) as batch_op:
        batch_op.drop_column("rebuild_dependents")
    with op.batch_alter_table("build_tasks", table_kwargs=_KEEP_IDS) as batch_op:
        batch_op.drop_column("order_note")
        batch_op.drop_column("wait_reason")
    with op.batch_alter_table("builds", table_kwargs=_KEEP_IDS) as batch_op:
        batch_op.drop_constraint("fk_builds_dependent_of_id_builds", type_="foreignkey")
        batch_op.drop_index("ix_builds_dependent_of_id")
        batch_op.drop_index("ix_builds_submission_id")
        batch_op.drop_column("dependent_of_id")
        batch_op.drop_column("provides")
        batch_op.drop_column("build_requires")
        batch_op.drop_column("submission_id")
