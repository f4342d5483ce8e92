"""A build directory: packages hidden until their task succeeds; logs gzipped in place,
safely, twice."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import threading
from pathlib import Path

import pytest

from coprd.core.errors import TooLarge
from coprd.publish import builddir
from coprd.publish._fs import write_atomically
from coprd.publish.builddir import (
    Upload,
    drop_packages,
    finish_build_dir,
    pending_name,
    reserve_result,
    reveal_packages,
    store_result,
)


def make_build_dir(path: Path) -> Path:
    path.mkdir()
    (path / "builder-live.log").write_text("line\n" * 10_000)
    (path / "backend.log").write_text("backend\n")
    (path / "build.log").write_text("mock build\n")
    (path / "hello-1.0-1.noarch.rpm").write_bytes(b"rpm")
    (path / "success").write_text("")
    os.utime(path / "builder-live.log", (1_700_000_000, 1_700_000_000))
    return path


def test_logs_are_gzipped_and_the_plain_files_removed(tmp_path: Path) -> None:
    build = make_build_dir(tmp_path / "00000001-hello")

    written = finish_build_dir(build)

    assert sorted(p.name for p in written) == [
        "backend.log.gz",
        "build.log.gz",
        "builder-live.log.gz",
    ]
    assert sorted(os.listdir(build)) == [
        "backend.log.gz",
        "build.log.gz",
        "builder-live.log.gz",
        "hello-1.0-1.noarch.rpm",
        "success",
    ]
    assert gzip.decompress((build / "builder-live.log.gz").read_bytes()) == b"line\n" * 10_000
    assert gzip.decompress((build / "backend.log.gz").read_bytes()) == b"backend\n"
    assert (build / "builder-live.log.gz").stat().st_mtime == 1_700_000_000
    assert (build / "builder-live.log.gz").stat().st_mode & 0o777 == 0o644


def test_calling_twice_is_safe(tmp_path: Path) -> None:
    build = make_build_dir(tmp_path / "b")
    finish_build_dir(build)
    before = {p.name: p.read_bytes() for p in build.iterdir()}
    assert finish_build_dir(build) == []
    assert {p.name: p.read_bytes() for p in build.iterdir()} == before


def test_a_crash_midway_is_finished_by_the_next_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = make_build_dir(tmp_path / "b")
    calls = 0
    real = write_atomically

    def crash_on_second(*args: object, **kwargs: object) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk gone")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builddir, "write_atomically", crash_on_second)
    with pytest.raises(OSError, match="disk gone"):
        finish_build_dir(build)
    monkeypatch.undo()
    # No truncated .gz and no temporary file: the log not yet done is still plain.
    assert not any(p.name.startswith(".") for p in build.iterdir())
    assert (build / "backend.log.gz").exists() and not (build / "backend.log").exists()
    assert (build / "builder-live.log").exists()

    finish_build_dir(build)

    assert sorted(p.name for p in build.glob("*.log*")) == [
        "backend.log.gz",
        "build.log.gz",
        "builder-live.log.gz",
    ]
    assert gzip.decompress((build / "builder-live.log.gz").read_bytes()) == b"line\n" * 10_000


def test_a_plain_log_left_beside_its_gz_is_compressed_again(tmp_path: Path) -> None:
    build = tmp_path / "b"
    build.mkdir()
    (build / "backend.log").write_text("complete\n")
    (build / "backend.log.gz").write_bytes(gzip.compress(b"stale"))
    finish_build_dir(build)
    assert gzip.decompress((build / "backend.log.gz").read_bytes()) == b"complete\n"
    assert not (build / "backend.log").exists()


def test_symlinks_hidden_files_and_subdirectories_are_left_alone(tmp_path: Path) -> None:
    build = tmp_path / "b"
    (build / "fedora-review").mkdir(parents=True)
    (build / "fedora-review" / "fedora-review.log").write_text("review\n")
    (build / ".partial.log").write_text("x")
    outside = tmp_path / "outside.log"
    outside.write_text("not ours\n")
    (build / "linked.log").symlink_to(outside)

    assert finish_build_dir(build) == []
    assert outside.read_text() == "not ours\n"
    assert (build / "fedora-review" / "fedora-review.log").exists()


def test_packages_wait_hidden_until_revealed(tmp_path: Path) -> None:
    build = tmp_path / "00000001-hello"
    build.mkdir()
    for name in ("hello-1.0-1.noarch.rpm", "hello-1.0-1.src.rpm", "builder-live.log"):
        (build / pending_name(name)).write_text(name)
    assert sorted(p.name for p in build.iterdir()) == [
        ".pending-hello-1.0-1.noarch.rpm",
        ".pending-hello-1.0-1.src.rpm",
        "builder-live.log",  # logs are readable while the build runs
    ]
    revealed = reveal_packages(build)
    assert [p.name for p in revealed] == ["hello-1.0-1.noarch.rpm", "hello-1.0-1.src.rpm"]
    assert (build / "hello-1.0-1.noarch.rpm").read_text() == "hello-1.0-1.noarch.rpm"
    assert reveal_packages(build) == []  # a retried finish changes nothing


def test_a_failed_task_drops_its_packages(tmp_path: Path) -> None:
    build = tmp_path / "00000001-hello"
    build.mkdir()
    (build / pending_name("hello-1.0-1.noarch.rpm")).write_text("rpm")
    (build / "builder-live.log").write_text("error: boom\n")
    drop_packages(build)
    assert [p.name for p in build.iterdir()] == ["builder-live.log"]


# --- counting a task's uploads --------------------------------------------------------------


def upload(build: Path, name: str, data: bytes, *, max_files: int, max_bytes: int) -> None:
    reserved = reserve_result(build, name, max_files=max_files)
    try:
        reserved.part.write_bytes(data)
        store_result(reserved, build / pending_name(name), max_bytes=max_bytes)
    finally:
        reserved.part.unlink(missing_ok=True)


def test_uploads_at_once_never_store_more_than_max_result_files(tmp_path: Path) -> None:
    """Twenty uploads of one task at once, each holding its place while it streams: five
    get one, the others are refused, whichever replica each runs on."""
    build = tmp_path / "b"
    build.mkdir()
    barrier = threading.Barrier(20)
    held: list[Upload] = []
    refused: list[str] = []

    def start(i: int) -> None:
        barrier.wait()
        try:
            held.append(reserve_result(build, f"p{i}-1-1.noarch.rpm", max_files=5))
        except TooLarge as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=start, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(held) == 5 and len(refused) == 15
    assert set(refused) == {
        "the build made more than 5 result files; this server accepts at most 5 "
        "(setting max_result_files)"
    }
    for reserved in held:
        reserved.part.write_bytes(b"rpm")
        store_result(reserved, build / pending_name(reserved.name), max_bytes=1000)
    # Stored, a name is still counted; the same name again replaces it.
    with pytest.raises(TooLarge):
        reserve_result(build, "another-1-1.noarch.rpm", max_files=5)
    upload(build, held[0].name, b"new", max_files=5, max_bytes=1000)


def test_the_stored_size_counts_replacements_once(tmp_path: Path) -> None:
    build = tmp_path / "b"
    build.mkdir()
    (build / "builder-live.log").write_bytes(b"x" * 5000)  # the server's, not a result
    upload(build, "a.rpm", b"a" * 400, max_files=10, max_bytes=1000)
    upload(build, "a.rpm", b"a" * 700, max_files=10, max_bytes=1000)
    upload(build, "b.rpm", b"b" * 300, max_files=10, max_bytes=1000)
    with pytest.raises(TooLarge, match="take more than 1000 bytes"):
        upload(build, "c.rpm", b"c", max_files=10, max_bytes=1000)
    assert sorted(p.name for p in build.iterdir()) == [
        ".coprd-task.lock",
        ".pending-a.rpm",
        ".pending-b.rpm",
        "builder-live.log",
    ]


def test_backend_log_lines_are_one_line_each_and_bounded(tmp_path: Path) -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    builddir.note(tmp_path, "the agent reports: failed (a\nfake line\x1b[2K)", now=when)
    assert (tmp_path / "backend.log").read_text() == (
        "[2026-01-02 03:04:05 UTC] the agent reports: failed (a\\x0afake line\\x1b[2K)\n"
    )
    (tmp_path / "backend.log").write_bytes(b"x" * builddir.MAX_BACKEND_LOG)
    builddir.note(tmp_path, "no room for this")
    assert (tmp_path / "backend.log").stat().st_size == builddir.MAX_BACKEND_LOG
    # Once gzipped, a repeated finish's notes do not start a new log that would replace it.
    builddir.finish_build_dir(tmp_path)
    builddir.note(tmp_path, "after the end")
    assert not (tmp_path / "backend.log").exists()
    builddir.note(tmp_path / "gone", "a deleted build's directory")
    assert not (tmp_path / "gone").exists()
