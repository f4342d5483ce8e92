"""dist-git sources: a package repository and its lookaside cache on loopback."""

from __future__ import annotations

from coprd.builder.srpm import inspect_srpm
from tests.sources.conftest import RunSource, requires_tools
from tests.sources.servers import DistGit
from tests.sources.specs import data_spec, srpm_files

pytestmark = requires_tools


def distgit(dist_git: DistGit, name: str, **fields: str) -> dict[str, str]:
    return {
        "clone_url": f"{dist_git.url}/{fields.get('namespace', 'rpms')}/{name}.git",
        "distgit": "fedora",
        "namespace": "rpms",
        "package_name": name,
        "committish": "",
        **fields,
    }


def test_builds_the_default_branch_with_lookaside_sources(
    dist_git: DistGit, run_source: RunSource
) -> None:
    repo = dist_git.add(
        "fromdg",
        {"fromdg.spec": data_spec("fromdg", sources=("fromdg-1.0.tar", "local.patch"))},
        {"fromdg-1.0.tar": b"tarball bytes\n"},
        branches={"f45": {"fromdg.spec": data_spec("fromdg", "0.9", sources=("fromdg-1.0.tar",))}},
    )
    # local.patch is committed, as a dist-git's patches are.
    dist_git.git.commit(repo, {"local.patch": "--- a\n+++ b\n"})
    outcome = run_source("distgit", distgit(dist_git, "fromdg"), lookaside_url=dist_git.lookaside)
    srpm = outcome.ok()
    assert srpm.name == "fromdg-1.0-1.src.rpm"
    assert srpm_files(srpm) == ["fromdg-1.0.tar", "fromdg.spec", "local.patch"]
    assert "/repo/pkgs/rpms/fromdg/fromdg-1.0.tar/sha512/" in outcome.log

    branch = run_source(
        "distgit", distgit(dist_git, "fromdg", committish="f45"), lookaside_url=dist_git.lookaside
    )
    assert inspect_srpm(branch.ok()).version == "0.9"


def test_old_md5_sources_format(dist_git: DistGit, run_source: RunSource) -> None:
    dist_git.add(
        "oldfmt",
        {"oldfmt.spec": data_spec("oldfmt", sources=("old.tar",))},
        {"old.tar": b"old style\n"},
        old_format=True,
    )
    outcome = run_source("distgit", distgit(dist_git, "oldfmt"), lookaside_url=dist_git.lookaside)
    assert srpm_files(outcome.ok()) == ["old.tar", "oldfmt.spec"]
    assert "/repo/pkgs/rpms/oldfmt/old.tar/md5/" in outcome.log


def test_missing_spec_and_missing_lookaside_file_fail(
    dist_git: DistGit, run_source: RunSource
) -> None:
    dist_git.add("nospec", {"README": "x\n"}, {})
    outcome = run_source("distgit", distgit(dist_git, "nospec"), lookaside_url=dist_git.lookaside)
    assert outcome.error == (
        f"the dist-git repository {dist_git.url}/rpms/nospec.git has no nospec.spec "
        "(at its default branch)"
    )
    repo = dist_git.add(
        "lostfile", {"lostfile.spec": data_spec("lostfile", sources=("gone.tar",))}, {}
    )
    dist_git.git.commit(repo, {"sources": "SHA512 (gone.tar) = " + "ab" * 64 + "\n"})
    lost = run_source("distgit", distgit(dist_git, "lostfile"), lookaside_url=dist_git.lookaside)
    assert lost.error is not None
    assert lost.error.startswith("the lookaside file gone.tar: ")
    assert lost.error.endswith("answered 404 File not found")


def test_unknown_package_fails(dist_git: DistGit, run_source: RunSource) -> None:
    outcome = run_source("distgit", distgit(dist_git, "nosuch"), lookaside_url=dist_git.lookaside)
    assert outcome.error is not None
    assert outcome.error.startswith(f"could not clone {dist_git.url}/rpms/nosuch.git")
