"""Who may do what in a project: the one place every dialect, the web UI and the CLI ask.

- Anyone, also anonymously, may read a project.
- The owner, every member of an owning ``@group``, a user with ``admin`` approved, and a
  site admin may *edit*: change settings and chroots, delete, manage permissions.
- Those, and a user with ``builder`` approved, may *build*.
- Any other logged-in user may *request* builder or admin rights.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from coprd.core.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from coprd.core.groups import is_member
from coprd.core.names import check_user_name
from coprd.db.models import PermissionValue, Project, ProjectPermission, User


class Role(enum.StrEnum):
    builder = "builder"
    admin = "admin"


class Action(enum.StrEnum):
    edit = "edit"
    build = "build"


def _permission(session: Session, project: Project, user: User) -> ProjectPermission | None:
    return session.get(ProjectPermission, (project.id, user.id))


def _permission_row(session: Session, project: Project, user: User) -> ProjectPermission:
    """The user's row in the project, or a new one with no rights."""
    return _permission(session, project, user) or ProjectPermission(
        project_id=project.id,
        user_id=user.id,
        builder=PermissionValue.nothing,
        admin=PermissionValue.nothing,
    )


def is_owner(session: Session, user: User, project: Project) -> bool:
    """The user owns the project, directly or through its group."""
    if project.group_id is not None:
        return is_member(session, project.group_id, user.id)
    return project.user_id == user.id


def may(session: Session, user: User | None, action: Action, project: Project) -> bool:
    if user is None or not user.is_active:
        return False
    if user.is_admin or is_owner(session, user, project):
        return True
    perm = _permission(session, project, user)
    if perm is None:
        return False
    if perm.admin == PermissionValue.approved:
        return True
    return action == Action.build and perm.builder == PermissionValue.approved


def can_build_in(session: Session, username: str, project: Project) -> bool:
    """Whether the user ``username`` may build in ``project`` (anyone may ask, as on
    Copr); NotFound for an unknown user."""
    check_user_name(username)
    user = session.scalar(select(User).where(User.name == username))
    if user is None:
        raise NotFound(f"No such user `{username}'")
    return may(session, user, Action.build, project)


def require(session: Session, user: User | None, action: Action, project: Project) -> User:
    """The acting user if it may do ``action``; NotAuthenticated/Forbidden otherwise."""
    if user is None:
        raise NotAuthenticated("this operation requires an API token")
    if not may(session, user, action, project):
        verb = "change" if action == Action.edit else "build in"
        raise Forbidden(f"user {user.name!r} may not {verb} project {project.full_name}")
    return user


def list_permissions(
    session: Session, actor: User | None, project: Project
) -> dict[str, dict[str, str]]:
    """``{username: {"builder": value, "admin": value}}`` for users with a non-default entry."""
    require(session, actor, Action.edit, project)
    rows = session.execute(
        select(User.name, ProjectPermission)
        .join(User, User.id == ProjectPermission.user_id)
        .where(ProjectPermission.project_id == project.id)
        .order_by(User.name)
    ).all()
    return {
        name: {Role.builder: perm.builder.value, Role.admin: perm.admin.value}
        for name, perm in rows
        if perm.builder != PermissionValue.nothing or perm.admin != PermissionValue.nothing
    }


def roles_of(session: Session, project: Project, user: User) -> dict[str, str]:
    """``{"builder": value, "admin": value}``: what ``user`` has, or asked for, in the
    project (``nothing`` without an entry). Read-only; anyone may see their own."""
    perm = _permission(session, project, user)
    return {
        role.value: (getattr(perm, role.value) if perm else PermissionValue.nothing).value
        for role in Role
    }


def _parse_role(role: object) -> Role:
    try:
        return Role(str(role))
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}; use builder or admin", "permissions") from None


def _parse_value(value: object) -> PermissionValue:
    try:
        return PermissionValue(str(value))
    except ValueError:
        raise InvalidInput(
            f"unknown value {value!r}; use nothing, request or approved", "permissions"
        ) from None


def set_permissions(
    session: Session,
    actor: User | None,
    project: Project,
    changes: Mapping[str, Mapping[str, str]],
) -> list[str]:
    """Set roles of other users (``{user: {role: value}}``); returns the users changed.

    Every entry is checked before anything is written, so a bad entry changes nothing.
    """
    require(session, actor, Action.edit, project)
    parsed: list[tuple[User, dict[Role, PermissionValue]]] = []
    for username, roles in changes.items():
        if not isinstance(roles, Mapping) or not roles:
            raise InvalidInput(f"{username!r} needs a {{role: value}} object", "permissions")
        check_user_name(username)
        user = session.scalar(select(User).where(User.name == username))
        if user is None:
            raise NotFound(f"user {username!r} does not exist")
        if is_owner(session, user, project):
            raise InvalidInput(f"{username!r} owns the project; owners have every right")
        parsed.append((user, {_parse_role(r): _parse_value(v) for r, v in roles.items()}))

    updated = []
    for user, new_roles in parsed:
        perm = _permission_row(session, project, user)
        for role, value in new_roles.items():
            setattr(perm, role.value, value)
        session.add(perm)
        updated.append(user.name)
    session.flush()
    return updated


def request_permissions(
    session: Session, actor: User | None, project: Project, roles: Mapping[str, bool]
) -> bool:
    """Ask for (True) or give up (False) roles in someone else's project."""
    if actor is None:
        raise NotAuthenticated("this operation requires an API token")
    if is_owner(session, actor, project):
        raise InvalidInput(f"you own {project.full_name}; owners have every right")
    if not roles:
        raise InvalidInput("name at least one of builder, admin", "permissions")
    wanted = {}
    for role, ask in roles.items():
        if not isinstance(ask, bool):
            raise InvalidInput(f"{role!r} must be true or false", "permissions")
        wanted[_parse_role(role)] = ask
    perm = _permission_row(session, project, actor)
    for role, ask in wanted.items():
        current = getattr(perm, role.value)
        if ask and current == PermissionValue.nothing:
            setattr(perm, role.value, PermissionValue.request)
        elif not ask:
            setattr(perm, role.value, PermissionValue.nothing)
    session.add(perm)
    session.flush()
    return True
