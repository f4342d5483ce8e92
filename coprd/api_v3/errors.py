"""How APIv3 answers a refusal: ``{"error": message}`` with the status the clients expect."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from coprd.http import status_of, validation_message

__all__ = ["ERROR_SCHEMA", "render_error", "status_of", "validation_message"]

# The envelope, for the OpenAPI document.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}


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
