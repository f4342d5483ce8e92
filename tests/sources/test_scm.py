"""SCM sources: real git repositories on loopback, cloned and built in the sandbox."""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from pathlib import Path

import pytest

from coprd.builder.srpm import inspect_srpm
from tests.sources.conftest import RunSource, requires_tools
from tests.sources.servers import DistGit, FileServer, GitDaemon, GitHost, git
from tests.sources.specs import data_spec, spec_of, srpm_files

pytestmark = requires_tools


def scm(url: str, **fields: str) -> dict[str, str]:
    return {
        "clone_url": url,
        "committish": "",
        "subdirectory": "",
        "spec": "",
        "type": "git",
        "source_build_method": "rpkg",
        **fields,
    }


def test_rpkg_builds_the_default_branch_with_a_remote_source(
    git_host: GitHost, files_server: FileServer, run_source: RunSource
) -> None:
    (files_server.root / "remote.txt").write_text("fetched by rpmbuild\n")
    remote = f"{files_server.url}/remote.txt"
    repo = git_host.create(
        "plain",
        {
            "plain.spec": data_spec("plain", sources=("hello.txt", remote)),
            "hello.txt": "hello from git\n",
        },
    )
    outcome = run_source("scm", scm(repo.url))
    srpm = outcome.ok()
    assert srpm.name == "plain-1.0-1.src.rpm"  # %dist is empty for SRPMs
    assert srpm_files(srpm) == ["hello.txt", "plain.spec", "remote.txt"]
    info = inspect_srpm(srpm)
    assert (info.name, info.version, info.release) == ("plain", "1.0", "1")
    # Dumb HTTP does no shallow clones: the agent says so and clones everything.
    assert "a shallow clone did not work" in outcome.log
    assert f"checked out the default branch at commit {repo.commit}" in outcome.log
    assert f"Downloading {remote}" in outcome.log
    assert "[coprd-agent] $ rpmbuild -bs" in outcome.log


def test_committish_branch_tag_and_commit_with_subdirectory_and_spec(
    git_host: GitHost, run_source: RunSource
) -> None:
    files = {
        "pkgs/one.spec": data_spec("one", "1.0"),
        "pkgs/two.spec": data_spec("two", "2.0"),
        "pkgs/hello.txt": "hello\n",
    }
    repo = git_host.create(
        "layout",
        files,
        tags=("v1",),
        branches={"next": {"pkgs/one.spec": data_spec("one", "1.1")}},
    )
    later = git_host.commit(repo, {"pkgs/one.spec": data_spec("one", "1.2")})

    def version(committish: str) -> str:
        source = scm(repo.url, committish=committish, subdirectory="pkgs", spec="one.spec")
        return inspect_srpm(run_source("scm", source).ok()).version

    assert version("next") == "1.1"  # a branch
    assert version("v1") == "1.0"  # a tag
    assert version(repo.commit) == "1.0"  # a commit
    assert version(later[:12]) == "1.2"  # an abbreviated commit
    assert version("") == "1.2"  # the default branch


def test_shallow_clone_over_the_smart_protocol(
    git_host: GitHost, run_source: RunSource, tmp_path: Path
) -> None:
    repo = git_host.create(
        "smart",
        {"smart.spec": data_spec("smart", "3.0"), "hello.txt": "hi\n"},
        tags=("v3",),
    )
    git_host.commit(repo, {"other.txt": "later\n"})
    daemon = GitDaemon(git_host.server.root)
    try:
        outcome = run_source("scm", scm(f"{daemon.url}/smart.git", committish="v3"))
        assert outcome.ok().name == "smart-3.0-1.src.rpm"
        assert "shallow clone did not work" not in outcome.log
        # A commit hash cannot be fetched shallowly by name: the whole history is cloned.
        outcome = run_source("scm", scm(f"{daemon.url}/smart.git", committish=repo.commit))
        assert outcome.ok().name == "smart-3.0-1.src.rpm"
        assert "shallow clone did not work" in outcome.log
    finally:
        daemon.close()


def test_unknown_committish_fails_naming_it(git_host: GitHost, run_source: RunSource) -> None:
    repo = git_host.create("unknown", {"u.spec": data_spec("u"), "hello.txt": "x\n"})
    outcome = run_source("scm", scm(repo.url, committish="no-such-branch"))
    assert (
        outcome.error == f"the repository {repo.url} has no branch, tag or commit 'no-such-branch'"
    )


