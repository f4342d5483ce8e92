"""The results tree over HTTP, as Copr's backend web server serves it.

``results_router(root)`` returns a router serving the ``LocalStore`` at ``root`` under
``/results/``: files with their content types, directories as HTML listings with relative
links (what ``wget -r`` in ``copr-cli download-build`` follows), ``GET`` and ``HEAD``.

- A directory asked for without its trailing slash redirects (301) to the slash form, so
  relative links resolve; a file asked for with a trailing slash is 404.
- ``X.log`` that is gone because the build finished redirects (302) to ``X.log.gz``.
- ``*.log.gz`` is sent as ``text/plain`` with ``Content-Encoding: gzip``: browsers show the
  text, ``wget`` and ``curl`` (without ``--compressed``) save the ``.gz`` as it is.
- Anything the store's path rule refuses (``..``, ``%2e%2e``, NUL, absolute paths, hidden
  names, symlinks out of the root) is 404, like anything missing.
- Every answer says ``X-Content-Type-Options: nosniff`` and carries a Content-Security-Policy
  that lets nothing run (:data:`UNTRUSTED_HEADERS`): the files are bytes builds and users
  chose, served from the service's own origin, and a log or a "package" that a browser
  took for HTML must not run script there. The listings need no style or script.
- A plain ``*.log`` may be growing (the live build log): each response sends exactly the
  bytes present when it started, from the file it opened, so a reader never gets a
  response longer than its Content-Length, nor an error when the log is gzipped meanwhile.
"""

from __future__ import annotations

import html
import os
import stat
import time
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from coprd.publish.store import Entry, LocalStore, UnsafePath

__all__ = ["PREFIX", "UNTRUSTED_HEADERS", "results_router"]

PREFIX = "/results"
# For whatever users' and builds' bytes are sent as: never sniffed into another type, and
# if shown as a page, a sandboxed one (a unique origin, no script, no forms) that may load
# nothing at all.
UNTRUSTED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}

_TYPES = {
    ".rpm": "application/x-rpm",
    ".log": "text/plain; charset=utf-8",
    ".gz": "application/gzip",
    ".xml": "application/xml",
    ".spec": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".info": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".repo": "text/plain; charset=utf-8",
    ".gpg": "application/pgp-keys",
    ".zst": "application/zstd",
    ".xz": "application/x-xz",
    ".bz2": "application/x-bzip2",
}
_DEFAULT_TYPE = "application/octet-stream"
_CHUNK = 256 * 1024


def results_router(root: Path, *, prefix: str = PREFIX) -> APIRouter:
    """A router serving the results store at ``root`` under ``prefix`` (``/results``).

    A factory rather than a dependency: the root is fixed when the app is built, and each
    app (or test) gets its own router. ``root`` need not exist yet.
    """
    store = LocalStore(root)
    router = APIRouter(include_in_schema=False)

    @router.api_route(prefix, methods=["GET", "HEAD"])
    def results_root() -> Response:
        return _untrusted(_redirect(prefix.rsplit("/", 1)[-1] + "/", 301))

    @router.api_route(prefix + "/{rel:path}", methods=["GET", "HEAD"])
    def results(rel: str, request: Request) -> Response:
        # The route's pattern ends in "$", which also matches before a final newline:
        # "/results/a/%0a" would arrive here as "a/".
        if not request.scope["path"].endswith(f"{prefix}/{rel}"):
            return _untrusted(_not_found())
        return _untrusted(_serve(store, rel, request))

    return router


def _serve(store: LocalStore, rel: str, request: Request) -> Response:
    as_dir = rel == "" or rel.endswith("/")
    name = rel[:-1] if rel.endswith("/") else rel
    try:
        path = store.local_path(name)
        st = path.stat()
    except UnsafePath:
        return _not_found()
    except OSError:
        if not as_dir and name.endswith(".log") and _is_file(store, name + ".gz"):
            return _redirect(quote(name.rsplit("/", 1)[-1] + ".gz"), 302)
        return _not_found()
    if stat.S_ISDIR(st.st_mode):
        if not as_dir:
            return _redirect(quote(name.rsplit("/", 1)[-1]) + "/", 301)
        try:
            entries = store.list_dir(name)
        except OSError:
            return _not_found()
        return _listing(request, name, entries)
    if not stat.S_ISREG(st.st_mode) or as_dir:
        return _not_found()
    return _file(path, st)


