"""Fork rules: what a fork copies, which builds it takes, and whom it refuses."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from coprd.core import builds, forks, groups, packages, project_chroots, projects, users
from coprd.core.builds import BuildOptions, Source
from coprd.core.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from coprd.core.packages import PackageFields
from coprd.core.pagination import Page
from coprd.core.project_chroots import ChrootFields
from coprd.core.results import FORKS_WANTED, REPOS_WANTED
from coprd.core.sources import SourceSettings
from coprd.db.models import Build, BuildState, Package, Project, User

X86 = "fedora-rawhide-x86_64"
ARM = "fedora-rawhide-aarch64"
EPEL = "epel-9-x86_64"


@pytest.fixture
def alice(db: Session) -> User:
    return users.create_user(db, "alice")


@pytest.fixture
def bob(db: Session) -> User:
    return users.create_user(db, "bob")


@pytest.fixture
def project(db: Session, alice: User) -> Project:
    new = projects.NewProject(
        name="demo",
        chroots=[X86, ARM, EPEL],
        description="the demo",
        enable_net=True,
        additional_repos=["https://repo.example.org/$releasever/"],
        persistent=False,
    )
    project = projects.create_project(db, alice, "alice", new)
    project_chroots.edit_project_chroot(
        db,
        alice,
        project,
        X86,
        ChrootFields.model_validate({"additional_packages": ["make"], "with_opts": ["tests"]}),
    )
    return project


def nevra(arch: str, version: str) -> dict[str, object]:
    return {"name": "tool", "epoch": None, "version": version, "release": "1", "arch": arch}


def prebuilt(db: Session, who: User, project: Project, arch: str, version: str) -> Build:
    rpm = f"tool-{version}-1.{arch}.rpm"
    return builds.submit_prebuilt(db, who, project, nevra(arch, version), rpm, BuildOptions())


def fork_of(db: Session, fork: Project) -> dict[str, tuple[int | None, str | None]]:
    """chroot → (the build it was forked from, its version), of the fork's builds."""
    found = db.scalars(
        select(Build).where(Build.project_id == fork.id).options(selectinload(Build.tasks))
    ).all()
    return {
        task.chroot_name: (build.forked_from_id, build.pkg_version)
        for build in found
        for task in builds.chroot_tasks(build)
    }


def test_a_fork_copies_settings_chroots_and_packages_but_not_secrets(
    db: Session, alice: User, bob: User, project: Project
) -> None:
    settings = SourceSettings.with_distgit("https://src.example.org")
    packages.add_package(
        db,
        alice,
        project,
        "hello",
        "pypi",
        {"pypi_package_name": "hello"},
        PackageFields(),
        settings,
    )
    db.info.pop(REPOS_WANTED, None)
    fork, created = forks.fork_project(db, bob, project, "bob", "mine")
    assert created
    assert (fork.owner_name, fork.name, fork.forked_from_id) == ("bob", "mine", project.id)
    assert (fork.description, fork.enable_net) == ("the demo", True)
    assert fork.additional_repos == ["https://repo.example.org/$releasever/"]
    assert fork.webhook_secret and fork.webhook_secret != project.webhook_secret
    chroot = project_chroots.get_project_chroot(projects.get_project(db, "bob", "mine"), X86)
    assert (chroot.buildroot_pkgs, chroot.with_opts) == (["make"], ["tests"])
    assert sorted(db.info[REPOS_WANTED]) == [f"bob/mine/{c}" for c in sorted([ARM, EPEL, X86])]
    copied = packages.get_package(db, fork, "hello")
    assert (copied.source_type, copied.source_json["pypi_package_name"]) == ("pypi", "hello")
    assert projects.search_projects(db, "bob/mine", Page()) != []


def test_a_fork_takes_the_newest_successful_build_of_each_package_in_each_chroot(
    db: Session, alice: User, bob: User, project: Project
) -> None:
    settings = SourceSettings.with_distgit("https://src.example.org")
    pypi = {"pypi_package_name": "tool"}
    packages.add_package(db, alice, project, "tool", "pypi", pypi, PackageFields(), settings)
    old = prebuilt(db, alice, project, "noarch", "1.0")  # every chroot
    new = prebuilt(db, alice, project, "x86_64", "2.0")  # x86_64 chroots; aarch64 skipped
    builds.submit_build(  # still pending: nothing to copy
        db, alice, project, Source(type="link", data={"url": "https://x/y.src.rpm"}), BuildOptions()
    )
    fork, _ = forks.fork_project(db, bob, project, "bob", "mine")
    assert fork_of(db, fork) == {
        X86: (new.id, "2.0-1"),
        EPEL: (new.id, "2.0-1"),
        ARM: (old.id, "1.0-1"),
    }
    forked = db.scalars(select(Build).where(Build.project_id == fork.id)).all()
    assert {b.state for b in forked} == {BuildState.forked}
    assert sorted(db.info[FORKS_WANTED]) == sorted(b.id for b in forked)
    tool = db.scalar(select(Package).where(Package.project_id == fork.id, Package.name == "tool"))
    assert tool is not None and {b.package_id for b in forked} == {tool.id}


def test_forking_into_an_existing_project_needs_confirm_and_the_right_to_edit_it(
    db: Session, alice: User, bob: User, project: Project
) -> None:
    prebuilt(db, alice, project, "noarch", "1.0")
    mine = projects.create_project(db, bob, "bob", projects.NewProject(name="mine", chroots=[X86]))
    with pytest.raises(InvalidInput, match="--confirm"):
        forks.fork_project(db, bob, project, "bob", "mine")
    fork, created = forks.fork_project(db, bob, project, "bob", "mine", confirm=True)
    assert (fork.id, created) == (mine.id, False)
    assert list(fork_of(db, fork)) == [X86]  # only the chroots the project has
    with pytest.raises(Forbidden):
        forks.fork_project(db, alice, project, "bob", "mine", confirm=True)


def test_forks_are_refused_to_strangers_and_bad_names(
    db: Session, alice: User, bob: User, project: Project
) -> None:
    groups.create_group(db, "team")
    with pytest.raises(NotAuthenticated):
        forks.fork_project(db, None, project, "bob", "mine")
    with pytest.raises(InvalidInput, match="own fork"):
        forks.fork_project(db, alice, project, "alice", "demo", confirm=True)
    with pytest.raises(Forbidden):
        forks.fork_project(db, bob, project, "alice", "theirs")
    with pytest.raises(Forbidden, match="member"):
        forks.fork_project(db, bob, project, "@team", "ours")
    with pytest.raises(NotFound):
        forks.fork_project(db, bob, project, "@nobody", "ours")
    for bad in ("../x", "a/b", "", "x" * 101):
        with pytest.raises(InvalidInput):
            forks.fork_project(db, bob, project, "bob", bad)
    assert db.scalars(select(Project.name)).all() == ["demo"]
