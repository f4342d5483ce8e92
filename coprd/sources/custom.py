"""Custom sources: the user's script writes a spec (and sources); rpmbuild makes the SRPM.

The script runs in the sandbox with the network on, in an empty directory
(``/builddir/work``), with ``COPR_OWNER``, ``COPR_PROJECT``, ``COPR_PACKAGE`` (when the
task names a package) and ``COPR_RESULTDIR`` (the absolute path of ``resultdir``) set. A
script without a ``#!`` line runs under ``/bin/sh``. Afterwards ``resultdir`` (relative to
that directory; default: the directory itself) must hold exactly one ``*.spec``, which
``rpmbuild -bs`` turns into the SRPM with the files beside it as sources.

On Copr the script runs in a mock chroot of the chosen distribution with ``builddeps``
installed. This builder runs it with the host's tools: the chroot is only logged, and
``builddeps`` and ``repos`` are logged as not installed / not used.
"""

from __future__ import annotations

import os
from pathlib import Path

from coprd.sources.common import Job, SourceFailed


def make_srpm(job: Job) -> Path:
    source = job.source
    script = source.get("script")
    if not isinstance(script, str) or not script.strip():
        raise SourceFailed("the source has no script")
    resultdir = str(source.get("resultdir") or "")
    chroot = str(source.get("chroot") or "")
    builddeps = str(source.get("builddeps") or "").split()
    repos = str(source.get("repos") or "").split()
    job.note(
        f"the script asks for the {chroot or 'default'} chroot; it runs with this builder's "
        "tools in a bubblewrap sandbox, network on"
    )
    if builddeps:
        job.note(
            f"this builder cannot install packages for the script; not installed: "
            f"{' '.join(builddeps)}"
        )
    if repos:
        job.note(
            f"this builder cannot add repositories for the script; not used: {' '.join(repos)}"
        )

    path = job.root / "script"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o755)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(script)
    work = job.fresh_dir(job.root / "work")
    results = work / resultdir if resultdir else work
    env = {
        "COPR_OWNER": str(job.task.get("owner") or ""),
        "COPR_PROJECT": str(job.task.get("project") or ""),
        "COPR_RESULTDIR": str(job.inside(results)),
    }
    package = job.task.get("package_name") or source.get("package_name")
    if package:
        env["COPR_PACKAGE"] = str(package)
    job.run([str(job.inside(path))], "the custom script", cwd=work, env=env)
    try:
        job.directory(results, "the result directory")
    except SourceFailed:
        raise SourceFailed(
            f"the script left no result directory {resultdir or '.'!r} "
            "(resultdir is relative to the directory the script starts in)"
        ) from None
    spec = job.find_spec(results)
    job.note(f"building the SRPM from {job.shown(spec)}")
    return job.rpmbuild_srpm(spec, results)
