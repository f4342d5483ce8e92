"""The data directory's secrets: private from their creation, and tightened when an older
data directory is opened."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from coprd import datadir
from coprd.config import Settings
from coprd.db.engine import make_engine


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    # A umask of 022, as on most hosts: what is created private is so by its own mode.
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_sqlite_database_and_its_wal_and_shm_are_private(tmp_path: Path) -> None:
    path = tmp_path / "coprd.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as conn:  # open: the -wal and -shm files exist
            conn.execute(text("SELECT * FROM t")).all()
            files = {p.name: mode(p) for p in tmp_path.iterdir()}
    finally:
        engine.dispose()
    assert files == {"coprd.sqlite": 0o600, "coprd.sqlite-wal": 0o600, "coprd.sqlite-shm": 0o600}


def test_make_data_dir_and_private_dirs(tmp_path: Path) -> None:
    data = tmp_path / "deep" / "data"
    datadir.make_data_dir(data)
    assert mode(data) == 0o711
    datadir.make_private_dir(data / "uploads")
    assert mode(data / "uploads") == 0o700


def test_write_private_replaces_a_loose_file_and_does_not_follow_a_link(tmp_path: Path) -> None:
    loose = tmp_path / "token"
    loose.write_text("old")
    loose.chmod(0o644)
    old_inode = loose.stat().st_ino
    datadir.write_private(loose, "secret")
    assert mode(loose) == 0o600 and loose.read_text() == "secret"
    assert loose.stat().st_ino != old_inode  # who held the old file open reads no secret

    outside = tmp_path / "outside"
    outside.write_text("untouched")
    link = tmp_path / "link"
    link.symlink_to(outside)
    datadir.write_private(link, "secret")
    assert not link.is_symlink() and mode(link) == 0o600
    assert outside.read_text() == "untouched"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _loose_data_dir(root: Path) -> Settings:
    root.mkdir(mode=0o755)
    for name in ("coprd.sqlite", "coprd.sqlite-wal", "web-session.key", "copr-cli-admin.conf"):
        (root / name).write_text("x")
        (root / name).chmod(0o644)
    (root / "builder-local.token").write_text("x")
    (root / "builder-local.token").chmod(0o664)
    key = root / "signing" / "alice" / "demo" / "private-keys-v1.d"
    key.mkdir(parents=True)
    (key / "ABC.key").write_text("x")
    (key / "ABC.key").chmod(0o644)
    for directory in (key, key.parent, key.parent.parent, root / "signing"):
        directory.chmod(0o755)
    (root / "uploads" / "00000001").mkdir(parents=True)
    (root / "uploads" / "00000001" / "a.src.rpm").write_text("x")
    (root / "uploads" / "00000001" / "a.src.rpm").chmod(0o644)
    (root / "results" / "alice").mkdir(parents=True)
    (root / "results" / "alice" / "pubkey.gpg").write_text("x")
    (root / "results" / "alice" / "pubkey.gpg").chmod(0o644)
    (root / "server.url").write_text("http://x\n")
    (root / "server.url").chmod(0o644)
    return Settings(data_dir=root)


def test_tighten_narrows_the_secrets_and_leaves_the_rest(tmp_path: Path) -> None:
    settings = _loose_data_dir(tmp_path / "data")
    root = settings.data_dir
    outside = tmp_path / "outside"
    outside.write_text("not ours")
    outside.chmod(0o644)
    (root / "signing" / "alice" / "planted").symlink_to(outside)
    (root / "coprd.toml").symlink_to(outside)
    readonly = root / "uploads" / "00000001" / "b.src.rpm"
    readonly.write_text("x")
    readonly.chmod(0o400)

    changes = datadir.tighten(settings)

    assert mode(root) == 0o711
    for name in ("coprd.sqlite", "coprd.sqlite-wal", "web-session.key", "copr-cli-admin.conf"):
        assert mode(root / name) == 0o600, name
    assert mode(root / "builder-local.token") == 0o600
    for path in (root / "signing").rglob("*"):
        if not path.is_symlink():
            assert mode(path) == (0o700 if path.is_dir() else 0o600), path
    assert mode(root / "signing") == 0o700
    assert mode(root / "uploads") == 0o700
    assert mode(root / "uploads" / "00000001") == 0o700
    assert mode(root / "uploads" / "00000001" / "a.src.rpm") == 0o600
    assert mode(readonly) == 0o400  # narrowed only, never widened
    # Results stay readable by a web server; the links are not followed.
    assert mode(root / "results") == 0o755 and mode(root / "results" / "alice") == 0o755
    assert mode(root / "results" / "alice" / "pubkey.gpg") == 0o644
    assert mode(root / "server.url") == 0o644
    assert mode(outside) == 0o644
    assert f"tightened {root} from 0755 to 0711" in changes
    assert f"tightened {root / 'coprd.sqlite'} from 0644 to 0600" in changes
    assert f"tightened {root / 'builder-local.token'} from 0664 to 0600" in changes
    key = root / "signing/alice/demo/private-keys-v1.d/ABC.key"
    assert f"tightened {key} from 0644 to 0600" in changes
    assert any(f"{root / 'signing/alice/planted'} is a symlink" in line for line in changes)
    assert any(f"{root / 'coprd.toml'} is a symlink" in line for line in changes)
    # Once tight, nothing more to do (links are still reported).
    assert [line for line in datadir.tighten(settings) if "symlink" not in line] == []


def test_tighten_a_database_outside_the_data_directory(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "my.db"
    database.parent.mkdir()
    database.write_text("x")
    database.chmod(0o644)
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{database}")
    assert datadir.tighten(settings) == [f"tightened {database} from 0644 to 0600"]
    assert mode(database) == 0o600


def test_tighten_a_missing_data_directory_does_nothing(tmp_path: Path) -> None:
    assert datadir.tighten(Settings(data_dir=tmp_path / "none")) == []
