"""Signing: one OpenPGP key per project, and every published RPM signed with it.

**Where keys live.** A project's key is a GnuPG home of its own,
``<data_dir>/signing/<owner>/<project>/`` (mode 0700), on the publisher's host and never
inside the results store: secret keys do not leave that directory. The results store gets
the public half, ASCII-armoured, as ``<owner>/<project>/pubkey.gpg`` (and in each CoprDir,
``<owner>/<project>:<suffix>/pubkey.gpg``), where the ``.repo`` files' ``gpgkey=`` and
DNF5's copr plugin look for it. A small ``key.json`` in the home records the key's
fingerprint and expiry, so that neither the "already signed?" test nor the daily expiry
check has to run gpg.

**The key.** User id ``<owner>_<project> (None) <<owner>#<project>@copr.<domain>>``, the
form Copr's keys have; no passphrase (the publisher signs unattended; the 0700 directory
is the protection); a signing key only, no encryption subkey. The algorithm is a setting;
the default, RSA 2048, is what every rpm that may install a package verifies. Measured on
a busy 2-core host: RSA 2048 keys take 0.13 to 0.5 s to make, RSA 4096 0.6 to 5 s (the
prime search varies), EdDSA 0.04 s; but rpm older than 4.16 (EL 7 and EL 8) cannot check
EdDSA signatures. Signing a package takes some 40 ms, the agent's start and stop included.
A key is generated in a hidden directory beside its final place and renamed there whole,
so a crash never leaves half a key, and of two processes making the same key at once one
wins and the other keeps the winner's.

**Signing.** ``rpmsign --addsign`` with the key's fingerprint as ``%_gpg_name`` and SHA-256
digests, before a package is revealed and indexed (signing rewrites the header, and
createrepo_c must checksum the signed file). A package that already carries this key's
signature is left alone, so a retried publish changes nothing; a signature by another key
is replaced. A file rpm cannot read is left alone too: createrepo_c leaves it out of the
metadata, so no client is ever offered it.

**Expiry.** Keys are extended, not replaced (a new key would make every client that
imported the old one refuse the repository): :meth:`Keyring.extend` moves the expiry of a
key that expires within a window to a full lifetime from now, and the caller publishes
the public key again.

**gpg's agent.** gpg 2 does every secret-key operation through an agent that listens on
sockets in the GnuPG home; a socket path has at most 107 bytes, which a data directory
deep in the filesystem exceeds. So gpg is given a short symlink to the home, in a fresh
private temporary directory, and the agent is stopped after each operation (thousands of
projects must not leave thousands of agents behind). Operations on one key hold a lock
on it, so one never stops the agent another is using.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from coprd.config import SIGNING_KEY_TYPES, Settings
from coprd.core.errors import InvalidInput
from coprd.core.names import check_owner_name, check_project_name
from coprd.publish._fs import remove_tree, write_bytes_atomically
from coprd.publish.createrepo import CreaterepoFailed

__all__ = [
    "KEY_TYPES",
    "PUBKEY",
    "Key",
    "KeyMaker",
    "Keyring",
    "SigningFailed",
    "keyring_for",
    "signer_of",
    "signers_of",
]

log = logging.getLogger("coprd.publish.signing")

KEY_TYPES = SIGNING_KEY_TYPES
PUBKEY = "pubkey.gpg"
KEY_FILE = "key.json"
LOCK_FILE = "lock"
NEW_PREFIX = ".new-"
DEFAULT_LIFETIME_DAYS = Settings.signing_key_days
TIMEOUT_S = 300.0
# Background work yields the CPU to requests and builds.
NICENESS = 10
_DAY_S = 86_400
# What rpm prints for a signature tag: "RSA/SHA256, <date>, Key ID 1e520147fe4391a8".
_KEY_ID = re.compile(r"Key ID ([0-9a-fA-F]{16})")
_UNREADABLE = "unreadable"


class SigningFailed(CreaterepoFailed):
    """gpg or rpmsign failed; nothing was published. A kind of ``CreaterepoFailed``, so
    that every caller that handles a failed publish handles this one too."""


@dataclass(frozen=True)
class Key:
    """A project's key as ``key.json`` records it."""

    fingerprint: str
    expires: int
    """Seconds since the epoch; 0 if the key never expires."""

    @property
    def key_id(self) -> str:
        """The 16-digit key id rpm prints for a signature made with this key."""
        return self.fingerprint[-16:].lower()


def _gpg() -> str:
    found = shutil.which("gpg") or shutil.which("gpg2")
    if found is None:
        raise SigningFailed("gpg is not installed (or set signing = false)")
    return found


