"""Devel mode and regenerating repositories, as the core decides them: one setting under
two names, the wishes it leaves for the publisher, and who may ask for what."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from coprd.core import groups, permissions, projects, repositories, users
from coprd.core.errors import Forbidden, NotAuthenticated, NotFound
from coprd.core.projects import NewProject, ProjectFields
from coprd.core.results import REPOS_REGENERATED, REPOS_WANTED
from coprd.db.models import User

RAWHIDE = "fedora-rawhide-x86_64"
EPEL9 = "epel-9-x86_64"


@pytest.fixture
def alice(db: Session) -> User:
    return users.create_user(db, "alice")


def test_disable_createrepo_is_the_old_name_of_devel_mode() -> None:
    assert ProjectFields(disable_createrepo=True).devel_mode is True
    assert ProjectFields(disable_createrepo=False).devel_mode is False
    assert ProjectFields().devel_mode is None  # not given: kept
    assert ProjectFields(devel_mode=True, disable_createrepo=True).devel_mode is True
    with pytest.raises(ValidationError, match="one setting"):
        ProjectFields(devel_mode=True, disable_createrepo=False)


def test_a_devel_project_asks_for_devel_repos_and_a_switch_for_a_switch(
    db: Session, alice: User
) -> None:
    new = NewProject(name="demo", chroots=[RAWHIDE, EPEL9], disable_createrepo=True)
    project = projects.create_project(db, alice, "alice", new)
    assert project.devel_mode is True and project.disable_createrepo is True
    assert db.info.pop(REPOS_WANTED) == {f"alice/demo/{EPEL9}": True, f"alice/demo/{RAWHIDE}": True}

    projects.edit_project(db, alice, project, ProjectFields(description="same mode"))
    assert REPOS_WANTED not in db.info

    projects.edit_project(db, alice, project, ProjectFields(devel_mode=False))
    assert db.info.pop(REPOS_WANTED) == {
        f"alice/demo/{EPEL9}": False,
        f"alice/demo/{RAWHIDE}": False,
    }


def test_regenerate_repos_asks_for_every_chroot_in_the_projects_mode(
    db: Session, alice: User
) -> None:
    new = NewProject(name="demo", chroots=[RAWHIDE, EPEL9], devel_mode=True)
    project = projects.create_project(db, alice, "alice", new)
    assert repositories.regenerate_repos(db, alice, project) == [EPEL9, RAWHIDE]
    assert db.info[REPOS_REGENERATED] == {
        f"alice/demo/{EPEL9}": True,
        f"alice/demo/{RAWHIDE}": True,
    }


def test_regenerate_repos_is_for_editors(db: Session, alice: User) -> None:
    project = projects.create_project(
        db, alice, "alice", NewProject(name="demo", chroots=[RAWHIDE])
    )
    bob = users.create_user(db, "bob")
    permissions.set_permissions(db, alice, project, {"bob": {"builder": "approved"}})
    with pytest.raises(NotAuthenticated):
        repositories.regenerate_repos(db, None, project)
    with pytest.raises(Forbidden):
        repositories.regenerate_repos(db, bob, project)
    assert REPOS_REGENERATED not in db.info
    team = groups.create_group(db, "team")
    groups.add_member(db, team, alice)
    team_project = projects.create_project(
        db, alice, "@team", NewProject(name="demo", chroots=[RAWHIDE])
    )
    assert repositories.regenerate_repos(db, alice, team_project) == [RAWHIDE]


def test_can_build_in_is_the_build_rule(db: Session, alice: User) -> None:
    project = projects.create_project(
        db, alice, "alice", NewProject(name="demo", chroots=[RAWHIDE])
    )
    bob = users.create_user(db, "bob")
    for who in (alice, bob):
        expected = permissions.may(db, who, permissions.Action.build, project)
        assert permissions.can_build_in(db, who.name, project) is expected
    assert permissions.can_build_in(db, "alice", project) is True
    assert permissions.can_build_in(db, "bob", project) is False
    permissions.set_permissions(db, alice, project, {"bob": {"builder": "approved"}})
    assert permissions.can_build_in(db, "bob", project) is True
    users.disable_user(db, "bob")
    assert permissions.can_build_in(db, "bob", project) is False
    with pytest.raises(NotFound, match="nobody"):
        permissions.can_build_in(db, "nobody", project)
