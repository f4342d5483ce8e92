"""Builds end to end: submit-to-installable latency, builds per minute with 2 agents, memory.

Generates trivial noarch SRPMs (one distinct package each; setup, not measured), then:

1. **Latency.** ``coprd serve --builders 1`` (the embedded default) on a fresh SQLite data
   directory; one untimed warm-up build, then ``--latency-builds`` builds one after another,
   each after the server has been idle for ``--idle`` s plus a random 0-2 s (so the agent is
   at its slowest idle poll and the submit lands at a random point of it). Each is timed from
   just before the submit call (python-copr's ``create_from_file``) until a
   ``GET /api_3/build/<id>`` polled every 50 ms over one keep-alive connection reads
   ``succeeded``, which coprd only reports once the RPMs are in the chroot's repodata; then
   ``dnf repoquery`` is run against the repository to confirm the package is installable.
   Next to it, the same SRPMs through ``rpmbuild --rebuild`` and ``createrepo_c`` (the flags
   coprd publishes with) in sequence, on the same machine.
2. **Throughput.** ``coprd serve --builders 2`` (``--builders``) on a fresh data directory.
   Both agents are paused (SIGSTOP) while ``--builds`` builds are queued, then resumed
   (SIGCONT); builds per minute = builds / (resume .. the last build's ``ended_on``). Next to
   it, the same SRPMs through 2 concurrent ``rpmbuild --rebuild`` processes and one
   ``createrepo_c`` at the end (the baseline of the target), and, for information, with a
   ``createrepo_c --update`` of one repository after every build, as coprd does. CPU time
   per build: of the server and agent processes and their children (``/proc/<pid>/stat``),
   and of the whole machine (``/proc/stat``), since what runs inside bubblewrap's pid
   namespace is not added to any process's children time.
3. **Memory** during run 2: VmHWM and VmRSS of the ``coprd serve`` process and of both agent
   processes from ``/proc/<pid>/status``: VmHWM before the run (since start-up), then reset
   (``/proc/<pid>/clear_refs``) when the agents resume, VmRSS sampled every 0.25 s, and
   VmHWM at the end, the run's own peak.

Where the time goes is read from the server's database after each run (``build_tasks``
``started_on`` = claimed, ``ended_on`` = finished and published, with microseconds).
Everything it starts (servers, agents) is stopped and the temporary directory removed at
the end, also after an error, Ctrl-C or SIGTERM (``--keep`` keeps the directory).

    .venv/bin/python benchmarks/builds.py                 # 500 builds, ~6 minutes
    .venv/bin/python benchmarks/builds.py --builds 40     # a quick run
    .venv/bin/python benchmarks/builds.py --only throughput --builds 40 --build-loops 3000000

See benchmarks/README.md for the numbers and how to read them.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import datetime as dt
import gzip
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _harness
import httpx
from _harness import Server, tail

CHROOT = "fedora-rawhide-x86_64"
OWNER = "admin"  # the account `coprd serve` creates on first start
# What coprd publishes with (coprd/publish/createrepo.py), so the baseline indexes alike.
CREATEREPO = ("createrepo_c", "--quiet", "--no-database", "--general-compress-type=gz")
TERMINAL = {"succeeded", "failed", "canceled", "skipped", "forked"}
POLL_S = 0.05
TARGET_OVERHEAD_S = 1.0
TARGET_THROUGHPUT = 0.8
TARGET_SERVER_MB = 200
TARGET_AGENT_MB = 100


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- packages --------------------------------------------------------------------------


SPEC = """\
Name:           {name}
Version:        1.0
Release:        1%{{?dist}}
Summary:        Trivial benchmark package {name}
License:        MIT
BuildArch:      noarch
AutoReqProv:    no

%description
Installs one text file, /usr/share/{name}/data.txt.

%prep

%build
{build}
%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {name} > %{{buildroot}}/usr/share/{name}/data.txt

%files
/usr/share/{name}/data.txt
"""


def run(argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise with its output."""
    done = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done


