"""Webhook rules: who may call, which packages a push rebuilds, and how they are built."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from coprd.core import builds, packages, projects, users, webhooks
from coprd.core.errors import Forbidden, InvalidInput, NotFound
from coprd.core.packages import PackageFields
from coprd.core.sources import SourceSettings
from coprd.core.webhooks import Push, normalise_repo_url, tag_names_package
from coprd.db.models import Build, BuildState, Package, Project, User

X86 = "fedora-rawhide-x86_64"
ARM = "fedora-rawhide-aarch64"
SETTINGS = SourceSettings.with_distgit("https://src.example.org")
RESULTS = "http://coprd.test/results"
REPO = "https://github.com/Alice/Hello.git"
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def alice(db: Session) -> User:
    return users.create_user(db, "alice")


@pytest.fixture
def project(db: Session, alice: User) -> Project:
    new = projects.NewProject(name="demo", chroots=[X86, ARM])
    project = projects.create_project(db, alice, "alice", new)
    webhooks.generate_secret(db, alice, project)
    return project


def add(
    db: Session,
    alice: User,
    project: Project,
    name: str,
    *,
    clone_url: str = "https://github.com/alice/hello",
    committish: str = "",
    subdirectory: str = "",
    source_type: str = "scm",
    rebuild: bool = True,
    **fields: Any,
) -> Package:
    data: dict[str, Any] = {
        "clone_url": clone_url,
        "committish": committish,
        "subdirectory": subdirectory,
    }
    if source_type == "distgit":
        data = {"committish": committish}
    elif source_type == "pypi":
        data = {"pypi_package_name": name}
    return packages.add_package(
        db,
        alice,
        project,
        name,
        source_type,
        data,
        PackageFields.model_validate({"webhook_rebuild": rebuild, **fields}),
        SETTINGS,
    )


def push(ref: str = "refs/heads/main", commit: str | None = SHA, **kwargs: Any) -> Push:
    return Push.of_ref([REPO, "git@github.com:Alice/Hello.git"], ref, commit, **kwargs)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/alice/hello", "github.com/alice/hello"),
        ("https://GitHub.com/Alice/Hello.git/", "github.com/alice/hello"),
        ("http://user@github.com:443/alice/hello.git", "github.com/alice/hello"),
        ("git@github.com:alice/hello.git", "github.com/alice/hello"),
        ("ssh://git@github.com:2222/alice/hello.git", "github.com/alice/hello"),
        ("git://github.com/alice/hello", "github.com/alice/hello"),
        ("https://[::1/x", "https://[::1/x"),
    ],
)
def test_repo_urls_compare_without_scheme_user_port_suffix_and_case(
    url: str, expected: str
) -> None:
    assert normalise_repo_url(url) == expected


@pytest.mark.parametrize(
    ("tag", "package", "names"),
    [
        ("hello-1.0", "hello", True),
        ("hello-1.0-3", "hello", True),
        ("hello_1.0", "hello", True),
        ("python-hello-2.1-1.fc42", "python-hello", True),
        ("hello-1.0", "hello-1.0", False),
        ("v1.0", "hello", False),
        ("hello-devel", "hello", False),
        ("hello", "hello", False),
        ("hello-1.0-1", "hell", False),
    ],
)
def test_tags_name_packages_as_copr_reads_them(tag: str, package: str, names: bool) -> None:
    assert tag_names_package(tag, package) is names


def test_the_url_secret_and_signatures(db: Session, alice: User, project: Project) -> None:
    secret = project.webhook_secret
    assert secret is not None and len(secret) == 36
    assert webhooks.hooked_project(db, project.id, secret) is project
    for wrong in ("", secret[:-1], secret + "x", "é" * 36):
        with pytest.raises(Forbidden):
            webhooks.hooked_project(db, project.id, wrong)
    with pytest.raises(NotFound):
        webhooks.hooked_project(db, project.id + 1, secret)

    body = b'{"ref": "refs/heads/main"}'
    good = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    webhooks.check_signature(project, body, good)
    webhooks.check_signature(project, body, good.upper())
    for bad in (None, "", good[:-1], hmac.new(b"other", body, hashlib.sha256).hexdigest()):
        with pytest.raises(Forbidden):
            webhooks.check_signature(project, body, bad)
    with pytest.raises(Forbidden):
        webhooks.check_signature(project, body + b" ", good)
    webhooks.check_token(project, secret)
    for bad in (None, "", secret.upper(), "x"):
        with pytest.raises(Forbidden):
            webhooks.check_token(project, bad)

    # A new secret replaces the old one.
    webhooks.generate_secret(db, alice, project)
    with pytest.raises(Forbidden):
        webhooks.hooked_project(db, project.id, secret)
    bob = users.create_user(db, "bob")
    with pytest.raises(Forbidden):
        webhooks.generate_secret(db, bob, project)


def test_a_new_project_has_a_secret_and_none_takes_no_webhook(db: Session, alice: User) -> None:
    new = projects.NewProject(name="quiet", chroots=[X86])
    quiet = projects.create_project(db, alice, "alice", new)
    assert quiet.webhook_secret  # as on Copr, webhooks work without asking for a secret
    assert webhooks.hooked_project(db, quiet.id, quiet.webhook_secret) is quiet
    quiet.webhook_secret = None  # a project from before secrets were made at creation
    with pytest.raises(Forbidden):
        webhooks.hooked_project(db, quiet.id, "")
    with pytest.raises(Forbidden):
        webhooks.hooked_project(db, quiet.id, "None")


def test_which_packages_a_branch_push_rebuilds(db: Session, alice: User, project: Project) -> None:
    any_branch = add(db, alice, project, "any")
    on_main = add(db, alice, project, "on-main", committish="main")
    add(db, alice, project, "on-devel", committish="devel")
    add(db, alice, project, "off", rebuild=False)
    add(db, alice, project, "elsewhere", clone_url="https://github.com/alice/other")
    in_sub = add(db, alice, project, "in-sub", subdirectory="pkgs/sub")
    add(db, alice, project, "pypi", source_type="pypi", rebuild=True)

    def names(p: Push, package: str | None = None) -> list[str]:
        return [pkg.name for pkg in webhooks.packages_for_push(db, project, p, package)]

    assert names(push()) == ["any", "on-main", "in-sub"]
    assert names(push("refs/heads/devel")) == ["any", "on-devel", "in-sub"]
    assert names(push(), "on-main") == ["on-main"]
    assert names(push(), "off") == []
    # With the changed files listed, a subdirectory must contain one of them.
    assert names(push(changed_files=["README"])) == ["any", "on-main"]
    assert names(push(changed_files=["pkgs/sub/x.spec"])) == ["any", "on-main", "in-sub"]
    assert names(push(changed_files=["pkgs/subx"])) == ["any", "on-main"]
    assert names(push(changed_files=[])) == []
    # A deleted branch builds nothing.
    assert names(push(commit="0" * 40)) == []
    assert {any_branch.name, on_main.name, in_sub.name} == {"any", "on-main", "in-sub"}


def test_which_packages_a_tag_push_rebuilds(db: Session, alice: User, project: Project) -> None:
    add(db, alice, project, "hello", committish="main")
    add(db, alice, project, "hello-docs")

    def names(tag: str, package: str | None = None) -> list[str]:
        p = push(f"refs/tags/{tag}")
        return [pkg.name for pkg in webhooks.packages_for_push(db, project, p, package)]

    assert names("hello-1.2-1") == ["hello"]
    assert names("hello-docs-1.2") == ["hello-docs"]
    assert names("v1.2") == []
    assert names("v1.2", "hello-docs") == ["hello-docs"]
    deleted = push("refs/tags/hello-1.3", commit="0" * 40)
    assert webhooks.packages_for_push(db, project, deleted) == []


def test_distgit_packages_match_their_dist_git_url(
    db: Session, alice: User, project: Project
) -> None:
    add(db, alice, project, "bash", source_type="distgit", committish="rawhide")
    p = Push.of_ref(["https://src.example.org/rpms/bash"], "rawhide", SHA)
    assert [pkg.name for pkg in webhooks.packages_for_push(db, project, p)] == ["bash"]


def test_a_push_builds_in_the_background_without_a_user(
    db: Session, alice: User, project: Project
) -> None:
    package = add(db, alice, project, "hello", timeout="7200", chroot_denylist="*-aarch64")
    add(db, alice, project, "denied", chroot_denylist="fedora-*")
    [build] = webhooks.rebuild_on_push(db, project, push(), SETTINGS, results_url=RESULTS)
    assert build.is_background and build.submitter_id is None
    assert (build.package_id, build.pkg_name, build.timeout) == (package.id, "hello", 7200)
    assert build.source_json["committish"] == SHA
    assert package.source_json["committish"] == ""  # the package's own source is unchanged
    assert [t.chroot_name for t in builds.chroot_tasks(build)] == [X86]
    assert {t.priority for t in build.tasks} == {builds.BACKGROUND_PRIORITY}
    # A tag builds the tag.
    [tagged] = webhooks.rebuild_on_push(
        db, project, push("refs/tags/hello-2.0"), SETTINGS, results_url=RESULTS
    )
    assert tagged.source_json["committish"] == "hello-2.0"
    assert db.scalar(select(Build).where(Build.pkg_name == "denied")) is None


def test_the_builds_of_one_push_are_one_submission(
    db: Session, alice: User, project: Project
) -> None:
    add(db, alice, project, "libfoo")
    add(db, alice, project, "app")
    first = webhooks.rebuild_on_push(db, project, push(), SETTINGS, results_url=RESULTS)
    assert {b.submission_id for b in first} == {first[0].id}
    second = webhooks.rebuild_on_push(db, project, push(), SETTINGS, results_url=RESULTS)
    assert {b.submission_id for b in second} == {second[0].id}


def test_push_payload_values_are_checked(db: Session, alice: User, project: Project) -> None:
    with pytest.raises(InvalidInput, match="commit"):
        push(commit="--upload-pack=evil")
    with pytest.raises(InvalidInput, match="repository"):
        Push.of_ref([None, ""], "refs/heads/main", SHA)
    with pytest.raises(InvalidInput, match="ref"):
        Push.of_ref([REPO], "", SHA)
    add(db, alice, project, "hello")
    # A ref name that is no valid committish builds nothing, refused by the source's rule.
    tag = push("refs/tags/hello-1.0;rm")
    assert webhooks.rebuild_on_push(db, project, tag, SETTINGS, results_url=RESULTS) == []


def test_the_custom_hook_rebuilds_one_package(db: Session, alice: User, project: Project) -> None:
    package = add(db, alice, project, "hello", rebuild=False)
    build = webhooks.rebuild_package(db, project, "hello", results_url=RESULTS)
    assert (build.package_id, build.is_background, build.state) == (
        package.id,
        True,
        BuildState.pending,
    )
    packages.reset_package(db, alice, package)
    with pytest.raises(InvalidInput, match="no default source"):
        webhooks.rebuild_package(db, project, "hello", results_url=RESULTS)
    with pytest.raises(NotFound):
        webhooks.rebuild_package(db, project, "nope", results_url=RESULTS)
