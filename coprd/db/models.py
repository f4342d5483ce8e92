"""Table models. Wire shapes live in each dialect's ``schemas.py``, never here.

Names that become filesystem paths (users, groups, projects, chroots) are checked in
``core/names.py`` before they reach the database; the ``CheckConstraint``s below repeat
the part of that rule a database can express, as a last guard.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAME_LEN = 100

naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Naive UTC, as every timestamp column stores it."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=naming_convention)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


def _path_safe(column: str) -> str:
    return (
        f"length({column}) BETWEEN 1 AND {NAME_LEN} AND {column} NOT LIKE '%/%' "
        f"AND {column} NOT LIKE '.%'"
    )


# Ids that leave the database (in URLs, API answers, result paths, agents' hands) name one
# row for good: SQLite reuses the highest rowid after a delete unless the table says
# AUTOINCREMENT. PostgreSQL's sequences never go back, so this changes nothing there.
NEVER_REUSED_IDS: dict[str, Any] = {"sqlite_autoincrement": True}


class PermissionValue(enum.StrEnum):
    nothing = "nothing"
    request = "request"
    approved = "approved"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_path_safe("name"), name="valid_name"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ApiToken(Base):
    """An API credential: a public ``login`` and a secret stored only as a hash."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    last_used_on: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(lazy="raise")