def make_srpms(work: Path, names: Sequence[str], loops: int = 0, jobs: int = 2) -> list[Path]:
    """One SRPM per name (``rpmbuild -bs``, ``%dist`` empty), ``jobs`` at a time; ``loops``
    adds a shell loop of that many iterations to ``%build`` (CPU work)."""
    # rpmbuild traces %build (set -x); untraced, the loop is pure shell arithmetic.
    loop = f"{{ set +x; }} 2>/dev/null; i=0; while [ $i -lt {loops} ]; do i=$((i+1)); done"
    build = f"{loop}\n" if loops else ""
    specs, out = work / "specs", work / "srpms"
    specs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    def one(name: str) -> Path:
        spec = specs / f"{name}.spec"
        spec.write_text(SPEC.format(name=name, build=build))
        (work / "srpm-top" / name).mkdir(parents=True, exist_ok=True)  # see rebuild()
        run(
            [
                "rpmbuild",
                "-bs",
                "--define",
                "dist %{nil}",
                "--define",
                f"_topdir {work / 'srpm-top' / name}",
                "--define",
                f"_srcrpmdir {out}",
                str(spec),
            ]
        )
        shutil.rmtree(work / "srpm-top" / name, ignore_errors=True)
        return out / f"{name}-1.0-1.src.rpm"

    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(one, names))


def rebuild(srpm: Path, topdir: Path, rpmdir: Path | None = None) -> None:
    """``rpmbuild --rebuild``, as a person would run it."""
    topdir.mkdir(parents=True, exist_ok=True)  # rpm's own mkdir -p races with a parallel one
    argv = ["rpmbuild", "--rebuild", "--define", f"_topdir {topdir}"]
    if rpmdir is not None:
        argv += ["--define", f"_rpmdir {rpmdir}"]
    run([*argv, str(srpm)])


# --- the raw baselines -----------------------------------------------------------------


def raw_latency(work: Path, srpms: Sequence[Path]) -> list[dict[str, float]]:
    """For each SRPM: ``rpmbuild --rebuild``, then ``createrepo_c`` of its RPMS directory."""
    rows = []
    for i, srpm in enumerate(srpms):
        top = work / "raw-latency" / f"{i:03d}"
        t0 = time.perf_counter()
        rebuild(srpm, top)
        t1 = time.perf_counter()
        run([*CREATEREPO, str(top / "RPMS")])
        t2 = time.perf_counter()
        if not list((top / "RPMS").rglob("*.noarch.rpm")):
            raise RuntimeError(f"rpmbuild --rebuild {srpm.name} left no RPM")
        rows.append({"rpmbuild_s": t1 - t0, "createrepo_s": t2 - t1, "total_s": t2 - t0})
    return rows


def raw_throughput(work: Path, srpms: Sequence[Path], jobs: int) -> dict[str, float]:
    """``jobs`` concurrent ``rpmbuild --rebuild``: once with one ``createrepo_c`` at the end,
    once with a ``createrepo_c --update`` of one shared repository after every build."""
    base = work / "raw-throughput"
    cpu0, sys0 = children_cpu(), system_cpu()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(lambda i: rebuild(srpms[i], base / f"{i:05d}"), range(len(srpms))))
    t1 = time.perf_counter()
    run([*CREATEREPO, str(base)])
    t2 = time.perf_counter()
    cpu1, machine_cpu = children_cpu(), _used(sys0, system_cpu())
    indexed = _repo_packages(base)
    if indexed != len(srpms):
        raise RuntimeError(f"raw baseline: {indexed} packages indexed, expected {len(srpms)}")

    repo = work / "raw-throughput-update"
    repo.mkdir(parents=True)
    run([*CREATEREPO, str(repo)])
    lock = threading.Lock()

    def build_and_publish(i: int) -> None:
        rebuild(srpms[i], work / "raw-update-top" / f"{i:05d}", rpmdir=repo / f"{i:05d}")
        with lock:
            run([*CREATEREPO, "--update", str(repo)])

    t3 = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(build_and_publish, range(len(srpms))))
    t4 = time.perf_counter()
    indexed = _repo_packages(repo)
    if indexed != len(srpms):
        raise RuntimeError(f"raw --update baseline: {indexed} packages, expected {len(srpms)}")
    return {
        "rpmbuild_s": t1 - t0,
        "createrepo_once_s": t2 - t1,
        "total_s": t2 - t0,
        "per_minute": len(srpms) / (t2 - t0) * 60,
        "cpu_s": cpu1 - cpu0,
        "machine_busy": 1 - machine_cpu["idle"] / machine_cpu["total"],
        "machine_cpu_s": machine_cpu["total"] - machine_cpu["idle"],
        "update_each_total_s": t4 - t3,
        "update_each_per_minute": len(srpms) / (t4 - t3) * 60,
    }


