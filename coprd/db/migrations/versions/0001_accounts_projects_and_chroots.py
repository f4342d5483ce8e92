"""accounts projects and chroots

Revision ID: 0001
Revises:
Create Date: 2026-11-23 17:02:19.090525
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 100 AND name NOT LIKE '%/%' AND name NOT LIKE '.%'",
            name=op.f("ck_groups_valid_name"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_groups_name")),
    )
    op.create_table(
        "mock_chroots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("os_release", sa.String(length=50), nullable=False),
        sa.Column("os_version", sa.String(length=50), nullable=False),
        sa.Column("arch", sa.String(length=20), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("eol_on", sa.Date(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 100 AND name NOT LIKE '%/%' AND name NOT LIKE '.%'",
            name=op.f("ck_mock_chroots_valid_name"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mock_chroots")),
        sa.UniqueConstraint("name", name=op.f("uq_mock_chroots_name")),
        sa.UniqueConstraint(
            "os_release", "os_version", "arch", name=op.f("uq_mock_chroots_os_release")
        ),
    )
    with op.batch_alter_table("mock_chroots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mock_chroots_is_active"), ["is_active"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 100 AND name NOT LIKE '%/%' AND name NOT LIKE '.%'",
            name=op.f("ck_users_valid_name"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("last_used_on", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("login", name=op.f("uq_api_tokens_login")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_members_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_members")),
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_members_user_id"), ["user_id"], unique=False)

    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner_name", sa.String(length=101), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("homepage", sa.String(length=2048), nullable=True),
        sa.Column("contact", sa.String(length=2048), nullable=True),
        sa.Column("additional_repos", sa.JSON(), nullable=False),
        sa.Column("disable_createrepo", sa.Boolean(), nullable=False),
        sa.Column("unlisted_on_hp", sa.Boolean(), nullable=False),
        sa.Column("enable_net", sa.Boolean(), nullable=False),
        sa.Column("persistent", sa.Boolean(), nullable=False),
        sa.Column("auto_prune", sa.Boolean(), nullable=False),
        sa.Column("bootstrap", sa.String(length=20), nullable=False),
        sa.Column("bootstrap_image", sa.String(length=512), nullable=True),
        sa.Column("isolation", sa.String(length=20), nullable=False),
        sa.Column("devel_mode", sa.Boolean(), nullable=False),
        sa.Column("module_hotfixes", sa.Boolean(), nullable=False),
        sa.Column("appstream", sa.Boolean(), nullable=False),
        sa.Column("runtime_dependencies", sa.JSON(), nullable=False),
        sa.Column("packit_forge_projects_allowed", sa.JSON(), nullable=False),
        sa.Column("repo_priority", sa.Integer(), nullable=True),
        sa.Column("storage", sa.String(length=10), nullable=False),
        sa.Column("delete_after_days", sa.Integer(), nullable=True),
        sa.Column("multilib", sa.Boolean(), nullable=False),
        sa.Column("follow_fedora_branching", sa.Boolean(), nullable=False),
        sa.Column("fedora_review", sa.Boolean(), nullable=False),
        sa.Column("webhook_secret", sa.String(length=64), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 100 AND name NOT LIKE '%/%' AND name NOT LIKE '.%'",
            name=op.f("ck_projects_valid_name"),
        ),
        sa.CheckConstraint(
            "storage IN ('backend', 'pulp')", name=op.f("ck_projects_valid_storage")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_projects_group_id_groups"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_projects_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("owner_name", "name", name=op.f("uq_projects_owner_name")),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_projects_group_id"), ["group_id"], unique=False)
        batch_op.create_index("ix_projects_listed_id", ["unlisted_on_hp", "id"], unique=False)
        batch_op.create_index("ix_projects_owner_name_id", ["owner_name", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_projects_user_id"), ["user_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # Trigram index for substring search; pg_trgm ships with PostgreSQL and is a trusted
        # extension (13+), so a database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_projects_search_trgm",
            "projects",
            ["search_text"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )

    op.create_table(
        "project_chroots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("mock_chroot_id", sa.Integer(), nullable=False),
        sa.Column("created_on", sa.DateTime(), nullable=False),
        sa.Column("buildroot_pkgs", sa.JSON(), nullable=False),
        sa.Column("repos", sa.JSON(), nullable=False),
        sa.Column("modules", sa.JSON(), nullable=False),
        sa.Column("comps_name", sa.String(length=255), nullable=True),
        sa.Column("comps", sa.LargeBinary(), nullable=True),
        sa.Column("with_opts", sa.JSON(), nullable=False),
        sa.Column("without_opts", sa.JSON(), nullable=False),
        sa.Column("isolation", sa.String(length=20), nullable=False),
        sa.Column("bootstrap", sa.String(length=20), nullable=False),
        sa.Column("bootstrap_image", sa.String(length=512), nullable=True),
        sa.Column("timeout", sa.Integer(), nullable=True),
        sa.Column("delete_after_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mock_chroot_id"],
            ["mock_chroots.id"],
            name=op.f("fk_project_chroots_mock_chroot_id_mock_chroots"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_chroots_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_chroots")),
        sa.UniqueConstraint(
            "project_id", "mock_chroot_id", name=op.f("uq_project_chroots_project_id")
        ),
    )
    with op.batch_alter_table("project_chroots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_chroots_mock_chroot_id"), ["mock_chroot_id"], unique=False
        )

    op.create_table(
        "project_permissions",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "builder",
            sa.Enum(
                "nothing",
                "request",
                "approved",
                name="permissionvalue",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column(
            "admin",
            sa.Enum(
                "nothing",
                "request",
                "approved",
                name="permissionvalue",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_permissions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_project_permissions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "user_id", name=op.f("pk_project_permissions")),
    )
    with op.batch_alter_table("project_permissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_permissions_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_projects_search_trgm", table_name="projects")
    with op.batch_alter_table("project_permissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_permissions_user_id"))

    op.drop_table("project_permissions")
    with op.batch_alter_table("project_chroots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_chroots_mock_chroot_id"))

    op.drop_table("project_chroots")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_user_id"))
        batch_op.drop_index("ix_projects_owner_name_id")
        batch_op.drop_index("ix_projects_listed_id")
        batch_op.drop_index(batch_op.f("ix_projects_group_id"))

    op.drop_table("projects")
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_members_user_id"))

    op.drop_table("group_members")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    op.drop_table("users")
    with op.batch_alter_table("mock_chroots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mock_chroots_is_active"))

    op.drop_table("mock_chroots")
    op.drop_table("groups")
