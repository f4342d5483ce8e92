"""Signing: a key per project, every published package signed with it, keys extended
before they expire and removed with their project."""

from __future__ import annotations

import hashlib
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from coprd.config import ConfigError, load_settings
from coprd.publish import ensure_repo, repodata_problems
from coprd.publish.publisher import SIGNED_MARK, Publisher
from coprd.publish.signing import KeyMaker, Keyring, keyring_for, signer_of, signers_of
from tests.publish.conftest import Rpms, place_build, primary

CHROOT = "fedora-rawhide-x86_64"
DAY = 86_400


@pytest.fixture(scope="session")
def made_keyring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One key, alice/demo's, made once for the session; tests get copies of it."""
    root = tmp_path_factory.mktemp("keys") / "signing"
    Keyring(root, domain="coprd.test").ensure_key("alice", "demo")
    return root


@pytest.fixture
def keyring(tmp_path: Path, made_keyring: Path) -> Keyring:
    root = tmp_path / "signing"
    shutil.copytree(made_keyring, root, ignore=shutil.ignore_patterns("S.*"))
    return Keyring(root, domain="coprd.test")


@pytest.fixture(scope="session")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    """Somebody else's key (EdDSA: quick to make, and this rpm verifies it)."""
    other = Keyring(tmp_path_factory.mktemp("stranger") / "signing", key_type="ed25519")
    other.ensure_key("mallory", "evil")
    return other


def verify(rpm: Path, pubkey: bytes, scratch: Path) -> str:
    """``rpm -K`` of ``rpm`` against an rpm database that imported only ``pubkey``."""
    db = scratch / "rpmdb"
    if not db.exists():
        db.mkdir(parents=True)
        key_file = scratch / "key.asc"
        key_file.write_bytes(pubkey)
        subprocess.run(["rpm", "--dbpath", str(db), "--initdb"], check=True)
        subprocess.run(["rpm", "--dbpath", str(db), "--import", str(key_file)], check=True)
    checked = subprocess.run(
        ["rpm", "--dbpath", str(db), "-K", str(rpm)], capture_output=True, text=True
    )
    return checked.stdout + checked.stderr


def copy(rpm: Path, directory: Path) -> Path:
    return Path(shutil.copy(rpm, directory))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_project_key_is_private_and_named_like_copr(keyring: Keyring) -> None:
    home = keyring.home("alice", "demo")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(keyring.root.stat().st_mode) == 0o700
    key = keyring.key("alice", "demo")
    assert key is not None and len(key.fingerprint) == 40
    assert keyring.ensure_key("alice", "demo") == key  # made once
    listed = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--with-colons", "--list-secret-keys"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "alice_demo (None) <alice#demo@copr.coprd.test>" in listed
    assert keyring.public_key("alice", "demo").startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK")
    assert b"PRIVATE" not in keyring.public_key("alice", "demo")
    assert keyring.key("alice", "other") is None
    with pytest.raises(ValueError):
        keyring.home("alice", "../bob")


def test_signed_packages_verify_against_the_public_key(
    keyring: Keyring, rpms: Rpms, tmp_path: Path
) -> None:
    hello, srpm = copy(rpms.hello, tmp_path), copy(rpms.srpm, tmp_path)
    assert signer_of(hello) is None

    assert keyring.sign("alice", "demo", [hello, srpm]) == [hello, srpm]

    key = keyring.key("alice", "demo")
    assert key is not None and signer_of(hello) == signer_of(srpm) == key.key_id
    pubkey = keyring.public_key("alice", "demo")
    for rpm in (hello, srpm):
        assert verify(rpm, pubkey, tmp_path).endswith("digests signatures OK\n")


def test_signing_again_changes_nothing(keyring: Keyring, rpms: Rpms, tmp_path: Path) -> None:
    hello = copy(rpms.hello, tmp_path)
    keyring.sign("alice", "demo", [hello])
    before = digest(hello)

    assert keyring.sign("alice", "demo", [hello]) == []
    assert digest(hello) == before


def test_another_keys_signature_is_replaced(
    keyring: Keyring, stranger: Keyring, rpms: Rpms, tmp_path: Path
) -> None:
    hello = copy(rpms.hello, tmp_path)
    stranger.sign("mallory", "evil", [hello])
    pubkey = keyring.public_key("alice", "demo")
    assert "SIGNATURES NOT OK" in verify(hello, pubkey, tmp_path)  # not alice/demo's

    assert keyring.sign("alice", "demo", [hello]) == [hello]
    assert "signatures OK" in verify(hello, pubkey, tmp_path)


def test_files_rpm_cannot_read_are_left_alone(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path / "signing")
    junk = tmp_path / "junk-1.0-1.noarch.rpm"
    junk.write_bytes(b"not a package")

    assert keyring.sign("alice", "demo", [junk]) == []
    assert junk.read_bytes() == b"not a package"
    assert keyring.key("alice", "demo") is None  # no key made for nothing to sign


def test_many_signatures_are_read_at_once_and_junk_among_them_one_by_one(
    keyring: Keyring, stranger: Keyring, rpms: Rpms, tmp_path: Path
) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    ours, theirs, unsigned = (copy(rpms.hello, tmp_path / name) for name in ("a", "b", "c"))
    keyring.sign("alice", "demo", [ours])
    stranger.sign("mallory", "evil", [theirs])
    junk = tmp_path / "junk-1.0-1.noarch.rpm"
    junk.write_bytes(b"not a package")
    expected = [signer_of(rpm) for rpm in (ours, theirs, unsigned)]
    assert expected[0] != expected[1] and None not in expected[:2] and expected[2] is None
    assert signers_of([ours, theirs, unsigned]) == expected
    assert signers_of([ours, junk, theirs, unsigned]) == [
        expected[0],
        "unreadable",
        *expected[1:],
    ]
    assert signers_of([]) == []