def _untrusted(response: Response) -> Response:
    response.headers.update(UNTRUSTED_HEADERS)
    return response


def _is_file(store: LocalStore, rel: str) -> bool:
    entry = store.stat(rel)
    return entry is not None and not entry.is_dir


def _not_found() -> Response:
    return PlainTextResponse("Not found\n", status_code=404)


def _redirect(location: str, status: int) -> Response:
    # Relative, so it stays right behind a proxy that mounts the results elsewhere.
    return Response(status_code=status, headers={"location": location})


def _file(path: Path, st: os.stat_result) -> Response:
    name = path.name
    headers = {}
    if name.endswith(".log.gz"):
        media_type = "text/plain; charset=utf-8"
        headers["content-encoding"] = "gzip"
    else:
        media_type = _TYPES.get(path.suffix, _DEFAULT_TYPE)
    if name == "repomd.xml":
        headers["cache-control"] = "no-cache"
    if path.suffix == ".log":
        return _GrowingFileResponse(path, media_type)
    return FileResponse(path, media_type=media_type, headers=headers, stat_result=st)


def _listing(request: Request, rel: str, entries: list[Entry]) -> Response:
    title = html.escape(request.url.path)
    rows = []
    if rel:
        rows.append('<a href="../">../</a>')
    for entry in sorted(entries, key=lambda e: (not e.is_dir, e.name)):
        slash = "/" if entry.is_dir else ""
        href = html.escape(quote(entry.name) + slash, quote=True)
        label = html.escape(entry.name + slash)
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(entry.mtime))
        size = "-" if entry.is_dir else str(entry.size)
        pad = " " * max(1, 60 - len(entry.name + slash))
        rows.append(f'<a href="{href}">{label}</a>{pad}{when} {size:>12}')
    page = (
        "<!DOCTYPE html>\n"
        f'<html><head><meta charset="utf-8"><title>Index of {title}</title></head>\n'
        f"<body><h1>Index of {title}</h1><hr><pre>\n"
        + "\n".join(rows)
        + "\n</pre><hr></body></html>\n"
    )
    body = page.encode()
    headers = {"content-length": str(len(body)), "cache-control": "no-cache"}
    content = b"" if request.method == "HEAD" else body
    return HTMLResponse(content, headers=headers)


class _GrowingFileResponse(Response):
    """A file that may grow while it is sent: opened first, then exactly the bytes it had
    at that moment are sent. (FileResponse takes the length from an earlier stat and then
    reads to the end, which overruns Content-Length when the file grew.)"""

    def __init__(self, path: Path, media_type: str) -> None:
        super().__init__(media_type=media_type, headers={"cache-control": "no-store"})
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            fd = await anyio.to_thread.run_sync(_open_regular, self.path)
        except OSError:
            await _untrusted(_not_found())(scope, receive, send)
            return
        try:
            st = os.fstat(fd)
            headers = self.headers.mutablecopy()
            headers["content-length"] = str(st.st_size)
            headers["last-modified"] = formatdate(st.st_mtime, usegmt=True)
            headers["accept-ranges"] = "none"
            await send({"type": "http.response.start", "status": 200, "headers": headers.raw})
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            offset = 0
            while offset < st.st_size:
                want = min(_CHUNK, st.st_size - offset)
                chunk = await anyio.to_thread.run_sync(os.pread, fd, want, offset)
                if not chunk:
                    break  # truncated meanwhile; the client sees a short body
                offset += len(chunk)
                more = offset < st.st_size
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if offset < st.st_size:
                raise RuntimeError(f"{self.path} shrank while it was sent")
        finally:
            os.close(fd)


def _open_regular(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(str(path))
    return fd
