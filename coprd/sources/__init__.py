"""Turning a source into an SRPM, on the builder agent, in the source task.

One module per source type (``scm``, ``pypi``, ``rubygems``, ``custom``, ``distgit``,
``link``, and ``upload`` for an uploaded spec file), sharing ``common`` (the job's
directories, sandboxed steps, downloads) and
``lookaside`` (dist-git ``sources`` files). Uploaded SRPMs need no turning: the agent
downloads them from the server itself, as it does a link into the server's own results;
an uploaded spec it downloads likewise and passes on (``uploaded``).

:func:`make_srpm` is the one entry point; it returns the SRPM's path or raises
:class:`SourceFailed`, whose message is the task's failure message. Every step is logged
as a ``[coprd-agent] …`` line, and everything that runs user-controlled content runs in
the bubblewrap sandbox with the network on, within the task's timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from http import cookiejar
from pathlib import Path
from typing import Any

import httpx

from coprd.builder.sandbox import SandboxPolicy
from coprd.sources import custom, distgit, link, pypi, rubygems, scm, upload
from coprd.sources.common import Job, SourceFailed

__all__ = ["SOURCE_TYPES", "SourceFailed", "make_srpm"]

_MAKERS: dict[str, Callable[[Job], Path]] = {
    "scm": scm.make_srpm,
    "pypi": pypi.make_srpm,
    "rubygems": rubygems.make_srpm,
    "custom": custom.make_srpm,
    "distgit": distgit.make_srpm,
    "link": link.make_srpm,
    "upload": upload.make_srpm,
}
SOURCE_TYPES = tuple(_MAKERS)


def make_srpm(
    task: Mapping[str, Any],
    workdir: Path,
    log: Callable[[bytes], None],
    cancel: threading.Event,
    *,
    http: httpx.Client | None = None,
    policy: SandboxPolicy | None = None,
    uploaded: Path | None = None,
) -> Path:
    """The SRPM of the source task ``task`` (the agent protocol's task JSON).

    ``workdir`` is an empty directory the task may fill; the SRPM returned lies in it.
    ``http`` is the client for downloads (it must send no credentials); without it one is
    made for this call. ``policy`` is the agent's sandbox settings (default: the sandbox's
    defaults). ``uploaded`` is an ``upload`` build's spec file, already fetched by the
    agent. Raises SourceFailed, also when ``cancel`` was set ("canceled").
    """
    source_type = str(task.get("source_type"))
    maker = _MAKERS.get(source_type)
    if maker is None:
        raise SourceFailed(f"source type {source_type!r} is not supported by this builder")
    own = http is None
    client = http if http is not None else anonymous_client()
    try:
        with Job.start(task, workdir, log, cancel, client, policy, uploaded) as job:
            return maker(job)
    except OSError as exc:  # the builder's own files: a full disk, permissions, …
        raise SourceFailed(f"the builder could not work on the source: {exc}") from None
    finally:
        if own:
            client.close()


def anonymous_client() -> httpx.Client:
    """An HTTP client that stores no cookies and sends no credentials."""
    no_cookies = cookiejar.DefaultCookiePolicy(allowed_domains=[])
    return httpx.Client(
        timeout=httpx.Timeout(60.0, connect=10.0),
        cookies=cookiejar.CookieJar(policy=no_cookies),
    )
