"""Uploaded packages: kept until the source task has them, and no longer."""

from __future__ import annotations

import io
import os
import stat
import time

import pytest
from sqlalchemy.orm import Session, sessionmaker

from coprd import uploads
from coprd.config import Settings
from coprd.core import builds, projects, users
from coprd.core.builds import BuildOptions, Source
from coprd.core.errors import InvalidInput, TooLarge
from coprd.db.engine import write_session
from coprd.db.models import BuildState

SRPM_LEAD = b"\xed\xab\xee\xdb\x03\x00\x00\x01" + b"\x00" * 88


def staged(settings: Settings) -> list[str]:
    root = settings.data_dir / "uploads"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_receive_checks_and_stages(settings: Settings) -> None:
    temp, name = uploads.receive(
        settings, io.BytesIO(SRPM_LEAD + b"body"), "C:\\tmp\\hello-1.0-1.src.rpm", source=True
    )
    assert name == "hello-1.0-1.src.rpm"
    assert temp.read_bytes() == SRPM_LEAD + b"body"
    kept = uploads.keep(settings, temp, 7, name)
    assert kept == settings.data_dir / "uploads" / "00000007" / name
    assert staged(settings) == ["00000007"]


def test_uploads_are_private_from_their_creation(settings: Settings) -> None:
    old = os.umask(0o022)
    try:
        temp, name = uploads.receive(
            settings, io.BytesIO(SRPM_LEAD + b"body"), "hello-1.0-1.src.rpm", source=True
        )
        assert stat.S_IMODE(temp.stat().st_mode) == 0o600
        kept = uploads.keep(settings, temp, 7, name)
    finally:
        os.umask(old)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(kept.parent.parent.stat().st_mode) == 0o700


def test_refused_uploads_leave_nothing(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="not an RPM"):
        uploads.receive(settings, io.BytesIO(b"hello"), "x.src.rpm", source=True)
    small = Settings(**{**settings.__dict__, "max_upload_bytes": 100})
    with pytest.raises(TooLarge, match="larger than this server's limit of 100 bytes"):
        uploads.receive(small, io.BytesIO(SRPM_LEAD + b"x" * 100), "x.src.rpm", source=True)
    assert staged(settings) == []


def test_source_uploads_are_srpms_nosrc_rpms_and_specs(settings: Settings) -> None:
    """As on Copr: ``.src.rpm``, ``.nosrc.rpm`` and ``.spec``; a spec must be one."""
    for name in ("hello-1.0-1.src.rpm", "hello-1.0-1.nosrc.rpm"):
        temp, kept = uploads.receive(settings, io.BytesIO(SRPM_LEAD), name, source=True)
        assert kept == name
        temp.unlink()
    spec = b"# comment\n%global x 1\nname:  hello\nVersion: 1\n"
    temp, kept = uploads.receive(settings, io.BytesIO(spec), "hello.spec", source=True)
    assert kept == "hello.spec" and temp.read_bytes() == spec
    temp.unlink()
    refused = [
        (b"Name: x\n", "x.txt", "only .src.rpm, .nosrc.rpm and .spec files can be uploaded"),
        (SRPM_LEAD, "x.spec", "x.spec is not a spec file"),
        (b"Name: x\n\0", "x.spec", "x.spec is not a spec file"),
        (b"Summary: no name\n", "x.spec", "x.spec is not a spec file"),
    ]
    for content, name, error in refused:
        with pytest.raises(InvalidInput, match=error):
            uploads.receive(settings, io.BytesIO(content), name, source=True)
    # Binary RPM uploads (``uploadrpm``) take none of the source kinds.
    for name in ("x.nosrc.rpm", "x.spec", "x.src.rpm"):
        with pytest.raises(InvalidInput, match="not named like a binary RPM"):
            uploads.receive(settings, io.BytesIO(SRPM_LEAD), name, source=False)
    assert staged(settings) == []


def test_a_spec_upload_is_bounded(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builds, "MAX_SPEC_BYTES", 64)
    monkeypatch.setattr(uploads, "MAX_SPEC_BYTES", 64)
    with pytest.raises(TooLarge, match=r"hello\.spec is larger than the limit of 64 bytes"):
        uploads.receive(
            settings, io.BytesIO(b"Name: hello\n" + b"#" * 64), "hello.spec", source=True
        )
    assert staged(settings) == []


def test_sweep_removes_what_no_build_needs(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with write_session(session_factory) as db:
        alice = users.create_user(db, "alice")
        project = projects.create_project(
            db, alice, "alice", projects.NewProject(name="demo", chroots=["fedora-rawhide-x86_64"])
        )
        source = Source(type="upload", data={"pkg": "x.src.rpm"})
        waiting = builds.submit_build(db, alice, project, source, BuildOptions()).id
        canceled = builds.submit_build(db, alice, project, source, BuildOptions())
        builds.cancel_build(db, alice, canceled)
        assert builds.source_task(canceled).state == BuildState.canceled
        canceled_id = canceled.id
    root = settings.data_dir / "uploads"
    for build_id in (waiting, canceled_id, 999):  # 999: a build that does not exist
        (root / f"{build_id:08d}").mkdir(parents=True)
    (root / ".upload-old").write_bytes(b"x")
    (root / ".upload-new").write_bytes(b"x")
    hour_ago = time.time() - 3700
    for name in (f"{waiting:08d}", f"{canceled_id:08d}", "00000999", ".upload-old"):
        os.utime(root / name, (hour_ago, hour_ago))
    (root / "00000998").mkdir()  # just moved in place; its build may not be committed yet

    assert uploads.sweep(settings, session_factory) == 3
    assert staged(settings) == sorted([".upload-new", "00000998", f"{waiting:08d}"])


def test_a_deleted_builds_upload_goes_after_the_commit(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    uploads.attach(settings, session_factory)
    with write_session(session_factory) as db:
        alice = users.create_user(db, "alice")
        project = projects.create_project(
            db, alice, "alice", projects.NewProject(name="demo", chroots=["fedora-rawhide-x86_64"])
        )
        source = Source(type="upload", data={"pkg": "x.src.rpm"})
        build = builds.submit_build(db, alice, project, source, BuildOptions())
        builds.cancel_build(db, alice, build)
        build_id = build.id
    (settings.data_dir / "uploads" / f"{build_id:08d}").mkdir(parents=True)

    with pytest.raises(RuntimeError), write_session(session_factory) as db:
        builds.delete_builds(db, users.get_user(db, "alice"), [build_id])
        raise RuntimeError("the request failed after the delete")
    assert staged(settings) == [f"{build_id:08d}"]  # rolled back: still needed
    with write_session(session_factory) as db:
        builds.delete_builds(db, users.get_user(db, "alice"), [build_id])
    assert staged(settings) == []
