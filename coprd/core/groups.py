"""Groups: projects owned by ``@group`` are editable by every member."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from coprd.core.errors import Conflict, NotFound
from coprd.core.names import check_group_name
from coprd.db.models import Group, GroupMember, User


def create_group(session: Session, name: str) -> Group:
    check_group_name(name)
    if session.scalar(select(Group.id).where(Group.name == name)) is not None:
        raise Conflict(f"group {name!r} already exists")
    group = Group(name=name)
    session.add(group)
    session.flush()
    return group


def get_group(session: Session, name: str) -> Group:
    group = session.scalar(select(Group).where(Group.name == name))
    if group is None:
        raise NotFound(f"group {name!r} does not exist")
    return group


def add_member(session: Session, group: Group, user: User) -> None:
    if is_member(session, group.id, user.id):
        raise Conflict(f"user {user.name!r} is already a member of @{group.name}")
    session.add(GroupMember(group_id=group.id, user_id=user.id))
    session.flush()


def is_member(session: Session, group_id: int, user_id: int) -> bool:
    return (
        session.scalar(
            select(GroupMember.user_id).where(
                GroupMember.group_id == group_id, GroupMember.user_id == user_id
            )
        )
        is not None
    )


def member_names(session: Session, group: Group) -> list[str]:
    return list(
        session.scalars(
            select(User.name)
            .join(GroupMember, GroupMember.user_id == User.id)
            .where(GroupMember.group_id == group.id)
            .order_by(User.name)
        )
    )


def group_names_of(session: Session, user: User) -> list[str]:
    """The groups ``user`` is a member of, by name."""
    return list(
        session.scalars(
            select(Group.name)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.user_id == user.id)
            .order_by(Group.name)
        )
    )
