"""The system calls a build may not make: a seccomp filter for every sandboxed command.

A build runs as an unprivileged user in namespaces of its own (``sandbox.py``), so most of
what follows would fail anyway for want of a capability. The filter is the second wall: it
refuses outright the calls that builds never need and that have been the doors of kernel
exploits, so that a bug in one of them cannot be reached from a build at all. It is a deny
list over a default of "allow", like Flatpak's and Docker's default profiles, which are its
references; an allow list would break builds in ways nobody can predict (compilers, test
suites and language runtimes use a long tail of calls).

The filter is made with libseccomp (through ``pyseccomp``, a ctypes binding with the API
of libseccomp's own Python module), compiled to BPF once per agent process, and handed to
bubblewrap (``--seccomp FD``), which loads it just before it executes the build's command.
It covers the host's native architecture and its 32-bit companions (x86 and x32 on x86_64,
arm on aarch64), so 32-bit programs run under the same rules instead of being killed.

Denied (the errno a program sees in brackets):

- kernel keyrings: ``add_key``, ``keyctl``, ``request_key`` [EPERM]. Keys outlive the
  build and are shared by every process of a uid.
- mounts and namespaces: ``mount``, ``umount``, ``umount2``, ``pivot_root``, ``chroot``,
  ``unshare``, ``setns`` [EPERM]; ``clone`` with ``CLONE_NEWUSER`` [EPERM]; ``clone3``
  [ENOSYS: its flags cannot be inspected; glibc then falls back to ``clone``]; the new
  mount API (``open_tree``, ``move_mount``, ``fsopen``, ``fsconfig``, ``fsmount``,
  ``fspick``, ``mount_setattr``) [ENOSYS, so tools fall back to ``mount``].
- the kernel's own state: ``kexec_load``, ``kexec_file_load``, ``reboot``, module loading
  (``init_module``, ``finit_module``, ``delete_module``), ``swapon``, ``swapoff``,
  ``acct``, ``quotactl``, ``quotactl_fd``, ``syslog`` (the kernel log), ``iopl``,
  ``ioperm``, ``settimeofday``, ``clock_settime`` [EPERM].
- attack surface builds do not use: ``bpf``, ``perf_event_open``, ``userfaultfd``,
  ``io_uring_setup``/``_enter``/``_register`` [EPERM/ENOSYS], ``open_by_handle_at``,
  ``lookup_dcookie``, ``nfsservctl``, ``uselib``, ``vhangup``, ``modify_ldt``,
  ``move_pages``, ``migrate_pages`` [EPERM].
- ``personality`` with a flag that weakens ASLR or NX (``ADDR_NO_RANDOMIZE``,
  ``READ_IMPLIES_EXEC``, ``MMAP_PAGE_ZERO``, ``ADDR_COMPAT_LAYOUT``) [EPERM]; switching to
  ``PER_LINUX32`` (``setarch i686``) and querying stay allowed.
- ``ioctl`` ``TIOCSTI`` and ``TIOCLINUX`` (typing into a terminal) [EPERM].
- sockets of any family but ``AF_UNIX``, ``AF_INET``, ``AF_INET6`` and ``AF_NETLINK``
  [EAFNOSUPPORT]: rarely used protocol families are where module auto-loading has exposed
  kernel bugs.

Allowed on purpose, although other profiles deny them:

- ``ptrace``, ``process_vm_readv``/``writev``, ``kcmp``, ``pidfd_getfd``: test suites
  (gdb, strace, sanitizers) use them, and in the build's own pid namespace they reach
  only the build's own processes; the agent and the rest of the host are not visible.
- ``adjtimex`` and ``clock_adjtime``: read-only use (``ntp_gettime``) is common; setting the
  clock needs ``CAP_SYS_TIME`` in the host's namespace, which a build never has.
- ``mbind``, ``set_mempolicy``, ``get_mempolicy``: NUMA-aware runtimes (OpenMP) call them.

Not covered by a deny list: system calls newer than this table (the kernel adds a few a
year). Each is reviewed when it appears; the namespaces and the missing capabilities
apply to them regardless.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import platform
import tempfile
from dataclasses import dataclass
from typing import Any

__all__ = ["DENIED", "SeccompUnavailable", "filter_bpf"]


class SeccompUnavailable(RuntimeError):
    """libseccomp (or its Python binding) is missing, or the filter could not be made."""


@dataclass(frozen=True)
class Denied:
    """One rule: ``syscall`` fails with ``error``; ``arg`` narrows it to calls whose
    argument ``arg[0]`` masked with ``arg[1]`` equals ``arg[2]``."""

    syscall: str
    error: int = errno.EPERM
    arg: tuple[int, int, int] | None = None


_CLONE_NEWUSER = 0x10000000
_TIOCSTI = 0x5412
_TIOCLINUX = 0x541C
# personality(2): the query is 0xffffffff; no real persona sets bit 31, so a flag is only
# refused when bit 31 is clear.
_PER_QUERY_BIT = 0x80000000
_WEAKENING_PERSONALITY = {
    "ADDR_NO_RANDOMIZE": 0x0040000,
    "MMAP_PAGE_ZERO": 0x0100000,
    "ADDR_COMPAT_LAYOUT": 0x0200000,
    "READ_IMPLIES_EXEC": 0x0400000,
}
_ALLOWED_SOCKET_FAMILIES = frozenset({1, 2, 10, 16})  # AF_UNIX, AF_INET, AF_INET6, AF_NETLINK
_SOCKET_FAMILIES = 64  # above AF_MAX of every kernel so far (46 in 6.x)

_EPERM = (
    # keyrings
    "add_key",
    "keyctl",
    "request_key",
    # mounts and namespaces
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    # the kernel's own state
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "iopl",
    "ioperm",
    "settimeofday",
    "clock_settime",
    "stime",
    # attack surface builds do not use
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "open_by_handle_at",
    "lookup_dcookie",
    "nfsservctl",
    "uselib",
    "vhangup",
    "modify_ldt",
    "move_pages",
    "migrate_pages",
    "vm86",
    "vm86old",
)
_ENOSYS = (
    "clone3",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
)


def _rules() -> tuple[Denied, ...]:
    rules = [Denied(name) for name in _EPERM]
    rules += [Denied(name, errno.ENOSYS) for name in _ENOSYS]
    rules.append(Denied("clone", errno.EPERM, (_clone_flags_arg(), _CLONE_NEWUSER, _CLONE_NEWUSER)))
    for flag in _WEAKENING_PERSONALITY.values():
        rules.append(Denied("personality", errno.EPERM, (0, flag | _PER_QUERY_BIT, flag)))
    for request in (_TIOCSTI, _TIOCLINUX):
        rules.append(Denied("ioctl", errno.EPERM, (1, 0xFFFFFFFF, request)))
    for family in range(_SOCKET_FAMILIES):
        if family not in _ALLOWED_SOCKET_FAMILIES:
            rules.append(Denied("socket", errno.EAFNOSUPPORT, (0, 0xFFFFFFFF, family)))
    return tuple(rules)


def _clone_flags_arg() -> int:
    # s390 swaps clone's first two arguments.
    return 1 if platform.machine().startswith("s390") else 0


DENIED: tuple[Denied, ...] = _rules()
"""Every rule of the filter, in the order they are added."""

# The 32-bit companions of a 64-bit host architecture, as libseccomp names them.
_COMPANIONS = {"x86_64": ("X86", "X32"), "aarch64": ("ARM",), "ppc64le": (), "s390x": ("S390",)}


def _binding() -> Any:
    try:
        import seccomp  # libseccomp's own binding, where the distribution ships it

        return seccomp
    except ImportError:
        pass
    try:
        import pyseccomp
    except (ImportError, RuntimeError, OSError) as exc:  # RuntimeError: no libseccomp.so
        raise SeccompUnavailable(
            f"libseccomp is not usable here ({exc}); install libseccomp "
            "(Debian: libseccomp2, Fedora: libseccomp)"
        ) from None
    return pyseccomp


@functools.cache
def filter_bpf() -> bytes:
    """The compiled filter (BPF) for this host's architecture, made once per process.

    Raises SeccompUnavailable when libseccomp is missing or refuses the filter.
    """
    sc = _binding()
    try:
        syscall_filter = sc.SyscallFilter(sc.ALLOW)
        for name in _COMPANIONS.get(platform.machine(), ()):
            arch = getattr(sc.Arch, name, None)
            if arch is not None:
                # A libseccomp without that architecture: its calls stay killed.
                with contextlib.suppress(OSError):
                    syscall_filter.add_arch(arch)
        for rule in DENIED:
            args = () if rule.arg is None else (sc.Arg(rule.arg[0], sc.MASKED_EQ, *rule.arg[1:]),)
            try:
                syscall_filter.add_rule(sc.ERRNO(rule.error), rule.syscall, *args)
            except (OSError, ValueError, RuntimeError):
                # A call this libseccomp does not know, or cannot filter by argument on one
                # of the architectures (socketcall on x86): without arguments it is still
                # denied where it can be; an unknown name does not exist to be called.
                if args:
                    raise
        with tempfile.TemporaryFile() as out:
            syscall_filter.export_bpf(out)
            out.flush()
            out.seek(0)
            program = out.read()
    except SeccompUnavailable:
        raise
    except (OSError, ValueError, RuntimeError) as exc:
        raise SeccompUnavailable(f"libseccomp could not make the build filter: {exc}") from None
    if not program:
        raise SeccompUnavailable("libseccomp made an empty filter")
    return program


def filter_fd() -> int:
    """A new readable file descriptor holding the filter, for bubblewrap's ``--seccomp``.

    A memory file: bubblewrap reads it to the end, and each run needs its own descriptor.
    The caller closes it.
    """
    program = filter_bpf()
    fd = os.memfd_create("coprd-seccomp", os.MFD_CLOEXEC)
    try:
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
