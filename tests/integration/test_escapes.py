"""The escape suite: a malicious user's builds, through the whole pipeline, against an agent
run as root and one run as an unprivileged user.

Each attack is a crafted SRPM (or a custom source) submitted with the real copr-cli to a real
``coprd serve``, built by a real ``coprd worker`` in the real sandbox. Each test asserts what
the user sees (the build's state and the sentence in its log) and what the host sees (no
file, key, process or package of the attacker's where it must not be). The agents run with
lowered limits (256 processes, 256 MiB of disk) so that the attacks end in seconds; the
defaults are enforced by the same code.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests import BUILD_UID
from tests.conftest import passable_dir
from tests.integration.conftest import (
    UNPRIVILEGED_UID,
    Server,
    Worker,
    start_server,
    start_worker,
    stop_server,
    stop_worker,
)
from tests.integration.test_builds import CHROOT, make_srpm
from tests.integration.test_sandbox_builds import fetch_log, submitted_id, wait_ended

pytestmark = [
    pytest.mark.integration,
    pytest.mark.sandbox,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs agents as root and as another user"),
]

PROCESSES = 256
DISK_MB = 256
MEMORY_MB = 1024
WORKER_ENV = {
    "COPRD_BUILD_MAX_PROCS": str(PROCESSES),
    "COPRD_BUILD_DISK_MB": str(DISK_MB),
    "COPRD_BUILD_MEMORY_MB": str(MEMORY_MB),
}

SPEC = """\
Name:           @NAME@
Version:        1
Release:        1
Summary:        An attack on the builder
License:        MIT
BuildArch:      noarch

%description
An attack on the builder.

%build
@BUILD@

%install
@INSTALL@
install -D -m 0644 /dev/null %{buildroot}%{_datadir}/@NAME@/ran

%files
%{_datadir}/@NAME@/ran
@EXTRA@
"""

SUBPACKAGES = 2500
LOG_BYTES = 1024**3


@dataclass
class Attack:
    """One attack: the %build and %install scripts and more spec text (subpackages), or a
    custom source's script."""

    build: str = "true"
    install: str = "true"
    custom_script: str | None = None
    extra_spec: str = ""


@dataclass
class Outside:
    """A host directory the attacks point their symlinks at, holding packages that are not
    the attacker's to publish; inside the sandbox the same path is the build's own /var/tmp."""

    path: Path
    rpm_name: str
    srpm_name: str


def outside_packages(tmp: Path) -> Outside:
    nonce = secrets.token_hex(4)
    path = Path(f"/var/tmp/coprd-escape-{nonce}")
    path.mkdir()
    name = f"planted{nonce}"
    spec = tmp / f"{name}.spec"
    spec.write_text(
        SPEC.replace("@NAME@", name)
        .replace("@BUILD@", "true")
        .replace("@INSTALL@", "true")
        .replace("@EXTRA@", "")
    )
    top = tmp / "planted-top"
    subprocess.run(
        ["rpmbuild", "-ba", str(spec), "--define", f"_topdir {top}"],
        check=True,
        capture_output=True,
    )
    for rpm in top.rglob("*.rpm"):
        shutil.copy(rpm, path)
        if not rpm.name.endswith(".src.rpm"):
            # Also where rpmbuild would look for its own noarch packages.
            (path / "noarch").mkdir(exist_ok=True)
            shutil.copy(rpm, path / "noarch")
            (path / "RPMS" / "noarch").mkdir(parents=True, exist_ok=True)
            shutil.copy(rpm, path / "RPMS" / "noarch")
    return Outside(path, f"{name}-1-1.noarch.rpm", f"{name}-1-1.src.rpm")


_SWAP = 'mkdir -p "$victim"; mv "$victim" @OUT@; ln -s @OUT@ "$victim"; echo "swapped $victim"'

_SYSCALLS = r"""
cat > probe.py <<'EOF'
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
agent = int(sys.argv[1])
def call(name, number, *args):
    result = libc.syscall(number, *args)
    print("probe", name, "ok" if result >= 0 else errno.errorcode[ctypes.get_errno()])
call("add_key", 248, b"user", b"@KEY@", b"secret", 1, ctypes.c_long(-4))
call("keyctl", 250, 0, -4)
call("bpf", 321, 0, 0, 0)
call("mount", 165, b"none", b"/usr", b"tmpfs", 0, 0)
call("unshare", 272, 0x10000000)
call("ptrace-agent", 101, 16, agent, 0, 0)
EOF
/usr/bin/python3 probe.py @AGENT@
unshare --user --map-root-user true && echo "probe unshare-cmd ok" \
    || echo "probe unshare-cmd refused"
mount -t tmpfs none /builddir && echo "probe mount-cmd ok" || echo "probe mount-cmd refused"
"""

