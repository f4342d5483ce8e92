"""Build backends: one SRPM and one chroot in, binary RPMs out (``base.py`` says the contract)."""

from coprd.builder.backends.base import Backend, RpmResult, RpmTask
from coprd.builder.backends.local import LocalBackend
from coprd.builder.backends.mock import MockBackend, mock_command

__all__ = ["Backend", "LocalBackend", "MockBackend", "RpmResult", "RpmTask", "mock_command"]
