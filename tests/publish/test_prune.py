"""The pruner end to end: builds over simulated days in a real results tree, real
createrepo_c, the database (SQLite, or PostgreSQL with COPRD_TEST_POSTGRES), and the
record each run leaves."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from coprd.core import builds, cleanup, projects, users
from coprd.core.builds import BuildOptions, Source
from coprd.core.pruning import find_prunable
from coprd.db.models import Build, BuildState, BuildTask, Package, Project, User, utcnow
from coprd.publish import ensure_repo, repodata_problems, update_repo
from coprd.publish.prune import ResultsPruner
from coprd.publish.publisher import Publisher
from tests.publish.conftest import Rpms, place_build, primary

X86 = "fedora-rawhide-x86_64"
ARM = "fedora-rawhide-aarch64"
OK, FAILED = BuildState.succeeded, BuildState.failed
NOW = utcnow().replace(microsecond=0)


class Arranger:
    """Builds that ended some days ago, with their result directories in place."""

    def __init__(self, db: Session, results: Path, rpms: Rpms) -> None:
        self.db, self.results, self.rpms = db, results, rpms

    def project(self, who: User, name: str, **fields: object) -> Project:
        new = projects.NewProject.model_validate({"name": name, "chroots": [X86, ARM], **fields})
        project = projects.create_project(self.db, who, "alice", new)
        for chroot in (X86, ARM):
            ensure_repo(self.results / "alice" / name / chroot)
        return project

    def build(
        self, project: Project, package: str, state: BuildState, days_ago: float, chroot: str = X86
    ) -> int:
        owner = self.db.scalar(select(User).where(User.id == project.user_id))
        source = Source(type="upload", data={"pkg": f"{package}-1.0-1.src.rpm"})
        build = builds.submit_build(self.db, owner, project, source, BuildOptions(chroots=[chroot]))
        ended = NOW - dt.timedelta(days=days_ago)
        build.pkg_name = package
        for task in build.tasks:
            task.state = OK if task.is_source else state
            task.ended_on = ended
        builds.refresh_build(self.db, build)
        build.ended_on = ended
        self.db.flush()
        rpm = self.rpms.hello if package == "hello" else self.rpms.sub[package]
        repo = self.results / "alice" / project.name / chroot
        place_build(repo, build.id, package, *([rpm] if state == OK else []))
        return build.id


def dirs_in_metadata(repo: Path) -> set[str]:
    return {href.split("/")[0] for _name, _arch, href in primary(repo)}


def build_dirs(repo: Path) -> set[str]:
    return {p.name for p in repo.iterdir() if p.is_dir() and p.name[0].isdigit()}


def name(build_id: int, package: str) -> str:
    return f"{build_id:08d}-{package}"


@pytest.mark.parametrize("days", [14])
def test_old_results_go_and_every_package_keeps_its_latest(
    db: Session,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    rpms: Rpms,
    days: int,
) -> None:
    results = tmp_path / "results"
    alice = users.create_user(db, "alice")
    root = users.create_user(db, "root", is_admin=True)
    a = Arranger(db, results, rpms)
    demo = a.project(alice, "demo")
    # hello: three old builds that newer ones replaced go; the latest good build and the
    # latest (failed) one after it stay, although they too are older than the grace period.
    h1 = a.build(demo, "hello", OK, 30)
    h2 = a.build(demo, "hello", OK, 20)
    h3 = a.build(demo, "hello", FAILED, 16)
    h4 = a.build(demo, "hello", OK, 15.5)
    h5 = a.build(demo, "hello", FAILED, 15)
    # pkg01: its only good build is 40 days old and a failure followed: both stay.
    p1 = a.build(demo, "pkg01", OK, 40)
    p2 = a.build(demo, "pkg01", FAILED, 30)
    # pkg02: an old good build replaced by a recent one goes.
    q1 = a.build(demo, "pkg02", OK, 20)
    q2 = a.build(demo, "pkg02", OK, 2)
    # pkg03: replaced, but within the grace period: both stay.
    r1 = a.build(demo, "pkg03", OK, 13)
    r2 = a.build(demo, "pkg03", OK, 1)
    # hello in another chroot: its own latest there, however old and however many hello
    # builds the other chroot has had since.
    arm = a.build(demo, "hello", OK, 60, chroot=ARM)
    # Projects the pruner leaves alone, as Copr's does.
    exempt = {
        "devel": a.project(alice, "devel", devel_mode=True),
        "keep": a.project(root, "keep", persistent=True),
        "manual": a.project(root, "manual", auto_prune=False),
    }
    exempt_builds = {
        key: [a.build(project, "hello", OK, 50), a.build(project, "hello", OK, 40)]
        for key, project in exempt.items()
    }
    db.commit()
    x86 = results / "alice" / "demo" / X86
    for project in ("demo", *exempt):
        for chroot in (X86, ARM):
            update_repo(results / "alice" / project / chroot)
    assert len(dirs_in_metadata(x86)) == 8  # every good build's packages are published

    publisher = Publisher(results)
    publisher.attach(session_factory)
    log_dir = tmp_path / "prune-log"
    cleaned = cleanup.cleanup(
        session_factory,
        NOW,
        remove_results=ResultsPruner(publisher, log_dir),
        prune_days=days,
    )

    pruned = {h1: "hello", h2: "hello", h3: "hello", q1: "pkg02"}
    assert sorted(r.build_id for r in cleaned.pruned) == sorted(pruned)
    kept_good = {name(h4, "hello"), name(p1, "pkg01"), name(q2, "pkg02")}
    kept_good |= {name(r1, "pkg03"), name(r2, "pkg03")}
    kept_failed = {name(h5, "hello"), name(p2, "pkg01")}
    assert build_dirs(x86) == kept_good | kept_failed
    assert dirs_in_metadata(x86) == kept_good
    assert repodata_problems(x86 / "repodata") == []
    assert dirs_in_metadata(results / "alice" / "demo" / ARM) == {name(arm, "hello")}
    for key, ids in exempt_builds.items():
        repo = results / "alice" / key / X86
        assert build_dirs(repo) == dirs_in_metadata(repo) == {name(i, "hello") for i in ids}

    # As on Copr the builds stay, with their states; only their results went.
    db.expire_all()
    for build_id in pruned:
        build = db.get(Build, build_id)
        assert build is not None and build.state in (OK, FAILED)
    marked = db.scalars(select(BuildTask.build_id).where(BuildTask.pruned_on == NOW)).all()
    assert sorted(marked) == sorted(pruned)

    # The run's record: one file, one line per removed build.
    (record,) = log_dir.iterdir()
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert sorted((e["build_id"], e["package"], e["chroot"]) for e in lines) == sorted(
        (build_id, package, X86) for build_id, package in pruned.items()
    )
    assert {e["path"] for e in lines} == {
        f"alice/demo/{X86}/{name(i, p)}" for i, p in pruned.items()
    }
    assert {e["state"] for e in lines} == {"succeeded", "failed"}

    # A second run finds nothing and leaves no record; a day later neither.
    again = cleanup.cleanup(
        session_factory, NOW, remove_results=ResultsPruner(publisher, log_dir), prune_days=days
    )
    assert again.pruned == []
    with session_factory() as session:
        assert find_prunable(session, days=days, now=NOW + dt.timedelta(days=1)) == []
    assert len(list(log_dir.iterdir())) == 1

    # Twelve more days: pkg03's first build is past the grace period, and goes.
    later = NOW + dt.timedelta(days=12)
    third = cleanup.cleanup(
        session_factory, later, remove_results=ResultsPruner(publisher, log_dir), prune_days=days
    )
    assert [r.build_id for r in third.pruned] == [r1]
    assert dirs_in_metadata(x86) == kept_good - {name(r1, "pkg03")}


def test_results_already_gone_are_recorded_but_not_logged(
    db: Session, session_factory: sessionmaker[Session], tmp_path: Path, rpms: Rpms
) -> None:
    """A run that crashed after removing files, before recording it: the next run finds
    the directory gone, records the build as pruned, and writes no record of a removal
    it did not make."""
    results = tmp_path / "results"
    alice = users.create_user(db, "alice")
    a = Arranger(db, results, rpms)
    demo = a.project(alice, "demo")
    old = a.build(demo, "hello", OK, 30)
    a.build(demo, "hello", OK, 20)
    db.commit()
    repo = results / "alice" / "demo" / X86
    update_repo(repo, remove=[name(old, "hello")])
    log_dir = tmp_path / "prune-log"

    cleaned = cleanup.cleanup(
        session_factory, NOW, remove_results=ResultsPruner(Publisher(results), log_dir)
    )

    assert [r.build_id for r in cleaned.pruned] == [old]
    assert not log_dir.exists()
    with session_factory() as session:
        assert find_prunable(session, now=NOW) == []


def test_packages_building_the_same_rpm_name_each_keep_their_latest(
    db: Session, session_factory: sessionmaker[Session], tmp_path: Path, rpms: Rpms
) -> None:
    """The rule's unit is the Copr package, not the RPM name its spec gives: two packages
    whose builds are both named ``hello`` (a renamed package whose old one is kept, a
    compat package built from the same spec) each keep their latest good build."""
    alice = users.create_user(db, "alice")
    a = Arranger(db, tmp_path / "results", rpms)
    demo = a.project(alice, "demo")
    owners = {}
    for package in ("hello", "hello-compat"):
        row = Package(
            project_id=demo.id,
            name=package,
            source_type="unset",
            source_json={},
            webhook_rebuild=False,
            chroot_denylist=[],
        )
        db.add(row)
        db.flush()
        owners[package] = row.id
    compat = a.build(demo, "hello", OK, 30)
    latest = a.build(demo, "hello", OK, 20)
    db.get_one(Build, compat).package_id = owners["hello-compat"]
    db.get_one(Build, latest).package_id = owners["hello"]
    db.commit()

    with session_factory() as session:
        assert find_prunable(session, now=NOW) == []
