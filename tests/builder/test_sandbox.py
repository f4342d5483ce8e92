"""The bubblewrap sandbox: what a build can see, reach and leave behind. Real bwrap."""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from coprd.builder import protections
from coprd.builder.network import NAMESERVER
from coprd.builder.sandbox import (
    SandboxLimits,
    SandboxPolicy,
    SandboxResult,
    SandboxSpec,
    SandboxUnavailable,
    run_sandboxed,
    sandbox_path,
)
from tests.builder.conftest import processes_with
from tests.network import host_address

# slirp4netns's address for the host, which it forwards to the host's loopback unless told
# not to.
SLIRP_GATEWAY = "10.0.2.2"

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the work directory, standing for the server's data directory."""
    path = tmp_path / "data"
    path.mkdir()
    (path / "secret.txt").write_text("the-server-secret\n")
    return path


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP server on the host's 127.0.0.1."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(5)
    yield server
    server.close()


def run(
    script: str,
    workdir: Path,
    *,
    network: bool = False,
    timeout_s: float = 30,
    memory_bytes: int | None = None,
    ro_binds: tuple[Path, ...] = (),
    cancel: threading.Event | None = None,
    limits: SandboxLimits | None = None,
) -> tuple[SandboxResult, str]:
    chunks: list[bytes] = []
    policy = SandboxPolicy(limits=limits) if limits is not None else SandboxPolicy()
    spec = SandboxSpec(workdir, network, timeout_s, memory_bytes, ro_binds, policy)
    result = run_sandboxed(["/bin/sh", "-c", script], spec, chunks.append, cancel)
    return result, b"".join(chunks).decode()


