"""The patterns every name that may become a path must match, checked before any use."""

from __future__ import annotations

import re
from typing import Any

from coprd.core.errors import InvalidInput

MAX_NAME = 100
MAX_ID = 2**31 - 1
"""The largest id a table holds (both databases' integer). A larger number names nothing,
and must not reach a query: SQLite cannot bind it, PostgreSQL refuses to compare it."""


def is_id(number: int) -> bool:
    """Whether ``number`` could be a row's id (positive, within :data:`MAX_ID`)."""
    return 0 < number <= MAX_ID


# Letters, digits and ._+- ; never starting with a dot or a dash, so no "..", no hidden
# files and no option-looking arguments can come from a name.
_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+-]*")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_CHROOT = re.compile(r"[a-z0-9][a-z0-9_.+-]*-[A-Za-z0-9_.+]+-[a-z0-9_]+")
# A project name is also never only digits (it would read as an id); the same rule as
# one pattern, for the API documents.
_PROJECT = re.compile(r"(?:[A-Za-z_+]|[0-9]+[A-Za-z_.+-])[A-Za-z0-9_.+-]*")
_OWNER = re.compile(rf"@?{_USER.pattern}")


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON schema of a name of ``kind`` (``project``, ``package``, ``user``,
    ``owner``, ``chroot``): the patterns the checks below hold names to, for the APIs'
    documents."""
    pattern = {
        "project": _PROJECT,
        "package": _NAME,
        "user": _USER,
        "owner": _OWNER,
        "chroot": _CHROOT,
    }[kind]
    return {
        "type": "string",
        "pattern": f"^{pattern.pattern}$",
        "minLength": 1,
        "maxLength": MAX_NAME + (kind == "owner"),
    }


def parse_digits(text: str, max_digits: int = 18) -> int | None:
    """The number ``text`` writes in ASCII digits and nothing else (no sign, space or
    underscore), or None: how an id (or a count) is read from a URL, a form or a header.

    ``str.isdigit`` and ``int`` alone also take other scripts' digits (``int("١٢")`` is 12,
    so ``/١٢/`` would name project 12) and ``"¹".isdigit()`` is true while ``int("¹")``
    fails; ids are ASCII digits or they are no id at all."""
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def _check(value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string")
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > MAX_NAME:
        raise InvalidInput(f"{what} is longer than {MAX_NAME} characters")
    if not pattern.fullmatch(value):
        shown = value.encode("unicode_escape").decode("ascii")
        raise InvalidInput(
            f"{what} {shown!r} is not valid: use letters, digits and . _ + - "
            "and do not start with a dot or a dash"
        )
    return value


def check_project_name(value: object) -> str:
    name = _check(value, _NAME, "project name")
    if name.isdigit():
        raise InvalidInput(f"project name {name!r} must not be only digits")
    return name


def check_user_name(value: object) -> str:
    return _check(value, _USER, "user name")


def check_group_name(value: object) -> str:
    return _check(value, _USER, "group name")


def check_package_name(value: object) -> str:
    return _check(value, _NAME, "package name")


def check_chroot_name(value: object) -> str:
    return _check(value, _CHROOT, "chroot name")


def check_owner_name(value: object) -> str:
    """A project owner as the APIs write it: ``alice`` or ``@group``."""
    if isinstance(value, str) and value.startswith("@"):
        return "@" + check_group_name(value[1:])
    return check_user_name(value)
