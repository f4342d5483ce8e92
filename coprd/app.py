"""The frontend application: every dialect's router on one FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coprd import agent_api, api_legacy, api_v2, api_v3, uploads
from coprd.agent_api.deps import BUILDER_CHALLENGE, get_builder, get_reading_builder
from coprd.agent_api.deps import ERROR_SCHEMA as AGENT_ERROR
from coprd.agent_api.wakeup import WorkSignal
from coprd.api_legacy.errors import ERROR_SCHEMA as LEGACY_ERROR
from coprd.api_v2.errors import ERROR_SCHEMA as V2_ERROR
from coprd.api_v2.params import page_params as v2_page
from coprd.api_v3.errors import ERROR_SCHEMA as V3_ERROR
from coprd.api_v3.links import LINKS, ORDERS
from coprd.api_v3.params import page_params
from coprd.api_v3.schemas import ProjectChrootEditIn
from coprd.auth import API_CHALLENGE, FailedAuthentication, count_failure
from coprd.config import Settings
from coprd.core import chroots, cleanup, logins, scheduling, throttling
from coprd.core.errors import CoprdError, TooManyAttempts
from coprd.core.sources import SourceSettings
from coprd.db.engine import make_engine, make_session_factory, read_session
from coprd.http import NormalisePathMiddleware, routed_path, status_of
from coprd.openapi import describe
from coprd.publish.prune import ResultsPruner
from coprd.publish.publisher import Publisher
from coprd.publish.signing import keyring_for
from coprd.web import pages, repofiles, webhooks
from coprd.web.pages.sessions import WEB_CHALLENGE
from coprd.web.results import results_router

log = logging.getLogger("coprd")

MAX_JSON_BODY = 1024 * 1024
TOO_LARGE = "The request body is larger than this endpoint accepts."

Renderer = Callable[[Request, int, str], Response]


def _fallback_render(_request: Request, status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


class _Part(NamedTuple):
    """A part of the app, by its path prefix: how its errors are rendered, their envelope's
    schema (for the OpenAPI document) and what its 401 asks for (``WWW-Authenticate``)."""

    prefix: str
    render: Renderer
    error_schema: dict[str, Any]
    challenge: str


# Each dialect answers errors in its own envelope; the path prefix says which dialect.
_PARTS = [
    _Part(api_v3.PREFIX, api_v3.render_error, V3_ERROR, API_CHALLENGE),
    _Part(api_v2.PREFIX, api_v2.render_error, V2_ERROR, API_CHALLENGE),
    _Part(api_legacy.PREFIX, api_legacy.render_error, LEGACY_ERROR, API_CHALLENGE),
    _Part(agent_api.PREFIX, _fallback_render, AGENT_ERROR, BUILDER_CHALLENGE),
]


def _part(path: str) -> _Part | None:
    return next((part for part in _PARTS if path.startswith(part.prefix)), None)


def _render(request: Request, status: int, message: str) -> Response:
    path = request.url.path
    part = _part(path)
    if part is not None:
        return part.render(request, status, message)
    # The web UI's pages answer with pages; the results tree, the agent protocol, .repo
    # files and webhooks with the plain JSON envelope.
    if pages.is_web_path(path):
        return pages.render_error(request, status, message)
    return _fallback_render(request, status, message)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CoprdError)
    async def _domain(request: Request, exc: CoprdError) -> Response:
        response = _render(request, status_of(exc), exc.message)
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(FailedAuthentication)
    async def _failed_authentication(request: Request, exc: FailedAuthentication) -> Response:
        # Counted here, once the request's transaction has been rolled back with the
        # refusal; the count outlives it. A count the database cannot take now is lost,
        # and the refusal still answered as such.
        try:
            await run_in_threadpool(count_failure, request, exc)
        except Exception:
            log.exception("could not count a failed authentication on %s", request.url.path)
        return _render(request, status_of(exc), exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return _render(request, 400, api_v3.validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"Not found: {request.url.path}"
        elif exc.status_code == 413:
            message = TOO_LARGE
        elif exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}"
        return _render(request, exc.status_code, message)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        # Two requests raced to create the same thing; the loser sees what a sequential
        # request would have seen.
        log.info("integrity error on %s: %s", request.url.path, exc.orig)
        return _render(request, 409, "The request conflicts with a concurrent change; retry.")

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> Response:
        log.warning("database unavailable on %s: %s", request.url.path, exc.orig)
        return _render(request, 503, "The database is busy or unavailable; retry shortly.")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _render(request, 500, "Internal server error; the server log has the details.")


def _challenge(path: str) -> str:
    """The scheme a 401 at ``path`` asks for: its part's; the web UI's for the rest."""
    part = _part(path)
    return WEB_CHALLENGE if part is None else part.challenge


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route serves at the request's path, as the router itself would
    match it. Starlette's 405 names only the methods of the first route matching the
    path, and FastAPI has one route per handler (inside routers it includes), so a path
    served by several handlers would list only some."""
    routed = {**scope, "path": routed_path(scope["path"])}
    return [
        method
        for method in _METHODS
        if any(route.matches({**routed, "method": method})[0] == Match.FULL for route in routes)
    ]


