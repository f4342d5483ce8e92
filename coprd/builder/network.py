"""The network a sandbox gets when it may use one: its own, routed out by slirp4netns.

A sandbox always has a network namespace of its own. Without network it holds only a
loopback of its own. With network, slirp4netns (user-mode TCP/IP, the tool rootless podman
uses) gives it a ``tap0`` interface on ``10.0.2.0/24``:

- connections to the outside go out from the agent's host as ordinary sockets of the
  slirp4netns process, so the sandbox reaches what the host reaches by its routes (other
  machines, and this host's own non-loopback addresses);
- ``--disable-host-loopback``: the host's ``127.0.0.1`` (and the gateway ``10.0.2.2``, which
  slirp would otherwise forward there) is refused. Services an agent's host keeps on
  loopback only (a database, the coprd server of a laptop setup, the agent's own ports)
  are out of reach, unlike with ``bwrap --share-net``;
- names resolve through slirp's forwarder at ``10.0.2.3``, which asks the host's resolver;
  the sandbox's ``/etc/resolv.conf`` says so;
- ``--enable-sandbox``: slirp4netns itself runs in a mount namespace of its own with every
  capability dropped, so a bug in its packet parsing is not a root shell on the host;
- link-local addresses (``169.254.0.0/16``) are prohibited by a route in the sandbox's
  namespace, set with ``nsenter … ip route`` before the command runs: a cloud VM's metadata
  service (``169.254.169.254``) hands the host's credentials to anything on the host that
  asks, and slirp4netns's sockets are on the host.

The dance with bubblewrap: bwrap writes the pid of the sandbox's first process to
``--info-fd`` once its namespaces exist, brings the sandbox's loopback up, and then waits on
``--block-fd`` before it runs the command. :meth:`UserNetwork.attach` waits until that
loopback is up (slirp4netns brings ``lo`` up too, and if it wins the race bwrap's own setup
fails with "loopback: Failed RTM_NEWADDR"), starts slirp4netns on that pid, waits for
``--ready-fd`` (the interface is up and routed), then releases bwrap. slirp4netns ends when
:meth:`UserNetwork.close` closes its ``--exit-fd``, or when the agent dies (the kernel then
closes the fd).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

NAMESERVER = "10.0.2.3"
# slirp4netns's maximum is 65521; a large MTU is what makes its throughput close to the
# host's (fewer, larger packets through user space).
MTU = 65520
SETUP_TIMEOUT_S = 15.0
# Destinations no sandbox may reach although the host can: link-local, where cloud
# metadata services answer.
PROHIBITED = ("169.254.0.0/16",)


class NetworkUnavailable(RuntimeError):
    """The sandbox's network could not be set up (slirp4netns missing or failing)."""


def resolv_conf() -> str:
    """The sandbox's ``/etc/resolv.conf``: slirp's DNS forwarder, nothing of the host's."""
    return f"nameserver {NAMESERVER}\noptions edns0\n"


