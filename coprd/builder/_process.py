"""Run a command as the leader of its own process group: stream its output, stop it on time.

The sandbox (``sandbox.py``) and the mock backend share this. The command is started in a
new session, so its process group id is its pid and nothing of the agent is in that group.
A timeout or a cancel sends SIGTERM to the group, then SIGKILL after a grace period.

Reaping is deliberately late: the leader's exit is observed with ``waitid(WNOWAIT)``, which
leaves it a zombie, and while it is a zombie its pid cannot be reused, so a last SIGKILL to
the group can never hit an unrelated process. Only then is the leader reaped.
"""

from __future__ import annotations

import os
import resource
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

_POLL_S = 0.1
_CHUNK = 65536


@dataclass(frozen=True)
class ProcessResult:
    """How a command ended; ``reason`` is a sentence for a person reading the build log."""

    returncode: int
    timed_out: bool
    canceled: bool
    reason: str
    # Stopped because it passed a limit other than time (disk, processes): ``reason`` says
    # which.
    limit_exceeded: bool = False


def host_tool(name: str) -> str | None:
    """The path of the host's ``name``, also from the sbin directories an ordinary user's
    PATH may lack (``ip``, ``nsenter``); None if it is not installed."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def format_seconds(seconds: float) -> str:
    """``3600.0`` → ``"3600"``, ``1.5`` → ``"1.5"``: durations as a person writes them."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.1f}"


def describe_exit(returncode: int) -> str:
    """``exited with status 2``; a negative code (killed by a signal) names the signal."""
    if returncode < 0:
        return f"killed by signal {_signal_name(-returncode)}"
    if returncode > 128 and _signal_name(returncode - 128) != str(returncode - 128):
        # Shells and bubblewrap report a child killed by signal N as status 128 + N.
        return f"exited with status {returncode} ({_signal_name(returncode - 128)})"
    return f"exited with status {returncode}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _address_space_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        # Runs in the forked child before exec. preexec_fn is unsafe in a threaded process
        # (a lock held by another thread at fork stays held), so it does one system call.
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def _killpg(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        # A setuid program in the group (mock under consolehelper) may refuse our signals;
        # it then ends by its own timeout handling. Nothing better can be done from here.
        pass


def _has_exited(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def run_process_group(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    on_output: Callable[[bytes], None],
    timeout_s: float,
    cancel: threading.Event | None = None,
    kill_grace_s: float = 5.0,
    memory_bytes: int | None = None,
    pass_fds: Sequence[int] = (),
    cwd: str | None = None,
    on_start: Callable[[int], None] | None = None,
    limit_hit: Callable[[], str | None] | None = None,
    user: int | None = None,
    group: int | None = None,
) -> ProcessResult:
    """Run ``argv`` in a new session; stdout and stderr, merged, go to ``on_output`` as read.

    At ``timeout_s`` seconds, or as soon as ``cancel`` is set, the process group gets
    SIGTERM and, ``kill_grace_s`` later, SIGKILL. ``memory_bytes`` sets RLIMIT_AS for the
    command and everything it starts. If ``on_output`` raises, the group is killed and the
    exception propagates. Returns once the leader is reaped and its output is read to the
    end (or, should a stray process keep the pipe open, ``kill_grace_s`` after the leader
    exited). ``on_start``, if given, is called with the leader's pid once it is started,
    before any output is read; if it raises, the group is killed and the exception
    propagates. ``limit_hit``, if given, is asked about every :data:`_POLL_S`; once it
    returns a sentence the group is stopped as on a timeout and that sentence is the
    result's reason. ``user`` and ``group`` run the command as that uid and gid, with no
    supplementary groups (the caller must be root).
    """
    if timeout_s <= 0:
        raise ValueError("timeout_s must be positive")
    if cancel is not None and cancel.is_set():
        return ProcessResult(-signal.SIGTERM, False, True, "canceled")
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
        preexec_fn=_address_space_limit(memory_bytes) if memory_bytes is not None else None,
        user=user,
        group=group,
        extra_groups=[] if user is not None else None,
    )
    assert proc.stdout is not None
    pgid = proc.pid
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)

    started = time.monotonic()
    deadline = started + timeout_s
    timed_out = canceled = False
    exceeded: str | None = None
    sigkill_at: float | None = None
    exited_at: float | None = None
    eof = False
    eof_poll = 0.001
    try:
        if on_start is not None:
            on_start(proc.pid)
        while not (eof and exited_at is not None):
            now = time.monotonic()
            if sigkill_at is None:
                if cancel is not None and cancel.is_set():
                    canceled = True
                elif now >= deadline:
                    timed_out = True
                elif limit_hit is not None and exited_at is None:
                    exceeded = limit_hit()
                if canceled or timed_out or exceeded is not None:
                    _killpg(pgid, signal.SIGTERM)
                    sigkill_at = now + kill_grace_s
            elif exited_at is None and now >= sigkill_at:
                _killpg(pgid, signal.SIGKILL)
            if exited_at is None and _has_exited(proc.pid):
                exited_at = now
                # The leader is a zombie, so pgid is still reserved: whatever is left of the
                # group belongs to this command.
                _killpg(pgid, signal.SIGKILL)
            if exited_at is not None and not eof and now - exited_at > kill_grace_s:
                break  # something outside the group holds the pipe; stop waiting for it
            if eof:
                # Output ended; the leader is exiting or closed its stdout early. Poll
                # quickly at first: the usual case is an exit a moment after the close.
                _sleep(cancel, eof_poll)
                eof_poll = min(eof_poll * 2, _POLL_S)
                continue
            wait = _POLL_S if sigkill_at is not None else max(0.0, min(_POLL_S, deadline - now))
            for _key, _events in selector.select(wait):
                try:
                    data = os.read(fd, _CHUNK)
                except BlockingIOError:
                    continue
                if data:
                    on_output(data)
                else:
                    eof = True
    except BaseException:
        _killpg(pgid, signal.SIGKILL)
        if not eof:
            _drain(selector, fd, time.monotonic() + kill_grace_s)
        raise
    finally:
        selector.close()
        proc.stdout.close()
        returncode = proc.wait()

    if canceled:
        reason = "canceled"
    elif timed_out:
        reason = f"timed out after {format_seconds(timeout_s)} s"
    elif exceeded is not None:
        reason = exceeded
    else:
        reason = describe_exit(returncode)
    return ProcessResult(returncode, timed_out, canceled, reason, exceeded is not None)


def read_until(fd: int, deadline: float, done: Callable[[bytes], bool]) -> bytes:
    """Bytes from ``fd`` until ``done(bytes)`` holds, end of file, or ``deadline``."""
    got = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not done(got):
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            got += chunk
    return got


def _drain(selector: selectors.BaseSelector, fd: int, until: float) -> None:
    """Discard output until end of file: every process holding the pipe has then ended."""
    while (left := until - time.monotonic()) > 0:
        if selector.select(min(left, _POLL_S)):
            try:
                if not os.read(fd, _CHUNK):
                    return
            except BlockingIOError:
                continue


def _sleep(cancel: threading.Event | None, seconds: float) -> None:
    if cancel is not None and not cancel.is_set():
        cancel.wait(seconds)
    else:
        time.sleep(seconds)
