"""The spec file inside a source RPM, for the result directories (as Copr keeps it there:
``copr-cli download-build --spec`` fetches ``*.spec`` from each of them).

The SRPM is the user's. Its header says which of its files is the spec (rpm flags it;
an SRPM may carry other ``*.spec`` files as sources), and its payload is unpacked only in
the sandbox, network off: ``rpm2archive`` turns it into a tar stream and ``tar`` extracts
that one member into a directory of its own. The agent then reads what is there through a
:class:`~coprd.builder.confined.ConfinedDir` taken before the sandbox ran: a regular file
whose name is a plain file name, at most ``MAX_SPEC_BYTES`` (``core/limits.py``), no
symlink followed. A spec that cannot be had this way is noted in the log and the build
goes on without it (Copr's builders do the same).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from coprd.builder.backends.base import write_note
from coprd.builder.confined import ConfinedDir, ConfinementError
from coprd.builder.sandbox import (
    SANDBOX_WORKDIR,
    SandboxPolicy,
    SandboxSpec,
    SandboxUnavailable,
    run_sandboxed,
)
from coprd.builder.srpm import spec_file_name
from coprd.core.limits import MAX_SPEC_BYTES

__all__ = ["extract_spec"]

EXTRACT_TIMEOUT_S = 120.0
_SRPM = "package.src.rpm"
_UNPACK = 'rpm2archive -n < "$1" | tar -x -f - -C "$2" --no-same-owner -- "./$3"'


def extract_spec(
    srpm: Path,
    workdir: Path,
    out: Path,
    on_output: Callable[[bytes], None],
    *,
    policy: SandboxPolicy | None = None,
    cancel: threading.Event | None = None,
) -> Path | None:
    """Copy the spec file of ``srpm`` (an intact source RPM, already checked) into the
    directory ``out`` (the agent's own) and return its path; None, with a note in the log,
    if it cannot be had. ``workdir`` is an empty scratch directory for the sandbox."""
    name = spec_file_name(srpm)
    if name is None:
        write_note(on_output, "the spec file is not kept: the SRPM names no usable spec file")
        return None
    workdir.mkdir(parents=True, exist_ok=True)
    with ConfinedDir(workdir) as files:
        files.make_dir("spec")
        with srpm.open("rb") as source, files.create_file(_SRPM) as copy:
            shutil.copyfileobj(source, copy)
        spec = SandboxSpec(
            workdir=workdir,
            network=False,
            timeout_s=EXTRACT_TIMEOUT_S,
            policy=policy or SandboxPolicy(),
        )
        said = bytearray()
        argv = [
            "sh",
            "-c",
            _UNPACK,
            "unpack",
            str(SANDBOX_WORKDIR / _SRPM),
            str(SANDBOX_WORKDIR / "spec"),
            name,
        ]
        try:
            ended = run_sandboxed(
                argv, spec, lambda chunk: said.extend(chunk[: max(0, 4096 - len(said))]), cancel
            )
        except SandboxUnavailable as error:
            write_note(on_output, f"the spec file is not kept: {error}")
            return None
        if ended.returncode != 0 or ended.timed_out or ended.canceled or ended.limit_exceeded:
            detail = bytes(said[:300]).decode(errors="replace").strip()
            write_note(
                on_output,
                f"the spec file is not kept: unpacking the SRPM {ended.reason}"
                + (f" ({detail})" if detail else ""),
            )
            return None
        entry = files.lstat(f"spec/{name}")
        if entry is None or entry.kind != "file":
            write_note(on_output, f"the spec file is not kept: {name} is not a regular file")
            return None
        dest = out / name
        try:
            files.copy_file(f"spec/{name}", dest, MAX_SPEC_BYTES)
        except (ConfinementError, FileExistsError) as error:
            write_note(on_output, f"the spec file is not kept: {error}")
            return None
        return dest
