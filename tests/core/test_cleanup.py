"""The cleanup: expired projects go with their results, and each package keeps its newest
``max_builds`` finished builds."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coprd.core import builds, cleanup, packages, projects, users
from coprd.core.builds import BuildOptions
from coprd.core.packages import PackageFields
from coprd.core.results import RESULTS_UNWANTED
from coprd.core.sources import SourceSettings
from coprd.db.models import Build, BuildState, Project, User, utcnow

X86 = "fedora-rawhide-x86_64"
RESULTS = "http://coprd.test/results"


@pytest.fixture
def alice(db: Session) -> User:
    return users.create_user(db, "alice")


def create(db: Session, who: User, name: str, **fields: object) -> Project:
    new = projects.NewProject.model_validate({"name": name, "chroots": [X86], **fields})
    return projects.create_project(db, who, who.name, new)


def test_projects_go_once_their_days_are_over(db: Session, alice: User) -> None:
    admin = users.create_user(db, "root", is_admin=True)
    create(db, alice, "pr-7", delete_after_days=2)
    create(db, alice, "later", delete_after_days=10)
    create(db, alice, "kept")
    precious = create(db, admin, "precious", persistent=True)
    # A persistent project with a deadline can no longer be made (it is refused with
    # upstream's message); one stored before that rule is still never deleted.
    precious.delete_after = utcnow() + dt.timedelta(days=1)
    assert projects.get_project(db, "alice", "pr-7").delete_after_days == 2

    assert cleanup.delete_expired_projects(db) == []  # nothing is due yet
    in_three_days = utcnow() + dt.timedelta(days=3)
    assert cleanup.delete_expired_projects(db, in_three_days) == ["alice/pr-7"]
    assert db.info[RESULTS_UNWANTED] == {"alice/pr-7"}
    remaining = db.scalars(select(Project.name).order_by(Project.name)).all()
    assert remaining == ["kept", "later", "precious"]


def test_days_are_counted_to_the_midnight_after_them(db: Session, alice: User) -> None:
    project = create(db, alice, "demo", delete_after_days=5)
    deadline = project.delete_after
    assert deadline is not None and (deadline.hour, deadline.minute) == (0, 0)
    assert dt.timedelta(days=5) < deadline - utcnow() <= dt.timedelta(days=6)
    projects.edit_project(db, alice, project, projects.ProjectFields(delete_after_days=-1))
    assert (project.delete_after, project.delete_after_days) == (None, None)


def test_a_package_keeps_its_newest_max_builds_finished_builds(db: Session, alice: User) -> None:
    project = create(db, alice, "demo")
    settings = SourceSettings.with_distgit("https://src.example.org")
    tool = packages.add_package(
        db,
        alice,
        project,
        "tool",
        "pypi",
        {"pypi_package_name": "tool"},
        PackageFields(max_builds=2),
        settings,
    )
    done = []
    for release in range(4):
        nevra = {"name": "tool", "epoch": None, "version": "1", "release": str(release)}
        build = builds.submit_prebuilt(
            db, alice, project, {**nevra, "arch": "noarch"}, "tool.rpm", BuildOptions()
        )
        packages.link_build(db, build)
        done.append(build.id)
    running = packages.build_package(db, alice, tool, BuildOptions(), results_url=RESULTS)
    other = builds.submit_prebuilt(
        db,
        alice,
        project,
        {"name": "other", "epoch": None, "version": "1", "release": "1", "arch": "noarch"},
        "other.rpm",
        BuildOptions(),
    )
    packages.link_build(db, other)

    # The newest two are the pending one and done[3]: done[0..2] go, oldest first.
    assert cleanup.delete_old_builds(db) == done[:3]
    left = db.scalars(select(Build.id).order_by(Build.id)).all()
    assert left == [done[3], running.id, other.id]
    assert running.state == BuildState.pending
    assert len(db.info[RESULTS_UNWANTED]) == 3 * 2  # each build's source and chroot dirs
    assert cleanup.delete_old_builds(db) == []


def test_max_builds_spares_persistent_projects(db: Session, alice: User) -> None:
    admin = users.create_user(db, "root", is_admin=True)
    project = create(db, admin, "keep", persistent=True)
    settings = SourceSettings.with_distgit("https://src.example.org")
    packages.add_package(
        db,
        admin,
        project,
        "tool",
        "pypi",
        {"pypi_package_name": "tool"},
        PackageFields(max_builds=1),
        settings,
    )
    for release in range(3):
        nevra = {"name": "tool", "epoch": None, "version": "1", "release": str(release)}
        build = builds.submit_prebuilt(
            db, admin, project, {**nevra, "arch": "noarch"}, "tool.rpm", BuildOptions()
        )
        packages.link_build(db, build)

    assert cleanup.delete_old_builds(db) == []
    assert len(db.scalars(select(Build.id)).all()) == 3
