"""A dist-git ``sources`` file, and fetching the files it lists from a lookaside cache.

Both formats dist-git uses are read: ``SHA512 (name.tar.gz) = <hash>`` (any hash hashlib
knows, the type in the lookaside URL in lower case) and the old ``<md5>  name.tar.gz``. The
cache URL is the server's template with ``{namespace}``, ``{name}``, ``{filename}``,
``{hashtype}`` and ``{hash}`` filled in; every file is checked against its hash.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from coprd.builder.confined import ConfinementError
from coprd.sources.common import FILE_NAME, MAX_LOOKASIDE, Job, SourceFailed

MAX_SOURCES_FILE = 1024 * 1024
_NEW = re.compile(r"(?P<type>[A-Za-z0-9]+) \((?P<name>[^()]+)\) = (?P<hash>[0-9A-Fa-f]+)")
_OLD = re.compile(r"(?P<hash>[0-9A-Fa-f]{32})\s+\*?(?P<name>\S+)")
_LENGTHS = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True)
class SourceFile:
    name: str
    hashtype: str
    hash: str


def parse_sources(text: str) -> list[SourceFile]:
    """The entries of a ``sources`` file; SourceFailed names a line that is neither format."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        match = _NEW.fullmatch(line)
        if match:
            entry = SourceFile(match["name"], match["type"].lower(), match["hash"].lower())
        elif match := _OLD.fullmatch(line):
            entry = SourceFile(match["name"], "md5", match["hash"].lower())
        else:
            raise SourceFailed(f"line {number} of the sources file is not understood: {line!r}")
        if not FILE_NAME.fullmatch(entry.name):
            raise SourceFailed(f"the sources file names {entry.name!r}, not a plain file name")
        if _LENGTHS.get(entry.hashtype) != len(entry.hash):
            raise SourceFailed(
                f"the sources file gives {entry.name} a hash that is not {entry.hashtype}"
            )
        entries.append(entry)
    return entries


def fetch_lookaside(
    job: Job, directory: Path, template: str | None, namespace: str, name: str
) -> None:
    """Fetch what ``directory/sources`` lists into ``directory``, if there is such a file."""
    path = directory / "sources"
    if job.lstat(path) is None:
        return
    entries = parse_sources(job.read_file(path, MAX_SOURCES_FILE).decode(errors="replace"))
    if not entries:
        return
    if template is None:
        missing = [e.name for e in entries if _digest(job, directory / e.name, e.hashtype) is None]
        if missing:
            job.note(
                f"the sources file lists {', '.join(missing)}, but this task names no "
                "lookaside cache to fetch them from"
            )
        return
    for entry in entries:
        dest = directory / entry.name
        if _digest(job, dest, entry.hashtype) == entry.hash:
            job.note(f"{entry.name} is in the repository already")
            continue
        url = (
            template.replace("{namespace}", quote(namespace))
            .replace("{name}", quote(name))
            .replace("{filename}", quote(entry.name))
            .replace("{hashtype}", entry.hashtype)
            .replace("{hash}", entry.hash)
        )
        job.download(
            url,
            dest,
            f"the lookaside file {entry.name}",
            limit=MAX_LOOKASIDE,
            digest=(entry.hashtype, entry.hash),
        )


def _digest(job: Job, path: Path, hashtype: str) -> str | None:
    """The hash of the regular file at ``path`` (in the checkout, so read through
    ``job.files``), or None if there is none."""
    try:
        with job.files.open_file(job.rel(path)) as file:
            return hashlib.file_digest(file, hashtype).hexdigest()
    except ConfinementError:
        return None
