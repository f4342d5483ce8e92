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

The dance with bubblewrap (see ``sandbox.py``): bubblewrap says which process is the
sandbox's first once its namespaces exist, brings the sandbox's loopback up, and then waits
before it runs the command. :meth:`UserNetwork.attach` waits until that loopback is up
(slirp4netns brings ``lo`` up too, and if it wins the race bwrap's own setup fails with
"loopback: Failed RTM_NEWADDR"), starts slirp4netns on that pid and waits for ``--ready-fd``
(the interface is up and routed); the sandbox then lets bubblewrap go on. slirp4netns ends
when :meth:`UserNetwork.close` closes its ``--exit-fd``, or when the agent dies (the kernel
then closes the fd).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from coprd.builder._process import host_tool, read_until

NAMESERVER = "10.0.2.3"
# slirp4netns's maximum is 65521; a large MTU is what makes its throughput close to the
# host's (fewer, larger packets through user space).
MTU = 65520
# Destinations no sandbox may reach although the host can: link-local, where cloud
# metadata services answer.
PROHIBITED = ("169.254.0.0/16",)
_ROUTE_TIMEOUT_S = 15.0


class NetworkUnavailable(RuntimeError):
    """The sandbox's network could not be set up (slirp4netns missing or failing)."""


def resolv_conf() -> str:
    """The sandbox's ``/etc/resolv.conf``: slirp's DNS forwarder, nothing of the host's."""
    return f"nameserver {NAMESERVER}\noptions edns0\n"


class UserNetwork:
    """slirp4netns for one sandboxed command; use as a context manager around the run, and
    call :meth:`attach` with the sandbox's first process while bubblewrap waits."""

    def __init__(self) -> None:
        slirp = shutil.which("slirp4netns")
        if slirp is None:
            raise NetworkUnavailable(
                "slirp4netns is not installed on this builder; a sandbox with network "
                "access needs it (scripts/bootstrap installs it)"
            )
        self._slirp = slirp
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

    def attach(self, sandbox_pid: int, deadline: float) -> bool:
        """Give the sandbox whose first process is ``sandbox_pid`` its network.

        False if bubblewrap failed before or while setting up the loopback (its output and
        exit status say why); NetworkUnavailable if slirp4netns failed.
        """
        if not _loopback_is_up(sandbox_pid, deadline):
            return False
        ready_r, ready_w = os.pipe()
        exit_r, self._exit_w = os.pipe()
        with _NetnsOwner(sandbox_pid) as owner:
            userns = [f"--userns-path={owner.path}"] if owner.path else []
            try:
                self._process = subprocess.Popen(
                    [
                        self._slirp,
                        "--configure",
                        f"--mtu={MTU}",
                        "--disable-host-loopback",
                        *_confinement(),
                        *userns,
                        f"--ready-fd={ready_w}",
                        f"--exit-fd={exit_r}",
                        str(sandbox_pid),
                        "tap0",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(ready_w, exit_r, *owner.fds),
                    start_new_session=True,
                )
            finally:
                os.close(ready_w)
                os.close(exit_r)
        try:
            ready = read_until(ready_r, deadline, lambda got: len(got) > 0)
        finally:
            os.close(ready_r)
        if not ready:
            raise NetworkUnavailable(f"slirp4netns did not bring the network up: {self._output()}")
        _prohibit_routes(sandbox_pid)
        return True

    def close(self) -> None:
        if self._process is not None:
            self._close_exit()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        self._close_exit()
        self._log.close()

    def _output(self) -> str:
        self._log.seek(0)
        text = self._log.read(4096).decode(errors="replace").strip()
        return text or "(no output)"

    def _close_exit(self) -> None:
        if self._exit_w is not None:
            os.close(self._exit_w)
            self._exit_w = None


def _confinement() -> list[str]:
    """How slirp4netns, which parses the build's packets, confines itself: a filter on
    its system calls, and for a root agent also a mount namespace of its own without
    capabilities (``--enable-sandbox`` needs uid 0 in the sandbox's user namespace, which
    an unprivileged agent's sandbox does not map)."""
    if os.geteuid() == 0:
        return ["--enable-sandbox", "--enable-seccomp"]
    return ["--enable-seccomp"]


_NS_GET_USERNS = 0xB701  # _IO(0xb7, 0x1), linux/nsfs.h


class _NetnsOwner:
    """The user namespace that owns the sandbox's network namespace, for tools that must
    enter it before they may enter the network namespace (slirp4netns, ``nsenter``).

    That is not always the sandbox process's own user namespace: with
    ``--disable-userns`` bubblewrap moves the build into a nested one, in which nobody may
    configure the network. ``path`` is None when the owner is the agent's own namespace
    (nothing to enter); otherwise it names a descriptor in ``fds``, passed to the tool.
    """

    def __init__(self, sandbox_pid: int) -> None:
        self.path: str | None = None
        self.fds: tuple[int, ...] = ()
        net = os.open(f"/proc/{sandbox_pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            owner = fcntl.ioctl(net, _NS_GET_USERNS)
        finally:
            os.close(net)
        if os.fstat(owner).st_ino == os.stat("/proc/self/ns/user").st_ino:
            os.close(owner)
            return
        self.fds = (owner,)
        self.path = f"/proc/self/fd/{owner}"

    def __enter__(self) -> _NetnsOwner:
        return self

    def __exit__(self, *_: object) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = ()


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


def _tool(name: str) -> str:
    found = host_tool(name)
    if found is None:
        raise NetworkUnavailable(
            f"{name} is not installed on this builder; a sandbox with network access needs "
            "it (scripts/bootstrap installs it)"
        )
    return found


def _prohibit_routes(pid: int) -> None:
    """Add a ``prohibit`` route for each of :data:`PROHIBITED` in the network namespace of
    ``pid``; an unprivileged agent enters the user namespace that owns it, as slirp4netns
    does."""
    ip = _tool("ip")
    with _NetnsOwner(pid) as owner:
        command = [_tool("nsenter"), f"--target={pid}", "--net"]
        # Root has the capabilities over a namespace its sandbox made; entering that user
        # namespace would lose them (root is not mapped there).
        if owner.path is not None and os.geteuid() != 0:
            command += [f"--user={owner.path}", "--preserve-credentials"]
        for destination in PROHIBITED:
            done = subprocess.run(
                [*command, ip, "route", "add", "prohibit", destination],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=_ROUTE_TIMEOUT_S,
                pass_fds=owner.fds,
            )
            if done.returncode != 0:
                raise NetworkUnavailable(
                    f"could not keep the sandbox from {destination}: {done.stderr.strip()}"
                )
