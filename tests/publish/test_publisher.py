"""The publisher: what a crash in the middle of a publish leaves is finished on restart."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

from coprd.publish import ensure_repo, repodata_problems
from coprd.publish.builddir import pending_name
from coprd.publish.createrepo import CreaterepoFailed
from coprd.publish.publisher import Publisher
from tests.publish.conftest import Rpms, place_build, primary

CHROOT = "fedora-rawhide-x86_64"


def test_repair_finishes_a_publish_the_server_died_in(tmp_path: Path, rpms: Rpms) -> None:
    results = tmp_path / "results"
    repo = results / "alice" / "demo" / CHROOT
    ensure_repo(repo)
    # What kill -9 during publish_build leaves: the build's packages revealed, createrepo_c's
    # staging directory half-written, the live metadata still the old one.
    place_build(repo, 7, "hello", rpms.hello)
    (repo / ".repodata-crashed" / "repodata").mkdir(parents=True)
    (repo / ".repodata-crashed" / "repodata" / "primary.xml.gz").write_bytes(b"\x1f\x8b")
    untouched = results / "bob" / "tools" / CHROOT
    ensure_repo(untouched)
    before = (untouched / "repodata" / "repomd.xml").stat().st_mtime_ns

    assert Publisher(results).repair() == 1

    assert repodata_problems(repo / "repodata") == []
    assert [name for name, _arch, _href in primary(repo)] == ["hello"]
    assert list(repo.glob(".repodata-*")) == []
    assert (untouched / "repodata" / "repomd.xml").stat().st_mtime_ns == before
    assert Publisher(results).repair() == 0


def test_a_retried_publish_of_the_same_build_is_harmless(tmp_path: Path, rpms: Rpms) -> None:
    results = tmp_path / "results"
    publisher = Publisher(results)
    repo = "alice/demo/" + CHROOT
    build = f"{repo}/00000007-hello"
    ensure_repo(results / repo)
    shutil.copy(rpms.hello, publisher.result_file(build, rpms.hello.name))
    assert publisher.result_file(build, rpms.hello.name).name == pending_name(rpms.hello.name)
    assert primary(results / repo) == []

    publisher.publish_build(repo, build)
    publisher.publish_build(repo, build)  # the agent did not hear the answer and asks again

    assert [name for name, _arch, _href in primary(results / repo)] == ["hello"]


def test_removed_builds_leave_the_metadata_then_the_disk(tmp_path: Path, rpms: Rpms) -> None:
    results = tmp_path / "results"
    repo = results / "alice" / "demo" / CHROOT
    ensure_repo(repo)
    place_build(repo, 7, "hello", rpms.hello)
    place_build(repo, 8, "pkg01", rpms.sub["pkg01"])
    publisher = Publisher(results)
    publisher.publish_build(f"alice/demo/{CHROOT}", f"alice/demo/{CHROOT}/00000008-pkg01")
    srpm_dir = results / "alice" / "demo" / "srpm-builds" / "00000007"
    srpm_dir.mkdir(parents=True)

    publisher.remove([f"alice/demo/{CHROOT}/00000007-hello", "alice/demo/srpm-builds/00000007"])

    assert not (repo / "00000007-hello").exists() and not srpm_dir.exists()
    assert [href.split("/")[0] for _n, _a, href in primary(repo)] == ["00000008-pkg01"]
    publisher.remove(["alice/demo", "alice/never-built"])  # a project, with and without results
    assert not (results / "alice" / "demo").exists()


def test_a_publish_leaves_the_servers_notes_and_the_success_marker(
    tmp_path: Path, rpms: Rpms
) -> None:
    results = tmp_path / "results"
    publisher = Publisher(results)
    repo = "alice/demo/" + CHROOT
    build = f"{repo}/00000007-hello"
    ensure_repo(results / repo)
    for rpm in (rpms.hello, rpms.srpm):
        shutil.copy(rpm, publisher.result_file(build, rpm.name))

    publisher.publish_build(repo, build)

    directory = results / build
    assert (directory / "success").read_text() == "done"
    log = gzip.decompress((directory / "backend.log.gz").read_bytes()).decode()
    assert log.endswith(f"] published 2 package(s) into {repo}\n")
    assert not (directory / "backend.log").exists()


def test_a_failed_publish_says_why_and_leaves_no_success_marker(
    tmp_path: Path, rpms: Rpms, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    publisher = Publisher(results)
    repo = "alice/demo/" + CHROOT
    build = f"{repo}/00000007-hello"
    ensure_repo(results / repo)
    shutil.copy(rpms.hello, publisher.result_file(build, rpms.hello.name))
    # A createrepo_c that fails, first on the server's PATH.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "createrepo_c").write_text("#!/bin/sh\necho 'disk full' >&2\nexit 1\n")
    (bindir / "createrepo_c").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")

    with pytest.raises(CreaterepoFailed):
        publisher.publish_build(repo, build)

    directory = results / build
    assert not (directory / "success").exists()
    log = gzip.decompress((directory / "backend.log.gz").read_bytes()).decode()
    assert "] publishing failed: createrepo_c exited with 1: disk full" in log
