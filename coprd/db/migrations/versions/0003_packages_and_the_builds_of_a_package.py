"""packages and the builds of a package

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:20:29.450217
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("source_type", sa.String(length=20), nullable=False),
        sa.Column("source_json", sa.JSON(), nullable=False),
        sa.Column("webhook_rebuild", sa.Boolean(), nullable=False),
        sa.Column("max_builds", sa.Integer(), nullable=True),
        sa.Column("timeout", sa.Integer(), nullable=True),
        sa.Column("chroot_denylist", sa.JSON(), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 100 AND name NOT LIKE '%/%' AND name NOT LIKE '.%'",
            name=op.f("ck_packages_valid_name"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_packages_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_packages")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_packages_project_id")),
    )
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.create_index("ix_packages_project_id_id", ["project_id", "id"], unique=False)

    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("package_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_builds_package_state_id", ["package_id", "state", "id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_builds_package_id_packages"),
            "packages",
            ["package_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_builds_package_id_packages"), type_="foreignkey")
        batch_op.drop_index("ix_builds_package_state_id")
        batch_op.drop_column("package_id")

    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_index("ix_packages_project_id_id")

    op.drop_table("packages")
