"""Reading the bodies python-copr sends as multipart: file parts, then a ``json`` part."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData

from coprd.core.errors import InvalidInput
from coprd.http import read_form


async def read_json_and_files(
    request: Request, *, max_part: int, allow_json_body: bool = True
) -> tuple[dict[str, Any], FormData | None]:
    """The JSON object of the request and, for multipart, the form with its file parts.

    python-copr puts the JSON in a part named ``json`` that carries a filename, so it
    arrives as a file; a plain ``application/json`` body is accepted too where allowed.
    """
    content_type = request.headers.get("content-type", "")
    form: FormData | None = None
    raw: Any
    if content_type.startswith("multipart/form-data"):
        form = await read_form(request, max_files=8, max_fields=50, max_part_size=max_part)
        part = form.get("json")
        if part is None:
            # Clients always send it, last: without it the body is not theirs, or cut short.
            raise InvalidInput("the multipart body has no 'json' part")
        text = await part.read() if not isinstance(part, str) else part
        try:
            raw = json.loads(text)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidInput("the 'json' part is not valid JSON") from None
    elif allow_json_body and content_type.startswith("application/json"):
        try:
            raw = await request.json()
        except (ValueError, RecursionError):
            raise InvalidInput("the body is not valid JSON") from None
    else:
        raise InvalidInput("send multipart/form-data with a 'json' part, or application/json")
    if not isinstance(raw, dict):
        raise InvalidInput("the JSON body must be an object")
    return raw, form
