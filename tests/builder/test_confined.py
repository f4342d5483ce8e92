"""ConfinedDir: reading a directory untrusted code wrote into, never following its links.

Every test runs twice: with openat2 (where the kernel has it) and with the
component-by-component walk that older kernels get.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from coprd.builder import confined
from coprd.builder.confined import ConfinedDir, ConfinementError, openat2_available

FILE = "a/b/c/file.txt"


@pytest.fixture(params=["openat2", "walk"])
def use_openat2(request: pytest.FixtureRequest) -> bool:
    if request.param == "openat2" and not openat2_available():
        pytest.skip("this kernel has no openat2")
    return bool(request.param == "openat2")


def _tree(root: Path, content: str) -> Path:
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / FILE).write_text(content)
    (root / "a" / "top.txt").write_text(content)
    return root


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The work directory: ``a/b/c/file.txt`` and ``a/top.txt`` hold "inside"."""
    return _tree(tmp_path / "work", "inside")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host directory laid out like the work directory, every file holding "outside"."""
    return _tree(tmp_path / "host", "outside")


@pytest.fixture
def opened(work: Path, use_openat2: bool) -> Iterator[ConfinedDir]:
    with ConfinedDir(work, use_openat2=use_openat2) as handle:
        assert handle.uses_openat2 == use_openat2
        yield handle


def _refused(action: Callable[[], object], message: str) -> ConfinementError:
    with pytest.raises(ConfinementError) as caught:
        action()
    assert str(caught.value) == message
    return caught.value


def _replace_by_symlink(path: Path, target: Path) -> None:
    path.rename(path.with_name(path.name + ".moved"))
    path.symlink_to(target)


def test_reads_lists_and_walks_what_is_inside(opened: ConfinedDir, tmp_path: Path) -> None:
    assert opened.read_bytes(FILE, 100) == b"inside"
    with opened.open_file("a/top.txt") as file:
        assert file.read() == b"inside"
    assert [(e.path, e.kind) for e in opened.list_dir("a")] == [
        ("a/b", "directory"),
        ("a/top.txt", "file"),
    ]
    assert [(e.path, e.kind, e.size) for e in opened.walk()] == [
        (FILE, "file", 6),
        ("a/top.txt", "file", 6),
    ]
    assert opened.is_dir("a/b") and opened.is_dir("") and not opened.is_dir(FILE)
    assert not opened.is_dir("a/missing")
    lstat = opened.lstat(FILE)
    assert lstat is not None and (lstat.kind, lstat.name) == ("file", "file.txt")
    assert opened.lstat("a/missing") is None
    assert opened.lstat("missing/deeper") is None
    dest = tmp_path / "copy"
    assert opened.copy_file(FILE, dest, 100) == 6
    assert dest.read_text() == "inside"


@pytest.mark.parametrize("depth", [1, 2, 3, 4], ids=["first", "middle", "third", "last"])
def test_a_symlink_at_any_component_is_refused(
    opened: ConfinedDir, work: Path, outside: Path, tmp_path: Path, depth: int
) -> None:
    components = FILE.split("/")[:depth]
    swapped = "/".join(components)
    _replace_by_symlink(work / swapped, outside / swapped)
    message = f"{swapped} is a symlink"
    _refused(lambda: opened.read_bytes(FILE, 100), message)
    _refused(lambda: opened.copy_file(FILE, tmp_path / "copy", 100), message)
    assert not (tmp_path / "copy").exists()
    assert opened.is_dir("a/b/c") == (depth == 4)
    if depth < 4:
        _refused(lambda: opened.list_dir("a/b/c"), message)
        _refused(lambda: opened.walk("a/b/c"), message)
    # A walk from the top reports the symlink and does not enter it.
    walked = {e.path: e.kind for e in opened.walk()}
    assert walked[swapped] == "symlink"
    assert all(opened.read_bytes(p, 100) == b"inside" for p, k in walked.items() if k == "file")


def test_a_symlink_pointing_inside_is_refused_too(opened: ConfinedDir, work: Path) -> None:
    (work / "again").symlink_to("a")
    (work / "a" / "b" / "same.txt").symlink_to("c/file.txt")
    _refused(lambda: opened.read_bytes("again/top.txt", 100), "again is a symlink")
    _refused(lambda: opened.read_bytes("again/b/c/file.txt", 100), "again is a symlink")
    _refused(lambda: opened.list_dir("again/b"), "again is a symlink")
    _refused(lambda: opened.read_bytes("a/b/same.txt", 100), "a/b/same.txt is a symlink")


@pytest.mark.parametrize(
    ("rel", "message"),
    [
        ("..", ".. escapes the work directory"),
        ("../host/a/top.txt", "../host/a/top.txt escapes the work directory"),
        ("a/../../host", "a/../../host escapes the work directory"),
        ("/etc/passwd", "/etc/passwd escapes the work directory"),
        ("a//top.txt", "a//top.txt is not a plain relative path"),
        ("a/./top.txt", "a/./top.txt is not a plain relative path"),
        ("./a/top.txt", "./a/top.txt is not a plain relative path"),
        ("a/", "a/ is not a plain relative path"),
    ],
)
def test_paths_that_are_not_plainly_inside_are_refused_before_any_lookup(
    opened: ConfinedDir, monkeypatch: pytest.MonkeyPatch, rel: str, message: str
) -> None:
    def forbidden(*_: Any, **__: Any) -> Any:
        raise AssertionError("the file system was asked")

    for name in ("open", "stat", "scandir", "mkdir", "unlink"):
        monkeypatch.setattr(os, name, forbidden)
    monkeypatch.setattr(confined, "_openat2_syscall", forbidden)
    _refused(lambda: opened.read_bytes(rel, 100), message)
    _refused(lambda: opened.lstat(rel), message)
    _refused(lambda: opened.walk(rel), message)
    _refused(lambda: opened.remove(rel), message)
    _refused(lambda: opened.create_file(rel), message)


def test_a_symlink_swapped_in_after_opening_is_refused(
    work: Path, outside: Path, use_openat2: bool
) -> None:
    with ConfinedDir(work, use_openat2=use_openat2) as handle:
        assert handle.read_bytes(FILE, 100) == b"inside"
        _replace_by_symlink(work / "a" / "b", outside / "a" / "b")
        _refused(lambda: handle.read_bytes(FILE, 100), "a/b is a symlink")


def test_the_work_directory_replaced_after_opening_is_still_the_original(
    work: Path, outside: Path, use_openat2: bool
) -> None:
    with ConfinedDir(work, use_openat2=use_openat2) as handle:
        work.rename(work.with_name("work.moved"))
        work.symlink_to(outside)
        assert handle.read_bytes(FILE, 100) == b"inside"
        assert [e.path for e in handle.walk()] == [FILE, "a/top.txt"]
        handle.remove("a/top.txt")
    assert (outside / "a" / "top.txt").read_text() == "outside"
    assert not (work.with_name("work.moved") / "a" / "top.txt").exists()


def _in_a_thread(action: Callable[[], object]) -> BaseException | None:
    """Run ``action`` with a deadline; the error it raised, if any."""
    caught: list[BaseException | None] = []

    def run() -> None:
        try:
            action()
        except BaseException as error:
            caught.append(error)
        else:
            caught.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert caught, "the agent blocked"
    return caught[0]


def test_a_fifo_is_refused_without_blocking(
    opened: ConfinedDir, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.mkfifo(work / "a" / "fifo.rpm")
    error = _in_a_thread(lambda: opened.read_bytes("a/fifo.rpm", 100))
    assert isinstance(error, ConfinementError)
    assert str(error) == "a/fifo.rpm is not a regular file"
    assert {e.path: e.kind for e in opened.list_dir("a")}["a/fifo.rpm"] == "other"

    # Even a FIFO swapped in after it was looked at is opened without blocking, and refused.
    real_stat = os.stat

    def regular(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        result = real_stat(path, *args, **kwargs)
        if path == "fifo.rpm":
            return os.stat_result((stat.S_IFREG | 0o644, *tuple(result)[1:]))
        return result

    monkeypatch.setattr(os, "stat", regular)
    error = _in_a_thread(lambda: opened.read_bytes("a/fifo.rpm", 100))
    assert isinstance(error, ConfinementError)
    assert str(error) == "a/fifo.rpm is not a regular file"


def test_devices_and_sockets_are_refused(opened: ConfinedDir, work: Path) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(work / "a" / "socket"))
        _refused(lambda: opened.read_bytes("a/socket", 100), "a/socket is not a regular file")
    try:
        os.mknod(work / "a" / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        return  # not root here: no device node can be made, by the test or by a build
    _refused(lambda: opened.read_bytes("a/null", 100), "a/null is not a regular file")
    _refused(lambda: opened.walk("a/null"), "a/null is not a directory")
    assert {e.path: e.kind for e in opened.walk()}["a/null"] == "other"


def test_size_limits(opened: ConfinedDir, tmp_path: Path) -> None:
    assert opened.read_bytes(FILE, 6) == b"inside"
    _refused(lambda: opened.read_bytes(FILE, 5), f"{FILE} is larger than 5 bytes")
    dest = tmp_path / "copy"
    _refused(lambda: opened.copy_file(FILE, dest, 5), f"{FILE} is larger than 5 bytes")
    assert not dest.exists()
    _refused(lambda: opened.read_bytes("a/b", 100), "a/b is not a regular file")


def test_walks_and_listings_are_bounded(opened: ConfinedDir, work: Path) -> None:
    deep = work / "deep"
    for level in range(12):
        deep = deep / f"d{level}"
        deep.mkdir(parents=True)
        (deep / "f").write_text("x")
    found = opened.walk("deep")
    assert len(found) == 12
    # 12 directories and 12 files are 24 entries: a bound of 20 stops the walk.
    _refused(lambda: opened.walk("deep", max_entries=20), "deep holds more than 20 entries")
    for number in range(30):
        (work / "a" / f"many-{number}").write_text("x")
    _refused(lambda: opened.list_dir("a", max_entries=10), "a holds more than 10 entries")
    assert len(opened.list_dir("a", max_entries=32)) == 32


def test_writes_go_through_the_handle_too(
    opened: ConfinedDir, work: Path, outside: Path, tmp_path: Path
) -> None:
    opened.make_dir("new")
    with opened.create_file("new/file") as file:
        file.write(b"written")
    assert (work / "new" / "file").read_bytes() == b"written"
    _refused(lambda: opened.create_file("new/file"), "new/file exists already")
    _replace_by_symlink(work / "a" / "b", outside / "a" / "b")
    _refused(lambda: opened.create_file("a/b/planted"), "a/b is a symlink")
    _refused(lambda: opened.make_dir("a/b/planted"), "a/b is a symlink")
    _refused(lambda: opened.remove("a/b/c"), "a/b is a symlink")
    # Removing the symlink removes the link, not what it points to.
    opened.remove("a/b")
    assert not (work / "a" / "b").exists()
    assert (outside / "a" / "b" / "c" / "file.txt").read_text() == "outside"
    assert sorted(p.name for p in (outside / "a" / "b").iterdir()) == ["c"]
    opened.remove("a")
    opened.remove("a")  # nothing there is fine
    assert sorted(p.name for p in work.iterdir()) == ["new"]


def test_messages_never_name_the_host_path(opened: ConfinedDir, work: Path, outside: Path) -> None:
    _replace_by_symlink(work / "a", outside / "a")
    error = _refused(lambda: opened.read_bytes(FILE, 100), "a is a symlink")
    assert (error.path, error.reason, error.missing) == ("a", "is a symlink", False)
    assert str(work) not in str(error)
    missing = _refused(lambda: opened.read_bytes("gone/x", 100), "gone does not exist")
    assert missing.missing


def test_a_closed_handle_reads_nothing(work: Path, use_openat2: bool) -> None:
    handle = ConfinedDir(work, use_openat2=use_openat2)
    handle.close()
    handle.close()
    with pytest.raises(ValueError, match="is closed"):
        handle.read_bytes(FILE, 100)


def test_without_openat2_the_walk_is_used(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def enosys(dirfd: int, path: str, flags: int, resolve: int) -> int:
        calls.append(path)
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    monkeypatch.setattr(confined, "_openat2_state", None)
    monkeypatch.setattr(confined, "_openat2_syscall", enosys)
    with ConfinedDir(work) as handle:
        assert not handle.uses_openat2
        assert handle.read_bytes(FILE, 100) == b"inside"
    with ConfinedDir(work) as handle:
        assert not handle.uses_openat2
    assert calls == ["."]  # asked once per process


def test_openat2_is_asked_again_after_eagain(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not openat2_available():
        pytest.skip("this kernel has no openat2")
    real = confined._openat2_syscall
    failures = [2]

    def flaky(dirfd: int, path: str, flags: int, resolve: int) -> int:
        if failures[0] > 0:
            failures[0] -= 1
            raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))
        return real(dirfd, path, flags, resolve)

    monkeypatch.setattr(confined, "_openat2_syscall", flaky)
    with ConfinedDir(work) as handle:
        assert handle.read_bytes(FILE, 100) == b"inside"
        assert failures == [0]
        failures[0] = 1000
        _refused(lambda: handle.read_bytes(FILE, 100), "a/b/c kept changing while it was opened")