def _repo_packages(repo: Path) -> int:
    repomd = (repo / "repodata" / "repomd.xml").read_text()
    primary = next(
        repo / line.split('"')[1]
        for line in repomd.splitlines()
        if "<location" in line and "primary.xml" in line
    )
    with gzip.open(primary, "rt") as xml:
        head = xml.read(4096)
    return int(head.split('packages="', 1)[1].split('"', 1)[0])


# --- the server ------------------------------------------------------------------------


@contextlib.contextmanager
def coprd_server(data_dir: Path, builders: int) -> Iterator[Server]:
    """``coprd serve --builders N`` with a ``$HOME`` of its own; yields once ``/api_3/``
    answers and the agents run."""
    home = data_dir.parent / f"{data_dir.name}-home"
    home.mkdir()
    with _harness.serve(data_dir, builders=builders, home=home) as server:
        time.sleep(3)  # let the agents finish importing and reach their idle poll loop
        yield server


def copr_client(server: Server) -> Any:
    from copr.v3 import Client

    return Client.create_from_config_file(str(server.admin_config))


def api(server: Server) -> httpx.Client:
    ini = configparser.ConfigParser()
    ini.read(server.admin_config)
    auth = (ini["copr-cli"]["login"], ini["copr-cli"]["token"])
    return httpx.Client(base_url=server.url, auth=auth, timeout=60)


def create_project(server: Server, name: str) -> None:
    copr_client(server).project_proxy.add(OWNER, name, chroots=[CHROOT])


def repo_url(server: Server, project: str) -> str:
    return f"{server.url}/results/{OWNER}/{project}/{CHROOT}/"


def dnf_finds(url: str, name: str, work: Path) -> tuple[bool, float]:
    """``dnf repoquery NAME`` against the chroot repository, in an empty install root."""
    root = Path(tempfile.mkdtemp(prefix="dnfroot-", dir=work))
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            "dnf",
            "-q",
            "--disableplugin=local",
            f"--installroot={root}",
            "--releasever=rawhide",
            "--setopt=reposdir=/dev/null",
            f"--repofrompath=b,{url}",
            "--repo=b",
            "--nogpgcheck",
            "repoquery",
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    shutil.rmtree(root, ignore_errors=True)
    return done.returncode == 0 and f"{name}-0:1.0-1" in done.stdout, elapsed


# --- what the database says ------------------------------------------------------------


def _ts(value: str | None) -> float | None:
    if value is None:
        return None
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC).timestamp()


def task_times(data_dir: Path) -> dict[int, dict[str, Any]]:
    """Per build: submitted, source claimed/ended, chroot task claimed/ended (unix time)."""
    db = sqlite3.connect(f"file:{data_dir / 'coprd.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT b.id, b.submitted_on, b.ended_on, b.state, t.chroot_name, t.started_on,"
            " t.ended_on, t.attempts FROM builds b JOIN build_tasks t ON t.build_id = b.id"
        ).fetchall()
    finally:
        db.close()
    out: dict[int, dict[str, Any]] = {}
    for bid, submitted, ended, state, chroot, started, t_ended, attempts in rows:
        row = out.setdefault(
            bid, {"submitted": _ts(submitted), "ended": _ts(ended), "state": state}
        )
        key = "src" if chroot == "srpm-builds" else "rpm"
        row[f"{key}_claimed"] = _ts(started)
        row[f"{key}_ended"] = _ts(t_ended)
        row[f"{key}_attempts"] = attempts
    return out