class WebSession(Base):
    """A browser logged in to the web UI. Its cookie carries a random secret; only the
    secret's SHA-256 is kept, so the table gives no one a session. Deleting the row ends
    the session for every copy of the cookie (see ``core/logins.py``)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # The earlier of the session's last day and the end of its idle time.
    expires_on: Mapped[dt.datetime] = mapped_column(DateTime, index=True)

    user: Mapped[User] = relationship(lazy="raise")


class AuthFailure(Base):
    """One failed authentication, counted against each subject it concerns (an account,
    an address; see ``core/throttling.py``)."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_subject_failed_on", "subject", "failed_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    failed_on: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (CheckConstraint(_path_safe("name"), name="valid_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN), unique=True)
    created_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Project(Base):
    """A Copr project ("copr"), owned by a user or, written ``@name``, by a group."""

    __tablename__ = "projects"
    __table_args__ = (
        UniqueConstraint("owner_name", "name"),
        Index("ix_projects_owner_name_id", "owner_name", "id"),
        Index("ix_projects_listed_id", "unlisted_on_hp", "id"),
        # Substring search (LIKE '%q%') over search_text; trigram GIN exists on PostgreSQL only.
        Index(
            "ix_projects_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        CheckConstraint(_path_safe("name"), name="valid_name"),
        CheckConstraint("storage IN ('backend', 'pulp')", name="valid_storage"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    owner_name: Mapped[str] = mapped_column(String(NAME_LEN + 1))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="RESTRICT"), index=True
    )
    created_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    description: Mapped[str] = mapped_column(Text, default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    homepage: Mapped[str | None] = mapped_column(String(2048))
    contact: Mapped[str | None] = mapped_column(String(2048))
    additional_repos: Mapped[list[str]] = mapped_column(default=list)
    unlisted_on_hp: Mapped[bool] = mapped_column(Boolean, default=False)
    enable_net: Mapped[bool] = mapped_column(Boolean, default=False)
    persistent: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_prune: Mapped[bool] = mapped_column(Boolean, default=True)
    bootstrap: Mapped[str] = mapped_column(String(20), default="default")
    bootstrap_image: Mapped[str | None] = mapped_column(String(512))
    isolation: Mapped[str] = mapped_column(String(20), default="default")
    # Copr's one fact behind devel_mode (APIv3) and disable_createrepo (v2, legacy, web):
    # builds are published into each chroot's devel/ repo only (publish/createrepo.py).
    devel_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    module_hotfixes: Mapped[bool] = mapped_column(Boolean, default=False)
    appstream: Mapped[bool] = mapped_column(Boolean, default=False)
    runtime_dependencies: Mapped[list[str]] = mapped_column(default=list)
    packit_forge_projects_allowed: Mapped[list[str]] = mapped_column(default=list)
    repo_priority: Mapped[int | None] = mapped_column(Integer)
    storage: Mapped[str] = mapped_column(String(10), default="backend")
    # When core/cleanup.py deletes the project (Copr's delete_after); see delete_after_days.
    delete_after: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    multilib: Mapped[bool] = mapped_column(Boolean, default=False)
    follow_fedora_branching: Mapped[bool] = mapped_column(Boolean, default=True)
    fedora_review: Mapped[bool] = mapped_column(Boolean, default=False)
    webhook_secret: Mapped[str | None] = mapped_column(String(64))
    # The project this one was forked from (core/forks.py), while it exists.
    forked_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), index=True
    )
    # Lowercased "owner/name description", kept by core/projects.py for search.
    search_text: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User] = relationship(lazy="raise")
    chroots: Mapped[list[ProjectChroot]] = relationship(
        lazy="raise",
        back_populates="project",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    permissions: Mapped[list[ProjectPermission]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def full_name(self) -> str:
        return f"{self.owner_name}/{self.name}"

    @property
    def disable_createrepo(self) -> bool:
        """The old APIs' name of ``devel_mode``."""
        return self.devel_mode

    @property
    def delete_after_days(self) -> int | None:
        """Whole days left before the project is deleted (0: at the next cleanup); None
        if it is kept. The API's view of ``delete_after``."""
        if self.delete_after is None:
            return None
        return max(0, (self.delete_after - utcnow()).days)

    @delete_after_days.setter
    def delete_after_days(self, days: int | None) -> None:
        """Keep the project ``days`` whole days from now (until the midnight, UTC, after
        them), as Copr counts; None keeps it for good."""
        if days is None:
            self.delete_after = None
            return
        deadline = utcnow() + dt.timedelta(days=days + 1)
        self.delete_after = deadline.replace(hour=0, minute=0, second=0, microsecond=0)

    @property
    def is_group_project(self) -> bool:
        return self.group_id is not None


class MockChroot(Base):
    """A build target the service offers, e.g. ``fedora-rawhide-x86_64``."""

    __tablename__ = "mock_chroots"
    __table_args__ = (
        UniqueConstraint("os_release", "os_version", "arch"),
        CheckConstraint(_path_safe("name"), name="valid_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN), unique=True)
    os_release: Mapped[str] = mapped_column(String(50))
    os_version: Mapped[str] = mapped_column(String(50))
    arch: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    eol_on: Mapped[dt.date | None] = mapped_column(Date)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def name_release(self) -> str:
        return f"{self.os_release}-{self.os_version}"


class ProjectChroot(Base):
    """A chroot enabled in a project, with the project's settings for it."""

    __tablename__ = "project_chroots"
    __table_args__ = (UniqueConstraint("project_id", "mock_chroot_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    mock_chroot_id: Mapped[int] = mapped_column(
        ForeignKey("mock_chroots.id", ondelete="RESTRICT"), index=True
    )
    created_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    buildroot_pkgs: Mapped[list[str]] = mapped_column(default=list)
    repos: Mapped[list[str]] = mapped_column(default=list)
    modules: Mapped[list[str]] = mapped_column(default=list)
    comps_name: Mapped[str | None] = mapped_column(String(255))
    comps: Mapped[bytes | None] = mapped_column(LargeBinary)
    with_opts: Mapped[list[str]] = mapped_column(default=list)
    without_opts: Mapped[list[str]] = mapped_column(default=list)
    isolation: Mapped[str] = mapped_column(String(20), default="unchanged")
    bootstrap: Mapped[str] = mapped_column(String(20), default="unchanged")
    bootstrap_image: Mapped[str | None] = mapped_column(String(512))
    timeout: Mapped[int | None] = mapped_column(Integer)
    delete_after_days: Mapped[int | None] = mapped_column(Integer)

    project: Mapped[Project] = relationship(lazy="raise", back_populates="chroots")
    mock_chroot: Mapped[MockChroot] = relationship(lazy="raise")


class ProjectPermission(Base):
    """What a user other than the owner may do in a project, and what they asked for."""

    __tablename__ = "project_permissions"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    builder: Mapped[PermissionValue] = mapped_column(
        Enum(PermissionValue, native_enum=False, length=10), default=PermissionValue.nothing
    )
    admin: Mapped[PermissionValue] = mapped_column(
        Enum(PermissionValue, native_enum=False, length=10), default=PermissionValue.nothing
    )

    user: Mapped[User] = relationship(lazy="raise")


class BuildState(enum.StrEnum):
    """Copr's state names, for builds and their tasks alike."""

    importing = "importing"
    pending = "pending"
    starting = "starting"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"
    skipped = "skipped"
    forked = "forked"
    waiting = "waiting"


def _state_column(default: BuildState, **kwargs: Any) -> Any:
    return mapped_column(
        Enum(BuildState, native_enum=False, length=10, validate_strings=True),
        default=default,
        **kwargs,
    )


class Build(Base):
    """One submission: a source task that makes the SRPM, then one task per chroot."""

    __tablename__ = "builds"
    __table_args__ = (
        Index("ix_builds_project_id_id", "project_id", "id"),
        Index("ix_builds_project_state", "project_id", "state", "id"),
        Index("ix_builds_project_package", "project_id", "pkg_name", "id"),
        # The latest (succeeded) build of each package: max(id) grouped by package_id, of
        # all its builds or of those in one state, read from the index alone.
        Index("ix_builds_package_state_id", "package_id", "state", "id"),
        # A package's builds newest first: the monitor's walk to each chroot's latest.
        Index("ix_builds_package_id_id", "package_id", "id"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    submitter_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # The build's state, derived from its tasks by core/builds.py, stored for filtering.
    state: Mapped[BuildState] = _state_column(BuildState.pending)
    source_type: Mapped[str] = mapped_column(String(20))
    source_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pkg_name: Mapped[str | None] = mapped_column(String(NAME_LEN))
    pkg_version: Mapped[str | None] = mapped_column(String(255))
    srpm_name: Mapped[str | None] = mapped_column(String(255))
    project_dirname: Mapped[str] = mapped_column(String(NAME_LEN * 2))
    is_background: Mapped[bool] = mapped_column(Boolean, default=False)
    timeout: Mapped[int] = mapped_column(Integer)
    memory_limit: Mapped[int | None] = mapped_column(Integer)
    enable_net: Mapped[bool] = mapped_column(Boolean, default=False)
    bootstrap: Mapped[str | None] = mapped_column(String(20))
    isolation: Mapped[str | None] = mapped_column(String(20))
    after_build_id: Mapped[int | None] = mapped_column(
        ForeignKey("builds.id", ondelete="SET NULL"), index=True
    )
    # The package this is a build of: known at submit for package builds, else linked by
    # core/packages.py once the source task reports the package's name.
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id", ondelete="SET NULL"))
    # A fork's copy of this build (state forked): the publisher copies its results from
    # there (core/forks.py). Indexed, as deleting a build looks here.
    forked_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("builds.id", ondelete="SET NULL"), index=True
    )
    submitted_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_on: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ended_on: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # The builds submitted together (core/ordering.py): the id of the first of them; None
    # for a build ordered by an explicit batch (after_build_id / with_build_id) alone.
    submission_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # Names the SRPM BuildRequires and its packages will provide, reported by the source
    # task (core/ordering.py); None until it has.
    build_requires: Mapped[list[str] | None] = mapped_column(JSON)
    provides: Mapped[list[str] | None] = mapped_column(JSON)
    # The build whose success queued this one, as a dependent of its package
    # (``rebuild_dependents``); such a build queues no further rebuilds itself.
    dependent_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("builds.id", ondelete="SET NULL"), index=True
    )

    project: Mapped[Project] = relationship(lazy="raise")
    submitter: Mapped[User | None] = relationship(lazy="raise")
    tasks: Mapped[list[BuildTask]] = relationship(
        lazy="raise",
        back_populates="build",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="BuildTask.id",
    )


class Package(Base):
    """A package of a project: its default source, rebuilt by ``package/build`` and webhooks.

    ``source_type`` is ``unset`` for a package without a default source (after a reset, or
    made from a build whose source cannot be repeated); ``source_json`` is then ``{}``.
    """

    __tablename__ = "packages"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        Index("ix_packages_project_id_id", "project_id", "id"),
        CheckConstraint(_path_safe("name"), name="valid_name"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    source_type: Mapped[str] = mapped_column(String(20), default="unset")
    source_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    webhook_rebuild: Mapped[bool] = mapped_column(Boolean, default=False)
    # When a build of this package succeeds, rebuild the project's packages that
    # BuildRequire what it provides (core/ordering.py).
    rebuild_dependents: Mapped[bool] = mapped_column(Boolean, default=False)
    # Keep this many newest builds (None or 0: all of them).
    max_builds: Mapped[int | None] = mapped_column(Integer)
    timeout: Mapped[int | None] = mapped_column(Integer)
    # Glob patterns of chroots its builds leave out.
    chroot_denylist: Mapped[list[str]] = mapped_column(default=list)
    created_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    project: Mapped[Project] = relationship(lazy="raise")


SOURCE_TASK_CHROOT = "srpm-builds"


class BuildTask(Base):
    """A unit of work an agent claims: the source step, or one chroot's RPM build."""

    __tablename__ = "build_tasks"
    __table_args__ = (
        UniqueConstraint("build_id", "chroot_name"),
        # The claim query: pending tasks by priority and age.
        Index("ix_build_tasks_claim", "state", "priority", "id"),
        Index("ix_build_tasks_lease", "state", "lease_expires_on"),
        Index("ix_build_tasks_owner_state", "owner_name", "state"),
        # The pruner's scan: results not yet pruned, by age (core/pruning.py).
        Index("ix_build_tasks_prunable", "pruned_on", "ended_on"),
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("builds.id", ondelete="CASCADE"))
    # "srpm-builds" for the source task, else the mock chroot's name.
    chroot_name: Mapped[str] = mapped_column(String(NAME_LEN))
    arch: Mapped[str | None] = mapped_column(String(20))
    owner_name: Mapped[str] = mapped_column(String(NAME_LEN + 1))
    state: Mapped[BuildState] = _state_column(BuildState.pending)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    builder_id: Mapped[int | None] = mapped_column(
        ForeignKey("builders.id", ondelete="SET NULL"), index=True
    )
    lease_expires_on: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    started_on: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ended_on: Mapped[dt.datetime | None] = mapped_column(DateTime)
    message: Mapped[str] = mapped_column(Text, default="")
    built_packages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Chroot tasks: the chroot's build settings when the build was submitted
    # (core/project_chroots.py, ``chroot_settings``); None for tasks from before they were kept.
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When core/pruning.py removed this chroot build's results; the task itself stays.
    pruned_on: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Why the task is ``waiting`` for other builds (core/ordering.py); None when it is not.
    wait_reason: Mapped[str | None] = mapped_column(Text)
    # A decision of the ordering that outlives the wait (a dependency cycle broken).
    order_note: Mapped[str | None] = mapped_column(Text)

    build: Mapped[Build] = relationship(lazy="raise", back_populates="tasks")

    @property
    def is_source(self) -> bool:
        return self.chroot_name == SOURCE_TASK_CHROOT


class TaskWait(Base):
    """A chroot task waits for another task to end (core/ordering.py): one row per pair."""

    __tablename__ = "task_waits"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("build_tasks.id", ondelete="CASCADE"), primary_key=True
    )
    provider_task_id: Mapped[int] = mapped_column(
        ForeignKey("build_tasks.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # What the task waits for, in words: "build 41 (libfoo) which provides libfoo-devel".
    reason: Mapped[str] = mapped_column(Text, default="")


class Builder(Base):
    """A builder agent's credential and what it says it can build."""

    __tablename__ = "builders"
    __table_args__ = (CheckConstraint(_path_safe("name"), name="valid_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN), unique=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_on: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_on: Mapped[dt.datetime | None] = mapped_column(DateTime)
    arches: Mapped[list[str]] = mapped_column(default=list)
