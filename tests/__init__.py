"""The test suite.

Under pytest-xdist (``scripts/test`` runs the suite on every core) each worker's builds
run as host uids of their own: a root agent's builds run as ``build_uid`` + slot, and two
workers' agents sharing those uids would see (and a test would count) each other's
processes and files. Set here, before any ``coprd`` module reads its settings.
"""

from __future__ import annotations

import os

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and _worker[2:].isdigit():
    os.environ.setdefault("COPRD_BUILD_UID", str(2_000_000_000 + 1000 * int(_worker[2:])))
BUILD_UID = int(os.environ.get("COPRD_BUILD_UID", "2000000000"))
"""The first uid root agents started by this test process build as."""