# --- memory and CPU --------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds of a process itself and of its children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) / CLOCK_TICKS for v in fields[11:15])
    return {"self": utime + stime, "children": cutime + cstime}


def system_cpu() -> dict[str, float]:
    """Machine-wide CPU seconds: all of them, and the idle ones (``/proc/stat``)."""
    values = [int(v) / CLOCK_TICKS for v in Path("/proc/stat").read_text().split()[1:9]]
    return {"total": sum(values), "idle": values[3] + values[4]}


def _used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def status_kb(pid: int) -> dict[str, int]:
    values = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0])
    return values


class MemorySampler:
    """VmHWM and VmRSS of some processes, every ``interval`` seconds, in a thread.

    :meth:`reset_peaks` restarts each VmHWM from the current RSS (``5`` into
    ``/proc/<pid>/clear_refs``), so that the final VmHWM is the peak of the run alone and
    not, say, of the server's start-up.
    """

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        self.pids = pids
        self.interval = interval
        self.peak_rss: dict[str, int] = dict.fromkeys(pids, 0)
        self.hwm: dict[str, int] = dict.fromkeys(pids, 0)
        self.start_hwm = {name: status_kb(pid).get("VmHWM", 0) for name, pid in pids.items()}
        self.samples = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def reset_peaks(self) -> bool:
        try:
            for pid in self.pids.values():
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for name, pid in self.pids.items():
            values = status_kb(pid)
            self.peak_rss[name] = max(self.peak_rss[name], values.get("VmRSS", 0))
            self.hwm[name] = max(self.hwm[name], values.get("VmHWM", 0))
        self.samples += 1

    def __enter__(self) -> MemorySampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()
        self.sample()  # the final reading


# --- run 1: latency --------------------------------------------------------------------


def wait_terminal(
    client: httpx.Client, build_id: int, t0: float, timeout: float = 300
) -> tuple[str, float, list[tuple[float, str]]]:
    """Poll the build every 50 ms; its final state, when it was seen, and each change seen."""
    seen: list[tuple[float, str]] = []
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        response = client.get(f"/api_3/build/{build_id}")
        now = time.perf_counter()
        response.raise_for_status()
        state = response.json()["state"]
        if not seen or seen[-1][1] != state:
            seen.append((now - t0, state))
        if state in TERMINAL:
            return state, now - t0, seen
        time.sleep(POLL_S)
    raise RuntimeError(f"build {build_id} did not end within {timeout} s")


