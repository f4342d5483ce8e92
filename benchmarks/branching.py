"""Benchmark: ``coprd chroot branch fedora-rawhide fedora-46`` on many projects (not
collected by pytest; run it by hand).

    .venv/bin/python benchmarks/branching.py --projects 200 --packages 5 [--db postgres]

Setup, not measured: a fresh instance; ``--projects`` projects that follow Fedora
branching and a quarter as many that do not, each with ``fedora-rawhide-x86_64`` and one
published build of each of ``--packages`` tiny noarch packages there (rows inserted through
the models, result directories on disk, each project's packages signed with its own key
as the publisher would have, and its rawhide repository indexed).

Measured: the command in-process (``coprd.cli.main``), its wall time, and every
subprocess it starts, by program (``subprocess.run`` is counted); then a second run,
which must find nothing to do.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _harness
from publish import build_rpms
from sqlalchemy import select

from coprd.cli import main as coprd_main
from coprd.db.engine import make_session_factory, write_session
from coprd.db.models import (
    SOURCE_TASK_CHROOT,
    Build,
    BuildState,
    BuildTask,
    MockChroot,
    Project,
    ProjectChroot,
    User,
)
from coprd.instance import prepare
from coprd.publish.createrepo import update_repo
from coprd.publish.signing import keyring_for

RAWHIDE = "fedora-rawhide-x86_64"


def populate(settings: Any, projects: int, packages: int, rpms: list[Path]) -> int:
    """The projects, builds and published results; returns the builds made."""
    engine = prepare(settings)
    factory = make_session_factory(engine)
    made: list[tuple[str, bool, list[tuple[int, str]]]] = []
    with write_session(factory) as db:
        owner = User(name="bench")
        db.add(owner)
        rawhide = db.scalar(select(MockChroot).where(MockChroot.name == RAWHIDE))
        db.flush()
        for i in range(projects + projects // 4):
            follows = i < projects
            project = Project(
                name=f"p{i:05d}",
                owner_name="bench",
                user_id=owner.id,
                follow_fedora_branching=follows,
                chroots=[ProjectChroot(mock_chroot=rawhide, buildroot_pkgs=["make"])],
            )
            db.add(project)
            db.flush()
            builds = []
            for rpm in rpms[:packages]:
                name = rpm.name.split("-1.0-1")[0]
                build = Build(
                    project_id=project.id,
                    state=BuildState.succeeded,
                    source_type="rpm_upload",
                    pkg_name=name,
                    pkg_version="1.0-1",
                    project_dirname=project.name,
                    timeout=3600,
                    tasks=[
                        BuildTask(
                            chroot_name=chroot,
                            arch=None if chroot == SOURCE_TASK_CHROOT else "x86_64",
                            owner_name="bench",
                            state=BuildState.succeeded,
                            built_packages=[{"name": name, "arch": "noarch"}],
                        )
                        for chroot in (SOURCE_TASK_CHROOT, RAWHIDE)
                    ],
                )
                db.add(build)
                db.flush()
                builds.append((build.id, name))
            made.append((project.name, follows, builds))
    _harness.settle(engine)
    keyring = keyring_for(settings)
    by_name = {rpm.name.split("-1.0-1")[0]: rpm for rpm in rpms}
    count = 0
    for name, _follows, builds in made:
        repo = settings.results_dir / "bench" / name / RAWHIDE
        placed = []
        for build_id, package in builds:
            directory = repo / f"{build_id:08d}-{package}"
            directory.mkdir(parents=True)
            placed.append(Path(shutil.copy(by_name[package], directory)))
            (directory / "success").touch()
            count += 1
        if keyring is not None:
            keyring.sign("bench", name, placed)
        update_repo(repo)
    return count


def measure(argv: list[str]) -> tuple[float, collections.Counter[str], int]:
    """Wall time, subprocesses by program, exit status of ``coprd <argv>``."""
    started: collections.Counter[str] = collections.Counter()
    real_run = subprocess.run

    def counting_run(*args: Any, **kwargs: Any) -> Any:
        command = args[0] if args else kwargs["args"]
        started[Path(str(command[0])).name] += 1
        return real_run(*args, **kwargs)

    subprocess.run = counting_run  # type: ignore[assignment]
    try:
        t0 = time.monotonic()
        with contextlib.redirect_stdout(None):  # what it did: not the point here
            status = coprd_main(argv)
        return time.monotonic() - t0, started, status
    finally:
        subprocess.run = real_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _harness.add_database_options(parser)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--packages", type=int, default=5)
    parser.add_argument("--no-signing", action="store_true")
    args = parser.parse_args()
    with _harness.fresh_settings(args) as base:
        settings = dataclasses.replace(base, signing=not args.no_signing)
        work = base.data_dir.parent / "rpms"
        work.mkdir(parents=True)
        rpms = build_rpms(work, max(args.packages, 1))
        t0 = time.monotonic()
        builds = populate(settings, args.projects, args.packages, rpms)
        print(
            f"setup: {builds} builds in {args.projects * 5 // 4} projects, "
            f"{time.monotonic() - t0:.1f} s",
            file=sys.stderr,
        )
        argv = [
            "--data-dir",
            str(settings.data_dir),
            "chroot",
            "branch",
            "fedora-rawhide",
            "fedora-46",
        ]
        os.environ["COPRD_DATABASE_URL"] = settings.database_url
        os.environ["COPRD_SIGNING"] = "false" if args.no_signing else "true"
        first, started, status = measure(argv)
        assert status == 0
        second, again, status = measure(argv)
        assert status == 0
        copied = sum(
            1 for _ in (settings.results_dir / "bench").glob("p*/fedora-46-x86_64/0*/*.rpm")
        )
        assert copied == args.projects * args.packages, copied
        print(
            f"| {args.db} | {args.projects} | {args.packages} | "
            f"{'off' if args.no_signing else 'on'} | {first:.1f} s | "
            f"{', '.join(f'{k} {v}' for k, v in sorted(started.items()))} | "
            f"{second:.2f} s, {sum(again.values())} subprocesses |"
        )
    return 0


if __name__ == "__main__":
    _harness.run(main)
