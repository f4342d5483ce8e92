"""The read-only queries the web UI added to the core."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from coprd.core import builds, groups, projects, tokens, users
from coprd.core.pagination import make_page
from tests.conftest import Account
from tests.web_ui.conftest import make_build, make_project


def test_recent_builds_leave_out_unlisted_projects(
    client: TestClient, db: Session, alice: Account
) -> None:
    make_project(client, alice, "listed")
    make_project(client, alice, "hidden", unlisted_on_hp=True)
    shown = [make_build(client, alice, "listed") for _ in range(3)]
    make_build(client, alice, "hidden")
    recent = builds.list_recent_builds(db, 2)
    assert [b.id for b in recent] == shown[:0:-1]
    assert recent[0].project.name == "listed" and recent[0].submitter is not None
    assert [b.id for b in builds.list_recent_builds(db, 10)] == shown[::-1]


def test_listed_projects(client: TestClient, db: Session, alice: Account) -> None:
    make_project(client, alice, "a")
    make_project(client, alice, "b", unlisted_on_hp=True)
    make_project(client, alice, "c")
    found = projects.list_listed_projects(db, make_page(order="id", order_type="DESC"))
    assert [p.name for p in found] == ["c", "a"]


def test_tokens_and_groups_of_a_user(db: Session, alice: Account) -> None:
    user = users.get_user(db, "alice")
    newer = tokens.issue_token(db, user, 5)
    assert [t.login for t in tokens.list_tokens(db, user)] == [newer.login, alice.token.login]
    assert groups.group_names_of(db, user) == []
    for name in ("zeta", "alpha"):
        groups.add_member(db, groups.create_group(db, name), user)
    groups.create_group(db, "other")
    assert groups.group_names_of(db, user) == ["alpha", "zeta"]