def test_runs_in_builddir_with_a_clean_environment(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPRD_BUILDER_TOKEN", "token-of-the-agent")
    result, output = run("pwd; env", workdir)
    assert result == SandboxResult(0, False, False, "exited with status 0")
    lines = output.splitlines()
    assert lines[0] == "/builddir"
    assert "HOME=/builddir" in lines
    assert "LANG=C.UTF-8" in lines
    assert "token-of-the-agent" not in output


def test_exit_status_is_reported(workdir: Path) -> None:
    result, _ = run("exit 3", workdir)
    assert result == SandboxResult(3, False, False, "exited with status 3")


def test_workdir_is_read_write_and_shared_with_the_host(workdir: Path) -> None:
    (workdir / "input.txt").write_text("from the host\n")
    result, output = run("cat input.txt; echo from the build > output.txt", workdir)
    assert result.returncode == 0
    assert output == "from the host\n"
    assert (workdir / "output.txt").read_text() == "from the build\n"
    assert sandbox_path(SandboxSpec(workdir, False, 1), workdir / "a" / "b") == PurePosixPath(
        "/builddir/a/b"
    )


def test_cannot_read_outside_the_workdir(workdir: Path, outside: Path) -> None:
    secret = outside / "secret.txt"
    result, output = run(f"cat {secret}; ls {outside}; ls -d /root /home /var/lib /srv", workdir)
    assert result.returncode != 0
    assert "the-server-secret" not in output
    assert "secret.txt" not in output.replace(str(secret), "")
    for path in ("/root", "/home", "/var/lib", "/srv"):
        assert f"cannot access '{path}'" in output


def test_sees_only_a_minimal_etc(workdir: Path) -> None:
    result, output = run("ls /etc; cat /etc/passwd", workdir)
    assert result.returncode == 0
    names = set(output.split())
    assert {"passwd", "group", "hosts", "nsswitch.conf"} <= names
    assert "shadow" not in names and "ssh" not in names
    # The build is mockbuild (uid 1000), at home in its work directory, as under mock.
    assert "mockbuild:x:1000:1000:mockbuild:/builddir:/bin/sh" in output


def test_cannot_write_outside_the_workdir(workdir: Path, outside: Path) -> None:
    private = f"coprd-sandbox-{secrets.token_hex(6)}"
    script = (
        f"touch {outside}/planted 2>/dev/null && echo wrote-data; "
        "touch /usr/planted /etc/planted /planted 2>/dev/null && echo wrote-system; "
        f"echo private > /tmp/{private} && cat /tmp/{private}"
    )
    result, output = run(script, workdir)
    assert "wrote" not in output
    assert output == "private\n"  # /tmp works, but is the sandbox's own
    assert not (outside / "planted").exists()
    assert not Path("/usr/planted").exists() and not Path("/planted").exists()
    assert not Path("/tmp", private).exists()
    assert result.returncode == 0


def test_no_capabilities_and_proc_sys_is_read_only(workdir: Path) -> None:
    script = (
        "grep CapEff /proc/self/status; "
        "v=$(cat /proc/sys/kernel/printk_ratelimit); "
        '(printf %s "$v" > /proc/sys/kernel/printk_ratelimit) 2>/dev/null && echo sysctl-written'
    )
    _result, output = run(script, workdir)
    assert "CapEff:\t0000000000000000" in output
    assert "sysctl-written" not in output


def _connect_script(port: int, host: str = "127.0.0.1") -> str:
    return (
        f"bash -c 'exec 3<>/dev/tcp/{host}/{port} && echo hello >&3' 2>/dev/null "
        "&& echo connected || echo refused"
    )


def test_without_network_the_hosts_loopback_is_unreachable(
    workdir: Path, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    _result, output = run(_connect_script(port), workdir, network=False)
    assert output == "refused\n"
    listener.settimeout(0.2)
    with pytest.raises(TimeoutError):
        listener.accept()


def test_with_network_the_hosts_loopback_stays_unreachable(
    workdir: Path, listener: socket.socket
) -> None:
    # Neither directly nor through slirp's gateway address, which would forward to it.
    port = listener.getsockname()[1]
    script = f"{_connect_script(port)}; {_connect_script(port, SLIRP_GATEWAY)}"
    _result, output = run(script, workdir, network=True)
    assert output == "refused\nrefused\n"
    listener.settimeout(0.2)
    with pytest.raises(TimeoutError):
        listener.accept()


def test_with_network_the_outside_is_reachable_by_address_and_name(workdir: Path) -> None:
    # The host's own non-loopback address stands for "another machine". Names resolve
    # through slirp's forwarder (asked here for a name of the sandbox's /etc/hosts, so no
    # DNS server is needed; the resolver's configuration is what is checked).
    with socket.socket() as outward:
        outward.bind((host_address(), 0))
        outward.listen(1)
        outward.settimeout(5)
        host, port = outward.getsockname()
        _result, output = run(
            f"{_connect_script(port, host)}; cat /etc/resolv.conf; getent hosts localhost",
            workdir,
            network=True,
        )
        lines = output.splitlines()
        assert lines[0] == "connected"
        assert f"nameserver {NAMESERVER}" in lines
        assert lines[-1].split()[0] in ("127.0.0.1", "::1")
        connection, _ = outward.accept()
        with connection:
            assert connection.recv(100) == b"hello\n"


def test_with_network_link_local_addresses_are_prohibited(workdir: Path) -> None:
    """Cloud metadata (169.254.169.254) would hand out the host's credentials: refused at
    once by the sandbox's own route, before a packet leaves (EACCES, not a timeout)."""
    script = "; ".join(
        f"bash -c 'exec 3<>/dev/tcp/{host}' 2>&1 | grep -q 'connect: Permission denied' "
        "&& echo prohibited"
        for host in ("169.254.169.254/80", "169.254.1.1/53")
    )
    _result, output = run(script, workdir, network=True)
    assert output == "prohibited\nprohibited\n"


def test_with_network_no_slirp4netns_is_left_running(workdir: Path) -> None:
    before = set(processes_with("slirp4netns"))
    result, _output = run("true", workdir, network=True)
    assert result.returncode == 0
    assert set(processes_with("slirp4netns")) - before == set()


def test_output_is_streamed_while_the_command_runs(workdir: Path) -> None:
    # The command waits for a file that only the output callback creates: it can finish
    # only if its first line reaches us before it ends.
    seen: list[bytes] = []

    def on_output(chunk: bytes) -> None:
        seen.append(chunk)
        if b"ready" in b"".join(seen):
            (workdir / "go").touch()

    spec = SandboxSpec(workdir, network=False, timeout_s=20)
    script = "echo ready; while [ ! -e go ]; do sleep 0.05; done; echo done"
    result = run_sandboxed(["/bin/sh", "-c", script], spec, on_output)
    assert not result.timed_out
    assert b"".join(seen) == b"ready\ndone\n"


def test_stdout_and_stderr_arrive_merged_and_in_order(workdir: Path) -> None:
    script = "i=0; while [ $i -lt 300 ]; do echo out $i; echo err $i >&2; i=$((i+1)); done"
    result, output = run(script, workdir)
    assert result.returncode == 0
    assert output == "".join(f"out {i}\nerr {i}\n" for i in range(300))


def _tree(marker: str) -> str:
    # Two background children, one of them in a subshell that outlives its parent.
    return f"sleep {marker} & (sleep {marker} &) ; echo started; wait"


def test_timeout_kills_the_whole_tree(workdir: Path) -> None:
    marker = f"1000.{secrets.randbelow(10**8)}"
    started = time.monotonic()
    result, output = run(_tree(marker), workdir, timeout_s=1)
    assert time.monotonic() - started < 10
    assert result.timed_out and not result.canceled
    assert result.reason == "timed out after 1 s"
    assert output == "started\n"
    assert processes_with(marker) == []


def test_cancel_kills_the_whole_tree(workdir: Path) -> None:
    marker = f"1000.{secrets.randbelow(10**8)}"
    cancel = threading.Event()
    canceled_at: list[float] = []

    def on_output(chunk: bytes) -> None:
        if b"started" in chunk:
            canceled_at.append(time.monotonic())
            cancel.set()

    spec = SandboxSpec(workdir, network=False, timeout_s=60)
    result = run_sandboxed(["/bin/sh", "-c", _tree(marker)], spec, on_output, cancel)
    assert time.monotonic() - canceled_at[0] < 10
    assert result.canceled and not result.timed_out
    assert result.reason == "canceled"
    assert processes_with(marker) == []


def test_cancel_from_another_thread(workdir: Path) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    try:
        result, _ = run("sleep 1000", workdir, cancel=cancel)
    finally:
        timer.cancel()
    assert result.canceled


def test_already_canceled_does_not_run(workdir: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    result, _ = run("touch ran", workdir, cancel=cancel)
    assert result.canceled
    assert not (workdir / "ran").exists()


def test_background_children_do_not_outlive_a_finished_command(workdir: Path) -> None:
    marker = f"1000.{secrets.randbelow(10**8)}"
    started = time.monotonic()
    result, output = run(f"sleep {marker} & echo done", workdir)
    assert time.monotonic() - started < 10
    assert result.returncode == 0 and output == "done\n"
    assert processes_with(marker) == []


def test_a_failing_output_callback_stops_the_command(workdir: Path) -> None:
    marker = f"1000.{secrets.randbelow(10**8)}"

    def on_output(chunk: bytes) -> None:
        raise RuntimeError("log upload failed")

    spec = SandboxSpec(workdir, network=False, timeout_s=60)
    with pytest.raises(RuntimeError, match="log upload failed"):
        run_sandboxed(["/bin/sh", "-c", f"echo x; sleep {marker}"], spec, on_output)
    assert processes_with(marker) == []


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs python3 in /usr")
def test_memory_limit_applies_to_the_command(workdir: Path) -> None:
    script = "/usr/bin/python3 -c 'b = bytearray(400 * 1024 * 1024); print(len(b))'"
    limited, output = run(script, workdir, memory_bytes=192 * 1024 * 1024)
    assert limited.returncode != 0
    if protections.probe(SandboxPolicy().user).cgroups.has("memory"):
        # The whole build's memory: the kernel stops the process, the reason says why.
        assert limited.limit_exceeded
        assert limited.reason.startswith(
            "the build reached its memory limit of 192 MiB and the kernel stopped 1 process"
        )
    else:
        assert "MemoryError" in output  # RLIMIT_AS: the allocation fails
    unlimited, output = run(script, workdir)
    assert unlimited.returncode == 0, output


def test_read_only_binds(workdir: Path, outside: Path) -> None:
    _result, output = run(
        f"cat {outside}/secret.txt; touch {outside}/planted 2>/dev/null || echo read-only",
        workdir,
        ro_binds=(outside,),
    )
    assert output == "the-server-secret\nread-only\n"
    assert not (outside / "planted").exists()


def test_invalid_specs_are_refused(workdir: Path) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        SandboxSpec(workdir, False, 0)
    with pytest.raises(ValueError, match="memory_bytes"):
        SandboxSpec(workdir, False, 1, memory_bytes=0)
    with pytest.raises(ValueError, match="absolute"):
        SandboxSpec(workdir, False, 1, ro_binds=(Path("relative"),))
    with pytest.raises(ValueError, match="not a directory"):
        run_sandboxed(["true"], SandboxSpec(workdir / "missing", False, 1), lambda _: None)
    with pytest.raises(ValueError, match="does not exist"):
        spec = SandboxSpec(workdir, False, 1, ro_binds=(workdir / "missing",))
        run_sandboxed(["true"], spec, lambda _: None)


# -- who the build is, and what it may not do (issue 11) -------------------------------


def _host_uid() -> int:
    """The host uid builds run as: a root agent's first build uid, else our own."""
    user = SandboxPolicy().user
    return user.uid if user is not None else os.getuid()


def test_the_build_is_an_unprivileged_uid_on_the_host(workdir: Path) -> None:
    script = "id -u; id -un; touch made; cp /bin/true suid; chmod 4755 suid; ls -ln suid"
    result, output = run(script, workdir)
    assert result.returncode == 0, output
    assert output.splitlines()[:2] == ["1000", "mockbuild"]
    for name in ("made", "suid"):
        st = (workdir / name).lstat()
        assert st.st_uid == _host_uid() != 0
    # The setuid bit stays on a file of the unprivileged uid: no host-root setuid file.
    assert (workdir / "suid").stat().st_mode & stat.S_ISUID
    assert (workdir / "suid").stat().st_uid != 0


def test_a_root_agent_hands_the_work_directory_to_the_build_uid(workdir: Path) -> None:
    (workdir / "from-the-agent").mkdir()
    (workdir / "from-the-agent" / "input").write_text("x\n")
    result, output = run("echo more >> from-the-agent/input && cat from-the-agent/input", workdir)
    assert result.returncode == 0, output
    assert output == "x\nmore\n"
    assert stat.S_IMODE(workdir.stat().st_mode) == (0o700 if os.geteuid() == 0 else 0o755)


_SYSCALLS = r"""
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def call(name, number, *args):
    result = libc.syscall(number, *args)
    print(name, "ok" if result >= 0 else errno.errorcode[ctypes.get_errno()])
call("add_key", 248, b"user", b"coprd-test", b"v", 1, ctypes.c_long(-4))
call("keyctl", 250, 0, -4)
call("bpf", 321, 0, 0, 0)
call("unshare", 272, 0x10000000)
call("mount", 165, b"none", b"/tmp", b"tmpfs", 0, 0)
call("perf_event_open", 298, 0, 0, -1, -1, 0)
call("userfaultfd", 323, 0)
call("personality-norandom", 135, 0x0040000)
call("personality-query", 135, 0xffffffff)
call("ptrace-host-pid", 101, 16, int(os.environ.get("AGENT", "1")), 0, 0)
try:
    socket.socket(40, socket.SOCK_STREAM)  # AF_VSOCK
    print("vsock ok")
except OSError as exc:
    print("vsock", errno.errorcode[exc.errno])
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="syscall numbers of x86_64")
@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs python3 in /usr")
def test_the_system_call_filter_refuses_what_builds_never_need(workdir: Path) -> None:
    (workdir / "probe.py").write_text(_SYSCALLS)
    result, output = run(f"AGENT={os.getpid()} /usr/bin/python3 probe.py", workdir)
    assert result.returncode == 0, output
    seen = dict(line.split(" ", 1) for line in output.splitlines())
    for name in ("add_key", "keyctl", "bpf", "unshare", "mount", "perf_event_open"):
        assert seen[name] == "EPERM", output
    assert seen["userfaultfd"] == "EPERM"
    assert seen["personality-norandom"] == "EPERM"
    assert seen["personality-query"] == "ok"
    # The agent is not in the build's pid namespace: its pid names no process there (a
    # shared namespace would answer EPERM, or let the attach through).
    assert seen["ptrace-host-pid"] == "ESRCH"
    assert seen["vsock"] == "EAFNOSUPPORT"


def test_a_fork_bomb_stops_the_build_at_its_process_limit(workdir: Path) -> None:
    marker = f"1000.{secrets.randbelow(10**8)}"
    bomb = f"bomb() {{ sleep {marker} & bomb & bomb; }}; bomb; wait"
    started = time.monotonic()
    result, _output = run(bomb, workdir, timeout_s=120, limits=SandboxLimits(processes=64))
    assert time.monotonic() - started < 60
    assert result.limit_exceeded and not result.timed_out
    assert result.reason == "the build reached its limit of 64 processes (a fork bomb?)"
    assert processes_with(marker) == []


def test_a_build_past_its_disk_limit_is_stopped(workdir: Path) -> None:
    # Many small files, each below the file size limit: the watcher stops the build.
    script = "i=0; while :; do head -c 1048576 /dev/zero > f$i; i=$((i+1)); done"
    limits = SandboxLimits(disk_bytes=32 * 1024 * 1024)
    started = time.monotonic()
    result, _output = run(script, workdir, timeout_s=120, limits=limits)
    assert time.monotonic() - started < 30
    assert result.limit_exceeded
    assert result.reason.startswith("disk limit of 32 MiB exceeded")


def test_no_single_file_grows_past_the_disk_limit(workdir: Path) -> None:
    script = "head -c 50000000 /dev/zero > big; echo status $?; ls -l big | cut -d' ' -f5"
    limits = SandboxLimits(disk_bytes=8 * 1024 * 1024)
    _result, output = run(script, workdir, limits=limits)
    assert "File size limit exceeded" in output or "status 1" in output
    assert (workdir / "big").stat().st_size <= 8 * 1024 * 1024


def test_too_many_files_stop_the_build(workdir: Path) -> None:
    script = "mkdir d && cd d && i=0; while :; do : > f$i; i=$((i+1)); done"
    limits = SandboxLimits(disk_files=2000)
    result, _output = run(script, workdir, timeout_s=120, limits=limits)
    assert result.limit_exceeded
    assert result.reason.startswith("disk limit of 2000 files exceeded")


def test_tmp_is_disk_in_the_work_directory_and_emptied(workdir: Path) -> None:
    script = "echo a > /tmp/a; echo b > /var/tmp/b; ls -A /builddir/.coprd-tmp/tmp; df /tmp"
    result, output = run(script, workdir)
    assert result.returncode == 0, output
    assert output.splitlines()[0] == "a"
    assert "tmpfs" not in output
    assert not (workdir / ".coprd-tmp").exists()


def test_no_control_group_is_left_behind(workdir: Path) -> None:
    groups = protections.probe(SandboxPolicy().user).cgroups
    if not groups.hierarchies:
        pytest.skip("this host gives the agent no cgroups")
    bases = {h.base for h in groups.hierarchies.values()}

    def ours() -> set[Path]:
        return {p for base in bases for p in base.glob(f"coprd-{os.getpid()}-*")}

    before = ours()
    run("sleep 100 & echo started", workdir, memory_bytes=256 * 1024 * 1024)
    assert ours() == before


def test_without_user_namespaces_builds_are_refused(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = protections.Protections(
        "no user namespaces here", None, protections.cgroups.CgroupSupport()
    )
    monkeypatch.setattr(protections, "probe", lambda user: missing)
    with pytest.raises(SandboxUnavailable, match="cannot give builds a user namespace"):
        run("true", workdir)
