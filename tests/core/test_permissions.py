"""Roles: request, approve, and what each role may do."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from coprd.core import permissions, projects, users
from coprd.core.errors import Forbidden, InvalidInput, NotFound
from coprd.core.permissions import Action
from coprd.core.projects import NewProject
from coprd.db.models import Project, User


@pytest.fixture
def setup(db: Session) -> tuple[User, User, Project]:
    alice = users.create_user(db, "alice")
    bob = users.create_user(db, "bob")
    project = projects.create_project(
        db, alice, "alice", NewProject(name="demo", chroots=["fedora-rawhide-x86_64"])
    )
    return alice, bob, project


def test_builder_may_build_but_not_edit(db: Session, setup: tuple[User, User, Project]) -> None:
    alice, bob, project = setup
    assert not permissions.may(db, bob, Action.build, project)
    permissions.request_permissions(db, bob, project, {"builder": True})
    assert not permissions.may(db, bob, Action.build, project)
    permissions.set_permissions(db, alice, project, {"bob": {"builder": "approved"}})
    assert permissions.may(db, bob, Action.build, project)
    assert not permissions.may(db, bob, Action.edit, project)


def test_admin_may_edit(db: Session, setup: tuple[User, User, Project]) -> None:
    alice, bob, project = setup
    permissions.set_permissions(db, alice, project, {"bob": {"admin": "approved"}})
    assert permissions.may(db, bob, Action.edit, project)
    assert permissions.list_permissions(db, bob, project) == {
        "bob": {"builder": "nothing", "admin": "approved"}
    }


def test_requesting_again_keeps_an_approval(db: Session, setup: tuple[User, User, Project]) -> None:
    alice, bob, project = setup
    permissions.set_permissions(db, alice, project, {"bob": {"builder": "approved"}})
    permissions.request_permissions(db, bob, project, {"builder": True})
    assert permissions.list_permissions(db, alice, project)["bob"]["builder"] == "approved"
    permissions.request_permissions(db, bob, project, {"builder": False})
    assert permissions.list_permissions(db, alice, project) == {}


def test_owner_cannot_request_or_be_granted(db: Session, setup: tuple[User, User, Project]) -> None:
    alice, _bob, project = setup
    with pytest.raises(InvalidInput):
        permissions.request_permissions(db, alice, project, {"admin": True})
    with pytest.raises(InvalidInput):
        permissions.set_permissions(db, alice, project, {"alice": {"admin": "approved"}})


def test_one_bad_entry_changes_nothing(db: Session, setup: tuple[User, User, Project]) -> None:
    alice, _bob, project = setup
    with pytest.raises(NotFound):
        permissions.set_permissions(
            db, alice, project, {"bob": {"builder": "approved"}, "ghost": {"admin": "approved"}}
        )
    with pytest.raises(InvalidInput):
        permissions.set_permissions(
            db, alice, project, {"bob": {"builder": "approved", "king": "approved"}}
        )
    assert permissions.list_permissions(db, alice, project) == {}


def test_others_cannot_see_or_set(db: Session, setup: tuple[User, User, Project]) -> None:
    _alice, bob, project = setup
    with pytest.raises(Forbidden):
        permissions.list_permissions(db, bob, project)
    with pytest.raises(Forbidden):
        permissions.set_permissions(db, bob, project, {"bob": {"admin": "approved"}})


def test_disabled_owner_loses_rights(db: Session, setup: tuple[User, User, Project]) -> None:
    alice, _bob, project = setup
    users.disable_user(db, "alice")
    assert not permissions.may(db, alice, Action.edit, project)
