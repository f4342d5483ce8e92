"""Repository metadata with the real createrepo_c, checked by reading it and by dnf."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from coprd.publish import createrepo
from coprd.publish._fs import remove_tree
from coprd.publish.createrepo import (
    CreaterepoFailed,
    RepoUpdate,
    ensure_repo,
    repodata_problems,
    update_repo,
)
from tests.publish.conftest import Rpms, dnf, place_build, primary

PKGS = [f"pkg{i:02d}" for i in range(1, 21)]


def names(repo: Path) -> list[str]:
    return sorted(name for name, _arch, _href in primary(repo))


def staging_dirs(repo: Path) -> list[Path]:
    return sorted(repo.glob(".repodata-*"))


def test_ensure_repo_makes_an_empty_repository_dnf_reads(tmp_path: Path) -> None:
    repo = tmp_path / "alice" / "demo" / "fedora-rawhide-x86_64"
    missing = dnf(tmp_path / "root0", repo, "makecache")
    assert missing.returncode != 0  # dnf does fail on a missing repository

    ensure_repo(repo)

    assert repodata_problems(repo / "repodata") == []
    assert primary(repo) == []
    made = dnf(tmp_path / "root", repo, "makecache")
    assert made.returncode == 0, made.stderr
    listed = dnf(tmp_path / "root", repo, "repoquery", "--available")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == ""
    assert staging_dirs(repo) == []


def test_ensure_repo_leaves_a_valid_repository_alone(tmp_path: Path) -> None:
    ensure_repo(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "repodata").iterdir()}
    ensure_repo(tmp_path)
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "repodata").iterdir()}
    assert after == before


def test_ensure_repo_repairs_broken_metadata_and_indexes_builds_already_there(
    tmp_path: Path, rpms: Rpms
) -> None:
    place_build(tmp_path, 1, "hello", rpms.hello)
    (tmp_path / "repodata").mkdir()
    (tmp_path / "repodata" / "repomd.xml").write_text("<repomd")
    ensure_repo(tmp_path)
    assert repodata_problems(tmp_path / "repodata") == []
    assert names(tmp_path) == ["hello"]


def test_update_repo_makes_a_new_build_installable(tmp_path: Path, rpms: Rpms) -> None:
    repo = tmp_path / "repo"
    ensure_repo(repo)
    place_build(repo, 7, "hello", rpms.srpm, rpms.hello, rpms.sub["pkg01"])

    result = update_repo(repo)

    assert result.ran and result.packages == 3
    assert result.warnings == ()
    assert sorted(primary(repo)) == [
        ("hello", "noarch", "00000007-hello/hello-1.0-1.noarch.rpm"),
        ("hello", "src", "00000007-hello/hello-1.0-1.src.rpm"),
        ("pkg01", "noarch", "00000007-hello/pkg01-1.0-1.noarch.rpm"),
    ]
    root = tmp_path / "root"
    installed = dnf(root, repo, "install", "hello", "pkg01")
    assert installed.returncode == 0, installed.stderr
    assert (root / "usr/share/hello/hello").read_text() == "hello\n"
    assert (root / "usr/share/hello/pkg01").read_text() == "pkg01\n"


def test_source_rpms_are_indexed_and_hidden_files_stay_out(tmp_path: Path, rpms: Rpms) -> None:
    # As Copr's repositories: the SRPM is in primary.xml with arch "src".
    build = place_build(tmp_path, 1, "hello", rpms.srpm, rpms.hello)
    incoming = tmp_path / ".incoming-2"
    incoming.mkdir()
    (incoming / "pkg02-1.0-1.noarch.rpm").write_bytes(rpms.sub["pkg02"].read_bytes())
    (build / ".pkg03-1.0-1.noarch.rpm.tmp.rpm").write_bytes(rpms.sub["pkg03"].read_bytes())

    update_repo(tmp_path)

    assert sorted(primary(tmp_path)) == [
        ("hello", "noarch", "00000001-hello/hello-1.0-1.noarch.rpm"),
        ("hello", "src", "00000001-hello/hello-1.0-1.src.rpm"),
    ]


def test_update_is_incremental_and_follows_the_disk(tmp_path: Path, rpms: Rpms) -> None:
    ensure_repo(tmp_path)
    for i, name in enumerate(PKGS[:3], start=1):
        place_build(tmp_path, i, name, rpms.sub[name])
        update_repo(tmp_path)
    assert names(tmp_path) == PKGS[:3]

    # A build directory that vanished leaves the metadata with the next run.
    remove_tree(tmp_path / "00000002-pkg02")
    update_repo(tmp_path)
    assert names(tmp_path) == ["pkg01", "pkg03"]


def test_remove_drops_builds_from_metadata_then_from_disk(tmp_path: Path, rpms: Rpms) -> None:
    for i, name in enumerate(PKGS[:3], start=1):
        place_build(tmp_path, i, name, rpms.sub[name])
    update_repo(tmp_path)

    result = update_repo(tmp_path, remove=["00000001-pkg01", "00000003-pkg03"])

    assert result.packages == 1
    assert names(tmp_path) == ["pkg02"]
    assert not (tmp_path / "00000001-pkg01").exists()
    assert not (tmp_path / "00000003-pkg03").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".removing")] == []


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "repodata", "x*", "a b"])
def test_remove_refuses_what_is_not_a_build_directory(tmp_path: Path, bad: str) -> None:
    ensure_repo(tmp_path)
    with pytest.raises(ValueError):
        update_repo(tmp_path, remove=[bad])


def test_an_unreadable_rpm_is_left_out_with_a_warning(tmp_path: Path, rpms: Rpms) -> None:
    place_build(tmp_path, 1, "hello", rpms.hello)
    broken = tmp_path / "00000002-broken"
    broken.mkdir()
    (broken / "broken-1-1.noarch.rpm").write_bytes(rpms.hello.read_bytes()[:3000])

    result = update_repo(tmp_path)

    assert names(tmp_path) == ["hello"]
    assert any("broken-1-1.noarch.rpm" in line for line in result.warnings)


def test_twenty_concurrent_updates_lose_no_package(tmp_path: Path, rpms: Rpms) -> None:
    ensure_repo(tmp_path)
    start = threading.Barrier(len(PKGS))
    results: dict[str, RepoUpdate] = {}
    errors: list[BaseException] = []

    def publish(i: int, name: str) -> None:
        try:
            start.wait()
            place_build(tmp_path, i, name, rpms.sub[name])
            results[name] = update_repo(tmp_path)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(i, n)) for i, n in enumerate(PKGS, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert names(tmp_path) == PKGS
    assert repodata_problems(tmp_path / "repodata") == []
    assert any(r.ran for r in results.values())
    assert staging_dirs(tmp_path) == []


def test_callers_waiting_together_are_published_by_one_run(tmp_path: Path, rpms: Rpms) -> None:
    ensure_repo(tmp_path)
    results: list[RepoUpdate] = []
    with createrepo._repo_lock(tmp_path):  # a run in progress
        threads = []
        for i, name in enumerate(PKGS, 1):
            place_build(tmp_path, i, name, rpms.sub[name])
            thread = threading.Thread(target=lambda: results.append(update_repo(tmp_path)))
            thread.start()
            threads.append(thread)
        deadline = time.monotonic() + 10
        while createrepo._read_state(tmp_path).requested < len(PKGS):
            assert time.monotonic() < deadline
            time.sleep(0.01)
    for thread in threads:
        thread.join(60)

    assert sorted(r.ran for r in results) == [False] * 19 + [True]
    assert all(r.packages == 20 for r in results)
    assert names(tmp_path) == PKGS


def test_the_lock_holds_across_processes(tmp_path: Path) -> None:
    ensure_repo(tmp_path)
    holder = subprocess.Popen(
        ["flock", "-x", str(tmp_path / ".createrepo.lock"), "-c", "echo locked; sleep 1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        result = update_repo(tmp_path)
    finally:
        holder.wait(10)
    assert result.ran
    assert result.lock_wait_s > 0.5


def test_readers_always_find_complete_metadata_during_updates(tmp_path: Path, rpms: Rpms) -> None:
    ensure_repo(tmp_path)
    live = tmp_path / "repodata"
    stop = threading.Event()
    failures: list[str] = []
    reads = 0

    def read() -> None:
        nonlocal reads
        while not stop.is_set():
            try:
                root = ET.parse(live / "repomd.xml").getroot()
                for location in root.iter("{http://linux.duke.edu/metadata/repo}location"):
                    with open(tmp_path / location.get("href", ""), "rb") as stream:
                        stream.read(1)
                reads += 1
            except (OSError, ET.ParseError) as exc:
                failures.append(repr(exc))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i, name in enumerate(PKGS, 1):
            place_build(tmp_path, i, name, rpms.sub[name])
            update_repo(tmp_path)
            time.sleep(0.005)
    finally:
        stop.set()
        reader.join(10)
    assert failures == []
    assert reads > 20


def test_a_failure_before_the_swap_keeps_the_old_metadata(
    tmp_path: Path, rpms: Rpms, monkeypatch: pytest.MonkeyPatch
) -> None:
    place_build(tmp_path, 1, "pkg01", rpms.sub["pkg01"])
    update_repo(tmp_path)
    place_build(tmp_path, 2, "pkg02", rpms.sub["pkg02"])

    def crash(*_args: object) -> None:
        raise RuntimeError("crash in the swap step")

    monkeypatch.setattr(createrepo, "_swap", crash)
    with pytest.raises(RuntimeError, match="crash in the swap step"):
        update_repo(tmp_path)

    assert repodata_problems(tmp_path / "repodata") == []
    assert names(tmp_path) == ["pkg01"]
    assert staging_dirs(tmp_path) == []
    monkeypatch.undo()
    assert update_repo(tmp_path).packages == 2


def test_a_killed_createrepo_leaves_the_old_metadata(
    tmp_path: Path, rpms: Rpms, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    place_build(repo, 1, "pkg01", rpms.sub["pkg01"])
    update_repo(repo)
    # Half of a createrepo_c run, then SIGKILL: partial files in its output directory.
    fake = tmp_path / "createrepo_c"
    fake.write_text(
        textwrap.dedent(
            """\
            #!/bin/sh
            for arg; do case "$arg" in --outputdir=*) out="${arg#--outputdir=}";; esac; done
            mkdir -p "$out/.repodata" "$out/repodata"
            printf '<repomd xmlns="http://linux.duke.edu/metadata/repo"><data' \\
                > "$out/repodata/repomd.xml"
            kill -9 $$
            """
        )
    )
    fake.chmod(0o755)
    place_build(repo, 2, "pkg02", rpms.sub["pkg02"])
    monkeypatch.setattr(createrepo, "CREATEREPO_C", str(fake))

    with pytest.raises(CreaterepoFailed, match="-9"):
        update_repo(repo)

    assert repodata_problems(repo / "repodata") == []
    assert names(repo) == ["pkg01"]
    assert staging_dirs(repo) == []


def test_a_createrepo_past_its_timeout_is_killed(tmp_path: Path, rpms: Rpms) -> None:
    place_build(tmp_path, 1, "pkg01", rpms.sub["pkg01"])
    update_repo(tmp_path)
    place_build(tmp_path, 2, "pkg02", rpms.sub["pkg02"])
    with pytest.raises(CreaterepoFailed, match="longer than"):
        update_repo(tmp_path, timeout_s=0.001)
    assert names(tmp_path) == ["pkg01"]
    assert staging_dirs(tmp_path) == []


_PUBLISH = """
import sys
from pathlib import Path
from coprd.publish import update_repo
update_repo(Path(sys.argv[1]))
"""


def test_publishers_killed_at_any_moment_leave_valid_metadata(tmp_path: Path, rpms: Rpms) -> None:
    # Enough packages that createrepo_c runs for a while; copies are fine for this.
    for i in range(1, 201):
        place_build(tmp_path, i, PKGS[i % 20], rpms.sub[PKGS[i % 20]])
    update_repo(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    killed_mid_run = 0
    for attempt in range(12):
        place_build(tmp_path, 1000 + attempt, "hello", rpms.hello)
        proc = subprocess.Popen([sys.executable, "-c", _PUBLISH, str(tmp_path)], env=env)
        if attempt % 2:
            time.sleep(0.02 * attempt)  # anywhere: import, lock, createrepo_c, swap
        else:
            deadline = time.monotonic() + 10
            while not staging_dirs(tmp_path) and proc.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.001)
            killed_mid_run += bool(staging_dirs(tmp_path))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert repodata_problems(tmp_path / "repodata") == [], f"attempt {attempt}"
    assert killed_mid_run > 0

    result = update_repo(tmp_path)

    assert result.packages == 200 + 12
    assert repodata_problems(tmp_path / "repodata") == []
    # Orphaned createrepo_c processes of killed publishers may still write into their own
    # staging directory for a moment; they never touch repodata/.


def test_without_rename_exchange_the_swap_is_two_renames(
    tmp_path: Path, rpms: Rpms, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(*_args: object) -> None:
        raise OSError(errno.EINVAL, "not on this filesystem")

    monkeypatch.setattr(createrepo, "_exchange", unsupported)
    ensure_repo(tmp_path)
    place_build(tmp_path, 1, "pkg01", rpms.sub["pkg01"])
    assert update_repo(tmp_path).packages == 1
    assert repodata_problems(tmp_path / "repodata") == []
    assert staging_dirs(tmp_path) == []


_CRASH_BETWEEN_RENAMES = """
import errno, os, signal, sys
from pathlib import Path
from coprd.publish import createrepo
from coprd.publish._fs import remove_tree

