"""dist-git sources: a package's repository on a dist-git (Fedora's, CentOS's, …).

The repository is cloned at the committish (default: its default branch), the spec is
``<package_name>.spec`` at its top, the files its ``sources`` file lists come from the
dist-git's lookaside cache (the task's ``lookaside_url``), and ``rpmbuild -bs`` makes the
SRPM — what ``dist-git-client sources`` and ``dist-git-client srpm`` do on Copr's builders.
"""

from __future__ import annotations

from pathlib import Path

from coprd.sources.common import Job, SourceFailed
from coprd.sources.lookaside import fetch_lookaside
from coprd.sources.scm import git_checkout


def make_srpm(job: Job) -> Path:
    source = job.source
    url = str(source.get("clone_url") or "")
    name = str(source.get("package_name") or "")
    namespace = str(source.get("namespace") or "rpms")
    committish = str(source.get("committish") or "")
    if not url or not name:
        raise SourceFailed("the source names no clone_url or package_name")
    checkout = job.root / "checkout"
    git_checkout(job, url, committish, checkout)
    job.directory(checkout, "the checkout")
    spec = checkout / f"{name}.spec"
    if not job.is_sandbox_file(spec):
        at = committish or "its default branch"
        raise SourceFailed(f"the dist-git repository {url} has no {name}.spec (at {at})")
    lookaside = job.task.get("lookaside_url")
    fetch_lookaside(job, checkout, str(lookaside) if lookaside else None, namespace, name)
    job.note(f"building the SRPM from {name}.spec")
    return job.rpmbuild_srpm(spec, checkout)
