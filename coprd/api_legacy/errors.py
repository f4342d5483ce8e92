"""How the legacy API answers a refusal: ``{"output": "notok", "error": message}``.

python-copr 1.63 treats every status but 200 as an error and reads ``body["error"]`` to say
why, so every refusal carries that key.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

# The envelope, for the OpenAPI document.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"output": {"const": "notok"}, "error": {"type": "string"}},
    "required": ["output", "error"],
}


def render_error(request: Request, status: int, message: str) -> JSONResponse:
    if status == 401:
        base = request.app.state.settings.public_url
        message = f"{message} See {base}/api for how to get an API token."
    # The client may still be sending a body too large to accept; closing ends the upload.
    headers = {"Connection": "close"} if status == 413 else None
    return JSONResponse({"output": "notok", "error": message}, status_code=status, headers=headers)
