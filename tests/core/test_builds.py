"""Build rules: the state rule, chroot selection, batches, cancel and delete."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from coprd.core import builds, limits, projects, users
from coprd.core.builds import BuildOptions, Source, derive_state
from coprd.core.errors import Forbidden, InvalidInput, NotAuthenticated
from coprd.db.models import Build, BuildState, Project, User

S = BuildState
X86 = "fedora-rawhide-x86_64"
ARM = "fedora-rawhide-aarch64"
SRPM = Source(type="upload", data={"pkg": "hello-1.0-1.src.rpm"})


@pytest.fixture
def alice(db: Session) -> User:
    return users.create_user(db, "alice")


@pytest.fixture
def project(db: Session, alice: User) -> Project:
    new = projects.NewProject(name="demo", chroots=[X86, ARM, "epel-9-x86_64"])
    return projects.create_project(db, alice, "alice", new)


def submit(db: Session, who: User, project: Project, **options: object) -> Build:
    return builds.submit_build(db, who, project, SRPM, BuildOptions.model_validate(options))


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([S.pending, S.pending], S.pending),
        ([S.running, S.pending], S.running),
        ([S.succeeded, S.pending, S.pending], S.pending),
        ([S.succeeded, S.running, S.failed], S.running),
        ([S.succeeded, S.succeeded, S.failed], S.failed),
        ([S.succeeded, S.succeeded, S.skipped], S.succeeded),
        ([S.succeeded, S.canceled, S.succeeded], S.canceled),
        ([S.failed, S.failed, S.failed], S.failed),
        ([S.waiting, S.waiting], S.waiting),
    ],
)
def test_state_rule(states: list[BuildState], expected: BuildState) -> None:
    assert derive_state(states) == expected


def test_submit_makes_a_source_task_and_one_per_chroot(
    db: Session, alice: User, project: Project
) -> None:
    build = submit(db, alice, project)
    assert build.state == S.pending
    assert [t.chroot_name for t in build.tasks] == ["srpm-builds", "epel-9-x86_64", ARM, X86]
    assert builds.source_task(build).arch is None
    assert {t.arch for t in builds.chroot_tasks(build)} == {"x86_64", "aarch64"}
    assert build.timeout == limits.DEFAULT_TIMEOUT


@pytest.mark.parametrize(("given", "kept"), [(1, 1), (59, 59), (0, limits.DEFAULT_TIMEOUT)])
def test_any_timeout_copr_accepts_is_kept(
    db: Session, alice: User, project: Project, given: int, kept: int
) -> None:
    """Copr takes 0 to 108000 seconds (30 h); 0 is its default."""
    assert submit(db, alice, project, timeout=given).timeout == kept
    with pytest.raises(ValidationError):
        BuildOptions(timeout=30 * 3600 + 1)
    with pytest.raises(ValidationError):
        BuildOptions(timeout=-1)


def test_chroot_globs_and_excludes(db: Session, alice: User, project: Project) -> None:
    build = submit(db, alice, project, chroots=["fedora-*"], exclude_chroots=["*-aarch64"])
    assert [t.chroot_name for t in builds.chroot_tasks(build)] == [X86]
    with pytest.raises(InvalidInput, match="fedora-41-\\*"):
        submit(db, alice, project, chroots=["fedora-41-*"])


def test_only_builders_may_submit(db: Session, project: Project) -> None:
    bob = users.create_user(db, "bob")
    with pytest.raises(Forbidden):
        submit(db, bob, project)
    with pytest.raises(NotAuthenticated):
        submit(db, None, project)  # type: ignore[arg-type]


def test_background_builds_go_last(db: Session, alice: User, project: Project) -> None:
    build = submit(db, alice, project, background=True)
    assert {t.priority for t in build.tasks} == {builds.BACKGROUND_PRIORITY}


def test_batches_wait_for_their_predecessor(db: Session, alice: User, project: Project) -> None:
    first = submit(db, alice, project)
    second = submit(db, alice, project, after_build_id=first.id)
    third = submit(db, alice, project, with_build_id=second.id)
    assert second.state == S.waiting and second.after_build_id == first.id
    assert third.after_build_id == first.id
    builds.cancel_build(db, alice, first)
    assert first.state == S.canceled
    second = builds.get_build(db, second.id)
    assert {t.state for t in second.tasks} == {S.pending}
    assert second.state == S.pending
    with pytest.raises(InvalidInput):
        submit(db, alice, project, after_build_id=first.id, with_build_id=first.id)
    # A refusal names the field given.
    with pytest.raises(InvalidInput, match=r"^with_build_id: build 999 is not a build of"):
        submit(db, alice, project, with_build_id=999)
    with pytest.raises(InvalidInput, match=r"^after_build_id: build 999 is not a build of"):
        submit(db, alice, project, after_build_id=999)


def test_cancel_and_delete(db: Session, alice: User, project: Project) -> None:
    build = submit(db, alice, project)
    with pytest.raises(InvalidInput, match="cancel it before"):
        builds.delete_builds(db, alice, [build.id])
    builds.cancel_build(db, alice, build)
    assert build.state == S.canceled
    assert all(t.state == S.canceled for t in build.tasks)
    with pytest.raises(builds.BuildEnded, match=r"Cannot cancel build .* already ended"):
        builds.cancel_build(db, alice, build)
    assert builds.delete_builds(db, alice, [build.id]) == [build.id]


def test_list_filters_on_the_stored_state(db: Session, alice: User, project: Project) -> None:
    from coprd.core.pagination import Page

    kept = submit(db, alice, project)
    gone = submit(db, alice, project)
    builds.cancel_build(db, alice, gone)
    assert [b.id for b in builds.list_builds(db, project, Page(), status="pending")] == [kept.id]
    assert [b.id for b in builds.list_builds(db, project, Page(), status="canceled")] == [gone.id]
    with pytest.raises(InvalidInput):
        builds.list_builds(db, project, Page(), status="exploded")


@pytest.mark.parametrize(
    "dirname", ["../x", "demo/../../x", "other", "demo:", "demo:a/b", "demo:.."]
)
def test_project_dirname_cannot_leave_the_project(
    db: Session, alice: User, project: Project, dirname: str
) -> None:
    with pytest.raises(InvalidInput, match="project_dirname"):
        submit(db, alice, project, project_dirname=dirname)


def test_project_dirname_suffixes(db: Session, alice: User, project: Project) -> None:
    assert submit(db, alice, project, project_dirname="demo:custom:pr1").project_dirname == (
        "demo:custom:pr1"
    )
    assert submit(db, alice, project, project_dirname="demo").project_dirname == "demo"


def nevra(arch: str) -> dict[str, object]:
    return {"name": "tool", "epoch": None, "version": "1.0", "release": "1", "arch": arch}


def test_prebuilt_rpms_go_to_chroots_of_their_arch(
    db: Session, alice: User, project: Project
) -> None:
    build = builds.submit_prebuilt(
        db, alice, project, nevra("x86_64"), "tool-1.0-1.x86_64.rpm", BuildOptions()
    )
    states = {t.chroot_name: t.state for t in builds.chroot_tasks(build)}
    assert states == {"epel-9-x86_64": S.succeeded, ARM: S.skipped, X86: S.succeeded}
    assert (build.state, build.pkg_name, build.pkg_version) == (S.succeeded, "tool", "1.0-1")
    noarch = builds.submit_prebuilt(
        db, alice, project, nevra("noarch"), "tool-1.0-1.noarch.rpm", BuildOptions()
    )
    assert {t.state for t in builds.chroot_tasks(noarch)} == {S.succeeded}
    with pytest.raises(InvalidInput, match="s390x"):
        builds.submit_prebuilt(db, alice, project, nevra("s390x"), "x.rpm", BuildOptions())


def test_allowed_actions_follow_the_rules_the_actions_enforce(
    db: Session, alice: User, project: Project
) -> None:
    bob = users.create_user(db, "bob")
    build = submit(db, alice, project)
    assert builds.allowed_actions(db, alice, build) == {
        "cancel": True,  # not ended yet
        "resubmit": False,  # an upload whose SRPM was never built
        "delete": False,  # cancel it first
    }
    assert builds.allowed_actions(db, bob, build) == dict.fromkeys(
        ("cancel", "resubmit", "delete"), False
    )
    assert builds.allowed_actions(db, None, build) == dict.fromkeys(
        ("cancel", "resubmit", "delete"), False
    )
    builds.cancel_build(db, alice, build)
    assert builds.allowed_actions(db, alice, build) == {
        "cancel": False,
        "resubmit": False,
        "delete": True,
    }
    build.srpm_name = "hello-1.0-1.src.rpm"  # as if its source task had made the SRPM
    assert builds.allowed_actions(db, alice, build)["resubmit"] is True
    build.source_type = "rpm_upload"
    assert builds.resubmit_refusal(build) is not None
    assert builds.allowed_actions(db, alice, build)["resubmit"] is False


def test_url_sources_bound_one_submission() -> None:
    url = "https://example.com/hello-1.0-1.src.rpm"
    assert [s.data["url"] for s in builds.url_sources([url, url])] == [url, url]
    for urls, message in (([], "at least one"), ([url] * 101, "at most 100")):
        with pytest.raises(InvalidInput, match=message):
            builds.url_sources(urls)


def test_builds_of_persistent_projects_are_never_deleted(db: Session, alice: User) -> None:
    root = users.create_user(db, "root", is_admin=True)
    new = projects.NewProject(name="keep", chroots=[X86], persistent=True)
    keep = projects.create_project(db, root, "alice", new)
    build = submit(db, alice, keep)
    for task in build.tasks:
        task.state = S.succeeded
    builds.refresh_build(db, build)
    assert not builds.allowed_actions(db, alice, build)["delete"]
    for who in (alice, root):
        message = f"^User '{who.name}' can not delete a persistent build {build.id}$"
        with pytest.raises(Forbidden, match=message):
            builds.delete_builds(db, who, [build.id])
    assert builds.get_build(db, build.id).state == S.succeeded


@pytest.mark.parametrize(
    ("allowed", "forge", "accepted"),
    [
        ([], None, True),  # not a Packit build: not asked
        ([], "github.com/a/b", False),  # as on Copr, an empty list lets no forge project in
        (["github.com/a/b"], "github.com/a/b", True),
        (["https://github.com/a/b"], "github.com/a/b", True),  # stored without the scheme
        (["github.com/a/*"], "github.com/a/c", True),
        (["github.com/a/*"], "github.com/x/c", False),
        (["github.com/a/b"], "github.com/a/b.git", False),  # matched as sent, as on Copr
        (["github.com/A/b"], "github.com/a/b", False),
    ],
)
def test_packit_builds_come_from_allowed_forge_projects(
    db: Session,
    alice: User,
    project: Project,
    allowed: list[str],
    forge: str | None,
    accepted: bool,
) -> None:
    projects.edit_project(
        db, alice, project, projects.ProjectFields(packit_forge_projects_allowed=allowed)
    )
    if accepted:
        submit(db, alice, project, packit_forge_project=forge)
    else:
        message = f"^Forge project {forge} can't build in this Copr via Packit.$"
        with pytest.raises(Forbidden, match=message):
            submit(db, alice, project, packit_forge_project=forge)
