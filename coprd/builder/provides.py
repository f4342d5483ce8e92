"""What the binary packages of a spec will provide, for ordering a project's builds
(``core/ordering.py``): the names of its subpackages and of their explicit ``Provides``.

They are not in the SRPM's header (its requires are the BuildRequires; its provides are the
source package's own), so the spec is asked: ``rpmspec -q --provides`` lists every binary
package's provides, its own name among them. Parsing a spec runs its ``%(…)`` macros, which
are the user's shell code, so rpmspec runs in the sandbox, network off, on a copy of the
spec, and writes its answer to a file the agent reads back through a
:class:`~coprd.builder.confined.ConfinedDir` (at most :data:`MAX_OUTPUT_BYTES`, no symlink
followed). Only names are kept: ordering matches requirements to provides by name and
ignores versions.

The source step belongs to no chroot, so the spec is parsed with the builder host's own
macros, not a chroot's: a provide that only exists under one distribution's conditionals
(``%if 0%{?fedora}``) may be missed or extra. That is good enough to order builds; a
wrong guess costs a wait or a failed build that is resubmitted, never a wrong package.
A spec that cannot be parsed this way (missing macros, a timeout) gives an empty list,
with a note in the log: the build is then not waited for by anyone.
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
from coprd.builder.srpm import build_requires

__all__ = ["MAX_PROVIDES", "requirement_names", "spec_provides"]

QUERY_TIMEOUT_S = 120.0
MAX_OUTPUT_BYTES = 1024 * 1024
MAX_PROVIDES = 2000
MAX_NAME = 255
_SPEC = "package.spec"
_OUT = "provides.txt"
_QUERY = 'rpmspec -q --provides -- "$1" > "$2"'


def spec_provides(
    spec: Path,
    workdir: Path,
    on_output: Callable[[bytes], None],
    *,
    policy: SandboxPolicy | None = None,
    cancel: threading.Event | None = None,
) -> list[str]:
    """The names ``spec``'s binary packages will provide (at most :data:`MAX_PROVIDES`),
    asked of rpmspec in the sandbox; ``workdir`` is an empty scratch directory. An empty
    list, with a note in the log, if the spec cannot be parsed."""
    workdir.mkdir(parents=True, exist_ok=True)
    with ConfinedDir(workdir) as files:
        with spec.open("rb") as source, files.create_file(_SPEC) as copy:
            shutil.copyfileobj(source, copy)
        sandbox = SandboxSpec(
            workdir=workdir,
            network=False,
            timeout_s=QUERY_TIMEOUT_S,
            policy=policy or SandboxPolicy(),
        )
        said = bytearray()
        argv = ["sh", "-c", _QUERY, "provides", str(SANDBOX_WORKDIR / _SPEC)]
        argv.append(str(SANDBOX_WORKDIR / _OUT))
        try:
            ended = run_sandboxed(
                argv,
                sandbox,
                lambda chunk: said.extend(chunk[: max(0, 4096 - len(said))]),
                cancel,
            )
        except SandboxUnavailable as error:
            write_note(on_output, f"what the packages provide is not known: {error}")
            return []
        if ended.returncode != 0 or ended.timed_out or ended.canceled or ended.limit_exceeded:
            detail = bytes(said[:300]).decode(errors="replace").strip()
            write_note(
                on_output,
                f"what the packages provide is not known: rpmspec {ended.reason}"
                + (f" ({detail})" if detail else ""),
            )
            return []
        try:
            text = files.read_bytes(_OUT, MAX_OUTPUT_BYTES)
        except (ConfinementError, OSError) as error:
            write_note(on_output, f"what the packages provide is not known: {error}")
            return []
    return parse_provides(text.decode(errors="replace"))


def requirement_names(srpm: Path) -> list[str]:
    """The names a source RPM BuildRequires (``srpm.build_requires``), each once, without
    versions, at most :data:`MAX_PROVIDES`: what ordering matches against provides. A rich
    dependency (``(a or b)``) is kept whole and so matches nothing. InvalidPackage if the
    header cannot be read."""
    names = dict.fromkeys(r.name for r in build_requires(srpm) if len(r.name) <= MAX_NAME)
    return list(names)[:MAX_PROVIDES]


def parse_provides(text: str) -> list[str]:
    """The provided names in rpmspec's ``--provides`` output (``name [op version]`` per
    line), each once, in order; names longer than :data:`MAX_NAME` are dropped."""
    names: dict[str, None] = {}
    for line in text.splitlines():
        words = line.split()
        if words and len(words[0]) <= MAX_NAME:
            names.setdefault(words[0], None)
    return list(names)[:MAX_PROVIDES]
