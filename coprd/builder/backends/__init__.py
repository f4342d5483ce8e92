"""Build backends: one SRPM and one chroot in, binary RPMs out (``base.py`` says the contract)."""

from coprd.builder.backends.base import Backend, BuildRepo, RpmResult, RpmTask
from coprd.builder.backends.local import LocalBackend
from coprd.builder.backends.mock import MockBackend, mock_command, mock_config

__all__ = [
    "Backend",
    "BuildRepo",
    "LocalBackend",
    "MockBackend",
    "RpmResult",
    "RpmTask",
    "mock_command",
    "mock_config",
]
