"""builds, build tasks and builders

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 17:10:30.982968
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "builders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("last_seen_on", sa.DateTime(), nullable=True),
        sa.Column("arches", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 100 AND name NOT LIKE '%/%' AND name NOT LIKE '.%'",
            name=op.f("ck_builders_valid_name"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_builders")),
        sa.UniqueConstraint("name", name=op.f("uq_builders_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_builders_token_hash")),
    )
    op.create_table(
        "builds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("submitter_id", sa.Integer(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "importing",
                "pending",
                "starting",
                "running",
                "succeeded",
                "failed",
                "canceled",
                "skipped",
                "forked",
                "waiting",
                name="buildstate",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("source_type", sa.String(length=20), nullable=False),
        sa.Column("source_json", sa.JSON(), nullable=False),
        sa.Column("pkg_name", sa.String(length=100), nullable=True),
        sa.Column("pkg_version", sa.String(length=255), nullable=True),
        sa.Column("srpm_name", sa.String(length=255), nullable=True),
        sa.Column("project_dirname", sa.String(length=200), nullable=False),
        sa.Column("is_background", sa.Boolean(), nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("memory_limit", sa.Integer(), nullable=True),
        sa.Column("enable_net", sa.Boolean(), nullable=False),
        sa.Column("bootstrap", sa.String(length=20), nullable=True),
        sa.Column("isolation", sa.String(length=20), nullable=True),
        sa.Column("after_build_id", sa.Integer(), nullable=True),
        sa.Column("submitted_on", sa.DateTime(), nullable=False),
        sa.Column("started_on", sa.DateTime(), nullable=True),
        sa.Column("ended_on", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["after_build_id"],
            ["builds.id"],
            name=op.f("fk_builds_after_build_id_builds"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_builds_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submitter_id"],
            ["users.id"],
            name=op.f("fk_builds_submitter_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_builds")),
    )
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_builds_after_build_id"), ["after_build_id"], unique=False
        )
        batch_op.create_index("ix_builds_project_id_id", ["project_id", "id"], unique=False)
        batch_op.create_index(
            "ix_builds_project_package", ["project_id", "pkg_name", "id"], unique=False
        )
        batch_op.create_index(
            "ix_builds_project_state", ["project_id", "state", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_builds_submitter_id"), ["submitter_id"], unique=False)

    op.create_table(
        "build_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("chroot_name", sa.String(length=100), nullable=False),
        sa.Column("arch", sa.String(length=20), nullable=True),
        sa.Column("owner_name", sa.String(length=101), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "importing",
                "pending",
                "starting",
                "running",
                "succeeded",
                "failed",
                "canceled",
                "skipped",
                "forked",
                "waiting",
                name="buildstate",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("builder_id", sa.Integer(), nullable=True),
        sa.Column("lease_expires_on", sa.DateTime(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("started_on", sa.DateTime(), nullable=True),
        sa.Column("ended_on", sa.DateTime(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("built_packages", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["build_id"],
            ["builds.id"],
            name=op.f("fk_build_tasks_build_id_builds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["builder_id"],
            ["builders.id"],
            name=op.f("fk_build_tasks_builder_id_builders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_tasks")),
        sa.UniqueConstraint("build_id", "chroot_name", name=op.f("uq_build_tasks_build_id")),
    )
    with op.batch_alter_table("build_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_build_tasks_builder_id"), ["builder_id"], unique=False)
        batch_op.create_index("ix_build_tasks_claim", ["state", "priority", "id"], unique=False)
        batch_op.create_index("ix_build_tasks_lease", ["state", "lease_expires_on"], unique=False)
        batch_op.create_index("ix_build_tasks_owner_state", ["owner_name", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("build_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_build_tasks_owner_state")
        batch_op.drop_index("ix_build_tasks_lease")
        batch_op.drop_index("ix_build_tasks_claim")
        batch_op.drop_index(batch_op.f("ix_build_tasks_builder_id"))

    op.drop_table("build_tasks")
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_builds_submitter_id"))
        batch_op.drop_index("ix_builds_project_state")
        batch_op.drop_index("ix_builds_project_package")
        batch_op.drop_index("ix_builds_project_id_id")
        batch_op.drop_index(batch_op.f("ix_builds_after_build_id"))

    op.drop_table("builds")
    op.drop_table("builders")
