"""How APIv3 answers a refusal: ``{"error": message}`` with the status the clients expect."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from coprd.core.errors import (
    Conflict,
    CoprdError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooLarge,
)

STATUS = {
    InvalidInput: 400,
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
}


def status_of(error: CoprdError) -> int:
    for kind, status in STATUS.items():
        if isinstance(error, kind):
            return status
    return 400


def render_error(request: Request, status: int, message: str) -> JSONResponse:
    if status == 401:
        base = request.app.state.settings.public_url
        message = f"{message} Please visit {base}/api to get or renew your API token."
    headers = None
    if status == 413:
        # The client is most likely still sending the body, and reads the answer only once
        # it has sent all of it; on a connection kept alive the server would go on reading
        # (and dropping) the rest. Closing the connection ends the upload at once.
        headers = {"Connection": "close"}
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def validation_message(exc: ValidationError | Exception) -> str:
    """Pydantic's complaints as ``field: message`` lines, the form copr-cli lists as bullets."""
    errors = exc.errors() if hasattr(exc, "errors") else []
    lines = []
    for err in errors:
        if err.get("type") == "json_invalid":
            lines.append("the request body is not valid JSON")
            continue
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc) or "body"
        lines.append(f"{where}: {err.get('msg', 'invalid')}")
    return "\n".join(lines) or str(exc)