def latency_run(work: Path, srpms: Sequence[Path], idle_s: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    project = "latency"
    rows: list[dict[str, Any]] = []
    with coprd_server(work / "data-latency", builders=1) as server, api(server) as client:
        create_project(server, project)
        builds = copr_client(server).build_proxy
        url = repo_url(server, project)
        for i, srpm in enumerate(srpms):
            if i:  # the first is the warm-up, right away
                time.sleep(idle_s + rng.uniform(0, 2))
            wall0 = time.time()
            t0 = time.perf_counter()
            build = builds.create_from_file(OWNER, project, str(srpm))
            submitted = time.perf_counter() - t0
            state, seen_s, changes = wait_terminal(client, build.id, t0)
            if state != "succeeded":
                raise RuntimeError(f"build {build.id} ended {state}:\n{tail(server.log_path)}")
            name = srpm.name.split("-1.0-1")[0]
            found, dnf_s = dnf_finds(url, name, work)
            if not found:
                raise RuntimeError(f"dnf repoquery does not find {name} in {url}")
            rows.append(
                {
                    "build_id": build.id,
                    "package": name,
                    "warmup": i == 0,
                    "wall0": wall0,
                    "submit_call_s": submitted,
                    "succeeded_seen_s": seen_s,
                    "dnf_repoquery_s": dnf_s,
                    "states_seen": changes,
                }
            )
            log(
                f"  build {build.id} ({name}{', warm-up' if i == 0 else ''}): "
                f"succeeded seen after {seen_s:.3f} s; dnf repoquery finds it ({dnf_s:.2f} s)"
            )
        data_dir = server.data_dir
    times = task_times(data_dir)
    for row in rows:
        t = times[row["build_id"]]
        w0 = row["wall0"]
        row["timeline"] = {
            "submitted": t["submitted"] - w0,  # the server's insert, inside the submit call
            "source_claimed": t["src_claimed"] - w0,
            "source_ended": t["src_ended"] - w0,
            "rpm_claimed": t["rpm_claimed"] - w0,
            "rpm_ended": t["rpm_ended"] - w0,  # published, committed
        }
    return {"rows": rows}


# --- run 2: throughput and memory ------------------------------------------------------


def throughput_run(work: Path, srpms: Sequence[Path], builders: int) -> dict[str, Any]:
    project = "throughput"
    with coprd_server(work / "data-throughput", builders=builders) as server, api(server) as client:
        create_project(server, project)
        agents = server.agent_pids()
        for pid in agents:
            os.kill(pid, signal.SIGSTOP)
        try:
            builds = copr_client(server).build_proxy
            t0 = time.perf_counter()
            ids = []
            for i, srpm in enumerate(srpms, 1):
                ids.append(builds.create_from_file(OWNER, project, str(srpm)).id)
                if i % 100 == 0:
                    log(f"  queued {i}/{len(srpms)}")
            submit_s = time.perf_counter() - t0
            log(f"  queued {len(ids)} builds in {submit_s:.1f} s; resuming the agents")
            pids = {"server": server.proc.pid} | {f"agent-{i}": p for i, p in enumerate(agents)}
            sampler = MemorySampler(pids)
            hwm_reset = sampler.reset_peaks()
            cpu_before = {name: cpu_s(pid) for name, pid in pids.items()}
            cpu_before["benchmark"] = cpu_s(os.getpid())
            sys_before = system_cpu()
        finally:
            resumed_wall = time.time()
            for pid in agents:
                os.kill(pid, signal.SIGCONT)
        t_resume = time.perf_counter()
        states: dict[str, int] = {}
        with sampler:
            pending = list(ids)
            deadline = t_resume + max(600.0, 10.0 * len(ids))
            next_report = t_resume + 30
            while pending:
                if time.perf_counter() > deadline:
                    raise RuntimeError(
                        f"{len(pending)} builds still not done:\n{tail(server.log_path)}"
                    )
                state = client.get(f"/api_3/build/{pending[0]}").json()["state"]
                if state in TERMINAL:
                    states[state] = states.get(state, 0) + 1
                    pending.pop(0)
                    continue
                if time.perf_counter() > next_report:
                    log(f"  {len(ids) - len(pending)}/{len(ids)} done")
                    next_report += 30
                time.sleep(0.5)
        seen_s = time.perf_counter() - t_resume
        machine_cpu = _used(sys_before, system_cpu())
        cpu = {name: _used(cpu_before[name], cpu_s(pid)) for name, pid in pids.items()}
        cpu["benchmark"] = _used(cpu_before["benchmark"], cpu_s(os.getpid()))
        data_dir = server.data_dir
        memory = {
            name: {
                "start_hwm_kb": sampler.start_hwm[name],
                "peak_rss_kb": sampler.peak_rss[name],
                "final_hwm_kb": sampler.hwm[name],
            }
            for name in pids
        }
        memory_samples = sampler.samples
    times = task_times(data_dir)
    rows = [times[i] for i in ids]
    last_end = max(r["ended"] for r in rows)
    wall = last_end - resumed_wall
    src = [r["src_ended"] - r["src_claimed"] for r in rows]
    rpm = [r["rpm_ended"] - r["rpm_claimed"] for r in rows]
    return {
        "builds": len(ids),
        "states": states,
        "submit_s": submit_s,
        "wall_s": wall,
        "all_seen_s": seen_s,
        "per_minute": len(ids) / wall * 60,
        "source_task_s": _summary(src),
        "rpm_task_s": _summary(rpm),
        "busy_share": (sum(src) + sum(rpm)) / (builders * wall),
        "source_to_rpm_claim_s": _summary([r["rpm_claimed"] - r["src_ended"] for r in rows]),
        "retries": sum(r["src_attempts"] + r["rpm_attempts"] - 2 for r in rows),
        "memory": memory,
        "memory_samples": memory_samples,
        "hwm_reset": hwm_reset,
        "cpu_s": cpu,  # self: the process; children: what it ran (rpm, bwrap, createrepo_c)
        "machine_busy": 1 - machine_cpu["idle"] / machine_cpu["total"],
        "machine_cpu_s": machine_cpu["total"] - machine_cpu["idle"],
    }


def _summary(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "p90": ordered[max(0, int(0.9 * len(ordered)) - 1)],
        "mean": statistics.fmean(ordered),
    }


# --- report ----------------------------------------------------------------------------


def _mmm(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def report_latency(latency: dict[str, Any], raw: list[dict[str, float]]) -> str:
    rows = [r for r in latency["rows"] if not r["warmup"]]
    e2e = [r["succeeded_seen_s"] for r in rows]
    tl = [r["timeline"] for r in rows]
    queue = [t["source_claimed"] - t["submitted"] for t in tl]
    src = [t["source_ended"] - t["source_claimed"] for t in tl]
    gap = [t["rpm_claimed"] - t["source_ended"] for t in tl]
    rpm = [t["rpm_ended"] - t["rpm_claimed"] for t in tl]
    submit = [t["submitted"] for t in tl]
    seen_after = [r["succeeded_seen_s"] - r["timeline"]["rpm_ended"] for r in rows]
    raw_total = [r["total_s"] for r in raw]
    raw_median = statistics.median(raw_total)
    overhead = statistics.median(e2e) - raw_median
    ok = overhead < TARGET_OVERHEAD_S
    warm = next(r for r in latency["rows"] if r["warmup"])
    lines = [
        f"Run 1: submit to installable, {len(rows)} builds one at a time "
        f"(1 agent; warm-up build, not counted: {warm['succeeded_seen_s']:.2f} s)",
        "",
        "| step | median s (min-max) |",
        "|---|---:|",
        f"| **coprd: submit → `succeeded` (in repodata)** | **{_mmm(e2e)}** |",
        f"| &nbsp; submit call until the server stored the build | {_mmm(submit)} |",
        f"| &nbsp; waiting for an agent to claim the source task | {_mmm(queue)} |",
        f"| &nbsp; source task (fetch SRPM, check, upload, finish) | {_mmm(src)} |",
        f"| &nbsp; until the chroot task is claimed | {_mmm(gap)} |",
        f"| &nbsp; chroot task (fetch, rpmbuild in bwrap, upload, publish) | {_mmm(rpm)} |",
        f"| &nbsp; until the benchmark's poll saw `succeeded` | {_mmm(seen_after)} |",
        f"| dnf repoquery finds the package (run after `succeeded`) | "
        f"{_mmm([r['dnf_repoquery_s'] for r in rows])} |",
        f"| **raw: `rpmbuild --rebuild` + `createrepo_c`** | **{_mmm(raw_total)}** |",
        f"| &nbsp; rpmbuild --rebuild | {_mmm([r['rpmbuild_s'] for r in raw])} |",
        f"| &nbsp; createrepo_c | {_mmm([r['createrepo_s'] for r in raw])} |",
        f"| **overhead (median - median)** | **{overhead:.2f}** |",
        f"| &nbsp; of it waiting for the idle poll (median) | {statistics.median(queue):.2f} |",
        f"| overhead without that wait (median of each build's time less its wait, - raw) | "
        f"{statistics.median(e - q for e, q in zip(e2e, queue, strict=True)) - raw_median:.2f} |",
        "",
        f"Target overhead < {TARGET_OVERHEAD_S:.0f} s: {'MET' if ok else 'MISSED'}.",
    ]
    return "\n".join(lines)


def report_throughput(tp: dict[str, Any], raw: dict[str, float], builders: int) -> str:
    ratio = tp["per_minute"] / raw["per_minute"]
    ok_tp = ratio >= TARGET_THROUGHPUT
    mem = tp["memory"]
    # Strict: the larger of the run's own peak and the process's lifetime peak before it.
    peak = {k: max(v["final_hwm_kb"], v["start_hwm_kb"]) / 1024 for k, v in mem.items()}
    server_mb = peak["server"]
    agent_mb = max(v for k, v in peak.items() if k != "server")
    ok_server = server_mb < TARGET_SERVER_MB
    ok_agent = agent_mb < TARGET_AGENT_MB
    s, r = tp["source_task_s"], tp["rpm_task_s"]
    lines = [
        f"Run 2: {tp['builds']} builds queued, {builders} agents "
        f"(queued in {tp['submit_s']:.1f} s with the agents paused; states: {tp['states']})",
        "",
        "| | wall s | builds/min | vs raw |",
        "|---|---:|---:|---:|",
        f"| **coprd, {builders} local agents** | {tp['wall_s']:.1f} | **{tp['per_minute']:.0f}** "
        f"| **{ratio:.0%}** |",
        f"| raw: {builders} x `rpmbuild --rebuild`, one `createrepo_c` at the end | "
        f"{raw['total_s']:.1f} | {raw['per_minute']:.0f} | 100% |",
        f"| raw: the same with `createrepo_c --update` after every build | "
        f"{raw['update_each_total_s']:.1f} | {raw['update_each_per_minute']:.0f} | "
        f"{tp['per_minute'] / raw['update_each_per_minute']:.0%} of it |",
        "",
        f"Per build (median, p90): source task {s['median']:.2f} s, {s['p90']:.2f} s; "
        f"chroot task {r['median']:.2f} s, {r['p90']:.2f} s; agents busy "
        f"{tp['busy_share']:.0%} of the wall time; retries {tp['retries']}.",
        "",
        "| process | VmHWM before run 2 (since start) MB | VmHWM of run 2 MB | "
        "peak VmRSS sampled MB | target |",
        "|---|---:|---:|---:|---|",
    ]
    for name, values in mem.items():
        target = TARGET_SERVER_MB if name == "server" else TARGET_AGENT_MB
        lines.append(
            f"| {name} | {values['start_hwm_kb'] / 1024:.1f} | {values['final_hwm_kb'] / 1024:.1f} "
            f"| {values['peak_rss_kb'] / 1024:.1f} | < {target} MB |"
        )
    lines += [
        "",
        f"VmHWM of run 2: {'reset' if tp['hwm_reset'] else 'NOT reset (no clear_refs)'} "
        f"when the agents resumed; VmRSS sampled {tp['memory_samples']} times.",
    ]
    n = tp["builds"]
    cpu = tp["cpu_s"]
    agents = [v for k, v in cpu.items() if k.startswith("agent")]
    counted = {
        "server process (HTTP, SQLite)": cpu["server"]["self"],
        "its children (createrepo_c)": cpu["server"]["children"],
        "agent processes (Python)": sum(v["self"] for v in agents),
        "their children outside the sandbox (rpm checks, bwrap)": sum(
            v["children"] for v in agents
        ),
    }
    rest = tp["machine_cpu_s"] - sum(counted.values()) - sum(cpu["benchmark"].values())
    lines += [
        "",
        "| CPU seconds per build | coprd | raw |",
        "|---|---:|---:|",
        *(f"| {label} | {value / n:.3f} | |" for label, value in counted.items()),
        f"| the rest: rpmbuild inside bwrap (uncounted per process), kernel, other load | "
        f"{rest / n:.3f} | |",
        f"| rpmbuild and createrepo_c (children of the benchmark) | | {raw['cpu_s'] / n:.3f} |",
        f"| **whole machine (/proc/stat, busy)** | **{tp['machine_cpu_s'] / n:.3f}** | "
        f"**{raw['machine_cpu_s'] / n:.3f}** |",
        f"| machine busy share | {tp['machine_busy']:.0%} | {raw['machine_busy']:.0%} |",
    ]
    lines += [
        "",
        f"Target ≥ {TARGET_THROUGHPUT:.0%} of raw: {'MET' if ok_tp else 'MISSED'} "
        f"({ratio:.0%}). Server < {TARGET_SERVER_MB} MB: {'MET' if ok_server else 'MISSED'} "
        f"({server_mb:.0f} MB). Agent < {TARGET_AGENT_MB} MB: "
        f"{'MET' if ok_agent else 'MISSED'} ({agent_mb:.0f} MB).",
    ]
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--builds", type=int, default=500, help="builds queued in run 2")
    p.add_argument("--builders", type=int, default=2, help="local agents (and raw rpmbuild jobs)")
    p.add_argument(
        "--latency-builds", type=int, default=10, help="timed builds in run 1 (plus one warm-up)"
    )
    p.add_argument(
        "--idle",
        type=float,
        default=5.0,
        help="seconds the server idles before each run-1 submit (plus a random 0-2 s), so the "
        "agent is at its slowest idle poll",
    )
    p.add_argument("--only", choices=["latency", "throughput"], help="run only one of the two runs")
    p.add_argument(
        "--build-loops",
        type=int,
        default=0,
        help="run-2 packages' %%build counts to this in a shell loop: CPU work, to see the "
        "overhead against builds that do something (1000000 is ~1 s on the machine in "
        "the README); 0 is a trivial build",
    )
    p.add_argument("--seed", type=int, default=20261124, help="for the run-1 idle times")
    p.add_argument("--json", type=Path, help="also write every number to this JSON file")
    p.add_argument(
        "--keep", action="store_true", help="keep the work directory (data dirs, server logs)"
    )
    p.add_argument("--work", type=Path, help="a new directory to work in (None: a temporary one)")
    args = p.parse_args(argv)
    if args.builds < 1 or args.latency_builds < 1 or args.builders < 1:
        p.error("--builds, --latency-builds and --builders must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.work:
        args.work.mkdir(parents=True)  # must be new: the runs expect fresh data directories
        work = args.work.resolve()
    else:
        work = Path(tempfile.mkdtemp(prefix="coprd-bench-builds-"))
    info = _harness.machine(("rpmbuild", "createrepo_c", "bwrap"))
    result: dict[str, Any] = {"machine": info, "args": vars(args) | {"work": str(work)}}
    text = []
    try:
        if args.only != "throughput":
            names = [f"lat{i:03d}" for i in range(args.latency_builds + 1)]
            log(f"making {len(names)} SRPMs for run 1 ...")
            srpms = make_srpms(work, names)
            log("raw baseline: rpmbuild --rebuild + createrepo_c, one at a time ...")
            raw = raw_latency(work, srpms[1:])
            log(f"run 1: {args.latency_builds} builds one at a time on coprd (1 agent) ...")
            latency = latency_run(work, srpms, args.idle, args.seed)
            result["latency"] = {"coprd": latency, "raw": raw}
            text.append(report_latency(latency, raw))
        if args.only != "latency":
            names = [f"bench{i:04d}" for i in range(args.builds)]
            log(f"making {len(names)} SRPMs for run 2 ...")
            t0 = time.perf_counter()
            srpms = make_srpms(work, names, args.build_loops)
            log(f"  made in {time.perf_counter() - t0:.1f} s")
            log(f"raw baseline: {args.builders} concurrent rpmbuild --rebuild ...")
            raw_tp = raw_throughput(work, srpms, args.builders)
            log(
                f"  {raw_tp['total_s']:.1f} s ({raw_tp['per_minute']:.0f}/min); with an "
                f"update after each: {raw_tp['update_each_total_s']:.1f} s"
            )
            log(f"run 2: {args.builds} builds on coprd with {args.builders} agents ...")
            tp = throughput_run(work, srpms, args.builders)
            result["throughput"] = {"coprd": tp, "raw": raw_tp}
            text.append(report_throughput(tp, raw_tp, args.builders))
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print("\n\n".join(text))
    print()
    print(
        f"Machine: {_harness.describe(info)}; {info.get('rpmbuild', '')}, "
        f"{info.get('createrepo_c', '')}."
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    _harness.run(main)
