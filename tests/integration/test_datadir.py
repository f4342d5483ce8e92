"""A real ``coprd serve``: every secret in its data directory is 0600 in 0700 directories,
from a fresh start and after a restart on an older, looser data directory, while results
stay readable for a web server."""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES
from tests.integration.conftest import (
    restart_server,
    start_server,
    stop_server,
)
from tests.integration.test_builds import make_srpm

pytestmark = pytest.mark.integration

CHROOT = "fedora-rawhide-x86_64"
# Not secret: the served results, the local agents' build directories, the public URL.
PUBLIC = ("results", "work", "server.url")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def secrets_of(data_dir: Path) -> dict[Path, int]:
    """The mode of everything in ``data_dir`` but its public parts (sockets left out)."""
    found: dict[Path, int] = {}
    for top in data_dir.iterdir():
        if top.name in PUBLIC:
            continue
        paths = [top, *top.rglob("*")] if top.is_dir() and not top.is_symlink() else [top]
        for path in paths:
            try:
                st = path.lstat()
            except FileNotFoundError:  # an upload the agent was done with, meanwhile
                continue
            if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                found[path.relative_to(data_dir)] = stat.S_IMODE(st.st_mode)
    return found


def assert_private(data_dir: Path) -> dict[Path, int]:
    found = secrets_of(data_dir)
    loose = {
        str(path): f"{m:04o}"
        for path, m in found.items()
        if m != (0o700 if (data_dir / path).is_dir() else 0o600)
    }
    assert loose == {}
    assert mode(data_dir) == 0o711
    return found


def wait_for(what: str, check: object, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def test_a_fresh_data_directory_keeps_every_secret_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the server inherits it: what it creates private is so itself
    try:
        server = start_server(tmp_path, builders=1)
    finally:
        os.umask(old_umask)
    try:
        data = server.data_dir
        admin = data / "copr-cli-admin.conf"
        created = server.copr_cli(admin, "create", "demo", "--chroot", CHROOT)
        assert created.returncode == 0, created.stderr
        srpm = make_srpm("greeting.spec", tmp_path / "srpm")
        built = server.copr_cli(admin, "build", "--nowait", "demo", str(srpm))
        assert built.returncode == 0, built.stderr
        found_id = re.search(r"Created builds: (\d+)", built.stdout)
        assert found_id, built.stdout
        key = data / "signing" / "admin" / "demo" / "key.json"
        wait_for("the project's signing key", key.is_file)
        assert_private(data)

        # The build publishes (rpmsign signs with the key; gpg wrote in its home again).
        def ended() -> bool:
            r = httpx.get(f"{server.url}/api_3/build/{found_id.group(1)}")
            return r.json()["state"] in ("succeeded", "failed")

        wait_for("the build to end", ended, timeout_s=180)
        found = assert_private(data)
        expected = {
            "web-session.key",
            "copr-cli-admin.conf",
            "builder-local.token",
            "signing",
            "signing/admin/demo/key.json",
            "uploads",
        }
        if not POSTGRES:
            expected |= {"coprd.sqlite", "coprd.sqlite-wal", "coprd.sqlite-shm"}
        assert expected <= {str(p) for p in found}
        assert any(p.parts[:4] == ("signing", "admin", "demo", "private-keys-v1.d") for p in found)
        # What a web server serves stays readable.
        results = data / "results"
        assert mode(results) == 0o755
        assert mode(results / "admin" / "demo") == 0o755
        assert mode(results / "admin" / "demo" / "pubkey.gpg") == 0o644
        rpms = list((results / "admin" / "demo" / CHROOT).rglob("*.rpm"))
        assert rpms and all(mode(rpm) == 0o644 for rpm in rpms), rpms
    finally:
        stop_server(server)


def test_an_older_looser_data_directory_is_tightened_at_start(tmp_path: Path) -> None:
    server = start_server(tmp_path, builders=0)
    server.process.terminate()
    server.process.wait(timeout=15)
    data = server.data_dir
    # What an older coprd (or a careless hand) left: every secret readable by all.
    (data / "builder-local.token").write_text("coprd-builder-old\n")
    gpg_home = data / "signing" / "alice" / "old"
    (gpg_home / "private-keys-v1.d").mkdir(parents=True)
    (gpg_home / "private-keys-v1.d" / "ABC.key").write_text("secret key")
    (data / "uploads" / "00000042").mkdir(parents=True)
    (data / "uploads" / "00000042" / "x.src.rpm").write_text("rpm")
    outside = tmp_path / "not-coprds"
    outside.write_text("someone else's file")
    outside.chmod(0o644)
    (gpg_home / "planted").symlink_to(outside)
    data.chmod(0o755)
    for path in [*data.rglob("*")]:
        if path.is_symlink() or path.relative_to(data).parts[0] in PUBLIC:
            continue
        path.chmod(0o755 if path.is_dir() else 0o644)

    server = restart_server(server)
    try:
        found = assert_private(data)
        assert {"builder-local.token", "signing/alice/old/private-keys-v1.d/ABC.key"} <= {
            str(p) for p in found
        }
        assert mode(outside) == 0o644  # the planted link was not followed
        log = server.server_log()
        assert f"tightened {data} from 0755 to 0711" in log
        assert f"tightened {data / 'web-session.key'} from 0644 to 0600" in log
        assert f"tightened {data / 'signing/alice/old/private-keys-v1.d'} from 0755 to 0700" in log
        assert f"{gpg_home / 'planted'} is a symlink" in log
        if not POSTGRES:
            assert f"tightened {data / 'coprd.sqlite'} from 0644 to 0600" in log
    finally:
        stop_server(server)
