"""Branching a Fedora release from rawhide: which chroots are made, which projects get
them, which builds are forked into them, and that a second run adds nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from coprd.core import builds, chroots, project_chroots, projects, users
from coprd.core.branching import Copy, branch_release, release_of
from coprd.core.builds import BuildOptions
from coprd.core.errors import InvalidInput, NotFound
from coprd.core.project_chroots import ChrootFields
from coprd.core.results import REPOS_WANTED
from coprd.db.models import Build, BuildState, MockChroot, Project, User

X86 = "fedora-rawhide-x86_64"
ARM = "fedora-rawhide-aarch64"
NEW_X86 = "fedora-46-x86_64"
NEW_ARM = "fedora-46-aarch64"


@pytest.fixture
def alice(db: Session) -> User:
    return users.create_user(db, "alice")


def make_project(
    db: Session, alice: User, name: str, *chroots: str, follow: bool = True
) -> Project:
    new = projects.NewProject(name=name, chroots=list(chroots), follow_fedora_branching=follow)
    return projects.create_project(db, alice, "alice", new)


def prebuilt(
    db: Session, alice: User, project: Project, name: str, version: str, arch: str = "x86_64"
) -> Build:
    nevra = {"name": name, "epoch": None, "version": version, "release": "1", "arch": arch}
    rpm = f"{name}-{version}-1.{arch}.rpm"
    return builds.submit_prebuilt(db, alice, project, nevra, rpm, BuildOptions())


def tasks_of(db: Session, project: Project) -> dict[tuple[int, str], BuildState]:
    found = db.scalars(
        select(Build).where(Build.project_id == project.id).options(selectinload(Build.tasks))
    ).all()
    return {(b.id, t.chroot_name): t.state for b in found for t in builds.chroot_tasks(b)}


def test_a_following_project_gets_the_new_chroots_and_its_newest_rawhide_builds(
    db: Session, alice: User
) -> None:
    follows = make_project(db, alice, "follows", X86, ARM, "epel-9-x86_64")
    project_chroots.edit_project_chroot(
        db,
        alice,
        follows,
        X86,
        ChrootFields.model_validate({"additional_packages": ["make"], "with_opts": ["tests"]}),
    )
    old = prebuilt(db, alice, follows, "tool", "1.0", "noarch")  # every chroot
    new = prebuilt(db, alice, follows, "tool", "2.0")  # x86_64 only
    other = prebuilt(db, alice, follows, "other", "1.0")
    broken = prebuilt(db, alice, follows, "other", "2.0")
    for task in builds.chroot_tasks(broken):  # the newest of "other" failed in rawhide
        task.state = BuildState.failed
    ignores = make_project(db, alice, "ignores", X86, follow=False)
    ignored = prebuilt(db, alice, ignores, "tool", "1.0")
    elsewhere = make_project(db, alice, "elsewhere", "epel-9-x86_64")
    db.info.pop(REPOS_WANTED, None)

    done = branch_release(db, "fedora-rawhide", "fedora-46")

    assert done.chroots_added == [NEW_ARM, NEW_X86]
    made = chroots.get_mock_chroot(db, NEW_X86)
    assert (made.is_active, made.os_release, made.os_version, made.arch) == (
        True,
        "fedora",
        "46",
        "x86_64",
    )
    assert sorted(done.projects_enabled) == [f"alice/follows {NEW_ARM}", f"alice/follows {NEW_X86}"]
    assert dict(done.builds_forked) == {
        f"alice/follows {NEW_ARM}": [old.id],
        f"alice/follows {NEW_X86}": [new.id, other.id],
    }
    enabled = projects.get_project(db, "alice", "follows")
    assert sorted(projects.chroot_names(enabled)) == sorted(
        [X86, ARM, NEW_X86, NEW_ARM, "epel-9-x86_64"]
    )
    copied = project_chroots.get_project_chroot(enabled, NEW_X86)
    assert (copied.buildroot_pkgs, copied.with_opts) == (["make"], ["tests"])
    states = tasks_of(db, follows)
    assert states[(new.id, NEW_X86)] == states[(other.id, NEW_X86)] == BuildState.forked
    assert states[(old.id, NEW_ARM)] == BuildState.forked
    assert (old.id, NEW_X86) not in states and (broken.id, NEW_X86) not in states
    assert {b.state for b in (old, new, other)} == {BuildState.succeeded}  # unchanged
    forked = next(t for t in new.tasks if t.chroot_name == NEW_X86)
    rawhide = next(t for t in new.tasks if t.chroot_name == X86)
    assert (forked.built_packages, forked.ended_on) == (rawhide.built_packages, rawhide.ended_on)
    assert sorted(done.copies) == sorted(
        [
            Copy(
                new.id,
                f"alice/follows/{X86}/{new.id:08d}-tool",
                f"alice/follows/{NEW_X86}/{new.id:08d}-tool",
                f"alice/follows/{NEW_X86}",
            ),
            Copy(
                other.id,
                f"alice/follows/{X86}/{other.id:08d}-other",
                f"alice/follows/{NEW_X86}/{other.id:08d}-other",
                f"alice/follows/{NEW_X86}",
            ),
            Copy(
                old.id,
                f"alice/follows/{ARM}/{old.id:08d}-tool",
                f"alice/follows/{NEW_ARM}/{old.id:08d}-tool",
                f"alice/follows/{NEW_ARM}",
            ),
        ]
    )
    # Repositories with copies are made by their one update after the copy.
    assert REPOS_WANTED not in db.info or not db.info[REPOS_WANTED]
    # Projects that do not follow branching, or have no rawhide, are left alone.
    for untouched in (ignores, elsewhere):
        assert not any(c.startswith("fedora-46") for c in projects.chroot_names(untouched))
    assert list(tasks_of(db, ignores)) == [(ignored.id, X86)]


def test_a_branched_copy_answers_the_configuration_its_build_ran_with(
    db: Session, alice: User
) -> None:
    """As a fork's copies do: the new chroot's copy of a rawhide build was built with
    rawhide's settings of its time, not with those the new chroot got at branching."""
    follows = make_project(db, alice, "follows", X86)
    make = ChrootFields.model_validate({"additional_packages": ["make"]})
    project_chroots.edit_project_chroot(db, alice, follows, X86, make)
    build = prebuilt(db, alice, follows, "tool", "1.0")
    ninja = ChrootFields.model_validate({"additional_packages": ["ninja"]})
    project_chroots.edit_project_chroot(db, alice, follows, X86, ninja)

    branch_release(db, "fedora-rawhide", "fedora-46")

    tasks = {task.chroot_name: task for task in build.tasks}
    config = builds.task_config(db, build, tasks[NEW_X86], "http://results")
    assert (config.chroot, config.additional_packages) == (NEW_X86, ["make"])
    assert config.repos[0].baseurl == f"http://results/alice/follows/{NEW_X86}/"
    enabled = project_chroots.get_project_chroot(
        projects.get_project(db, "alice", "follows"), NEW_X86
    )
    assert enabled.buildroot_pkgs == ["ninja"]


