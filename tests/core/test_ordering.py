"""Dependency-aware ordering: builds wait for the builds that provide their BuildRequires."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coprd.core import builders, builds, ordering, packages, projects, scheduling, users
from coprd.core.builds import BuildOptions, Source
from coprd.core.errors import Conflict, InvalidInput, NotAuthenticated
from coprd.core.scheduling import SourceResult, TaskOutcome
from coprd.core.sources import SourceSettings
from coprd.db.models import Build, Builder, BuildState, BuildTask, Project, TaskWait, User

S = BuildState
X86 = "fedora-rawhide-x86_64"
ARM = "fedora-rawhide-aarch64"
RESULTS = "http://results.example"
SETTINGS = SourceSettings.with_distgit("https://src.example.org")

LIBFOO = SourceResult(
    name="libfoo",
    version="1.0-1",
    srpm_name="libfoo-1.0-1.src.rpm",
    build_requires=["gcc"],
    provides=["libfoo", "libfoo-devel", "libfoo(x86-64)"],
)
BAR = SourceResult(
    name="bar",
    version="1.0-1",
    srpm_name="bar-1.0-1.src.rpm",
    build_requires=["libfoo-devel", "make"],
    provides=["bar"],
)
APP = SourceResult(
    name="app",
    version="1.0-1",
    srpm_name="app-1.0-1.src.rpm",
    build_requires=["bar"],
    provides=["app"],
)


@pytest.fixture
def alice(db: Session) -> User:
    return users.create_user(db, "alice")


@pytest.fixture
def project(db: Session, alice: User) -> Project:
    return projects.create_project(
        db, alice, "alice", projects.NewProject(name="demo", chroots=[X86])
    )


@pytest.fixture
def agent(db: Session) -> Builder:
    return builders.create_builder(db, "agent1")[0]


def submit(db: Session, user: User, project: Project, **options: object) -> Build:
    source = Source(type="upload", data={})
    return builds.submit_build(db, user, project, source, BuildOptions.model_validate(options))


def run_source(db: Session, agent: Builder, build: Build, result: SourceResult) -> None:
    """The source step of ``build`` runs (as if ``agent`` claimed it) and succeeds."""
    task = builds.source_task(build)
    assert task.state == S.pending
    task.state, task.builder_id = S.running, agent.id
    scheduling.finish_task(db, agent, task.id, TaskOutcome(state="succeeded", source=result))


def chroot(build: Build, name: str = X86) -> BuildTask:
    return next(t for t in build.tasks if t.chroot_name == name)


def claim_and_end(db: Session, agent: Builder, state: str = "succeeded") -> Build:
    task = scheduling.claim_task(db, agent, ["x86_64"])
    assert task is not None and not task.is_source
    return scheduling.finish_task(db, agent, task.id, TaskOutcome(state=state))  # type: ignore[arg-type]


def test_a_chain_submitted_backwards_builds_in_dependency_order(
    db: Session, alice: User, project: Project, agent: Builder
) -> None:
    app, bar, libfoo = (submit(db, alice, project) for _ in range(3))
    assert app.submission_id == bar.submission_id == libfoo.submission_id == app.id

    run_source(db, agent, app, APP)
    # What bar and libfoo provide is not known yet: app holds until it is.
    assert chroot(app).state == S.waiting and app.state == S.waiting
    assert f"the source step of build {bar.id}" in (chroot(app).wait_reason or "")
    run_source(db, agent, bar, BAR)
    run_source(db, agent, libfoo, LIBFOO)

    assert chroot(libfoo).state == S.pending and chroot(libfoo).wait_reason is None
    assert chroot(bar).state == S.waiting
    assert chroot(bar).wait_reason == (
        f"waits for build {libfoo.id} (libfoo) which provides libfoo-devel"
    )
    assert chroot(app).wait_reason == f"waits for build {bar.id} (bar) which provides bar"
    assert app.state == bar.state == S.waiting

    order = [claim_and_end(db, agent).pkg_name for _ in range(3)]
    assert order == ["libfoo", "bar", "app"]
    assert scheduling.claim_task(db, agent, ["x86_64"]) is None
    assert chroot(app).wait_reason is None
    assert db.scalars(select(TaskWait)).all() == []


def test_independent_builds_submitted_together_run_side_by_side(
    db: Session, alice: User, project: Project, agent: Builder
) -> None:
    libfoo, app = submit(db, alice, project), submit(db, alice, project)
    run_source(db, agent, libfoo, LIBFOO)
    run_source(db, agent, app, APP)  # app needs bar, which nobody here provides
    assert chroot(libfoo).state == chroot(app).state == S.pending


def test_a_cycle_is_broken_in_submission_order(
    db: Session, alice: User, project: Project, agent: Builder
) -> None:
    first, second = submit(db, alice, project), submit(db, alice, project)
    one = SourceResult("one", "1-1", "one-1-1.src.rpm", build_requires=["two"], provides=["one"])
    two = SourceResult("two", "1-1", "two-1-1.src.rpm", build_requires=["one"], provides=["two"])
    run_source(db, agent, first, one)
    run_source(db, agent, second, two)

    assert chroot(first).state == S.pending
    assert chroot(second).wait_reason == f"waits for build {first.id} (one) which provides one"
    assert "cycle is broken in submission order, so this build goes first" in (
        chroot(first).order_note or ""
    )
    assert f"so build {first.id} goes first" in (chroot(second).order_note or "")
    assert [claim_and_end(db, agent).pkg_name for _ in range(2)] == ["one", "two"]
    assert chroot(second).order_note  # the note stays once the wait is over


def test_a_failed_or_canceled_provider_releases_its_dependents(
    db: Session, alice: User, project: Project, agent: Builder
) -> None:
    libfoo, bar, app = (submit(db, alice, project) for _ in range(3))
    for build, result in ((libfoo, LIBFOO), (bar, BAR), (app, APP)):
        run_source(db, agent, build, result)
    assert claim_and_end(db, agent, "failed").pkg_name == "libfoo"
    assert chroot(bar).state == S.pending  # and fails or not on its own
    builds.cancel_build(db, alice, bar)
    assert chroot(app).state == S.pending and app.state == S.pending


def test_a_failed_source_step_releases_the_builds_held_for_it(
    db: Session, alice: User, project: Project, agent: Builder
) -> None:
    app, libfoo = submit(db, alice, project), submit(db, alice, project)
    run_source(db, agent, app, APP)
    assert chroot(app).state == S.waiting
    task = builds.source_task(libfoo)
    task.state, task.builder_id = S.running, agent.id
    scheduling.finish_task(db, agent, task.id, TaskOutcome(state="failed", message="no spec"))
    assert chroot(app).state == S.pending and chroot(app).wait_reason is None


def test_the_dependency_is_per_chroot(db: Session, alice: User, agent: Builder) -> None:
    new = projects.NewProject(name="both", chroots=[X86, ARM])
    project = projects.create_project(db, alice, "alice", new)
    bar, libfoo = submit(db, alice, project), submit(db, alice, project)
    run_source(db, agent, bar, BAR)
    run_source(db, agent, libfoo, LIBFOO)
    assert chroot(bar, X86).state == chroot(bar, ARM).state == S.waiting
    x86 = scheduling.claim_task(db, agent, ["x86_64"])
    assert x86 is not None and x86.build_id == libfoo.id
    scheduling.finish_task(db, agent, x86.id, TaskOutcome(state="succeeded"))
    # bar's x86_64 build may start; its aarch64 one waits for libfoo's aarch64 build.
    assert chroot(bar, X86).state == S.pending
    assert chroot(bar, ARM).state == S.waiting


def test_a_build_ahead_is_waited_for_a_later_one_apart_is_not(
    db: Session, alice: User, project: Project, agent: Builder
) -> None:
    bob, carol = users.create_user(db, "bob"), users.create_user(db, "carol")

    def queue(user: User) -> Build:
        return builds.queue_build(db, user, project, Source(type="upload", data={}), BuildOptions())

    libfoo = queue(alice)
    run_source(db, agent, libfoo, LIBFOO)
    # Submitted apart (by someone else), yet libfoo is queued ahead and provides libfoo-devel.
    bar = queue(bob)
    assert bar.submission_id == bar.id
    run_source(db, agent, bar, BAR)
    assert chroot(bar).state == S.waiting
    app = queue(carol)
    run_source(db, agent, app, APP)
    # A provider submitted after app, apart from it, is not waited for.
    late_bar = queue(alice)
    run_source(db, agent, late_bar, BAR)
    waits = db.scalars(select(TaskWait).where(TaskWait.task_id == chroot(app).id)).all()
    assert [w.provider_task_id for w in waits] == [chroot(bar).id]


def test_submissions_close_once_a_chroot_build_started(
    db: Session, alice: User, project: Project, agent: Builder
) -> None:
    first = submit(db, alice, project)
    second = submit(db, alice, project)
    assert second.submission_id == first.id
    run_source(db, agent, first, LIBFOO)
    run_source(db, agent, second, BAR)
    claim_and_end(db, agent)
    third = submit(db, alice, project)
    assert third.submission_id == third.id
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(
        seconds=ordering.SUBMISSION_WINDOW_S + 1
    )
    fourth = builds.queue_build(db, alice, project, Source(type="upload", data={}), BuildOptions())
    ordering.join_submission(db, fourth, alice, now=later)
    assert fourth.submission_id == fourth.id


def test_explicit_batches_win(db: Session, alice: User, project: Project, agent: Builder) -> None:
    app = submit(db, alice, project)
    libfoo = submit(db, alice, project, after_build_id=app.id)
    assert libfoo.submission_id is None and chroot(libfoo).state == S.waiting
    run_source(db, agent, app, APP)
    assert chroot(app).state == S.pending  # libfoo is batched after it: not waited for
    claim_and_end(db, agent)
    assert builds.source_task(libfoo).state == S.pending


def add_package(db: Session, user: User, project: Project, name: str) -> None:
    packages.add_package(
        db,
        user,
        project,
        name,
        "scm",
        {"clone_url": f"https://git.example/{name}.git"},
        packages.PackageFields(),
        SETTINGS,
    )


def test_rebuild_all_queues_every_package_together_in_the_background(
    db: Session, alice: User, project: Project
) -> None:
    for name in ("libfoo", "bar", "app"):
        add_package(db, alice, project, name)
    done = packages.rebuild_all(db, alice, project, results_url=RESULTS)
    assert [b.pkg_name for b in done.builds] == ["libfoo", "bar", "app"]
    assert {b.submission_id for b in done.builds} == {done.builds[0].id}
    assert all(b.is_background and builds.source_task(b).priority > 0 for b in done.builds)
    some = packages.rebuild_all(db, alice, project, ["lib*", "app"], results_url=RESULTS)
    assert [b.pkg_name for b in some.builds] == ["libfoo", "app"]


def test_rebuild_all_refuses_bad_filters_and_strangers(
    db: Session, alice: User, project: Project
) -> None:
    add_package(db, alice, project, "libfoo")
    with pytest.raises(Conflict, match="nope matches no package"):
        packages.rebuild_all(db, alice, project, ["nope"], results_url=RESULTS)
    with pytest.raises(InvalidInput, match="is not a package name or glob"):
        packages.rebuild_all(db, alice, project, ["../x"], results_url=RESULTS)
    with pytest.raises(NotAuthenticated):
        packages.rebuild_all(db, None, project, results_url=RESULTS)
    assert db.scalars(select(Build)).all() == []


def test_rebuild_dependents_queues_what_needs_the_package(
    db: Session, alice: User, project: Project, agent: Builder
) -> None:
    for name in ("libfoo", "bar", "app", "other"):
        add_package(db, alice, project, name)
    first = packages.rebuild_all(db, alice, project, results_url=RESULTS).builds
    other = SourceResult("other", "1-1", "other-1-1.src.rpm", provides=["other"])
    for build, result in zip(first, (LIBFOO, BAR, APP, other), strict=True):
        run_source(db, agent, build, result)
    for _ in range(4):
        claim_and_end(db, agent, "succeeded")
    assert scheduling.claim_task(db, agent, ["x86_64"]) is None

    libfoo = packages.get_package(db, project, "libfoo")
    packages.edit_package(
        db, alice, libfoo, None, {}, packages.PackageFields(rebuild_dependents=True), SETTINGS
    )
    build = packages.build_package(db, alice, libfoo, BuildOptions(), results_url=RESULTS)
    run_source(db, agent, build, LIBFOO)
    task = scheduling.claim_task(db, agent, ["x86_64"])
    assert task is not None
    scheduling.finish_task(db, agent, task.id, TaskOutcome(state="succeeded"), results_url=RESULTS)
    queued = db.scalars(select(Build).where(Build.dependent_of_id == build.id)).all()
    assert sorted(b.pkg_name or "" for b in queued) == ["app", "bar"]
    assert all(b.is_background and b.submission_id == queued[0].id for b in queued)
