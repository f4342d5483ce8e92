"""The installed copr-cli, run as its own ``copr-cli`` script runs it, except that a watched
build (``copr-cli build`` without ``--nowait``, ``watch-build``) is asked about every
second instead of every 30 seconds: the client's requests and output are unchanged, and a
test whose build ends in five seconds does not wait thirty.

Run as ``python tests/integration/watching_copr_cli.py ARGS…`` (``Server.copr_cli``).
"""

from __future__ import annotations

import sys
import time
import types
from typing import Any

import copr_cli.main

WATCH_INTERVAL_S = 1.0


class _Time(types.ModuleType):
    """``time`` as copr_cli.main sees it: the same module, with a shorter sleep."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, WATCH_INTERVAL_S))


copr_cli.main.time = _Time("time")

if __name__ == "__main__":
    sys.argv[0] = "copr-cli"
    sys.exit(copr_cli.main.main())
