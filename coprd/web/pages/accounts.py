"""Logging in and out (here or everywhere), the account page, and the API token page at
``/api``. Failed logins are throttled (``core/throttling.py``) per account and per
address; a refused one is told when to try again, with 429 and Retry-After."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from coprd.api_legacy.general import api_info
from coprd.core import groups, throttling, tokens, users
from coprd.core.errors import NotAuthenticated, NotFound, TooManyAttempts
from coprd.core.names import MAX_NAME
from coprd.db.engine import write_session
from coprd.http import DB, AppSettings, ReadDB, client_address
from coprd.web.pages.forms import CheckedForm, field, safe_next
from coprd.web.pages.home import VARY
from coprd.web.pages.paths import wants_html
from coprd.web.pages.render import render
from coprd.web.pages.sessions import Viewer, flash, log_in, log_out, log_out_everywhere

router = APIRouter(include_in_schema=False)

TOKEN_PAGE = "/api"
NEW_TOKEN = "/account/api-token"
LOG_OUT_EVERYWHERE = "/account/logout-everywhere"
MAX_PASSWORD = 1024


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _to_login(next_url: str) -> RedirectResponse:
    return _see_other(f"/login?next={quote(next_url)}")


@router.get("/login")
def login_page(
    request: Request, viewer: Viewer, next: Annotated[str, Query(max_length=2048)] = "/"
) -> Response:
    return render(request, "login.html", {"next": safe_next(next), "username": "", "error": None})


@router.post("/login")
def login(request: Request, form: CheckedForm, db: ReadDB, settings: AppSettings) -> Response:
    name = field(form, "username", max_length=MAX_NAME + 1).strip()
    password = field(form, "password", max_length=MAX_PASSWORD + 1)
    next_url = safe_next(field(form, "next", max_length=2048))
    context = {"next": next_url, "username": name}
    limits = throttling.Limits.of(settings)
    attempt = throttling.password_attempt(name, client_address(request))
    try:
        failures = throttling.check(db, limits, attempt)
    except TooManyAttempts as exc:
        # Not checked: the answer is the same whether the password was right.
        headers = {"Retry-After": str(exc.retry_after)}
        return render(
            request, "login.html", {**context, "error": exc.message}, status=429, headers=headers
        )
    user = None
    if name and 0 < len(password) <= MAX_PASSWORD:
        try:
            user = users.get_user(db, name)
        except NotFound:
            user = None
    # The password is checked in the read transaction, the outcome written in a short
    # write one after it: argon2 takes a while, and must not hold SQLite's write lock.
    factory = request.app.state.session_factory
    if user is None or not users.check_password(user, password):
        with write_session(factory) as writer:
            throttling.record_failure(writer, attempt)
        context["error"] = "Wrong user name or password."
        return render(request, "login.html", context, status=401)
    with write_session(factory) as writer:
        if failures:
            throttling.forgive(writer, attempt)
        log_in(request, writer, user)
    flash(request, f"Logged in as {user.name}.")
    return _see_other(next_url)


@router.post("/logout")
def logout(request: Request, form: CheckedForm, db: DB) -> Response:
    log_out(request, db)
    flash(request, "Logged out.")
    return _see_other("/")


@router.post(LOG_OUT_EVERYWHERE)
def logout_everywhere(request: Request, form: CheckedForm, db: DB, viewer: Viewer) -> Response:
    if viewer is None:
        raise NotAuthenticated("log in to log out")
    ended = log_out_everywhere(request, db, viewer)
    flash(request, f"Logged out everywhere ({ended} session{'s' if ended != 1 else ''} ended).")
    return _see_other("/")


@router.get("/account")
def account(request: Request, db: DB, viewer: Viewer) -> Response:
    if viewer is None:
        return _to_login("/account")
    context = {
        "user": viewer,
        "groups": groups.group_names_of(db, viewer),
        "tokens": tokens.list_tokens(db, viewer),
        "log_out_everywhere_url": LOG_OUT_EVERYWHERE,
    }
    return render(request, "account.html", context)


@router.get(TOKEN_PAGE)
def token_page(request: Request, db: DB, settings: AppSettings, viewer: Viewer) -> Response:
    """Browsers get the token page; other clients the JSON the legacy API answered."""
    if not wants_html(request):
        return JSONResponse(api_info(settings).model_dump(mode="json"), headers=VARY)
    return _token_page(request, db, viewer, config=None, headers=VARY)


@router.post(NEW_TOKEN)
def new_token(
    request: Request, form: CheckedForm, db: DB, settings: AppSettings, viewer: Viewer
) -> Response:
    if viewer is None:
        raise NotAuthenticated("log in to get an API token")
    issued = tokens.issue_token(db, viewer, settings.token_days)
    config = tokens.copr_cli_config(issued, settings.public_url)
    # The only time the secret is shown: never kept by a cache.
    return _token_page(request, db, viewer, config=config, headers={"Cache-Control": "no-store"})


def _token_page(
    request: Request,
    db: DB,
    viewer: Viewer,
    *,
    config: str | None,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {
        "user": viewer,
        "config": config,
        "tokens": tokens.list_tokens(db, viewer) if viewer is not None else [],
        "new_token_url": NEW_TOKEN,
        "log_out_everywhere_url": LOG_OUT_EVERYWHERE,
    }
    return render(request, "api_token.html", context, headers=headers)