def test_a_second_run_adds_nothing_but_still_names_the_copies(db: Session, alice: User) -> None:
    follows = make_project(db, alice, "follows", X86)
    build = prebuilt(db, alice, follows, "tool", "1.0")
    make_project(db, alice, "empty", X86)
    db.info.pop(REPOS_WANTED, None)
    first = branch_release(db, "fedora-rawhide", "fedora-46")
    assert f"alice/empty {NEW_X86}" in first.projects_enabled
    assert set(db.info[REPOS_WANTED]) == {f"alice/empty/{NEW_X86}"}  # nothing to copy: empty repo
    db.info.pop(REPOS_WANTED)

    again = branch_release(db, "fedora-rawhide", "46")
    assert (again.chroots_added, again.chroots_activated, again.projects_enabled) == ([], [], [])
    assert dict(again.builds_forked) == {}
    # The publisher skips copies in place; one a stopped run left is finished.
    assert [c.build_id for c in again.copies] == [build.id]
    assert len(tasks_of(db, follows)) == 2
    assert len(projects.get_project(db, "alice", "empty").chroots) == 2


def test_a_devel_mode_project_gets_its_devel_repositories_before_the_copies(
    db: Session, alice: User
) -> None:
    """Its copies go into the new chroot's devel/ repository, as its builds would, so the
    repository is made in devel mode first (copies or not); a project not in devel mode
    with copies needs no separate repository run."""
    devel = projects.create_project(
        db,
        alice,
        "alice",
        projects.NewProject(
            name="devel", chroots=[X86], follow_fedora_branching=True, devel_mode=True
        ),
    )
    prebuilt(db, alice, devel, "tool", "1.0")
    plain = make_project(db, alice, "plain", X86)
    prebuilt(db, alice, plain, "tool", "1.0")
    db.info.pop(REPOS_WANTED, None)

    done = branch_release(db, "fedora-rawhide", "fedora-46")

    assert {c.repo for c in done.copies} == {f"alice/devel/{NEW_X86}", f"alice/plain/{NEW_X86}"}
    assert db.info[REPOS_WANTED] == {f"alice/devel/{NEW_X86}": True}


