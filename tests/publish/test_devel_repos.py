"""Devel mode with the real createrepo_c and dnf: builds go into ``<chroot>/devel/`` only,
the main metadata waits for ``regenerate_repo``; removals leave both."""

from __future__ import annotations

from pathlib import Path

from coprd.publish.createrepo import (
    DEVEL,
    ensure_repo,
    regenerate_repo,
    repodata_problems,
    update_repo,
)
from tests.publish.conftest import Rpms, dnf, place_build, primary


def names(repo: Path) -> list[str]:
    """The binary packages of the repo's metadata (the SRPMs are there too, as on Copr)."""
    return sorted(name for name, arch, _href in primary(repo) if arch != "src")


def test_a_devel_build_is_in_the_devel_repo_only_until_regenerated(
    tmp_path: Path, rpms: Rpms
) -> None:
    chroot = tmp_path / "alice" / "demo" / "fedora-rawhide-x86_64"
    ensure_repo(chroot)
    place_build(chroot, 1, "pkg01", rpms.sub["pkg01"])
    update_repo(chroot)
    assert names(chroot) == ["pkg01"]

    ensure_repo(chroot, devel=True)
    devel = chroot / DEVEL
    assert repodata_problems(devel / "repodata") == []
    assert names(devel) == ["pkg01"]  # every package of the chroot, as on Copr

    place_build(chroot, 2, "hello", rpms.srpm, rpms.hello)
    result = update_repo(chroot)

    assert result.ran and result.packages == 3  # pkg01, hello and hello's SRPM, as on Copr
    assert names(chroot) == ["pkg01"]  # the main metadata is left alone
    assert sorted(primary(devel)) == [
        ("hello", "noarch", "../00000002-hello/hello-1.0-1.noarch.rpm"),
        ("hello", "src", "../00000002-hello/hello-1.0-1.src.rpm"),
        ("pkg01", "noarch", "../00000001-pkg01/pkg01-1.0-1.noarch.rpm"),
    ]
    # dnf reads the devel repo and fetches the package from the chroot directory.
    installed = dnf(tmp_path / "root", devel, "install", "hello")
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / "root/usr/share/hello/hello").read_text() == "hello\n"
    missing = dnf(tmp_path / "root2", chroot, "install", "hello")
    assert missing.returncode != 0

    regenerated = regenerate_repo(chroot)

    assert regenerated.ran and regenerated.packages == 3
    assert names(chroot) == ["hello", "pkg01"]
    assert names(devel) == ["hello", "pkg01"]
    assert dnf(tmp_path / "root3", chroot, "install", "hello").returncode == 0


def test_a_removed_build_leaves_both_repos_and_the_main_one_gains_nothing(
    tmp_path: Path, rpms: Rpms
) -> None:
    ensure_repo(tmp_path)
    place_build(tmp_path, 1, "pkg01", rpms.sub["pkg01"])
    place_build(tmp_path, 2, "pkg02", rpms.sub["pkg02"])
    update_repo(tmp_path)
    ensure_repo(tmp_path, devel=True)
    place_build(tmp_path, 3, "pkg03", rpms.sub["pkg03"])
    update_repo(tmp_path)

    update_repo(tmp_path, remove=["00000001-pkg01"])

    assert not (tmp_path / "00000001-pkg01").exists()
    assert names(tmp_path) == ["pkg02"]  # pkg03 is still not published there
    assert names(tmp_path / DEVEL) == ["pkg02", "pkg03"]


def test_leaving_devel_mode_publishes_everything_and_drops_the_devel_repo(
    tmp_path: Path, rpms: Rpms
) -> None:
    ensure_repo(tmp_path, devel=True)
    place_build(tmp_path, 1, "pkg01", rpms.sub["pkg01"])
    update_repo(tmp_path)
    assert names(tmp_path) == [] and names(tmp_path / DEVEL) == ["pkg01"]

    ensure_repo(tmp_path, devel=False)

    assert names(tmp_path) == ["pkg01"]
    assert not (tmp_path / DEVEL).exists()
    place_build(tmp_path, 2, "pkg02", rpms.sub["pkg02"])
    update_repo(tmp_path)
    assert names(tmp_path) == ["pkg01", "pkg02"]


def test_regenerate_repo_rebuilds_lost_metadata_and_makes_a_missing_repo(
    tmp_path: Path, rpms: Rpms
) -> None:
    place_build(tmp_path, 1, "pkg01", rpms.sub["pkg01"])
    assert regenerate_repo(tmp_path).packages == 1
    assert not (tmp_path / DEVEL).exists()  # not in devel mode: no devel repo appears
    for path in (tmp_path / "repodata").iterdir():
        path.unlink()
    regenerate_repo(tmp_path)
    assert repodata_problems(tmp_path / "repodata") == []
    assert names(tmp_path) == ["pkg01"]


def test_regenerate_repo_mends_the_mode_the_disk_lost(tmp_path: Path, rpms: Rpms) -> None:
    place_build(tmp_path, 1, "pkg01", rpms.sub["pkg01"])
    regenerate_repo(tmp_path, devel=True)  # the database says devel mode; the disk forgot
    assert names(tmp_path / DEVEL) == ["pkg01"]
    regenerate_repo(tmp_path)  # None: the mode the disk shows
    assert (tmp_path / DEVEL).is_dir()
    regenerate_repo(tmp_path, devel=False)
    assert not (tmp_path / DEVEL).exists()
    assert names(tmp_path) == ["pkg01"]