def _with_required_headers(message: Message, scope: Scope, routes: list[BaseRoute]) -> Message:
    """A 401 or 405 answer with the header HTTP requires of it (RFC 9110): the scheme to
    authenticate with, or the methods the path allows. Added here, after every part
    rendered its answer, so that no 401 (an API's, an agent's, the login page's) lacks it."""
    status = message["status"]
    headers = MutableHeaders(raw=list(message["headers"]))
    if status == 401 and "www-authenticate" not in headers:
        headers["WWW-Authenticate"] = _challenge(scope["path"])
    elif status == 405:
        allowed = _allowed_methods(routes, scope)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return {**message, "headers": headers.raw}


class _App(FastAPI):
    """FastAPI whose outermost layer puts Starlette's plain-text 413 into the error envelope
    and gives 401 and 405 answers the headers HTTP requires of them.

    Starlette's body limit answers a request that declares a Content-Length above the limit
    itself, in text and past every exception handler; clients read errors only from JSON.
    """

    def build_middleware_stack(self) -> ASGIApp:
        inner = super().build_middleware_stack()
        routes = self.router.routes

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await inner(scope, receive, send)
                return
            replaced = False

            async def send_enveloped(message: Message) -> None:
                nonlocal replaced
                if message["type"] == "http.response.start" and message["status"] in (401, 405):
                    message = _with_required_headers(message, scope, routes)
                if message["type"] == "http.response.start" and message["status"] == 413:
                    content_type = Headers(raw=message["headers"]).get("content-type", "")
                    if content_type.startswith("text/plain"):
                        replaced = True
                        await _render(Request(scope), 413, TOO_LARGE)(scope, receive, send)
                        return
                if not replaced:
                    await send(message)

            await inner(scope, receive, send_enveloped)

        return app


def _active_chroot_names(app: FastAPI) -> list[str]:
    with read_session(app.state.session_factory) as session:
        return [c.name for c in chroots.list_mock_chroots(session, active_only=True)]


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The ASGI app. The database schema must already be current (see ``coprd.db.migrate``)."""
    engine = engine or make_engine(settings.effective_database_url)
    stop_sweep = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _app.state.work_signal.bind(asyncio.get_running_loop())
        factory = _app.state.session_factory
        publisher: Publisher = _app.state.publisher

        def _recover() -> None:
            # A publish the previous server process did not finish is finished now,
            # packages published while signing was off are signed, and forks' copies
            # are completed.
            publisher.repair()
            publisher.sign_published()
            publisher.finish_forks()

        # Background work, each beside its domain; the *_forever ones end with stop_sweep.
        jobs: list[tuple[str, Callable[..., None], tuple[object, ...]]] = [
            ("lease-sweep", scheduling.sweep_forever, (factory, stop_sweep)),
            ("repair", _recover, ()),
            (
                "cleanup",
                functools.partial(
                    cleanup.cleanup_forever,
                    remove_results=ResultsPruner(publisher, settings.prune_log_dir),
                    prune_days=settings.prune_days,
                ),
                (factory, stop_sweep),
            ),
            ("uploads-sweep", uploads.sweep_forever, (settings, factory, stop_sweep)),
            ("web-sessions-sweep", logins.sweep_forever, (factory, stop_sweep)),
            (
                "auth-failures-sweep",
                throttling.sweep_forever,
                (factory, throttling.Limits.of(settings), stop_sweep),
            ),
        ]
        if publisher.keyring is not None:
            jobs += [
                ("keygen", publisher.make_keys_forever, (stop_sweep,)),
                ("key-expiry", publisher.refresh_keys_forever, (stop_sweep,)),
            ]
        for name, target, args in jobs:
            threading.Thread(target=target, args=args, name=name, daemon=True).start()
        yield
        stop_sweep.set()

    app = _App(
        lifespan=lifespan,
        title="coprd",
        summary="A self-hosted Copr: APIv3 as python-copr and copr-cli speak it.",
        version="0.1.0",
        docs_url=f"{api_v3.PREFIX}/docs",
        openapi_url=f"{api_v3.PREFIX}/openapi.json",
        redoc_url=None,
        # JSON bodies are small; routes that take uploads set their own, larger limit.
        max_body_size=MAX_JSON_BODY,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.publisher = Publisher(settings.results_dir, keyring_for(settings))
    app.state.publisher.attach(app.state.session_factory)
    uploads.attach(settings, app.state.session_factory)
    app.state.work_signal = WorkSignal()
    app.state.work_signal.attach(app.state.session_factory)
    _install_error_handlers(app)
    app.include_router(api_v3.router)
    app.include_router(api_v2.router)
    app.include_router(api_legacy.router)
    app.include_router(agent_api.router)
    app.include_router(results_router(settings.results_dir))
    app.include_router(repofiles.router)
    app.include_router(webhooks.router)
    # The pages, /static/ and sessions; "/" answers JSON as before to non-browser clients.
    pages.install(app, settings)
    app.add_middleware(NormalisePathMiddleware)
    app.openapi = describe(  # type: ignore[method-assign]
        app,
        [(part.prefix, part.error_schema, part.challenge) for part in _PARTS],
        ("", V3_ERROR, WEB_CHALLENGE),
        models=[ProjectChrootEditIn],
        builder_auth=(get_builder, get_reading_builder),
        paged={page_params: ("limit", "offset"), v2_page: ("offset",)},
        chroots=functools.partial(_active_chroot_names, app),
        distgits=SourceSettings.of(settings).names,
        links=LINKS,
        orders=ORDERS,
        flags=("with_latest_build", "with_latest_succeeded_build", "exist_ok", "active_only"),
    )
    return app
