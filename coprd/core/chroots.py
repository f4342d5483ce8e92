"""Mock chroots: the build targets this service offers, and the set a new database gets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from coprd.core.errors import Conflict, InvalidInput, NotFound
from coprd.core.names import check_chroot_name
from coprd.db.models import MockChroot, utcnow

# A fresh database offers what Fedora Copr offers for current releases (late 2026).
DEFAULT_RELEASES = ("fedora-rawhide", "fedora-45", "fedora-44", "epel-10", "epel-9")
DEFAULT_ARCHES = ("x86_64", "aarch64")


def split_chroot_name(name: str) -> tuple[str, str, str]:
    """``centos-stream-9-x86_64`` → ``("centos-stream", "9", "x86_64")``."""
    check_chroot_name(name)
    release, version, arch = name.rsplit("-", 2)
    return release, version, arch


def add_mock_chroot(session: Session, name: str, comment: str = "") -> MockChroot:
    release, version, arch = split_chroot_name(name)
    if session.scalar(select(MockChroot.id).where(MockChroot.name == name)) is not None:
        raise Conflict(f"chroot {name!r} already exists")
    chroot = MockChroot(
        name=name,
        os_release=release,
        os_version=version,
        arch=arch,
        is_active=True,
        comment=comment,
    )
    session.add(chroot)
    session.flush()
    return chroot


def get_mock_chroot(session: Session, name: str) -> MockChroot:
    chroot = session.scalar(select(MockChroot).where(MockChroot.name == name))
    if chroot is None:
        raise NotFound(f"chroot {name!r} does not exist")
    return chroot


def list_mock_chroots(session: Session, *, active_only: bool = False) -> Sequence[MockChroot]:
    stmt = select(MockChroot).order_by(MockChroot.name)
    if active_only:
        stmt = stmt.where(MockChroot.is_active.is_(True))
    return session.scalars(stmt).all()


def set_mock_chroot_active(session: Session, name: str, active: bool) -> MockChroot:
    chroot = get_mock_chroot(session, name)
    if active and chroot.eol_on is not None:
        chroot.eol_on = None
    chroot.is_active = active
    session.flush()
    return chroot


def mark_mock_chroot_eol(session: Session, name: str, on: dt.date | None = None) -> MockChroot:
    """End of life: no new builds or enables; existing repositories stay published."""
    chroot = get_mock_chroot(session, name)
    chroot.is_active = False
    chroot.eol_on = on or utcnow().date()
    chroot.comment = f"EOL since {chroot.eol_on.isoformat()}"
    session.flush()
    return chroot


def resolve_active_chroots(session: Session, names: Sequence[str]) -> list[MockChroot]:
    """The active chroots ``names`` stands for, or InvalidInput naming the ones it cannot."""
    wanted = list(dict.fromkeys(names))
    for name in wanted:
        check_chroot_name(name)
    found = {
        c.name: c for c in session.scalars(select(MockChroot).where(MockChroot.name.in_(wanted)))
    }
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise InvalidInput(f"unknown chroot(s): {', '.join(unknown)}", "chroots")
    inactive = [n for n in wanted if not found[n].is_active]
    if inactive:
        raise InvalidInput(f"chroot(s) not active: {', '.join(inactive)}", "chroots")
    return [found[n] for n in wanted]


def seed_mock_chroots(session: Session) -> int:
    """Give an empty chroot table the default set; returns how many were added."""
    if session.scalar(select(MockChroot.id).limit(1)) is not None:
        return 0
    count = 0
    for release in DEFAULT_RELEASES:
        for arch in DEFAULT_ARCHES:
            add_mock_chroot(session, f"{release}-{arch}")
            count += 1
    return count
