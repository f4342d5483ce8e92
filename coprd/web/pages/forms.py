"""Forms of the web UI and their CSRF protection: the one helper every form uses.

Every page that shows a POST form puts :func:`csrf_field` in it; every route that takes a
form depends on :data:`CheckedForm` (or :data:`LargeCheckedForm`, for forms with long texts
or many checkboxes), which reads the (small, urlencoded or multipart without files) body
and refuses with 403 unless it carries the session's CSRF token. The token is made once
per session (and anew at login) and compared in constant time.

A form that uploads a file (a new build from an SRPM) reads its body first, bounded, and
only from a logged-in session (``sessions.require_login``, before the write transaction),
then calls :func:`check_csrf` with the hidden field of the parsed form before it acts.

:func:`refusal` turns a refusal of the core into the message shown next to a form, after
undoing whatever the refused call had changed in the request's transaction.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from coprd.core.errors import CoprdError, Forbidden
from coprd.http import read_form, status_of, validation_message
from coprd.web.pages.sessions import session_of

__all__ = [
    "CSRF_FIELD",
    "CheckedForm",
    "LargeCheckedForm",
    "check_csrf",
    "checked_form",
    "csrf_field",
    "csrf_token",
    "field",
    "flag",
    "refusal",
    "safe_next",
    "values",
]

CSRF_FIELD = "csrf_token"
MAX_FIELDS = 50
MAX_FIELD_BYTES = 64 * 1024
# Project settings (every chroot a checkbox, long descriptions) and build scripts; the
# app's body limit (1 MiB) bounds the whole form anyway.
MAX_LARGE_FIELDS = 1000
MAX_LARGE_FIELD_BYTES = 1024 * 1024
REFUSED = (
    "The form did not come from this site's page, or your session has ended since the "
    "page was loaded. Reload the page and try again."
)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    session = request.session
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_field(request: Request) -> Markup:
    """The hidden input every POST form carries."""
    value = escape(csrf_token(request))
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{value}">')


def check_csrf(request: Request, sent: object) -> None:
    """Refuse (403, changing nothing) unless ``sent`` is the session's CSRF token."""
    expected = session_of(request).get("csrf")
    if (
        not isinstance(sent, str)
        or not isinstance(expected, str)
        or not expected
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise Forbidden(REFUSED)


def _checked_form(max_fields: int, max_part_size: int) -> Callable[[Request], Awaitable[FormData]]:
    async def checked(request: Request) -> FormData:
        form = await read_form(
            request, max_files=0, max_fields=max_fields, max_part_size=max_part_size
        )
        check_csrf(request, form.get(CSRF_FIELD))
        return form

    return checked


checked_form = _checked_form(MAX_FIELDS, MAX_FIELD_BYTES)
CheckedForm = Annotated[FormData, Depends(checked_form)]
LargeCheckedForm = Annotated[
    FormData, Depends(_checked_form(MAX_LARGE_FIELDS, MAX_LARGE_FIELD_BYTES))
]


def field(form: FormData, name: str, *, max_length: int = 1000) -> str:
    """A text field of ``form``: "" when missing (or a file), at most ``max_length`` long."""
    value = form.get(name)
    return value[:max_length] if isinstance(value, str) else ""


def values(form: FormData, name: str, *, max_length: int = 1000) -> list[str]:
    """Every text value of a repeated field (checkboxes of one name)."""
    return [v[:max_length] for v in form.getlist(name) if isinstance(v, str)]


def flag(form: FormData, name: str) -> bool:
    """A checkbox: checked when the form carries it."""
    return isinstance(form.get(name), str)


def refusal(db: Session, error: CoprdError | ValidationError) -> tuple[str, int]:
    """The message and status to show next to a form the core (or its input type) refused.

    Rolls back the request's transaction first: a core call may have changed objects before
    it refused, and the form is answered without an exception that would undo them.
    """
    db.rollback()
    if isinstance(error, ValidationError):
        return validation_message(error), 400
    return error.message, status_of(error)


def safe_next(target: str | None, default: str = "/") -> str:
    """Where to go after a form: a path of this site, never another site's URL."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 32 for ch in target)
    ):
        return default
    return target
