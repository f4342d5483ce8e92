"""Latency of the APIv3 monitor of a large project, next to the package list of the same
project.

Fills a fresh database with one project of many packages in several chroots, each with
several builds (setup, not measured), starts the real server (``coprd serve``) on a free
loopback port against it, and times sequential requests over HTTP from this process:
``GET /api_3/monitor`` (as ``copr-cli monitor`` asks, and with every additional field),
``GET /api_3/package/list`` of the same project (without and with the latest builds), and
the first page of the web UI's Monitor tab. Everything it creates (server process, data
directory, PostgreSQL database) is removed at the end, also after an error or Ctrl-C.

    .venv/bin/python benchmarks/monitor.py                 # SQLite in a temporary data dir
    .venv/bin/python benchmarks/monitor.py --db postgres   # a throw-away coprd_bench_* DB

See benchmarks/README.md for the numbers and how to read them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
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
CHROOTS = (
    "fedora-rawhide-x86_64",
    "fedora-rawhide-aarch64",
    "fedora-45-x86_64",
    "epel-10-x86_64",
)
# The newest round's chroot tasks, in turn: a monitor shows every colour.
LAST_ROUND = (BuildState.failed, BuildState.succeeded, BuildState.running, BuildState.pending)


# --- setup -----------------------------------------------------------------------------


def fill(settings: Settings, n_packages: int, n_chroots: int, builds_per_package: int) -> int:
    """Migrate, then bulk insert a user, one project with ``n_chroots`` chroots,
    ``n_packages`` packages and ``builds_per_package`` builds of each into every chroot
    (submitted round after round over all packages; the older rounds succeeded, the
    newest is in a mix of states), each with a source task and a task per chroot.
    Returns the number of builds."""
    chroots = CHROOTS[:n_chroots]
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
                    "webhook_rebuild": False,
                    "chroot_denylist": [],
                    "created_on": now,
                }
                for name in names
            ],
        ).all()
        rows = []
        for round_ in range(builds_per_package):
            last = round_ == builds_per_package - 1
            for i, (package_id, name) in enumerate(zip(package_ids, names, strict=True)):
                moment = now + dt.timedelta(minutes=round_ * n_packages + i)
                rows.append(
                    {
                        "project_id": project_id,
                        "submitter_id": user_id,
                        "state": LAST_ROUND[i % len(LAST_ROUND)] if last else BuildState.succeeded,
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


Check = Callable[[httpx.Response], None]


def interleaved(
    base: str, plans: Sequence[tuple[str, str, Check]], count: int, warmup: int
) -> list[Result]:
    """``warmup`` then ``count`` rounds of one request of each plan, in turn, over one
    keep-alive connection: a machine whose load drifts during the run slows every kind
    of request alike, so they stay comparable with each other."""
    times: dict[str, list[float]] = {name: [] for name, _, _ in plans}
    sizes: dict[str, int] = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        for i in range(warmup + count):
            for name, path, check in plans:
                start = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - start) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
                check(response)
                sizes[name] = len(response.content)
                if i >= warmup:
                    times[name].append(elapsed)
    return [
        Result(name=name, request=path, **timings(times[name]), kib=sizes[name] / 1024)
        for name, path, _ in plans
    ]


def expect_monitor(n: int, n_chroots: int, fields: Sequence[str]) -> Check:
    def check(response: httpx.Response) -> None:
        packages = response.json()["packages"]
        if len(packages) != n:
            raise RuntimeError(f"expected {n} packages, got {len(packages)}")
        for package in (packages[0], packages[-1]):
            chroots = package["chroots"]
            if len(chroots) != n_chroots:
                raise RuntimeError(f"expected {n_chroots} chroots: {package}")
            cell = next(iter(chroots.values()))
            if any(field not in cell for field in ("state", "status", "build_id", *fields)):
                raise RuntimeError(f"fields missing: {cell}")

    return check


def expect_list(n: int, with_builds: bool) -> Check:
    def check(response: httpx.Response) -> None:
        items = response.json()["items"]
        if len(items) != n:
            raise RuntimeError(f"expected {n} packages, got {len(items)}")
        if with_builds and not items[0]["builds"]["latest"]:
            raise RuntimeError(f"the latest build is missing: {items[0]}")

    return check


def expect_page(rows: int) -> Check:
    def check(response: httpx.Response) -> None:
        found = response.text.count('<th scope="row">')
        if found != rows:
            raise RuntimeError(f"expected {rows} rows on the Monitor tab, got {found}")

    return check


def run_measurements(base: str, args: argparse.Namespace) -> list[Result]:
    n, chroots = args.packages, args.chroots
    project = f"ownername={OWNER}&projectname={PROJECT}"
    extra = ("url_build_log", "url_backend_log", "url_build")
    asked = "".join(f"&additional_fields[]={f}" for f in extra)
    both = "&with_latest_build=True&with_latest_succeeded_build=True"
    plans: list[tuple[str, str, Check]] = [
        ("monitor", f"/api_3/monitor?{project}", expect_monitor(n, chroots, ())),
        (
            "monitor, all 3 additional fields",
            f"/api_3/monitor?{project}{asked}",
            expect_monitor(n, chroots, extra),
        ),
        ("package/list", f"/api_3/package/list?{project}", expect_list(n, False)),
        (
            "package/list, latest builds",
            f"/api_3/package/list?{project}{both}",
            expect_list(n, True),
        ),
        (
            "web Monitor tab, first page",
            f"/coprs/{OWNER}/{PROJECT}/monitor/",
            expect_page(min(n, 100)),
        ),
    ]
    print(f"  measuring {len(plans)} requests, interleaved ...", file=sys.stderr, flush=True)
    return interleaved(base, plans, args.requests, max(1, args.requests // 10))


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
    p.add_argument("--chroots", type=int, default=4, choices=range(1, len(CHROOTS) + 1))
    p.add_argument("--builds", type=int, default=3, help="builds per package")
    p.add_argument("--requests", type=int, default=50, help="timed requests of each kind")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.packages < 1 or args.builds < 1 or args.requests < 1:
        p.error("need at least one package, one build of each and one request")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with _harness.fresh_settings(args) as settings:
        print(
            f"filling {args.db} with {args.packages} packages x {args.chroots} chroots, "
            f"{args.builds} builds each ...",
            file=sys.stderr,
            flush=True,
        )
        started = time.perf_counter()
        n_builds = fill(settings, args.packages, args.chroots, args.builds)
        fill_s = time.perf_counter() - started
        print(f"  filled in {fill_s:.1f} s", file=sys.stderr, flush=True)
        # No builder agents: nothing polls the server while it is timed.
        with _harness.serve(
            settings.data_dir, builders=0, database_url=settings.database_url
        ) as server:
            load_before = os.getloadavg()[0]
            results = run_measurements(server.url, args)
            load_after = os.getloadavg()[0]

    label = f"{args.db}, {args.packages} packages x {args.chroots} chroots, {n_builds} builds"
    table = markdown(results, label)
    about: dict[str, Any] = {
        "db": args.db,
        "packages": args.packages,
        "chroots": args.chroots,
        "builds": n_builds,
        "load_average_1min": [load_before, load_after],
    }
    _harness.report(table, fill_s, results, args.json, about)
    # The machine's other work shows in every row; the rows' ratios are what compare.
    print(f"Load average (1 min) before / after the timed requests: {load_before:.2f}", end="")
    print(f" / {load_after:.2f}")
    return 0


if __name__ == "__main__":
    _harness.run(main)