def unsupported(*args):
    raise OSError(errno.EINVAL, "not on this filesystem")

real_rename = os.rename
def rename(src, dst):
    real_rename(src, dst)
    if Path(src).name == "repodata" and Path(dst).name == "previous":
        os.kill(os.getpid(), signal.SIGKILL)

createrepo._exchange = unsupported
os.rename = rename
createrepo.update_repo(Path(sys.argv[1]))
"""


def test_a_crash_between_the_two_renames_is_repaired_by_the_next_run(
    tmp_path: Path, rpms: Rpms
) -> None:
    ensure_repo(tmp_path)
    place_build(tmp_path, 1, "pkg01", rpms.sub["pkg01"])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", _CRASH_BETWEEN_RENAMES, str(tmp_path)], env=env, timeout=60
    )
    assert done.returncode == -signal.SIGKILL
    assert not (tmp_path / "repodata").exists()  # the documented window

    ensure_repo(tmp_path)

    assert repodata_problems(tmp_path / "repodata") == []
    assert names(tmp_path) == ["pkg01"]  # the complete new metadata, not the old
    assert staging_dirs(tmp_path) == []


def test_leftovers_of_an_interrupted_removal_are_cleaned_up(tmp_path: Path, rpms: Rpms) -> None:
    ensure_repo(tmp_path)
    leftover = tmp_path / ".removing-00000001-x.abc" / "00000001-x"
    leftover.mkdir(parents=True)
    (leftover / "x-1-1.noarch.rpm").write_bytes(rpms.hello.read_bytes())
    update_repo(tmp_path)
    assert primary(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".r")) == []


def test_a_comps_file_in_the_repo_goes_into_the_metadata(tmp_path: Path, rpms: Rpms) -> None:
    (tmp_path / "comps.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<comps><group><id>demo</id><name>Demo</name>'
        "<packagelist><packagereq>hello</packagereq></packagelist></group></comps>\n"
    )
    place_build(tmp_path, 1, "hello", rpms.hello)
    update_repo(tmp_path)
    repomd = ET.parse(tmp_path / "repodata" / "repomd.xml").getroot()
    types = {d.get("type") for d in repomd.iter("{http://linux.duke.edu/metadata/repo}data")}
    assert {"primary", "group", "group_gz"} <= types
    assert repodata_problems(tmp_path / "repodata") == []
    groups = dnf(tmp_path / "root", tmp_path, "group", "list", "--hidden", "-v")
    assert groups.returncode == 0, groups.stderr
    assert "demo" in groups.stdout


def test_update_repo_needs_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        update_repo(tmp_path / "missing")
