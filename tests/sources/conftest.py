"""Fixtures for source tests: the loopback servers, and running one source task."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from coprd.builder.backends import LocalBackend
from coprd.builder.backends.local import host_target_cpu
from coprd.sources import SourceFailed, make_srpm
from tests.builder.conftest import outside, rpm_task  # noqa: F401 - a fixture
from tests.sources.servers import (  # noqa: F401 - fixtures
    dist_git,
    files_server,
    gem_source,
    git_host,
    pypi_index,
)

requires_tools = pytest.mark.skipif(
    not (shutil.which("rpmbuild") and shutil.which("bwrap") and shutil.which("git")),
    reason="needs rpmbuild, bubblewrap and git",
)


@dataclass
class Outcome:
    """How one source task ended: the SRPM, or the failure's message; and its log."""

    srpm: Path | None
    error: str | None
    log: str

    def ok(self) -> Path:
        assert self.srpm is not None, f"{self.error}\n--- log ---\n{self.log}"
        return self.srpm


RunSource = Callable[..., Outcome]


@pytest.fixture
def run_source(tmp_path: Path) -> RunSource:
    """``run_source("scm", {...source...}, timeout=60, cancel=event, **task fields)``;
    ``uploaded=path`` is an upload build's file, as the agent fetched it."""
    count = 0

    def run(source_type: str, source: dict[str, Any], **fields: Any) -> Outcome:
        nonlocal count
        count += 1
        workdir = tmp_path / f"task-{count}"
        workdir.mkdir()
        cancel = fields.pop("cancel", None) or threading.Event()
        uploaded = fields.pop("uploaded", None)
        task: dict[str, Any] = {
            "task_id": count,
            "build_id": count,
            "kind": "source",
            "chroot": "srpm-builds",
            "owner": "alice",
            "project": "demo",
            "source_type": source_type,
            "source": source,
            "timeout": 120,
            "memory_limit_mb": None,
            "pypi_index": "http://127.0.0.1:9/simple",
            "rubygems_source": "http://127.0.0.1:9",
            "lookaside_url": None,
            **fields,
        }
        chunks: list[bytes] = []
        try:
            srpm = make_srpm(task, workdir, chunks.append, cancel, uploaded=uploaded)
        except SourceFailed as exc:
            return Outcome(None, str(exc), b"".join(chunks).decode(errors="replace"))
        return Outcome(srpm, None, b"".join(chunks).decode(errors="replace"))

    return run


def build_locally(srpm: Path, tmp_path: Path) -> Path:
    """The one binary RPM the local backend builds from ``srpm`` (as an agent would)."""
    task = rpm_task(srpm, tmp_path, host_target_cpu(), timeout_s=300)
    log = bytearray()
    result = LocalBackend().build_rpm(task, log.extend, threading.Event())
    assert result.state == "succeeded", log.decode(errors="replace")
    (rpm,) = task.outdir.glob("*.rpm")
    return rpm
