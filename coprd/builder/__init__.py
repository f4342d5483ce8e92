"""The builder: what an agent does with a claimed task, without HTTP or a database.

``macros``: the rpm macros a chroot implies. ``sandbox``: running a command in bubblewrap
with a timeout, a cancel and a live log. ``confined``: reading back what it wrote without
following its symlinks. ``srpm``: reading and checking RPM headers.
``backends``: turning an SRPM into binary RPMs (``local``: rpmbuild in the sandbox; ``mock``).
"""

from coprd.builder.backends import Backend, LocalBackend, MockBackend, RpmResult, RpmTask
from coprd.builder.macros import chroot_macros
from coprd.builder.sandbox import SandboxResult, SandboxSpec, run_sandboxed
from coprd.builder.srpm import (
    InvalidPackage,
    Nevra,
    SrpmInfo,
    arch_allowed,
    inspect_rpm,
    inspect_srpm,
)

__all__ = [
    "Backend",
    "InvalidPackage",
    "LocalBackend",
    "MockBackend",
    "Nevra",
    "RpmResult",
    "RpmTask",
    "SandboxResult",
    "SandboxSpec",
    "SrpmInfo",
    "arch_allowed",
    "chroot_macros",
    "inspect_rpm",
    "inspect_srpm",
    "run_sandboxed",
]