_SETUID = """\
cp /bin/true suid-@NONCE@
chmod 4755 suid-@NONCE@
ls -ln suid-@NONCE@
i=0; while [ ! -e go-@NONCE@ ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
"""

# A spec whose mere parsing (rpmbuild -bs, in the source task) swaps the directory the
# agent takes the SRPM from for a symlink to the outside.
_CUSTOM = """\
#!/bin/sh
cat > evil.spec <<'EOF'
%global swap %(mkdir -p @OUT@; rm -rf /builddir/.coprd-srpm; ln -s @OUT@ /builddir/.coprd-srpm)
Name: evilsource
Version: 1
Release: 1
Summary: x
License: MIT
%description
x
%files
EOF
"""


def attacks(outside: Outside, nonce: str, key: str) -> dict[str, Attack]:
    out = str(outside.path)
    swap = _SWAP.replace("@OUT@", out)
    return {
        # Results collection must not follow a directory the build replaced by a symlink.
        "swaptopdir": Attack(install=f"victim=%{{_topdir}}; {swap}"),
        "swaprpms": Attack(install=f"victim=%{{_rpmdir}}; {swap}"),
        "swaparch": Attack(install=f"victim=%{{_rpmdir}}/noarch; {swap}"),
        "swapsrpms": Attack(install=f"victim=%{{_srcrpmdir}}; {swap}"),
        "swapsource": Attack(custom_script=_CUSTOM.replace("@OUT@", out)),
        # bash retries a refused fork, so its bomb keeps the sandbox at its limit (dash's
        # gives up and dies out by itself).
        "forkbomb": Attack(build="bash -c 'bomb() { bomb | bomb & }; bomb'; sleep 60"),
        "syscalls": Attack(build=_SYSCALLS.replace("@KEY@", key)),
        "setuid": Attack(build=_SETUID.replace("@NONCE@", nonce)),
        "diskfill": Attack(
            build="i=0; while :; do head -c 1048576 /dev/zero > f$i || exit 1; i=$((i+1)); done"
        ),
        # Twice the memory limit, every page touched.
        "memory": Attack(
            build="/usr/bin/python3 -c \"b = bytearray(b'x') * (2 * 1024**3); print(len(b))\""
        ),
        # 1 GiB of output: stored cut (64 MiB, a line, its last 1 MiB), the build goes on.
        "hugelog": Attack(build=f"yes 'all work and no play' | head -c {LOG_BYTES}"),
        # More packages than a builder accepts by default (2000).
        "subpackages": Attack(
            extra_spec="".join(
                f"%package p{i}\nSummary: p\n%description p{i}\np\n%files p{i}\n"
                for i in range(SUBPACKAGES)
            )
        ),
    }


@dataclass
class Run:
    server: Server
    worker: Worker
    config: Path
    outside: Outside
    nonce: str
    key: str
    ids: dict[str, int] = field(default_factory=dict)
    max_processes: int = 0
    baseline_processes: int = 0
    setuid_owners: set[int] = field(default_factory=set)


def _processes() -> int:
    return sum(1 for entry in os.scandir("/proc") if entry.name.isdigit())


