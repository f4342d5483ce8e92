"""An uploaded spec file (``copr-cli build demo hello.spec``), built into an SRPM.

The agent fetched the upload from the server (with its builder token, which never enters
the sandbox); here it is copied into the sandbox and built as Copr builds a spec it is
given: ``rpmbuild -bs`` with the Source URLs it names downloaded by rpmbuild, in the
sandbox, network on (``Job.rpmbuild_srpm``). An uploaded SRPM needs none of this: the
agent uses it as it is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from coprd.builder.confined import ConfinementError
from coprd.sources.common import FILE_NAME, Job, SourceFailed


def make_srpm(job: Job) -> Path:
    spec = job.uploaded
    if spec is None or not spec.name.endswith(".spec") or not FILE_NAME.fullmatch(spec.name):
        raise SourceFailed("this build's uploaded spec file is missing")
    directory = job.fresh_dir(job.root / "upload")
    dest = directory / spec.name
    try:
        with spec.open("rb") as source, job.files.create_file(job.rel(dest)) as copy:
            shutil.copyfileobj(source, copy)
    except ConfinementError as error:
        raise SourceFailed(str(error)) from None
    job.note(f"building the SRPM from the uploaded {spec.name}")
    return job.rpmbuild_srpm(dest, directory)
