"""Package rules: add, edit, reset, delete, build, resubmit, and packages made by builds."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from coprd.core import builders, builds, packages, permissions, projects, scheduling, users
from coprd.core.builds import BuildOptions, Source
from coprd.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from coprd.core.packages import PackageFields
from coprd.core.pagination import Page
from coprd.core.scheduling import SourceResult, TaskOutcome
from coprd.core.sources import SourceSettings
from coprd.db.models import Build, Builder, BuildState, Package, Project, User

X86 = "fedora-rawhide-x86_64"
RESULTS = "http://coprd.test/results"
ARM = "fedora-rawhide-aarch64"
EPEL = "epel-9-x86_64"
SETTINGS = SourceSettings.with_distgit("https://src.example.org")
SCM = {
    "clone_url": "https://git.example.org/alice/hello.git",
    "committish": "main",
    "subdirectory": "",
    "spec": "",
    "scm_type": "git",
    "source_build_method": "rpkg",
}


@pytest.fixture
def alice(db: Session) -> User:
    return users.create_user(db, "alice")


@pytest.fixture
def bob(db: Session) -> User:
    return users.create_user(db, "bob")


@pytest.fixture
def project(db: Session, alice: User) -> Project:
    new = projects.NewProject(name="demo", chroots=[X86, ARM, EPEL])
    return projects.create_project(db, alice, "alice", new)


@pytest.fixture
def agent(db: Session) -> Builder:
    return builders.create_builder(db, "agent1")[0]


def add(
    db: Session,
    who: User,
    project: Project,
    name: str = "hello",
    source_type: str = "scm",
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> Package:
    return packages.add_package(
        db,
        who,
        project,
        name,
        source_type,
        SCM if data is None else data,
        PackageFields.model_validate(fields),
        SETTINGS,
    )


def finish_source(db: Session, agent: Builder, name: str) -> Build:
    task = scheduling.claim_task(db, agent, [])  # no arch: source tasks only
    assert task is not None and task.is_source
    result = SourceResult(name=name, version="1.0-1", srpm_name=f"{name}-1.0-1.src.rpm")
    outcome = TaskOutcome(state="succeeded", source=result)
    return scheduling.finish_task(db, agent, task.id, outcome)


def test_add_stores_the_checked_source_and_settings(
    db: Session, alice: User, project: Project
) -> None:
    package = add(
        db, alice, project, max_builds="5", timeout="3600", chroot_denylist="epel-*, *-aarch64"
    )
    assert package.source_type == "scm"
    assert package.source_json == {
        "clone_url": "https://git.example.org/alice/hello.git",
        "committish": "main",
        "subdirectory": "",
        "spec": "",
        "type": "git",
        "source_build_method": "rpkg",
    }
    assert (package.max_builds, package.timeout) == (5, 3600)
    assert package.chroot_denylist == ["epel-*", "*-aarch64"]
    assert package.webhook_rebuild is False
    assert packages.get_package(db, project, "hello").id == package.id


def test_add_refuses_what_exists_and_bad_input(
    db: Session, alice: User, bob: User, project: Project
) -> None:
    add(db, alice, project)
    with pytest.raises(Conflict, match="already exists"):
        add(db, alice, project)
    with pytest.raises(InvalidInput, match="clone_url"):
        add(db, alice, project, "other", data={**SCM, "clone_url": "file:///etc"})
    with pytest.raises(InvalidInput, match="unknown source type"):
        add(db, alice, project, "other", "unset", {})
    with pytest.raises(InvalidInput, match="package name"):
        add(db, alice, project, "../x")
    with pytest.raises(Forbidden):
        add(db, bob, project, "other")
    assert [p.name for p in db.scalars(select(Package))] == ["hello"]
    # The package is the one named (the path, in APIv3), whatever the body repeats.
    assert add(db, alice, project, "other", data={**SCM, "package_name": "third"}).name == "other"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timeout": "abc"}, "timeout"),
        ({"timeout": "-1"}, "timeout"),
        ({"timeout": str(30 * 3600 + 1)}, "timeout"),
        ({"max_builds": "-1"}, "max_builds"),
        ({"chroot_denylist": "fedora-*, ../etc"}, "chroot_denylist"),
        ({"chroot_denylist": ["a\x00b"]}, "chroot_denylist"),
        ({"webhook_rebuild": "maybe"}, "webhook_rebuild"),
    ],
)
def test_package_fields_refuse_bad_values(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PackageFields.model_validate(fields)


def test_package_fields_as_copr_cli_sends_them() -> None:
    fields = PackageFields.model_validate(
        {"max_builds": "", "timeout": None, "chroot_denylist": "", "webhook_rebuild": True}
    )
    assert (fields.max_builds, fields.timeout, fields.chroot_denylist) == (None, None, [])
    assert fields.webhook_rebuild is True


def test_edit_keeps_what_is_not_given(db: Session, alice: User, project: Project) -> None:
    package = add(db, alice, project, timeout="3600", webhook_rebuild=True)
    # python-copr's edit(..., source_type=None, source_dict={...}): only the fields given.
    packages.edit_package(
        db, alice, package, None, {"committish": "devel"}, PackageFields(), SETTINGS
    )
    assert package.source_json["committish"] == "devel"
    assert package.source_json["clone_url"] == SCM["clone_url"]
    assert (package.timeout, package.webhook_rebuild) == (3600, True)
    # Another type replaces the source as a whole.
    packages.edit_package(
        db, alice, package, "pypi", {"pypi_package_name": "hello"}, PackageFields(), SETTINGS
    )
    assert package.source_type == "pypi"
    assert "clone_url" not in package.source_json
    # A bad edit is refused before anything changes.
    with pytest.raises(InvalidInput):
        packages.edit_package(
            db, alice, package, None, {"pypi_package_name": "-rf"}, PackageFields(), SETTINGS
        )
    assert package.source_json["pypi_package_name"] == "hello"


def test_edit_custom_takes_copr_cli_script_names(
    db: Session, alice: User, project: Project
) -> None:
    data = {"script": "#!/bin/sh\n", "script_chroot": "fedora-41-x86_64", "script_repos": ""}
    package = add(db, alice, project, "gen", "custom", data)
    assert package.source_json["chroot"] == "fedora-41-x86_64"
    packages.edit_package(
        db,
        alice,
        package,
        "custom",
        {"script_chroot": "fedora-42-x86_64", "script_builddeps": ["make", "gcc"]},
        PackageFields(),
        SETTINGS,
    )
    assert package.source_json["chroot"] == "fedora-42-x86_64"
    assert package.source_json["builddeps"] == "make gcc"
    assert package.source_json["script"] == "#!/bin/sh\n"


def test_reset_then_build_is_refused_until_edited(
    db: Session, alice: User, project: Project
) -> None:
    package = add(db, alice, project, webhook_rebuild=True)
    packages.reset_package(db, alice, package)
    assert (package.source_type, package.source_json) == ("unset", {})
    with pytest.raises(InvalidInput, match="no default source"):
        packages.build_package(db, alice, package, BuildOptions(), results_url=RESULTS)
    # An edit naming no type only changes settings of an unset package.
    packages.edit_package(
        db, alice, package, None, {"timeout": "120"}, PackageFields(timeout=120), SETTINGS
    )
    assert (package.source_type, package.timeout) == ("unset", 120)
    packages.edit_package(db, alice, package, "scm", SCM, PackageFields(), SETTINGS)
    assert (
        packages.build_package(db, alice, package, BuildOptions(), results_url=RESULTS).source_type
        == "scm"
    )


def test_build_uses_the_source_and_settings_of_the_package(
    db: Session, alice: User, bob: User, project: Project
) -> None:
    package = add(db, alice, project, timeout="7200", chroot_denylist="*-aarch64")
    build = packages.build_package(db, alice, package, BuildOptions(), results_url=RESULTS)
    assert (build.source_type, build.source_json) == ("scm", package.source_json)
    assert (build.package_id, build.pkg_name, build.timeout) == (package.id, "hello", 7200)
    assert [t.chroot_name for t in builds.chroot_tasks(build)] == [EPEL, X86]
    # The build's own options win over the package's timeout; the denylist still applies.
    other = packages.build_package(
        db, alice, package, BuildOptions(timeout=30, chroots=[X86]), results_url=RESULTS
    )
    assert other.timeout == 30
    # A timeout of 0 is no timeout of the build's own, as on Copr: the package's applies.
    zero = packages.build_package(
        db, alice, package, BuildOptions(timeout=0, chroots=[X86]), results_url=RESULTS
    )
    assert zero.timeout == 7200
    with pytest.raises(InvalidInput, match="no active chroot"):
        packages.build_package(db, alice, package, BuildOptions(chroots=[ARM]), results_url=RESULTS)
    # Building needs the builder role, not more; editing needs more.
    with pytest.raises(Forbidden):
        packages.build_package(db, bob, package, BuildOptions(), results_url=RESULTS)
    permissions.set_permissions(db, alice, project, {"bob": {"builder": "approved"}})
    assert (
        packages.build_package(db, bob, package, BuildOptions(), results_url=RESULTS).submitter_id
        == bob.id
    )
    with pytest.raises(Forbidden):
        packages.reset_package(db, bob, package)


def _build(db: Session, alice: User, package: Package, state: BuildState) -> Build:
    build = packages.build_package(db, alice, package, BuildOptions(), results_url=RESULTS)
    for task in build.tasks:
        task.state = state
    builds.refresh_build(db, build)
    db.flush()
    return build


def test_list_with_latest_builds(db: Session, alice: User, project: Project) -> None:
    a, b, c = (add(db, alice, project, name) for name in ("a", "b", "c"))
    a_ok = _build(db, alice, a, BuildState.succeeded)
    a_failed = _build(db, alice, a, BuildState.failed)
    b_running = _build(db, alice, b, BuildState.running)
    views = packages.list_packages(db, project, Page(), latest=True, latest_succeeded=True)
    got = {v.package.name: (v.latest, v.latest_succeeded) for v in views}
    assert got == {"a": (a_failed, a_ok), "b": (b_running, None), "c": (None, None)}
    only_latest = packages.list_packages(db, project, Page(), latest=True)
    assert (only_latest[0].latest, only_latest[0].latest_succeeded) == (a_failed, None)
    plain = packages.list_packages(db, project, Page(limit=2, order="name", order_type="DESC"))
    assert [(v.package.name, v.latest) for v in plain] == [("c", None), ("b", None)]
    assert c.name == "c"


def test_a_packages_builds_and_its_latest_in_the_main_directory(
    db: Session, alice: User, project: Project
) -> None:
    a, b, c = (add(db, alice, project, name) for name in ("a", "b", "c"))
    first = _build(db, alice, a, BuildState.succeeded)
    other = _build(db, alice, b, BuildState.failed)
    pull_request = packages.build_package(
        db, alice, a, BuildOptions(project_dirname="demo:pr:1"), results_url=RESULTS
    )
    newest = Page(order="id", order_type="DESC")
    listed = packages.list_package_builds(db, a, newest)
    assert listed == [pull_request, first]
    assert {t.chroot_name for t in listed[1].tasks} == {"srpm-builds", X86, ARM, EPEL}
    assert packages.list_package_builds(db, a, Page(limit=1, offset=1, order_type="DESC")) == [
        first
    ]
    # The badge's build: the newest of the main directory (Packit's PR builds aside).
    assert packages.latest_build(db, a) == first
    assert packages.latest_build(db, b) == other
    assert packages.latest_build(db, c) is None
    # A build's package is named by the package, whatever its SRPM says.
    assert packages.package_name_of(db, first) == "a"
    renamed = packages.build_package(db, alice, c, BuildOptions(), results_url=RESULTS)
    renamed.pkg_name = "renamed-in-spec"  # as its source step may report it
    assert (renamed.pkg_name, packages.package_name_of(db, renamed)) == ("renamed-in-spec", "c")
    url = Source(type="link", data={"url": "https://example.org/x-1-1.src.rpm"})
    assert (
        packages.package_name_of(db, builds.submit_build(db, alice, project, url, BuildOptions()))
        is None
    )


def test_a_build_makes_its_package_with_its_source(
    db: Session, alice: User, project: Project, agent: Builder
) -> None:
    url = Source(type="link", data={"url": "https://example.org/hello-1.0-1.src.rpm"})
    first = builds.submit_build(db, alice, project, url, BuildOptions())
    finish_source(db, agent, "hello")
    package = packages.get_package(db, project, "hello")
    assert (package.source_type, package.source_json) == ("link", url.data)
    assert first.package_id == package.id
    # The next build of that name joins it; an upload's package has the upload's source.
    upload = Source(type="upload", data={"pkg": "other-1-1.src.rpm"})
    second = builds.submit_build(db, alice, project, url, BuildOptions())
    third = builds.submit_build(db, alice, project, upload, BuildOptions())
    finish_source(db, agent, "hello")
    finish_source(db, agent, "other")
    assert second.package_id == package.id
    other = packages.get_package(db, project, "other")
    assert (third.package_id, other.source_type, other.source_json) == (
        other.id,
        "upload",
        upload.data,
    )


def test_building_an_upload_package_builds_its_latest_succeeded_srpm(
    db: Session, alice: User, project: Project, agent: Builder
) -> None:
    """As on Copr, whose package of an upload rebuilds the sources of its last good build."""
    upload = Source(type="upload", data={"pkg": "hello-1.0-1.src.rpm"})
    build = builds.submit_build(db, alice, project, upload, BuildOptions(chroots=[X86]))
    finish_source(db, agent, "hello")
    package = packages.get_package(db, project, "hello")
    assert (package.source_type, package.source_json) == ("upload", upload.data)
    with pytest.raises(InvalidInput, match="no succeeded build"):
        packages.build_package(db, alice, package, BuildOptions(), results_url=RESULTS)
    task = scheduling.claim_task(db, agent, ["x86_64"])
    assert task is not None
    scheduling.finish_task(db, agent, task.id, TaskOutcome(state="succeeded"))
    assert build.state == BuildState.succeeded
    again = packages.build_package(db, alice, package, BuildOptions(), results_url=RESULTS)
    assert (again.source_type, again.package_id) == ("link", package.id)
    srpm = f"{RESULTS}/alice/demo/srpm-builds/{build.id:08d}/hello-1.0-1.src.rpm"
    assert again.source_json == {"url": srpm}


def test_a_package_build_stays_with_its_package(
    db: Session, alice: User, project: Project, agent: Builder
) -> None:
    package = add(db, alice, project, "hello")
    build = packages.build_package(db, alice, package, BuildOptions(), results_url=RESULTS)
    finish_source(db, agent, "renamed-in-spec")
    assert (build.package_id, build.pkg_name) == (package.id, "renamed-in-spec")
    assert db.scalar(select(Package).where(Package.name == "renamed-in-spec")) is None


def test_delete_takes_the_builds_with_it(
    db: Session, alice: User, bob: User, project: Project
) -> None:
    package = add(db, alice, project)
    running = _build(db, alice, package, BuildState.running)
    with pytest.raises(InvalidInput, match=str(running.id)):
        packages.delete_package(db, alice, package)
    with pytest.raises(Forbidden):
        packages.delete_package(db, bob, package)
    for task in running.tasks:
        task.state = BuildState.failed
    builds.refresh_build(db, running)
    done = _build(db, alice, package, BuildState.succeeded)
    unrelated = builds.submit_build(
        db, alice, project, Source(type="link", data={"url": "https://x/y.src.rpm"}), BuildOptions()
    )
    assert packages.delete_package(db, alice, package) == [running.id, done.id]
    assert db.scalars(select(Build.id)).all() == [unrelated.id]
    with pytest.raises(NotFound):
        packages.get_package(db, project, "hello")


def test_resubmit_repeats_source_options_and_chroots(
    db: Session, alice: User, project: Project, agent: Builder
) -> None:
    package = add(db, alice, project)
    options = BuildOptions(chroots=[X86, ARM], timeout=900, background=True, enable_net=True)
    first = packages.build_package(db, alice, package, options, results_url=RESULTS)
    first.memory_limit = 2048
    again = packages.resubmit_build(db, alice, first, results_url="http://c/results")
    assert again.id != first.id
    assert (again.source_type, again.source_json) == (first.source_type, first.source_json)
    assert [t.chroot_name for t in builds.chroot_tasks(again)] == [ARM, X86]
    assert (again.timeout, again.is_background, again.enable_net) == (900, True, True)
    assert (again.memory_limit, again.package_id, again.pkg_name) == (2048, package.id, "hello")
    # Given options replace the earlier ones; chroots no longer enabled are left out.
    projects.edit_project(db, alice, project, projects.ProjectFields(), [X86, EPEL])
    third = packages.resubmit_build(
        db, alice, again, results_url="http://c/results", overrides=BuildOptions(background=False)
    )
    assert [t.chroot_name for t in builds.chroot_tasks(third)] == [X86]
    assert third.is_background is False


def test_resubmit_of_an_upload_builds_the_srpm_it_made(
    db: Session, alice: User, bob: User, project: Project, agent: Builder
) -> None:
    upload = Source(type="upload", data={"pkg": "hello-1.0-1.src.rpm"})
    first = builds.submit_build(db, alice, project, upload, BuildOptions(chroots=[X86]))
    with pytest.raises(InvalidInput, match="never built"):
        packages.resubmit_build(db, alice, first, results_url="http://c/results")
    finish_source(db, agent, "hello")
    again = packages.resubmit_build(db, alice, first, results_url="http://c/results")
    assert again.source_type == "link"
    assert again.source_json == {
        "url": f"http://c/results/alice/demo/srpm-builds/{first.id:08d}/hello-1.0-1.src.rpm"
    }
    with pytest.raises(Forbidden):
        packages.resubmit_build(db, bob, first, results_url="http://c/results")
    prebuilt = builds.submit_prebuilt(
        db,
        alice,
        project,
        {"name": "p", "epoch": None, "version": "1", "release": "1", "arch": "noarch"},
        "p-1-1.noarch.rpm",
        BuildOptions(),
    )
    with pytest.raises(InvalidInput, match="binary RPM"):
        packages.resubmit_build(db, alice, prebuilt, results_url="http://c/results")


def test_deleting_the_project_takes_its_packages(
    db: Session, alice: User, project: Project
) -> None:
    package = add(db, alice, project)
    _build(db, alice, package, BuildState.succeeded)
    projects.delete_project(db, alice, project)
    db.expire_all()
    assert db.scalars(select(Package)).all() == []
    assert db.scalars(select(Build)).all() == []