def test_missing_repository_fails(git_host: GitHost, run_source: RunSource) -> None:
    outcome = run_source("scm", scm(f"{git_host.url}/nothing-here.git"))
    assert outcome.error is not None
    assert outcome.error.startswith(f"could not clone {git_host.url}/nothing-here.git")
    assert "not found" in outcome.log or "404" in outcome.log


def test_no_spec_or_several_specs_fail_naming_them(
    git_host: GitHost, run_source: RunSource
) -> None:
    repo = git_host.create(
        "specless",
        {"README": "no spec\n", "many/a.spec": data_spec("a"), "many/b.spec": data_spec("b")},
    )
    assert run_source("scm", scm(repo.url)).error == "no .spec file in 'checkout'"
    several = run_source("scm", scm(repo.url, subdirectory="many"))
    assert several.error == (
        "several .spec files in 'checkout/many': a.spec, b.spec; name the one to build"
    )
    named = run_source("scm", scm(repo.url, spec="nope.spec"))
    assert named.error == "there is no spec file 'checkout/nope.spec'"
    subdir = run_source("scm", scm(repo.url, subdirectory="missing"))
    assert subdir.error == "the subdirectory 'checkout/missing' is not a directory"


def test_symlinks_in_the_repository_do_not_reach_the_host(
    git_host: GitHost, run_source: RunSource, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret\n")
    repo = git_host.create("links", {"links.spec": data_spec("links"), "hello.txt": "x\n"})
    (repo.work / "escape").symlink_to("/")
    (repo.work / "sources").symlink_to(secret)
    git_host.commit(repo, {})
    escape = run_source("scm", scm(repo.url, subdirectory="escape"))
    assert escape.error == "the subdirectory 'checkout/escape' is not a directory"
    sources = run_source("scm", scm(repo.url))
    assert sources.error == "checkout/sources is a symlink"
    assert "host secret" not in sources.log


def test_rpkg_fetches_the_sources_file_from_the_lookaside(
    dist_git: DistGit, run_source: RunSource
) -> None:
    tarball = b"pretend tarball " * 100
    repo = dist_git.add(
        "withsources",
        {"withsources.spec": data_spec("withsources", sources=("data.tar",))},
        {"data.tar": tarball},
    )
    outcome = run_source("scm", scm(repo.url), lookaside_url=dist_git.lookaside)
    assert srpm_files(outcome.ok()) == ["data.tar", "withsources.spec"]
    assert "downloading " + dist_git.url + "/repo/pkgs/rpms/withsources/data.tar/sha512/" in (
        outcome.log
    )
    # Without a lookaside in the task, the log says what could not be fetched.
    without = run_source("scm", scm(repo.url))
    assert "lists data.tar, but this task names no lookaside cache" in without.log
    assert without.error == "rpmbuild -bs failed: rpmbuild exited with status 1"
    assert "data.tar: No such file or directory" in without.log


def test_lookaside_hash_mismatch_fails(dist_git: DistGit, run_source: RunSource) -> None:
    repo = dist_git.add(
        "badhash", {"badhash.spec": data_spec("badhash", sources=("x.bin",))}, {"x.bin": b"1"}
    )
    served = next((dist_git.root / "repo/pkgs/rpms/badhash/x.bin").rglob("x.bin"))
    served.write_bytes(b"tampered")
    outcome = run_source("scm", scm(repo.url), lookaside_url=dist_git.lookaside)
    assert outcome.error is not None
    assert "does not match its sha512 hash" in outcome.error


MAKEFILE = """\
srpm:
\trpmbuild -bs --define "_sourcedir $(CURDIR)" --define "_srcrpmdir $(outdir)" \\
\t    --define "dist %{nil}" $(spec)
"""


def test_make_srpm_runs_the_copr_makefile(git_host: GitHost, run_source: RunSource) -> None:
    repo = git_host.create(
        "make",
        {
            ".copr/Makefile": MAKEFILE,
            "pkg/made.spec": data_spec("made", "4.0"),
            "pkg/hello.txt": "made\n",
        },
    )
    source = scm(repo.url, source_build_method="make_srpm", subdirectory="pkg")
    outcome = run_source("scm", source)
    srpm = outcome.ok()
    assert srpm.name == "made-4.0-1.src.rpm"
    assert "$ make -f /builddir/checkout/.copr/Makefile srpm outdir=" in outcome.log
    assert "spec=/builddir/checkout/pkg/made.spec" in outcome.log
    assert "make srpm made made-4.0-1.src.rpm" in outcome.log

    bare = git_host.create("nomake", {"x.spec": data_spec("x"), "hello.txt": "x\n"})
    missing = run_source("scm", scm(bare.url, source_build_method="make_srpm"))
    assert missing.error == "the make_srpm method needs a .copr/Makefile in the repository"


def test_make_srpm_cannot_escape_the_sandbox(
    git_host: GitHost, run_source: RunSource, tmp_path: Path
) -> None:
    data = tmp_path / "server-data"
    data.mkdir()
    (data / "token").write_text("the-builder-token\n")
    nonce = secrets.token_hex(4)
    makefile = f"srpm:\n\t-cat {data}/token\n\ttouch /usr/escaped-{nonce}\n"
    repo = git_host.create("escape-make", {".copr/Makefile": makefile})
    outcome = run_source("scm", scm(repo.url, source_build_method="make_srpm"))
    assert outcome.error == "make srpm failed: make exited with status 2"
    assert f"cat: {data}/token: No such file or directory" in outcome.log
    assert f"touch: cannot touch '/usr/escaped-{nonce}': Read-only file system" in outcome.log
    assert "the-builder-token" not in outcome.log
    assert not Path(f"/usr/escaped-{nonce}").exists()


def test_spec_parsing_runs_in_the_sandbox_within_the_timeout(
    git_host: GitHost, run_source: RunSource
) -> None:
    spec = data_spec("slow", header="%global slow %(sleep 60)")
    repo = git_host.create("slow", {"slow.spec": spec, "hello.txt": "x\n"})
    started = time.monotonic()
    outcome = run_source("scm", scm(repo.url), timeout=5)
    assert outcome.error is not None
    assert "timed out" in outcome.error
    assert time.monotonic() - started < 30


def test_cancel_stops_the_task(git_host: GitHost, run_source: RunSource) -> None:
    spec = data_spec("canceled", header="%global slow %(sleep 60)")
    repo = git_host.create("cancel", {"canceled.spec": spec, "hello.txt": "x\n"})
    cancel = threading.Event()
    threading.Timer(2.0, cancel.set).start()
    started = time.monotonic()
    outcome = run_source("scm", scm(repo.url), cancel=cancel)
    assert outcome.error == "canceled"
    assert time.monotonic() - started < 30


@pytest.mark.skipif(shutil.which("tito") is not None, reason="tito is installed here")
def test_tito_needs_tito(git_host: GitHost, run_source: RunSource) -> None:
    for method in ("tito", "tito_test"):
        outcome = run_source("scm", scm(f"{git_host.url}/x.git", source_build_method=method))
        assert (
            outcome.error == f"tito is not installed on this builder; the {method} method needs it"
        )


@pytest.mark.skipif(shutil.which("svn") is not None, reason="svn is installed here")
def test_svn_needs_svn(git_host: GitHost, run_source: RunSource) -> None:
    outcome = run_source("scm", scm(f"{git_host.url}/x", type="svn"))
    assert outcome.error == "svn is not installed on this builder; Subversion sources need it"


def test_spec_in_the_srpm_is_the_repository_s(git_host: GitHost, run_source: RunSource) -> None:
    spec = data_spec("exact")
    repo = git_host.create("exact", {"exact.spec": spec, "hello.txt": "x\n"})
    srpm = run_source("scm", scm(repo.url)).ok()
    assert spec_of(srpm, "exact.spec") == spec
    assert git("rev-parse", "HEAD", cwd=repo.work) == repo.commit


def test_a_makefile_that_swaps_its_outdir_for_a_symlink_yields_nothing(
    git_host: GitHost, run_source: RunSource, outside: Path, tmp_path: Path
) -> None:
    # The Makefile replaces its outdir by a symlink to ``outside``, a /tmp path: in the
    # sandbox its own tmpfs, where the SRPM is made; on the host a directory holding an
    # SRPM that is not the build's.
    (outside / "foreign-1-1.src.rpm").write_bytes(b"someone else's package")
    makefile = (
        "srpm:\n"
        f"\trm -rf $(outdir) && mkdir -p {outside} && ln -s {outside} $(outdir)\n"
        + MAKEFILE.split("\n", 1)[1]
    )
    repo = git_host.create(
        "swap-make",
        {".copr/Makefile": makefile, "swap.spec": data_spec("swap"), "hello.txt": "x\n"},
    )
    outcome = run_source("scm", scm(repo.url, source_build_method="make_srpm"))
    assert "Wrote: /builddir/.coprd-make-srpm/swap-1.0-1.src.rpm" in outcome.log
    assert outcome.error == "make srpm's output directory .coprd-make-srpm is a symlink"
    assert list((tmp_path / "task-1" / "result").iterdir()) == []
