"""The project rules of the core, independent of any dialect."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from coprd.core import groups, projects, users
from coprd.core.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from coprd.core.projects import NewProject, ProjectFields
from coprd.db.models import User

RAWHIDE = "fedora-rawhide-x86_64"


def new(name: str = "demo", **fields: object) -> NewProject:
    return NewProject.model_validate({"name": name, "chroots": [RAWHIDE], **fields})


@pytest.fixture
def alice(db: Session) -> User:
    return users.create_user(db, "alice")


@pytest.fixture
def bob(db: Session) -> User:
    return users.create_user(db, "bob")


def test_owner_creates_and_edits(db: Session, alice: User) -> None:
    project = projects.create_project(db, alice, "alice", new(description="d"))
    assert project.full_name == "alice/demo"
    projects.edit_project(db, alice, project, ProjectFields(description="e"))
    assert projects.get_project(db, "alice", "demo").description == "e"


def test_anonymous_cannot_create(db: Session) -> None:
    with pytest.raises(NotAuthenticated):
        projects.create_project(db, None, "alice", new())


def test_nobody_creates_in_someone_elses_name(db: Session, alice: User, bob: User) -> None:
    with pytest.raises(Forbidden):
        projects.create_project(db, bob, "alice", new())


def test_site_admin_may_create_for_others(db: Session, alice: User) -> None:
    root = users.create_user(db, "root", is_admin=True)
    assert projects.create_project(db, root, "alice", new()).user_id == alice.id


def test_group_projects_belong_to_members(db: Session, alice: User, bob: User) -> None:
    team = groups.create_group(db, "team")
    with pytest.raises(Forbidden):
        projects.create_project(db, alice, "@team", new())
    groups.add_member(db, team, alice)
    project = projects.create_project(db, alice, "@team", new())
    assert project.full_name == "@team/demo"
    with pytest.raises(Forbidden):
        projects.edit_project(db, bob, project, ProjectFields(description="x"))
    groups.add_member(db, team, bob)
    projects.edit_project(db, bob, project, ProjectFields(description="x"))


def test_unknown_group_is_not_found(db: Session, alice: User) -> None:
    with pytest.raises(NotFound):
        projects.create_project(db, alice, "@nogroup", new())


def test_duplicate_name_conflicts_unless_exist_ok(db: Session, alice: User) -> None:
    first = projects.create_project(db, alice, "alice", new())
    with pytest.raises(Conflict):
        projects.create_project(db, alice, "alice", new())
    assert projects.create_project(db, alice, "alice", new(), exist_ok=True).id == first.id


@pytest.mark.parametrize("chroots", [["fedora-0-x86_64"], ["../etc-1-x86_64"]])
def test_chroots_must_exist_and_be_active(db: Session, alice: User, chroots: list[str]) -> None:
    with pytest.raises(InvalidInput):
        projects.create_project(db, alice, "alice", NewProject(name="demo", chroots=chroots))


def test_a_new_project_has_a_chroot() -> None:
    with pytest.raises(ValidationError, match="select at least one chroot"):
        NewProject(name="demo", chroots=[])


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b", "-x", "x" * 101, "123", "a\x00b", ""])
def test_names_that_could_become_bad_paths_are_refused(db: Session, alice: User, name: str) -> None:
    with pytest.raises(InvalidInput):
        projects.create_project(db, alice, "alice", new(name))


def test_normalising_happens_in_the_input_type() -> None:
    fields = ProjectFields.model_validate(
        {
            "additional_repos": "https://a/1 https://a/2",
            "use_bootstrap_container": True,
            "isolation": "unchanged",
            "bootstrap": None,
        }
    )
    assert fields.additional_repos == ["https://a/1", "https://a/2"]
    assert fields.bootstrap == "on"
    assert fields.isolation is None


def test_repo_urls_must_be_repositories() -> None:
    with pytest.raises(ValueError, match="not a repository URL"):
        ProjectFields.model_validate({"additional_repos": ["file:///etc/passwd"]})


@pytest.mark.parametrize(
    "field", ["additional_repos", "runtime_dependencies", "packit_forge_projects_allowed"]
)
def test_no_word_may_carry_a_template_into_a_build_config(field: str) -> None:
    """mock reads "{{ … }}" in its config as Jinja: refused when the project is saved."""
    with pytest.raises(ValueError, match=r"must not contain '\{'"):
        ProjectFields.model_validate({field: ["https://e.org/{{ config_opts }}/"]})


def test_persistent_projects_resist_deletion_by_anyone(db: Session, alice: User) -> None:
    root = users.create_user(db, "root", is_admin=True)
    with pytest.raises(Forbidden, match=r"^Non-admin cannot create persistent project\.$"):
        projects.create_project(db, alice, "alice", new(persistent=True))
    project = projects.create_project(db, root, "alice", new(persistent=True))
    # As on Copr: "cannot be deleted by any means", a site admin's request included.
    for who in (alice, root):
        with pytest.raises(Forbidden, match=r"^This project is protected against deletion\.$"):
            projects.delete_project(db, who, project)
    assert projects.get_project(db, "alice", "demo").persistent


def test_persistent_projects_take_no_deadline(db: Session, alice: User) -> None:
    """Asked for at once, the request is wrong; given to a persistent project, the project
    as it is refuses it."""
    root = users.create_user(db, "root", is_admin=True)
    with pytest.raises(ValidationError, match="'delete after' can not be combined with persistent"):
        new(persistent=True, delete_after_days=3)
    project = projects.create_project(db, root, "alice", new(persistent=True, delete_after_days=-1))
    with pytest.raises(Conflict, match="'delete after' can not be combined"):
        projects.edit_project(db, alice, project, ProjectFields(delete_after_days=3))


def test_only_site_admins_turn_the_pruner_off(db: Session, alice: User) -> None:
    root = users.create_user(db, "root", is_admin=True)
    with pytest.raises(Forbidden, match=r"^Non-admin cannot disable auto-prunning\.$"):
        projects.create_project(db, alice, "alice", new(auto_prune=False))
    project = projects.create_project(db, alice, "alice", new())
    with pytest.raises(Forbidden, match="auto-prunning"):
        projects.edit_project(db, alice, project, ProjectFields(auto_prune=False))
    projects.edit_project(db, root, project, ProjectFields(auto_prune=False))
    # An owner's form that sends every field, the pruner's as it is, still saves.
    projects.edit_project(db, alice, project, ProjectFields(auto_prune=False, description="d"))
    projects.edit_project(db, alice, project, ProjectFields(auto_prune=True))
    assert project.auto_prune


def test_packit_forge_patterns_are_stored_without_a_scheme() -> None:
    fields = ProjectFields.model_validate(
        {"packit_forge_projects_allowed": "https://github.com/a/b gitlab.com/c/*"}
    )
    assert fields.packit_forge_projects_allowed == ["github.com/a/b", "gitlab.com/c/*"]


def test_pulp_storage_is_for_site_admins(db: Session, alice: User) -> None:
    with pytest.raises(Forbidden):
        projects.create_project(db, alice, "alice", new(storage="pulp"))


def test_pulp_storage_is_not_supported_even_for_admins(db: Session, alice: User) -> None:
    root = users.create_user(db, "root", is_admin=True)
    with pytest.raises(InvalidInput, match="storage = pulp is not supported by this server"):
        projects.create_project(db, root, "alice", new(storage="pulp"))
    with pytest.raises(NotFound):
        projects.get_project(db, "alice", "demo")
    assert projects.create_project(db, root, "alice", new(storage="backend")).storage == "backend"


@pytest.mark.parametrize("name", ["appstream", "fedora_review"])
def test_unsupported_settings_are_refused_when_asked_for(
    db: Session, alice: User, name: str
) -> None:
    project = projects.create_project(db, alice, "alice", new(**{name: False}))
    with pytest.raises(InvalidInput, match=f"^{name} is not supported by this server: "):
        projects.edit_project(db, alice, project, ProjectFields.model_validate({name: True}))
    assert getattr(project, name) is False