def test_a_key_near_its_expiry_is_extended_and_republished(
    keyring: Keyring, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    for dirname in ("demo", "demo:pr:3"):
        (results / "alice" / dirname).mkdir(parents=True)
    publisher = Publisher(results, keyring)
    publisher.publish_pubkey("alice", "demo", "demo:pr:3")
    published = (results / "alice" / "demo" / "pubkey.gpg").read_bytes()
    assert published == keyring.public_key("alice", "demo")
    # A key with two days left (a keyring whose keys live two days, extending it now).
    short = Keyring(keyring.root, lifetime_days=2)
    soon = short.extend("alice", "demo", within_days=10_000)
    assert soon is not None

    assert publisher.refresh_keys(within_days=30) == 1

    extended = keyring.key("alice", "demo")
    assert extended is not None and extended.fingerprint == soon.fingerprint
    assert extended.expires >= soon.expires + 4 * 365 * DAY
    for dirname in ("demo", "demo:pr:3"):
        republished = (results / "alice" / dirname / "pubkey.gpg").read_bytes()
        assert republished != published
        assert republished == keyring.public_key("alice", "demo")
    assert publisher.refresh_keys(within_days=30) == 0  # far from expiry now


def test_a_deleted_project_loses_its_key(keyring: Keyring, tmp_path: Path) -> None:
    results = tmp_path / "results"
    (results / "alice" / "demo").mkdir(parents=True)
    publisher = Publisher(results, keyring)

    publisher.remove(["alice/demo:pr:3"])  # a CoprDir: the project keeps its key
    assert keyring.key("alice", "demo") is not None
    publisher.remove(["alice/demo"])

    assert keyring.key("alice", "demo") is None
    assert not keyring.home("alice", "demo").exists()
    assert list(keyring.projects()) == []


def test_publishing_signs_packages_before_they_are_indexed(
    keyring: Keyring, rpms: Rpms, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    publisher = Publisher(results, keyring)
    repo = f"alice/demo/{CHROOT}"
    build = f"{repo}/00000007-hello"
    ensure_repo(results / repo)
    for rpm in (rpms.hello, rpms.srpm):
        shutil.copy(rpm, publisher.result_file(build, rpm.name))

    publisher.publish_build(repo, build)
    signed = results / build / rpms.hello.name
    first = digest(signed)
    publisher.publish_build(repo, build)  # a retried finish

    pubkey = (results / "alice" / "demo" / "pubkey.gpg").read_bytes()
    for rpm in (signed, results / build / rpms.srpm.name):
        assert "signatures OK" in verify(rpm, pubkey, tmp_path)
    assert digest(signed) == first
    assert sorted((name, arch) for name, arch, _href in primary(results / repo)) == [
        ("hello", "noarch"),
        ("hello", "src"),
    ]
    assert repodata_problems(results / repo / "repodata") == []


def test_packages_published_unsigned_are_signed_at_the_next_start(
    keyring: Keyring, rpms: Rpms, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    repo = results / "alice" / "demo" / CHROOT
    ensure_repo(repo)
    # Published while signing was off (or before coprd signed).
    Publisher(results).publish_build(
        f"alice/demo/{CHROOT}", str(place_build(repo, 7, "hello", rpms.hello).relative_to(results))
    )
    hello = repo / "00000007-hello" / rpms.hello.name
    assert signer_of(hello) is None

    assert Publisher(results, keyring).sign_published() == 1

    pubkey = (results / "alice" / "demo" / "pubkey.gpg").read_bytes()
    assert "signatures OK" in verify(hello, pubkey, tmp_path)
    assert repodata_problems(repo / "repodata") == []  # checksums of the signed file
    assert (results / SIGNED_MARK).exists()
    assert Publisher(results, keyring).sign_published() == 0
    Publisher(results).sign_published()  # a start with signing off
    assert not (results / SIGNED_MARK).exists()


def test_new_projects_get_keys_in_the_background_one_at_a_time(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path / "signing", key_type="ed25519")
    deleted = {("alice", "gone")}
    made: list[tuple[str, str]] = []
    maker = KeyMaker(
        keyring,
        wanted=lambda owner, project: (owner, project) not in deleted,
        made=lambda owner, project: made.append((owner, project)),
        limit=2,
    )

    assert maker.want("alice", "gone") and maker.want("alice", "demo")
    assert maker.want("alice", "demo")  # already waiting
    assert not maker.want("alice", "third")  # the queue is full: made at first publish
    while maker.make_next():
        pass

    assert maker.pending() == 0
    assert made == [("alice", "demo")]
    assert keyring.key("alice", "demo") is not None
    assert keyring.key("alice", "gone") is None  # deleted before its turn: skipped
    assert keyring.key("alice", "third") is None


def test_signing_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPRD_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.signing and settings.signing_key_type == "rsa2048"
    keyring = keyring_for(settings)
    assert keyring is not None and keyring.root == tmp_path / "signing"
    monkeypatch.setenv("COPRD_SIGNING", "false")
    assert keyring_for(load_settings()) is None
    monkeypatch.setenv("COPRD_SIGNING", "maybe")
    with pytest.raises(ConfigError):
        load_settings()
    monkeypatch.setenv("COPRD_SIGNING", "1")
    monkeypatch.setenv("COPRD_SIGNING_KEY_TYPE", "dsa1024")
    with pytest.raises(ConfigError):
        load_settings()
