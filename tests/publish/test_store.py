"""The results store: the path rule, atomic writes, listings, removal."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from coprd.publish.store import Entry, LocalStore, ResultsStore, UnsafePath, check_relative

UNSAFE = [
    "",
    "/etc/passwd",
    "//x",
    "..",
    "../x",
    "a/../../x",
    "a/..",
    "a//b",
    "a/b/",
    "./a",
    "a/./b",
    ".hidden",
    "a/.createrepo.lock",
    "a/.repodata-x/repomd.xml",
    "a\x00b",
    "a\nb",
    "a\x7fb",
    "a\x85b",
    "a\udcffb",
    "x" * 256,
    "a/" * 2100,
]


@pytest.mark.parametrize("rel", UNSAFE)
def test_check_relative_refuses(rel: str) -> None:
    with pytest.raises(UnsafePath):
        check_relative(rel)


@pytest.mark.parametrize(
    "rel",
    [
        "alice/demo/fedora-rawhide-x86_64/00000001-hello/hello-1.0-1.noarch.rpm",
        "@group/demo:pr:12/epel-9-x86_64/repodata/repomd.xml",
        "a/libstdc++-1.0~rc1^git2-1.fc41.x86_64.rpm",
        "a/b c",
        "ünïcode",
        "x" * 255,
    ],
)
def test_check_relative_accepts(rel: str) -> None:
    assert check_relative(rel) == tuple(rel.split("/"))


def test_root_only_where_allowed() -> None:
    assert check_relative("", allow_root=True) == ()
    with pytest.raises(UnsafePath):
        check_relative("")


def test_unsafe_path_is_a_value_error() -> None:
    assert issubclass(UnsafePath, ValueError)


def test_local_store_is_a_results_store(tmp_path: Path) -> None:
    store: ResultsStore = LocalStore(tmp_path)
    assert store.stat("nothing") is None


def test_put_and_read_back(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "results")
    source = tmp_path / "source.rpm"
    source.write_bytes(b"rpm" * 1000)

    assert store.put_file("alice/demo/chroot/00000001-x/x.rpm", source) == 3000
    assert store.put_stream("alice/demo/chroot/00000001-x/build.info", io.BytesIO(b"id: 1\n")) == 6

    with store.open("alice/demo/chroot/00000001-x/x.rpm") as stream:
        assert stream.read() == b"rpm" * 1000
    listed = store.list_dir("alice/demo/chroot/00000001-x")
    assert [(e.name, e.is_dir, e.size) for e in listed] == [
        ("build.info", False, 6),
        ("x.rpm", False, 3000),
    ]
    assert [e.name for e in store.list_dir("")] == ["alice"]
    entry = store.stat("alice/demo")
    assert isinstance(entry, Entry) and entry.is_dir
    # Readable by a web server running as another user.
    assert (tmp_path / "results/alice/demo/chroot/00000001-x/x.rpm").stat().st_mode & 0o777 == 0o644


def test_put_replaces_atomically_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_stream("d/f", io.BytesIO(b"old"))

    class Failing(io.BytesIO):
        def read(self, size: int | None = -1, /) -> bytes:
            if self.tell() > 0:
                raise OSError("upload cut off")
            return super().read(4)

    with pytest.raises(OSError, match="upload cut off"):
        store.put_stream("d/f", Failing(b"new content"))

    assert (tmp_path / "d/f").read_bytes() == b"old"
    assert os.listdir(tmp_path / "d") == ["f"]


def test_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    big = [bytes([i]) * 2_000_000 for i in range(1, 6)]
    store.put_stream("f", io.BytesIO(big[0]))
    seen: set[int] = set()
    torn: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            data = (tmp_path / "f").read_bytes()
            seen.add(len(data))
            if data not in big:
                torn.append(len(data))

    reader = threading.Thread(target=read)
    reader.start()
    for data in big[1:] * 3:
        store.put_stream("f", io.BytesIO(data))
    stop.set()
    reader.join()
    assert seen == {2_000_000}
    assert torn == []


def test_append_grows_a_live_log(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert store.append("b/builder-live.log", b"one\n") == 4
    assert store.append("b/builder-live.log", b"two\n") == 8
    assert (tmp_path / "b/builder-live.log").read_bytes() == b"one\ntwo\n"


@pytest.mark.parametrize("rel", ["../x", "/abs", "a/.hidden", "a\x00"])
def test_every_operation_checks_the_path(tmp_path: Path, rel: str) -> None:
    store = LocalStore(tmp_path / "root")
    source = tmp_path / "src"
    source.write_bytes(b"x")
    for call in (
        lambda: store.put_file(rel, source),
        lambda: store.put_stream(rel, io.BytesIO(b"x")),
        lambda: store.append(rel, b"x"),
        lambda: store.open(rel),
        lambda: store.stat(rel),
        lambda: store.list_dir(rel),
        lambda: store.remove(rel),
        lambda: store.local_path(rel),
    ):
        with pytest.raises(UnsafePath):
            call()
    assert sorted(os.listdir(tmp_path)) == ["src"]


def test_symlinks_out_of_the_root_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    (root / "a" / "out").symlink_to(outside)
    (root / "a" / "secret").symlink_to(outside / "secret")
    (root / "a" / "inside").symlink_to(root / "a")
    store = LocalStore(root)

    for rel in ("a/out", "a/out/secret", "a/secret"):
        with pytest.raises(UnsafePath):
            store.open(rel)
    with pytest.raises(UnsafePath):
        store.list_dir("a/out")
    with pytest.raises(UnsafePath):
        store.put_stream("a/out/planted", io.BytesIO(b"x"))
    assert not (outside / "planted").exists()
    # Listings leave out what they could not serve; links inside the root are fine.
    assert [e.name for e in store.list_dir("a")] == ["inside"]
    assert store.local_path("a/inside") == root / "a"


def test_remove_a_tree_a_file_or_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_stream("p/c/00000001-x/x.rpm", io.BytesIO(b"x"))
    store.put_stream("p/c/00000001-x/sub/y", io.BytesIO(b"y"))
    store.put_stream("p/c/keep", io.BytesIO(b"k"))

    store.remove("p/c/00000001-x")
    store.remove("p/c/keep")
    store.remove("p/c/never-there")

    assert os.listdir(tmp_path / "p/c") == []


def test_remove_deletes_a_symlink_not_its_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("f")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)
    LocalStore(root).remove("link")
    assert not (root / "link").exists()
    assert (outside / "f").exists()


def test_missing_things(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_stream("file", io.BytesIO(b"x"))
    with pytest.raises(FileNotFoundError):
        store.open("missing")
    with pytest.raises(FileNotFoundError):
        store.list_dir("missing")
    with pytest.raises(NotADirectoryError):
        store.list_dir("file")
    assert store.stat("file/below") is None
