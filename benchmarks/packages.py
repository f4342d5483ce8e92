"""Latency of the APIv3 package list with each package's latest builds.

Fills a fresh database with one project of many packages, each with several builds
(setup, not measured), starts the real server (``coprd serve``) on a free loopback port
against it, and times sequential requests over HTTP from this process: the whole list as
one page (what ``copr-cli list-packages --with-latest-build`` asks for), and pages of 100.
Everything it creates (server process, data directory, PostgreSQL database) is removed at
the end, also after an error or Ctrl-C.

    .venv/bin/python benchmarks/packages.py                 # SQLite in a temporary data dir
    .venv/bin/python benchmarks/packages.py --db postgres   # a throw-away coprd_bench_* DB

See benchmarks/README.md for the numbers and how to read them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _harness
import httpx
from _harness import timings
from sqlalchemy import insert, select

from coprd.config import Settings
from coprd.db.engine import make_session_factory, write_session
from coprd.db.models import (
    SOURCE_TASK_CHROOT,
    Build,
    BuildState,
    BuildTask,
    MockChroot,
    Package,
    Project,
    ProjectChroot,
    User,
)
from coprd.instance import prepare

OWNER, PROJECT = "bench-user", "many-packages"
CHROOTS = ("fedora-rawhide-x86_64", "fedora-rawhide-aarch64")
PAGE = 100


# --- setup -----------------------------------------------------------------------------


def _failed(_package: int) -> BuildState:
    return BuildState.failed


def fill(
    settings: Settings,
    n_packages: int,
    builds_per_package: int,
    chroots: Sequence[str] = CHROOTS,
    last_state: Callable[[int], BuildState] = _failed,
) -> int:
    """Migrate, then bulk insert a user, one project with ``chroots``, ``n_packages`` scm
    packages and ``builds_per_package`` builds of each into every chroot (submitted round
    after round over all packages; the older rounds succeeded, the newest is in
    ``last_state(i)`` for the i-th package: failed unless told), each build with a
    source task (succeeded) and a task per chroot. Returns the number of builds."""
    engine = prepare(settings)
    factory = make_session_factory(engine)
    now = dt.datetime(2026, 1, 1)
    with write_session(factory) as session:
        user_id = session.scalars(
            insert(User).returning(User.id), [{"name": OWNER, "email": "b@example.test"}]
        ).one()
        project_id = session.scalars(
            insert(Project).returning(Project.id),
            [
                {
                    "name": PROJECT,
                    "owner_name": OWNER,
                    "user_id": user_id,
                    "created_on": now,
                    "search_text": f"{OWNER}/{PROJECT}\n",
                    "additional_repos": [],
                    "runtime_dependencies": [],
                    "packit_forge_projects_allowed": [],
                }
            ],
        ).one()
        chroot_ids = session.scalars(select(MockChroot.id).where(MockChroot.name.in_(chroots)))
        session.execute(
            insert(ProjectChroot),
            [
                {"project_id": project_id, "mock_chroot_id": mc, "created_on": now}
                for mc in chroot_ids
            ],
        )
        names = [f"package-{i:05d}" for i in range(n_packages)]
        package_ids = session.scalars(
            insert(Package).returning(Package.id, sort_by_parameter_order=True),
            [
                {
                    "project_id": project_id,
                    "name": name,
                    "source_type": "scm",
                    "source_json": {
                        "clone_url": f"https://git.example.test/{OWNER}/{name}.git",
                        "committish": "",
                        "subdirectory": "",
                        "spec": "",
                        "type": "git",
                        "source_build_method": "rpkg",
                    },
                    "webhook_rebuild": i % 2 == 0,
                    "chroot_denylist": [],
                    "created_on": now,
                }
                for i, name in enumerate(names)
            ],
        ).all()
        # Builds in submission order: round after round over all packages, as a project
        # that is rebuilt now and then has them.
        rows = []
        for round_ in range(builds_per_package):
            last = round_ == builds_per_package - 1
            for i, (package_id, name) in enumerate(zip(package_ids, names, strict=True)):
                moment = now + dt.timedelta(minutes=round_ * n_packages + i)
                rows.append(
                    {
                        "project_id": project_id,
                        "submitter_id": user_id,
                        "state": last_state(i) if last else BuildState.succeeded,
                        "source_type": "scm",
                        "source_json": {"clone_url": f"https://git.example.test/{i}.git"},
                        "pkg_name": name,
                        "pkg_version": f"1.{round_}-1",
                        "srpm_name": f"{name}-1.{round_}-1.src.rpm",
                        "project_dirname": PROJECT,
                        "is_background": False,
                        "timeout": 18000,
                        "enable_net": False,
                        "package_id": package_id,
                        "submitted_on": moment,
                        "started_on": moment,
                        "ended_on": moment + dt.timedelta(minutes=3),
                    }
                )
        build_ids = session.scalars(
            insert(Build).returning(Build.id, sort_by_parameter_order=True), rows
        ).all()
        tasks = []
        for build_id, row in zip(build_ids, rows, strict=True):
            for chroot in (SOURCE_TASK_CHROOT, *chroots):
                source = chroot == SOURCE_TASK_CHROOT
                state = BuildState.succeeded if source else row["state"]
                tasks.append(
                    {
                        "build_id": build_id,
                        "chroot_name": chroot,
                        "arch": None if source else chroot.rsplit("-", 1)[1],
                        "owner_name": OWNER,
                        "state": state,
                        "priority": 0,
                        "attempts": 1,
                        "cancel_requested": False,
                        "message": "",
                        "built_packages": [],
                        "started_on": None if state == BuildState.pending else row["started_on"],
                    }
                )
        for start in range(0, len(tasks), 20_000):
            session.execute(insert(BuildTask), tasks[start : start + 20_000])
    _harness.settle(engine)
    return len(build_ids)


# --- measuring -------------------------------------------------------------------------


@dataclass(kw_only=True)
class Result(_harness.Result):
    kib: float


Check = Callable[[dict[str, Any]], None]


def latency(base: str, name: str, path: str, count: int, warmup: int, check: Check) -> Result:
    """``count`` sequential requests over one keep-alive connection, after ``warmup``."""
    times = []
    size = 0
    with httpx.Client(base_url=base, timeout=120) as client:
        for i in range(warmup + count):
            start = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
            check(response.json())
            size = len(response.content)
            if i >= warmup:
                times.append(elapsed)
    return Result(name=name, request=path, **timings(times), kib=size / 1024)


def expect(n: int, with_builds: bool) -> Check:
    def check(body: dict[str, Any]) -> None:
        items = body["items"]
        if len(items) != n:
            raise RuntimeError(f"expected {n} packages, got {len(items)}")
        builds = items[0]["builds"]
        if with_builds and not (builds["latest"] and builds["latest_succeeded"]):
            raise RuntimeError(f"the latest builds are missing: {builds}")
        if not with_builds and (builds["latest"] or builds["latest_succeeded"]):
            raise RuntimeError(f"builds that were not asked for: {builds}")

    return check


def run_measurements(base: str, args: argparse.Namespace) -> list[Result]:
    n = args.packages
    query = f"/api_3/package/list?ownername={OWNER}&projectname={PROJECT}"
    both = "&with_latest_build=True&with_latest_succeeded_build=True"
    last = max(0, n - PAGE)
    plans = [
        (f"all {n} in one page, latest builds", f"{query}&limit={n}{both}", n, True, args.big),
        (f"all {n} in one page, no builds", f"{query}&limit={n}", n, False, args.big),
        (
            f"page of {PAGE}, offset 0, latest builds",
            f"{query}&limit={PAGE}{both}",
            PAGE,
            True,
            args.requests,
        ),
        (
            f"page of {PAGE}, offset {last}, latest builds",
            f"{query}&limit={PAGE}&offset={last}{both}",
            min(PAGE, n - last),
            True,
            args.requests,
        ),
    ]
    results = []
    for name, path, count, with_builds, requests in plans:
        print(f"  measuring {name} ...", file=sys.stderr, flush=True)
        warmup = max(1, requests // 10)
        results.append(latency(base, name, path, requests, warmup, expect(count, with_builds)))
    return results


# --- report ----------------------------------------------------------------------------


def markdown(results: Sequence[Result], label: str) -> str:
    lines = [
        f"| {label} | requests | p50 ms | p99 ms | max ms | response KiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(r.row(f"{r.kib:.0f}"))
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    _harness.add_database_options(p)
    p.add_argument("--packages", type=int, default=2000)
    p.add_argument("--builds", type=int, default=5, help="builds per package")
    p.add_argument("--big", type=int, default=30, help="timed requests of the one-page list")
    p.add_argument("--requests", type=int, default=200, help="timed requests of a page of 100")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.packages < PAGE or args.builds < 2 or args.big < 1 or args.requests < 1:
        p.error(f"need at least {PAGE} packages, 2 builds each and one request")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with _harness.fresh_settings(args) as settings:
        print(
            f"filling {args.db} with {args.packages} packages, {args.builds} builds each ...",
            file=sys.stderr,
            flush=True,
        )
        started = time.perf_counter()
        n_builds = fill(settings, args.packages, args.builds)
        fill_s = time.perf_counter() - started
        print(f"  filled in {fill_s:.1f} s", file=sys.stderr, flush=True)
        # No builder agents: nothing polls the server while it is timed.
        with _harness.serve(
            settings.data_dir, builders=0, database_url=settings.database_url
        ) as server:
            results = run_measurements(server.url, args)

    table = markdown(results, f"{args.db}, {args.packages} packages, {n_builds} builds")
    about = {"db": args.db, "packages": args.packages, "builds": n_builds}
    _harness.report(table, fill_s, results, args.json, about)
    return 0


if __name__ == "__main__":
    _harness.run(main)