class UserNetwork:
    """slirp4netns for one sandboxed command; use as a context manager around the run.

    ``bwrap_options()`` go on bubblewrap's command line, ``child_fds()`` into its
    ``pass_fds``; ``attach(pid)`` is called with bubblewrap's pid right after it started.
    """

    def __init__(self) -> None:
        slirp = shutil.which("slirp4netns")
        if slirp is None:
            raise NetworkUnavailable(
                "slirp4netns is not installed on this builder; a sandbox with network "
                "access needs it (scripts/bootstrap installs it)"
            )
        self._slirp = slirp
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe()
        self._info_r: int | None = info_r
        self._info_w: int | None = info_w
        self._block_r: int | None = block_r
        self._block_w: int | None = block_w
        self._exit_w: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        # slirp4netns's own messages, shown only if it fails; closed by close().
        self._log = tempfile.TemporaryFile()  # noqa: SIM115

    def __enter__(self) -> UserNetwork:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    def bwrap_options(self) -> list[str]:
        return ["--info-fd", str(self._info_w), "--block-fd", str(self._block_r)]

    def child_fds(self) -> list[int]:
        assert self._info_w is not None and self._block_r is not None, "already attached"
        return [self._info_w, self._block_r]

    def attach(self, bwrap_pid: int) -> None:
        """Give the sandbox started as ``bwrap_pid`` its network, then let it run."""
        # Only bubblewrap writes the info and reads the block pipe from here on.
        self._close_fd("_info_w")
        self._close_fd("_block_r")
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        sandbox_pid = self._sandbox_pid(deadline, bwrap_pid)
        if not _loopback_is_up(sandbox_pid, deadline):
            # bubblewrap failed before or while setting up the loopback; its output and
            # exit status say why. Closing the block pipe (below, in close) only ends it.
            return
        ready_r, ready_w = os.pipe()
        exit_r, self._exit_w = os.pipe()
        try:
            self._process = subprocess.Popen(
                [
                    self._slirp,
                    "--configure",
                    f"--mtu={MTU}",
                    "--disable-host-loopback",
                    "--enable-sandbox",
                    f"--ready-fd={ready_w}",
                    f"--exit-fd={exit_r}",
                    str(sandbox_pid),
                    "tap0",
                ],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                pass_fds=(ready_w, exit_r),
                start_new_session=True,
            )
        finally:
            os.close(ready_w)
            os.close(exit_r)
        try:
            ready = _read_until(ready_r, deadline, lambda got: len(got) > 0)
        finally:
            os.close(ready_r)
        if not ready:
            raise NetworkUnavailable(f"slirp4netns did not bring the network up: {self._output()}")
        _prohibit_routes(sandbox_pid)
        assert self._block_w is not None
        # A broken pipe: bubblewrap ended before running the command; its output and exit
        # status, which the caller reads next, say why.
        with contextlib.suppress(BrokenPipeError):
            os.write(self._block_w, b"1")
        self._close_fd("_block_w")

    def close(self) -> None:
        if self._process is not None:
            self._close_fd("_exit_w")
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        for name in ("_info_r", "_info_w", "_block_r", "_block_w", "_exit_w"):
            self._close_fd(name)
        self._log.close()

    def _sandbox_pid(self, deadline: float, bwrap_pid: int) -> int:
        # bubblewrap writes {"child-pid": N} (pretty-printed) and may keep the fd open.
        assert self._info_r is not None
        raw = _read_until(self._info_r, deadline, lambda got: b"}" in got)
        try:
            pid = json.loads(raw.decode())["child-pid"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise NetworkUnavailable(
                f"bubblewrap (pid {bwrap_pid}) did not say which process to attach the "
                f"network to (it printed {raw[:200]!r})"
            ) from None
        if not isinstance(pid, int) or pid <= 1:
            raise NetworkUnavailable(f"bubblewrap reported an odd sandbox pid: {pid!r}")
        return pid

    def _output(self) -> str:
        self._log.seek(0)
        text = self._log.read(4096).decode(errors="replace").strip()
        return text or "(no output)"

    def _close_fd(self, name: str) -> None:
        fd = getattr(self, name)
        if fd is not None:
            os.close(fd)
            setattr(self, name, None)


def _loopback_is_up(pid: int, deadline: float) -> bool:
    """Wait until the network namespace of ``pid`` routes 127.0.0.1: the kernel adds that
    local route when ``lo`` is up with its address, which is the end of bubblewrap's
    loopback setup. False if the process ended or ``deadline`` passed first."""
    pause = 0.0005
    while True:
        try:
            routes = Path(f"/proc/{pid}/net/fib_trie").read_bytes()
        except OSError:  # the process is gone
            return False
        if b"127.0.0.1" in routes:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


def _read_until(fd: int, deadline: float, done: Callable[[bytes], bool]) -> bytes:
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


def _tool(name: str) -> str:
    """``name``'s path, also from the sbin directories an ordinary user's PATH may lack."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise NetworkUnavailable(
            f"{name} is not installed on this builder; a sandbox with network access needs "
            "it (scripts/bootstrap installs it)"
        )
    return found


def _prohibit_routes(pid: int) -> None:
    """Add a ``prohibit`` route for each of :data:`PROHIBITED` in the network namespace of
    ``pid``, entering its user namespace too where it has one of its own (an unprivileged
    bubblewrap's), as slirp4netns does."""
    command = [_tool("nsenter"), f"--target={pid}", "--net"]
    if os.stat(f"/proc/{pid}/ns/user").st_ino != os.stat("/proc/self/ns/user").st_ino:
        command += ["--user", "--preserve-credentials"]
    ip = _tool("ip")
    for destination in PROHIBITED:
        done = subprocess.run(
            [*command, ip, "route", "add", "prohibit", destination],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=SETUP_TIMEOUT_S,
        )
        if done.returncode != 0:
            raise NetworkUnavailable(
                f"could not keep the sandbox from {destination}: {done.stderr.strip()}"
            )