@pytest.fixture(scope="module", params=["root", "unprivileged"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """A server, one agent (as root, or as an unprivileged uid) and every attack submitted
    at once; waits until all have ended, counting the host's processes meanwhile."""
    mode = str(request.param)
    tmp = tmp_path_factory.mktemp(f"escapes-{mode}")
    server = start_server(tmp / "server")
    home = passable_dir(f"worker-{mode}")
    uid = UNPRIVILEGED_UID if mode == "unprivileged" else None
    worker = start_worker(server, home, uid=uid, env=WORKER_ENV)
    outside = outside_packages(tmp)
    nonce = secrets.token_hex(4)
    key = f"coprd-escape-{nonce}"
    try:
        config = server.add_user_with_project("mallory", "evil", CHROOT)
        result = Run(server, worker, config, outside, nonce, key)
        result.baseline_processes = _processes()
        for name, attack in attacks(outside, nonce, key).items():
            result.ids[name] = _submit(result, tmp, name, attack)
        _wait_watching(result)
        yield result
    finally:
        stop_worker(worker)
        stop_server(server)
        shutil.rmtree(outside.path, ignore_errors=True)


def _submit(run: Run, tmp: Path, name: str, attack: Attack) -> int:
    if attack.custom_script is not None:
        script = tmp / f"{name}.sh"
        script.write_text(attack.custom_script)
        built = run.server.copr_cli(
            run.config, "buildcustom", "--nowait", "evil", "--script", str(script)
        )
    else:
        build = attack.build.replace("@AGENT@", str(run.worker.process.pid))
        spec = tmp / name / f"{name}.spec"
        spec.parent.mkdir(parents=True)
        spec.write_text(
            SPEC.replace("@NAME@", name)
            .replace("@BUILD@", build)
            .replace("@INSTALL@", attack.install)
            .replace("@EXTRA@", attack.extra_spec)
        )
        srpm = make_srpm(spec, tmp / name / "srpm")
        built = run.server.copr_cli(run.config, "build", "--nowait", "evil", str(srpm))
    assert built.returncode == 0, built.stdout + built.stderr
    return submitted_id(built.stdout)


def _wait_watching(run: Run) -> None:
    """Wait for every build; meanwhile count the host's processes, and let the setuid
    attack go on once its file was seen on the host (see test_setuid_...)."""
    done = threading.Event()

    def count() -> None:
        rounds = 0
        while not done.wait(0.05):
            run.max_processes = max(run.max_processes, _processes())
            rounds += 1
            if rounds % 4 == 0:
                _release_setuid(run)

    counter = threading.Thread(target=count, daemon=True)
    counter.start()
    try:
        deadline = time.monotonic() + 600
        for build_id in run.ids.values():
            wait_ended(run.server, build_id, timeout_s=max(1.0, deadline - time.monotonic()))
    finally:
        done.set()
        counter.join()


def _release_setuid(run: Run) -> None:
    """Note who owns the setuid attack's file on the host, then let the build end."""
    with contextlib.suppress(OSError):  # the agent removes task directories meanwhile
        for path in run.worker.workdir.rglob(f"suid-{run.nonce}"):
            st = path.lstat()
            if st.st_mode & stat.S_ISUID:
                run.setuid_owners.add(st.st_uid)
                (path.parent / f"go-{run.nonce}").touch()


def _build_uids(run: Run) -> set[int]:
    """The host uids the worker's builds run as: a root agent's slot uids (``build_uid``
    and the next, for its two slots), an unprivileged agent's own."""
    if run.worker.uid == 0:
        return {BUILD_UID, BUILD_UID + 1}
    return {run.worker.uid}


def _log(run: Run, name: str) -> str:
    build_id = run.ids[name]
    chroot = "srpm-builds" if name == "swapsource" else CHROOT
    where = f"{build_id:08d}" if chroot == "srpm-builds" else f"{build_id:08d}-{name}"
    return fetch_log(f"{run.server.url}/results/mallory/evil/{chroot}/{where}/builder-live.log.gz")


def _state(run: Run, name: str) -> str:
    return str(httpx.get(f"{run.server.url}/api_3/build/{run.ids[name]}").json()["state"])


def _published(run: Run) -> str:
    """Every file name under the project's results, and its repodata's primary list."""
    names = [p.name for p in (run.server.data_dir / "results" / "mallory").rglob("*")]
    return "\n".join(names)


@pytest.mark.parametrize("name", ["swaptopdir", "swaprpms", "swaparch", "swapsource"])
def test_a_symlinked_result_directory_publishes_nothing_from_outside(run: Run, name: str) -> None:
    assert _state(run, name) == "failed"
    log = _log(run, name)
    assert "is a symlink" in log or "not a regular file" in log, log[-3000:]
    published = _published(run)
    assert run.outside.rpm_name not in published
    assert run.outside.srpm_name not in published


def test_a_symlinked_srpms_directory_changes_nothing(run: Run) -> None:
    # rpmbuild --rebuild writes no SRPM there, and the agent takes none from it: the build
    # publishes its own package, nothing from outside.
    assert _state(run, "swapsrpms") == "succeeded"
    published = _published(run)
    assert "swapsrpms-1-1.noarch.rpm" in published
    assert run.outside.rpm_name not in published
    assert run.outside.srpm_name not in published


def test_a_fork_bomb_fails_the_build_and_the_host_stays_bounded(run: Run) -> None:
    assert _state(run, "forkbomb") == "failed"
    log = _log(run, "forkbomb")
    assert f"the build reached its limit of {PROCESSES} processes" in log, log[-3000:]
    # The other attacks ran beside it: a few dozen processes of theirs, and the agent's.
    assert run.max_processes - run.baseline_processes < PROCESSES + 150


def test_keyrings_mounts_namespaces_bpf_and_ptrace_are_refused(run: Run) -> None:
    log = _log(run, "syscalls")
    probes = dict(re.findall(r"^probe (\S+) (\S+)$", log, re.MULTILINE))
    assert probes["add_key"] == "EPERM" and probes["keyctl"] == "EPERM", log[-3000:]
    assert probes["bpf"] == "EPERM"
    assert probes["mount"] == "EPERM" and probes["mount-cmd"] == "refused"
    assert probes["unshare"] == "EPERM" and probes["unshare-cmd"] == "refused"
    # The agent is not in the build's pid namespace: its pid names nothing there (a shared
    # namespace would answer EPERM, or let the attach through).
    assert probes["ptrace-agent"] == "ESRCH"
    # No key of the build's anywhere on the host: the kernel lists every uid that holds a
    # key in /proc/key-users, and no build uid is there.
    holders = {int(line.split(":")[0]) for line in Path("/proc/key-users").read_text().splitlines()}
    assert holders.isdisjoint(_build_uids(run))


def test_chmod_u_plus_s_makes_no_host_root_setuid_file(run: Run) -> None:
    log = _log(run, "setuid")
    assert _state(run, "setuid") == "succeeded", log[-3000:]
    # The build reported its file as its own uid 1000, mode rwsr-xr-x; on the host it was
    # the build uid's (checked while it waited, in _setuid_files), never root's.
    assert re.search(rf"-rwsr-xr-x 1 1000 1000 \d+ .* suid-{run.nonce}", log), log[-3000:]
    assert run.setuid_owners, "the setuid file was never seen on the host"
    assert 0 not in run.setuid_owners
    # A root agent's builds are its build uid; an unprivileged agent's are its own.
    assert run.setuid_owners <= _build_uids(run)


def test_writing_past_the_disk_limit_fails_the_build(run: Run) -> None:
    assert _state(run, "diskfill") == "failed"
    log = _log(run, "diskfill")
    assert f"disk limit of {DISK_MB} MiB exceeded" in log, log[-3000:]


def test_the_agent_survived_every_attack(run: Run) -> None:
    assert run.worker.process.poll() is None
    # Nothing of the builds is left in the agent's work directory.
    assert list(run.worker.workdir.rglob("task-*")) == []


def test_a_1_gib_log_is_stored_cut_and_the_build_goes_on(run: Run) -> None:
    log = _log(run, "hugelog")
    assert _state(run, "hugelog") == "succeeded", log[-3000:]
    marker = "[coprd] the log is longer than 64 MiB: the rest is cut, only its last 1 MiB is"
    assert log.count(marker) == 1
    assert 64 * 1024**2 < len(log) < 66 * 1024**2
    assert log.rstrip().endswith("result: succeeded (built 1 package(s))")


def test_thousands_of_subpackages_are_refused_with_a_message(run: Run) -> None:
    log = _log(run, "subpackages")
    assert _state(run, "subpackages") == "failed"
    made = SUBPACKAGES + 1  # and the main package; the SRPM and spec count too
    assert (
        f"the build made {made} packages besides 2 other result files; "
        "this builder accepts at most 2000 "
        "(setting max_result_files)" in log
    ), log[-3000:]
    assert "subpackages-p1-1-1.noarch.rpm" not in _published(run)


def test_a_build_past_its_memory_limit_fails_and_the_host_keeps_its_memory(run: Run) -> None:
    log = _log(run, "memory")
    assert _state(run, "memory") == "failed"
    if run.worker.uid == 0:  # a memory cgroup: the kernel stops the build at the limit
        assert f"the build reached its memory limit of {MEMORY_MB // 1024} GiB" in log, log[-3000:]
    else:  # RLIMIT_AS (the agent may create no cgroup): the allocation fails
        assert "MemoryError" in log, log[-3000:]
    assert str(2 * 1024**3) not in log
