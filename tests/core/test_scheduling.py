"""The queue: claims, fair share, leases, and what a finished task does to its build."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from coprd.core import builders, builds, projects, scheduling, users
from coprd.core.builds import BuildOptions, Source
from coprd.core.errors import Conflict, NotAuthenticated
from coprd.core.scheduling import SourceResult, TaskOutcome
from coprd.db.models import Build, Builder, BuildState, Project, User, utcnow

S = BuildState
X86 = "fedora-rawhide-x86_64"
ARM = "fedora-rawhide-aarch64"
HELLO = SourceResult(name="hello", version="1.0-1", srpm_name="hello-1.0-1.src.rpm")


def make_project(db: Session, owner: str) -> tuple[User, Project]:
    user = users.create_user(db, owner)
    new = projects.NewProject(name="demo", chroots=[X86, ARM])
    return user, projects.create_project(db, user, owner, new)


def submit(db: Session, user: User, project: Project, **options: object) -> Build:
    source = Source(type="upload", data={})
    return builds.submit_build(db, user, project, source, BuildOptions.model_validate(options))


@pytest.fixture
def agent(db: Session) -> Builder:
    return builders.create_builder(db, "agent1")[0]


def run_source(db: Session, agent: Builder, source: SourceResult = HELLO) -> Build:
    task = scheduling.claim_task(db, agent, ["x86_64"])
    assert task is not None and task.is_source
    scheduling.heartbeat(db, agent, task.id)
    return scheduling.finish_task(db, agent, task.id, TaskOutcome(state="succeeded", source=source))


def test_builder_tokens(db: Session) -> None:
    agent, token = builders.create_builder(db, "b1")
    db.commit()
    assert builders.authenticate_builder(db, token).id == agent.id
    # Authenticating only reads: on SQLite a read request that writes can fail "locked".
    assert not db.dirty
    assert agent.last_seen_on is None
    scheduling.claim_task(db, agent, ["x86_64"])
    assert agent.last_seen_on is not None
    with pytest.raises(NotAuthenticated):
        builders.authenticate_builder(db, token + "x")


def test_a_build_goes_from_source_to_chroots_to_succeeded(db: Session, agent: Builder) -> None:
    alice, project = make_project(db, "alice")
    build = submit(db, alice, project)
    # Chroot tasks are not claimable before the SRPM exists.
    source = scheduling.claim_task(db, agent, ["x86_64", "aarch64"])
    assert source is not None and source.is_source
    assert build.state == S.starting
    assert scheduling.claim_task(db, agent, ["x86_64", "aarch64"]) is None
    assert scheduling.heartbeat(db, agent, source.id) == "continue"
    assert build.state == S.running
    scheduling.finish_task(db, agent, source.id, TaskOutcome(state="succeeded", source=HELLO))
    assert (build.pkg_name, build.pkg_version, build.state) == ("hello", "1.0-1", S.pending)

    x86 = scheduling.claim_task(db, agent, ["x86_64"])
    assert x86 is not None and x86.chroot_name == X86
    assert scheduling.claim_task(db, agent, ["x86_64"]) is None  # aarch64 needs another agent
    arm = scheduling.claim_task(db, agent, ["aarch64"])
    assert arm is not None and arm.chroot_name == ARM
    for task in (x86, arm):
        scheduling.heartbeat(db, agent, task.id)
        scheduling.finish_task(db, agent, task.id, TaskOutcome(state="succeeded"))
    assert build.state == S.succeeded
    assert build.ended_on is not None


def test_exclusive_arch_skips_chroots(db: Session, agent: Builder) -> None:
    alice, project = make_project(db, "alice")
    build = submit(db, alice, project)
    only_arm = SourceResult("hello", "1.0-1", "hello-1.0-1.src.rpm", exclusive_arch=["aarch64"])
    run_source(db, agent, only_arm)
    x86 = next(t for t in build.tasks if t.chroot_name == X86)
    assert x86.state == S.skipped and "ExclusiveArch: aarch64" in x86.message
    assert not scheduling.arch_allowed("x86_64", ["noarch"], [])
    assert scheduling.arch_allowed("i386", ["i686"], [])
    assert not scheduling.arch_allowed("x86_64", [], ["x86_64"])


def test_failed_source_fails_the_chroots(db: Session, agent: Builder) -> None:
    alice, project = make_project(db, "alice")
    build = submit(db, alice, project)
    task = scheduling.claim_task(db, agent, ["x86_64"])
    assert task is not None
    scheduling.finish_task(db, agent, task.id, TaskOutcome(state="failed", message="no spec"))
    assert build.state == S.failed
    assert {t.state for t in build.tasks} == {S.failed}


def test_fair_share_between_owners(db: Session, agent: Builder) -> None:
    alice, busy_project = make_project(db, "alice")
    bob, small_project = make_project(db, "bob")
    for _ in range(20):
        submit(db, alice, busy_project)
    lonely = submit(db, bob, small_project)
    first = scheduling.claim_task(db, agent, ["x86_64"])
    assert first is not None and first.owner_name == "alice"
    # alice now has a task being built, bob none: bob's build is next, not alice's 2nd.
    second = scheduling.claim_task(db, agent, ["x86_64"])
    assert second is not None and second.build_id == lonely.id


def test_background_builds_wait_for_normal_ones(db: Session, agent: Builder) -> None:
    alice, project = make_project(db, "alice")
    submit(db, alice, project, background=True)
    normal = submit(db, alice, project)
    task = scheduling.claim_task(db, agent, ["x86_64"])
    assert task is not None and task.build_id == normal.id


def test_cancel_reaches_the_agent_at_its_heartbeat(db: Session, agent: Builder) -> None:
    alice, project = make_project(db, "alice")
    build = submit(db, alice, project)
    task = scheduling.claim_task(db, agent, ["x86_64"])
    assert task is not None
    builds.cancel_build(db, alice, build)
    assert build.state == S.canceled  # for the user at once
    assert scheduling.heartbeat(db, agent, task.id) == "cancel"
    scheduling.finish_task(db, agent, task.id, TaskOutcome(state="succeeded", source=HELLO))
    assert task.state == S.canceled


def test_expired_lease_requeues_then_fails(db: Session) -> None:
    alice, project = make_project(db, "alice")
    build = submit(db, alice, project)
    agents = [builders.create_builder(db, f"a{i}")[0] for i in range(4)]
    now = utcnow()
    for attempt, agent in enumerate(agents[:3], start=1):
        task = scheduling.claim_task(db, agent, ["x86_64"], lease_s=30, now=now)
        assert task is not None and task.attempts == attempt
        now += dt.timedelta(seconds=31)
        assert scheduling.requeue_expired(db, max_attempts=3, now=now) == [task]
        with pytest.raises(Conflict):
            scheduling.heartbeat(db, agent, task.id, now=now)
    assert task.state == S.failed
    assert "stopped answering" in task.message and "3 times" in task.message
    assert build.state == S.failed
    assert scheduling.claim_task(db, agents[3], ["x86_64", "aarch64"], now=now) is None


def test_live_lease_is_not_requeued(db: Session, agent: Builder) -> None:
    alice, project = make_project(db, "alice")
    submit(db, alice, project)
    task = scheduling.claim_task(db, agent, ["x86_64"], lease_s=30)
    assert task is not None
    assert scheduling.requeue_expired(db) == []
    assert task.state == S.starting