def _run(
    cmd: Sequence[str], home: Path, *, timeout_s: float = TIMEOUT_S, private: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` on the GnuPG home ``home``. ``private``: with umask 077, so that what gpg
    (and the agent it starts) writes in the home is the owner's only, as the rest of the
    home is; off for rpmsign, which rewrites packages a web server must read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPG_")}
    env.update(GNUPGHOME=str(home), LC_ALL="C")
    try:
        done = subprocess.run(
            list(cmd),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            umask=0o077 if private else -1,
        )
    except subprocess.TimeoutExpired as exc:
        raise SigningFailed(f"{Path(cmd[0]).name} ran longer than {timeout_s:g} s") from exc
    except OSError as exc:
        raise SigningFailed(f"could not run {cmd[0]}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-10:])
        raise SigningFailed(f"{Path(cmd[0]).name} exited with {done.returncode}: {tail}")
    return done


@contextmanager
def _short_home(home: Path) -> Iterator[Path]:
    """A short path to ``home`` for gpg; stops the agent gpg started there at the end."""
    link_dir = Path(tempfile.mkdtemp(prefix="coprd-gpg-"))
    link = link_dir / "h"
    try:
        os.symlink(home.absolute(), link)
        yield link
    finally:
        if (home / "S.gpg-agent").exists():
            gpgconf = shutil.which("gpgconf")
            if gpgconf:
                try:
                    _run([gpgconf, "--kill", "gpg-agent"], link, timeout_s=30)
                except SigningFailed as exc:
                    log.warning("could not stop the gpg agent of %s: %s", home, exc)
        shutil.rmtree(link_dir, ignore_errors=True)


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _inspect(gnupghome: Path) -> Key:
    """The one key of a GnuPG home, as gpg lists it."""
    listed = _run([_gpg(), "--batch", "--with-colons", "--list-keys"], gnupghome).stdout
    expires: int | None = None
    for line in listed.splitlines():
        fields = line.split(":")
        if fields[0] == "pub":
            expires = int(fields[6] or 0)
        elif fields[0] == "fpr" and expires is not None:
            return Key(fingerprint=fields[9].upper(), expires=expires)
    raise SigningFailed(f"no key in {gnupghome}")


_SIGNATURE_FORMAT = "%{RSAHEADER:pgpsig}|%{DSAHEADER:pgpsig}|%{SIGPGP:pgpsig}|%{SIGGPG:pgpsig}\n"
# Files whose signatures one rpm run reads (see signers_of).
_SIGNERS_AT_ONCE = 200


def _query_signatures(rpms: Sequence[Path]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["rpm", "-qp", "--nosignature", "--nodigest", "--qf", _SIGNATURE_FORMAT]
            + [str(rpm) for rpm in rpms],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60 + len(rpms),
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        names = ", ".join(rpm.name for rpm in rpms[:3])
        raise SigningFailed(f"could not read the signature of {names}: {exc}") from exc


def _signer(line: str) -> str | None:
    match = _KEY_ID.search(line)
    return match.group(1).lower() if match else None


def signer_of(rpm: Path) -> str | None:
    """The key id that signed ``rpm`` (lowercase), None if unsigned, ``"unreadable"`` if
    rpm cannot read the file. Raises ``SigningFailed`` if rpm cannot be run at all."""
    done = _query_signatures([rpm])
    return _UNREADABLE if done.returncode != 0 else _signer(done.stdout)


def signers_of(rpms: Sequence[Path]) -> list[str | None]:
    """``signer_of`` of each of ``rpms``, with one rpm run per couple of hundred files
    (a project's copied packages are checked at once, not one process each). rpm prints
    one line per package it reads; where it could not read one, the lines no longer say
    which file is which, and those files are asked one by one."""
    signers: list[str | None] = []
    for start in range(0, len(rpms), _SIGNERS_AT_ONCE):
        chunk = rpms[start : start + _SIGNERS_AT_ONCE]
        done = _query_signatures(chunk)
        lines = done.stdout.splitlines()
        if done.returncode == 0 and len(lines) == len(chunk):
            signers.extend(_signer(line) for line in lines)
        else:
            signers.extend(signer_of(rpm) for rpm in chunk)
    return signers


class Keyring:
    """The projects' keys under one directory; see the module docstring."""

    def __init__(
        self,
        root: Path,
        *,
        key_type: str = KEY_TYPES[0],
        lifetime_days: int = DEFAULT_LIFETIME_DAYS,
        domain: str = "localhost",
    ) -> None:
        if key_type not in KEY_TYPES:
            raise ValueError(f"signing key type {key_type!r} is not one of {', '.join(KEY_TYPES)}")
        if lifetime_days < 1:
            raise ValueError("a signing key must live at least one day")
        self.root = root
        self.key_type = key_type
        self.lifetime_days = lifetime_days
        self.domain = domain

    def home(self, owner: str, project: str) -> Path:
        """The GnuPG home of ``owner/project`` (which need not exist); ValueError for a
        name that must not become a path."""
        try:
            return self.root / check_owner_name(owner) / check_project_name(project)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    def user_id(self, owner: str, project: str) -> str:
        return f"{owner}_{project} (None) <{owner}#{project}@copr.{self.domain}>"

    def key(self, owner: str, project: str) -> Key | None:
        """The project's key, or None if it has none yet."""
        home = self.home(owner, project)
        try:
            data = json.loads((home / KEY_FILE).read_text())
            return Key(fingerprint=str(data["fingerprint"]), expires=int(data["expires"]))
        except FileNotFoundError:
            if not home.is_dir():
                return None
        except (OSError, ValueError, KeyError, TypeError):
            pass
        # A home without its record (written by hand, or the record was lost): ask gpg.
        with _locked(home), _short_home(home) as gnupghome:
            key = _inspect(gnupghome)
        _record(home, key)
        return key

    def ensure_key(self, owner: str, project: str, *, nice: bool = False) -> Key:
        """The project's key, generated now if it has none. ``nice`` runs gpg (and so the
        agent that does the work) at a lower priority."""
        found = self.key(owner, project)
        if found is not None:
            return found
        home = self.home(owner, project)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        home.parent.mkdir(exist_ok=True, mode=0o700)
        for stale in home.parent.glob(f"{NEW_PREFIX}{project}.*"):
            # What a process killed while making this key left (a live one takes seconds).
            with contextlib.suppress(OSError):
                if stale.stat().st_mtime < time.time() - 3600:
                    shutil.rmtree(stale, ignore_errors=True)
        fresh = Path(tempfile.mkdtemp(prefix=f"{NEW_PREFIX}{project}.", dir=home.parent))
        try:
            with _short_home(fresh) as gnupghome:
                cmd = [
                    _gpg(),
                    "--batch",
                    "--quiet",
                    "--pinentry-mode",
                    "loopback",
                    "--passphrase",
                    "",
                    "--quick-gen-key",
                    self.user_id(owner, project),
                    self.key_type,
                    "sign",
                    f"{self.lifetime_days}d",
                ]
                nice_cmd = shutil.which("nice") if nice else None
                if nice_cmd:
                    cmd = [nice_cmd, "-n", str(NICENESS), *cmd]
                _run(cmd, gnupghome)
                key = _inspect(gnupghome)
            _record(fresh, key)
            try:
                os.rename(fresh, home)
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                # Someone else made this project's key meanwhile: theirs it is.
                shutil.rmtree(fresh, ignore_errors=True)
                winner = self.key(owner, project)
                if winner is None:
                    raise SigningFailed(f"the key of {owner}/{project} vanished") from exc
                return winner
            log.info("made the signing key %s of %s/%s", key.fingerprint, owner, project)
            return key
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise

    def public_key(self, owner: str, project: str) -> bytes:
        """The project's public key, ASCII-armoured (what ``pubkey.gpg`` holds)."""
        key = self.key(owner, project)
        if key is None:
            raise SigningFailed(f"{owner}/{project} has no signing key")
        home = self.home(owner, project)
        with _locked(home), _short_home(home) as gnupghome:
            done = _run([_gpg(), "--batch", "--armor", "--export", key.fingerprint], gnupghome)
        if "BEGIN PGP PUBLIC KEY BLOCK" not in done.stdout:
            raise SigningFailed(f"gpg exported no public key for {owner}/{project}")
        return done.stdout.encode()

    def sign(self, owner: str, project: str, rpms: Sequence[Path]) -> list[Path]:
        """Sign ``rpms`` in place with the project's key (made now if it has none);
        returns those that were signed now. Packages this key signed already and files
        rpm cannot read are left alone."""
        readable = [
            (rpm, signer)
            for rpm, signer in zip(rpms, signers_of(rpms), strict=True)
            if signer != _UNREADABLE
        ]
        if not readable:
            return []
        key = self.ensure_key(owner, project)
        todo = [rpm for rpm, signer in readable if signer != key.key_id]
        if not todo:
            return []
        home = self.home(owner, project)
        with _locked(home), _short_home(home) as gnupghome:
            _run(
                [
                    "rpmsign",
                    "--define",
                    f"__gpg {_gpg()}",
                    "--define",
                    f"_gpg_path {gnupghome}",
                    "--define",
                    f"_gpg_name {key.fingerprint}",
                    "--define",
                    "_gpg_digest_algo sha256",
                    "--define",
                    "_gpg_sign_cmd_extra_args --batch --no-tty",
                    "--addsign",
                    *(str(rpm) for rpm in todo),
                ],
                gnupghome,
                timeout_s=TIMEOUT_S + 10 * len(todo),
                private=False,
            )
        return todo

    def extend(
        self, owner: str, project: str, *, within_days: int, now: float | None = None
    ) -> Key | None:
        """If the project's key expires within ``within_days``, move its expiry to a full
        lifetime from now and return the extended key; otherwise None."""
        key = self.key(owner, project)
        now = time.time() if now is None else now
        if key is None or key.expires == 0 or key.expires > now + within_days * _DAY_S:
            return None
        home = self.home(owner, project)
        with _locked(home), _short_home(home) as gnupghome:
            _run(
                [
                    _gpg(),
                    "--batch",
                    "--quiet",
                    "--pinentry-mode",
                    "loopback",
                    "--passphrase",
                    "",
                    "--quick-set-expire",
                    key.fingerprint,
                    f"{self.lifetime_days}d",
                ],
                gnupghome,
            )
            extended = _inspect(gnupghome)
            _record(home, extended)
        log.info("extended the signing key of %s/%s to %s", owner, project, extended.expires)
        return extended

    def projects(self) -> Iterator[tuple[str, str]]:
        """Every ``(owner, project)`` that has a key."""
        if not self.root.is_dir():
            return
        for owner in sorted(self.root.iterdir()):
            if owner.name.startswith(".") or not owner.is_dir():
                continue
            for project in sorted(owner.iterdir()):
                if not project.name.startswith(".") and project.is_dir():
                    yield owner.name, project.name

    def remove(self, owner: str, project: str) -> None:
        """Delete the project's key (the project is gone); no key is fine."""
        home = self.home(owner, project)
        if not home.is_dir():
            return
        with _locked(home):
            remove_tree(home)


def keyring_for(settings: Settings) -> Keyring | None:
    """The keyring of ``settings`` (``<data_dir>/signing``), or None with signing off.
    Key user ids name the host of the service's public URL."""
    if not settings.signing:
        return None
    return Keyring(
        settings.data_dir / "signing",
        key_type=settings.signing_key_type,
        lifetime_days=settings.signing_key_days,
        domain=urlsplit(settings.public_url).hostname or "localhost",
    )


def _record(home: Path, key: Key) -> None:
    raw = json.dumps({"fingerprint": key.fingerprint, "expires": key.expires}).encode()
    write_bytes_atomically(home / KEY_FILE, raw, mode=0o600)


class KeyMaker:
    """Makes the keys of new projects in the background, so that creating a project
    stays fast: one key at a time, niced and paced (see ``run``), from a bounded queue.

    A wish beyond ``limit`` waiting ones is dropped (the key is then made when the
    project first publishes), so creating thousands of projects costs no more than
    ``limit`` key generations. A project deleted before its turn is skipped, and one
    deleted while its key was being made loses the key again.
    """

    def __init__(
        self,
        keyring: Keyring,
        *,
        wanted: Callable[[str, str], bool],
        made: Callable[[str, str], None],
        limit: int = 1000,
    ) -> None:
        self.keyring = keyring
        self._wanted = wanted
        self._made = made
        self._limit = limit
        self._lock = threading.Lock()
        self._queue: collections.deque[tuple[str, str]] = collections.deque()
        self._queued: set[tuple[str, str]] = set()
        self._ready = threading.Event()

    def want(self, owner: str, project: str) -> bool:
        """Queue a key for ``owner/project``; False if it was dropped (queue full)."""
        item = (owner, project)
        with self._lock:
            if item in self._queued:
                return True
            if len(self._queue) >= self._limit:
                return False
            self._queue.append(item)
            self._queued.add(item)
        self._ready.set()
        return True

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def make_next(self) -> bool:
        """Make the key of the oldest wish; False if there was none."""
        with self._lock:
            if not self._queue:
                self._ready.clear()
                return False
            item = self._queue.popleft()
            self._queued.discard(item)
        owner, project = item
        try:
            if self.keyring.key(owner, project) is not None or not self._wanted(owner, project):
                return True
            self.keyring.ensure_key(owner, project, nice=True)
            if not self._wanted(owner, project):
                self.keyring.remove(owner, project)
                return True
            self._made(owner, project)
        except SigningFailed as exc:
            log.error("could not make the signing key of %s/%s: %s", owner, project, exc)
        except Exception:
            log.exception("could not make the signing key of %s/%s", owner, project)
        return True

    def run(self, stop: threading.Event, poll_s: float = 5.0) -> None:
        """Make keys until ``stop`` is set. After each key it rests as long as making it
        took, so a burst of new projects costs at most half a CPU, at low priority."""
        while not stop.is_set():
            started = time.monotonic()
            if self.make_next():
                stop.wait(time.monotonic() - started)
            else:
                self._ready.wait(poll_s)
