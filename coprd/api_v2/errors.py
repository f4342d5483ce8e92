"""How APIv2 answers a refusal: ``{"message": ...}`` as ``application/json``, exactly.

python-copr 1.63 parses an error body only when the Content-Type is exactly
``application/json`` (no charset) and then reads its ``message``.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

# The envelope, for the OpenAPI document.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"message": {"type": "string"}},
    "required": ["message"],
}


def render_error(request: Request, status: int, message: str) -> JSONResponse:
    headers = {"Connection": "close"} if status == 413 else None
    return JSONResponse({"message": message}, status_code=status, headers=headers)