def test_each_project_directory_keeps_its_own_newest_build(db: Session, alice: User) -> None:
    """As on Copr, a CoprDir's (``follows:pr:4``) builds are branched into its own repo."""
    follows = make_project(db, alice, "follows", X86)
    main = prebuilt(db, alice, follows, "tool", "1.0")
    nevra = {"name": "tool", "epoch": None, "version": "2.0", "release": "1", "arch": "x86_64"}
    options = BuildOptions(project_dirname="follows:pr:4")
    pull = builds.submit_prebuilt(db, alice, follows, nevra, "tool-2.0-1.x86_64.rpm", options)
    done = branch_release(db, "fedora-rawhide", "fedora-46")
    assert sorted((c.build_id, c.repo) for c in done.copies) == [
        (main.id, f"alice/follows/{NEW_X86}"),
        (pull.id, f"alice/follows:pr:4/{NEW_X86}"),
    ]


def test_a_build_made_in_the_new_chroot_itself_is_left_alone(db: Session, alice: User) -> None:
    follows = make_project(db, alice, "follows", X86)
    chroots.add_mock_chroot(db, NEW_X86)
    projects.set_project_chroots(db, follows, chroots.resolve_active_chroots(db, [X86, NEW_X86]))
    both = prebuilt(db, alice, follows, "tool", "1.0")
    done = branch_release(db, "fedora-rawhide", "fedora-46")
    assert (done.projects_enabled, dict(done.builds_forked), done.copies) == ([], {}, [])
    assert tasks_of(db, follows)[(both.id, NEW_X86)] == BuildState.succeeded


def test_an_inactive_release_chroot_is_activated(db: Session, alice: User) -> None:
    chroots.add_mock_chroot(db, NEW_X86)
    chroots.mark_mock_chroot_eol(db, NEW_X86)
    rawhide = chroots.get_mock_chroot(db, X86)
    rawhide.comment = "built with the newest rpm"
    done = branch_release(db, "fedora-rawhide", "fedora-46")
    assert (done.chroots_added, done.chroots_activated) == ([NEW_ARM], [NEW_X86])
    again = chroots.get_mock_chroot(db, NEW_X86)
    assert (again.is_active, again.eol_on, again.comment) == (
        True,
        None,
        "built with the newest rpm",
    )


@pytest.mark.parametrize(
    ("source", "target", "error"),
    [
        ("fedora-rawhide", "fedora-rawhide", InvalidInput),
        ("fedora-rawhide", "fedora-46-x86_64", InvalidInput),
        ("fedora-rawhide", "../46", InvalidInput),
        ("fedora-rawhide", "", InvalidInput),
        ("fedora-99", "fedora-100", NotFound),
    ],
)
def test_bad_releases_are_refused_and_change_nothing(
    db: Session, source: str, target: str, error: type[Exception]
) -> None:
    before = db.scalars(select(MockChroot.name).order_by(MockChroot.name)).all()
    with pytest.raises(error):
        branch_release(db, source, target)
    assert db.scalars(select(MockChroot.name).order_by(MockChroot.name)).all() == before


def test_release_names() -> None:
    assert release_of("46") == "fedora-46"
    assert release_of("fedora-46") == "fedora-46"
    assert release_of("centos-stream-10") == "centos-stream-10"
