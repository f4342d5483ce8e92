"""SCM sources: a git (or Subversion) repository, built by rpkg, make_srpm or tito.

The checkout, and every method after it, runs in the sandbox with the network on:

* git: ``git clone --depth=1 --branch=<committish>`` first (a branch or tag, or the default
  branch); where that cannot work (a commit hash, or a server such as git's dumb HTTP that
  does no shallow clones) the whole repository is cloned and the committish resolved with
  ``git rev-parse --verify --end-of-options`` (a remote branch, then a tag, then anything
  else git understands), so a committish can never be read as an option.
* svn: ``svn checkout`` at the committish as revision, if svn is installed on the builder.

Methods, in the checkout's ``subdirectory``:

``rpkg``
    The spec (``spec``, or the only ``*.spec``) and the files beside it make the SRPM with
    ``rpmbuild -bs``; Source URLs not in the checkout are downloaded by rpmbuild, and a
    dist-git ``sources`` file is fetched from the lookaside cache when the task names one.
    rpkg's own spec templates (``*.spec.rpkg`` with ``{{{ }}}`` macros) are not expanded.
``make_srpm``
    ``make -f <checkout>/.copr/Makefile srpm outdir=<dir> spec=<spec>``; the SRPM is the
    one ``*.src.rpm`` it leaves in ``outdir``.
``tito``, ``tito_test``
    ``tito build --srpm [--test]``, if tito is installed on the builder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from coprd.sources.common import Job, SourceFailed
from coprd.sources.lookaside import fetch_lookaside

GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "GIT_LFS_SKIP_SMUDGE": "1"}
_GIT = [
    "git",
    "-c",
    "protocol.file.allow=never",
    "-c",
    "protocol.ext.allow=never",
    "-c",
    "advice.detachedHead=false",
    "-c",
    "credential.helper=",
]


def git_checkout(job: Job, url: str, committish: str, dest: Path, *, shallow: bool = True) -> str:
    """Clone ``url`` into ``dest`` (under ``job.root``) at ``committish`` (empty: the default
    branch); returns the commit checked out."""
    inside = str(job.inside(dest))
    at = f" at {committish}" if committish else ""
    job.note(f"cloning {url}{at}")
    done = False
    if shallow:
        argv = [*_GIT, "clone", "--quiet", "--depth=1"]
        if committish:
            argv.append(f"--branch={committish}")
        result, output = job.run(
            [*argv, "--", url, inside], "git clone", env=GIT_ENV, capture=True, check=False
        )
        done = result.returncode == 0
        if not done:
            reason = _first_line(output) or result.reason
            job.note(f"a shallow clone did not work ({reason}); cloning the whole repository")
            job.remove(dest)
    if not done:
        argv = [*_GIT, "clone", "--quiet"]
        if committish:
            argv.append("--no-checkout")
        argv += ["--", url, inside]
        result, _ = job.run(argv, "git clone", env=GIT_ENV, check=False, shown=_short(argv))
        if result.returncode != 0:
            raise SourceFailed(f"could not clone {url}: git {result.reason} (see the log)")
        if committish:
            commit = _resolve(job, dest, committish)
            if commit is None:
                raise SourceFailed(
                    f"the repository {url} has no branch, tag or commit {committish!r}"
                )
            argv = [*_GIT, "-C", inside, "checkout", "--quiet", "--detach", commit]
            job.run(argv, "git checkout", env=GIT_ENV, shown=_short(argv))
    _, head = job.run([*_GIT, "-C", inside, "rev-parse", "HEAD"], "git rev-parse", capture=True)
    commit = head.decode(errors="replace").strip()
    job.note(f"checked out {committish or 'the default branch'} at commit {commit}")
    return commit


def _resolve(job: Job, repo: Path, committish: str) -> str | None:
    inside = str(job.inside(repo))
    for candidate in (f"refs/remotes/origin/{committish}", f"refs/tags/{committish}", committish):
        argv = [*_GIT, "-C", inside, "rev-parse", "--verify", "--quiet", "--end-of-options"]
        result, output = job.run(
            [*argv, f"{candidate}^{{commit}}"],
            "git rev-parse",
            capture=True,
            check=False,
        )
        if result.returncode == 0:
            return output.decode(errors="replace").strip()
    return None


def _short(argv: list[str]) -> list[str]:
    """A git command as logged: without the ``-c`` settings every command gets."""
    return ["git", *argv[len(_GIT) :]]


def _first_line(output: bytes) -> str:
    for line in output.decode(errors="replace").splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def svn_checkout(job: Job, url: str, committish: str, dest: Path) -> None:
    if shutil.which("svn") is None:
        raise SourceFailed("svn is not installed on this builder; Subversion sources need it")
    argv = ["svn", "checkout", "--non-interactive", "--quiet"]
    if committish:
        argv.append(f"--revision={committish}")
    job.note(f"checking out {url}" + (f" at revision {committish}" if committish else ""))
    job.run([*argv, "--", url, str(job.inside(dest))], "svn checkout")


def make_srpm(job: Job) -> Path:
    """The SRPM of an ``scm`` source (see the module docstring)."""
    source = job.source
    url = str(source.get("clone_url") or "")
    committish = str(source.get("committish") or "")
    method = str(source.get("source_build_method") or "rpkg")
    kind = str(source.get("type") or "git")
    if not url:
        raise SourceFailed("the source names no clone_url")
    if method in ("tito", "tito_test") and shutil.which("tito") is None:
        raise SourceFailed(f"tito is not installed on this builder; the {method} method needs it")
    checkout = job.root / "checkout"
    if kind == "svn":
        svn_checkout(job, url, committish, checkout)
    elif kind == "git":
        # tito reads the version from the history's tags.
        git_checkout(job, url, committish, checkout, shallow=method not in ("tito", "tito_test"))
    else:
        raise SourceFailed(f"unknown SCM type {kind!r}")
    job.directory(checkout, "the checkout")
    subdirectory = str(source.get("subdirectory") or "")
    workdir = checkout / subdirectory if subdirectory else checkout
    job.directory(workdir, "the subdirectory")
    spec_name = str(source.get("spec") or "")

    if method == "rpkg":
        spec = job.find_spec(workdir, spec_name)
        lookaside = job.task.get("lookaside_url")
        fetch_lookaside(
            job, workdir, str(lookaside) if lookaside else None, "rpms", spec.name[: -len(".spec")]
        )
        job.note(f"building the SRPM from {job.shown(spec)}")
        return job.rpmbuild_srpm(spec, workdir)
    if method == "make_srpm":
        return _make_srpm(job, checkout, workdir, spec_name)
    if method in ("tito", "tito_test"):
        outdir = job.fresh_dir(job.root / ".coprd-tito")
        argv = ["tito", "build", "--srpm", f"--output={job.inside(outdir)}"]
        if method == "tito_test":
            argv.append("--test")
        job.run(argv, "tito build", cwd=workdir)
        return job.one_srpm(outdir, "tito build")
    raise SourceFailed(f"unknown source build method {method!r}")


def _make_srpm(job: Job, checkout: Path, workdir: Path, spec_name: str) -> Path:
    makefile = checkout / ".copr" / "Makefile"
    if not job.is_sandbox_file(makefile):
        raise SourceFailed("the make_srpm method needs a .copr/Makefile in the repository")
    spec = ""
    if spec_name:
        spec = str(job.inside(workdir / spec_name))
    else:
        try:
            spec = str(job.inside(job.find_spec(workdir)))
        except SourceFailed:
            spec = ""  # the Makefile may write the spec itself
    outdir = job.fresh_dir(job.root / ".coprd-make-srpm")
    argv = [
        "make",
        "-f",
        str(job.inside(makefile)),
        "srpm",
        f"outdir={job.inside(outdir)}",
        f"spec={spec}",
    ]
    job.run(argv, "make srpm", cwd=workdir)
    return job.one_srpm(outdir, "make srpm")
