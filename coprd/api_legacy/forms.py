"""Reading the bodies legacy clients send, and the legacy ways of writing values in them.

python-copr 1.63 sends form-urlencoded fields (create, modify, delete) or multipart fields
(builds), selects chroots with one ``<chroot-name>=y`` field each, and joins lists with
spaces; the seed's httpie examples send the same fields as a JSON object. Every one of
these becomes a :data:`Fields` mapping here; the routes turn that into the core's input
types, which validate the values.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from coprd.core.errors import InvalidInput
from coprd.core.names import check_chroot_name, json_schema, parse_digits
from coprd.core.text import SPACES, anchored, literal, split_schema, whole_numbers
from coprd.http import BOOL_SCHEMA, parse_bool, read_form

Fields = dict[str, Any]
M = TypeVar("M", bound=BaseModel)
ChrootFields = Literal["one or more", "any"]

MAX_FIELDS = 300
MAX_FIELD_BYTES = 1024 * 1024
MAX_LIST = 100
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
UNKNOWN = "Unknown arguments passed"
# Fields the last legacy clients (python-copr 1.x) added to every form they sent: their
# own user name, which Copr ignored (the URL names the owner), and so does this server.
CLIENT_FIELDS = frozenset({"username"})


async def read_fields(request: Request, *, files: int = 0) -> Fields:
    """The request's fields, from a form, a multipart body (with at most ``files`` file
    parts, kept as ``UploadFile``) or a JSON object; an empty body has none.

    A form field sent more than once is refused: the documents describe each as one value.
    """
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        form = await read_form(
            request, max_files=files, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES
        )
        fields: Fields = {}
        for key, value in form.multi_items():
            if key in fields:
                # A form has one value a field (lists are space-separated strings).
                raise InvalidInput("is sent more than once", shown(key))
            fields[key] = value
        return fields
    if content_type == "application/json":
        try:
            raw = await request.json()
        except (ValueError, RecursionError):
            raise InvalidInput("the body is not valid JSON") from None
        if not isinstance(raw, dict):
            raise InvalidInput("the JSON body must be an object")
        return raw
    if (await request.body()).strip():
        raise InvalidInput(
            "send the fields form-encoded (application/x-www-form-urlencoded), as "
            "multipart/form-data, or as a JSON object (application/json)"
        )
    return {}


async def _fields(request: Request) -> Fields:
    return await read_fields(request)


Form = Annotated[Fields, Depends(_fields)]


def body_doc(
    fields: Collection[str],
    *,
    required: Collection[str] = (),
    values: Mapping[str, list[str]] | None = None,
    files: Collection[str] = (),
    chroots: ChrootFields | None = None,
    model: type[BaseModel] | None = None,
    names: Mapping[str, str] | None = None,
    flags: Collection[str] = (),
    schemas: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The OpenAPI description (``openapi_extra``) of a form body of ``fields``: strings,
    ``values`` limiting some, ``files`` file parts (multipart only); ``chroots``: it also
    selects chroots with one ``<chroot-name>=y`` field each, ``"one or more"`` or
    ``"any"`` of them. A field that ``names`` maps to
    a string field of the core's ``model`` takes that field's limits (enumerations,
    lengths); ``flags`` are checkboxes; ``schemas`` gives others' schemas outright."""
    properties: dict[str, Any] = {
        name: {"type": "string"} for name in sorted({*fields, *CLIENT_FIELDS})
    }
    core = model.model_json_schema()["properties"] if model is not None else {}
    for name, core_name in (names or {}).items():
        text = [
            s
            for s in core.get(core_name, {}).get("anyOf", [core.get(core_name, {})])
            if s.get("type") == "string"
        ]
        if name in properties and text:
            properties[name] = {k: v for k, v in text[0].items() if k != "title"}
    for name in set(flags) & set(fields):
        properties[name] = BOOL_SCHEMA
    properties.update(schemas or {})
    for name, allowed in (values or {}).items():
        properties[name] = {"type": "string", "enum": allowed}
    for name in files:
        properties[name] = {"type": "string", "format": "binary"}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": sorted(required),
        "additionalProperties": False,
    }
    if chroots:
        # Named by pattern here; the document names the active chroots (coprd/openapi.py).
        pattern = json_schema("chroot")["pattern"]
        schema["patternProperties"] = {pattern: BOOL_SCHEMA}
        schema[CHROOT_FIELDS_MARK] = chroots
    types = ["multipart/form-data"] if files else list(FORM_TYPES)
    return {
        "requestBody": {
            "required": bool(required),
            "content": {t: {"schema": schema} for t in types},
        }
    }


def shown(value: str) -> str:
    """A client-chosen name as an error message may quote it."""
    return value[:100].encode("unicode_escape").decode("ascii")


def _unknown(names: Collection[str], hint: str = "") -> InvalidInput:
    listed = ", ".join(shown(name) for name in list(names)[:20])
    return InvalidInput(f"{UNKNOWN}{hint}: {listed}")


def reject_unknown(fields: Fields, known: Collection[str]) -> None:
    unknown = [key for key in fields if key not in known and key not in CLIENT_FIELDS]
    if unknown:
        raise _unknown(unknown)


def _is_chroot_name(name: str) -> bool:
    try:
        check_chroot_name(name)
    except InvalidInput:
        return False
    return True


def flag(value: object, field: str) -> bool:
    """A checkbox: ``y`` (or yes, true, on, 1) or, in JSON, a boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return parse_bool(value, field)
        except InvalidInput:
            pass
    raise InvalidInput("use y to select it (or n)", shown(field))


def checkboxes(fields: Fields, names: Collection[str]) -> Fields:
    """``fields`` with each of ``names`` sent as a checkbox read as a boolean: python-copr
    1.x sends ``y`` for true and an empty string for false, as an HTML form would."""
    return {key: flag(value, key) if key in names else value for key, value in fields.items()}


def chroot_fields(fields: Fields, known: Collection[str]) -> list[str]:
    """The chroot fields (``<chroot>=y``, checked or not): every field not in ``known``
    must be named like a chroot. Whether such a chroot exists is the core's to say (the
    routes ask it of each, as Copr's form had a field for each active chroot only)."""
    rest = [key for key in fields if key not in known and key not in CLIENT_FIELDS]
    unknown = [key for key in rest if not _is_chroot_name(key)]
    if unknown:
        raise _unknown(unknown, " (non-existing chroot probably)")
    return rest


def selected_chroots(fields: Fields, known: Collection[str]) -> list[str]:
    """The chroots selected by ``<chroot>=y`` fields (:func:`chroot_fields`)."""
    return [key for key in chroot_fields(fields, known) if flag(fields[key], key)]


def words(value: object, field: str) -> list[str]:
    """A list sent space-joined (or, in JSON, as a list of strings)."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split()
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = [word for item in value for word in item.split()]
    else:
        raise InvalidInput("must be a space-separated string of items", field)
    if len(items) > MAX_LIST:
        raise InvalidInput(f"at most {MAX_LIST} items", field)
    return items


MAX_DIGITS = 18


def number(value: object, field: str) -> int | None:
    """A whole number, sent as ASCII digits (:func:`number_schema`); an empty string (or
    null) means unset."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    parsed = parse_digits(value, MAX_DIGITS) if isinstance(value, str) else None
    if parsed is not None:
        return parsed
    raise InvalidInput(f"{shown(str(value))!r} is not a whole number", field)


def number_schema(model: type[BaseModel], field: str) -> dict[str, Any]:
    """The JSON schema of a form field :func:`number` reads into ``model``'s integer
    ``field``: its digits, within the bounds ``model`` holds it to, or empty."""
    found = model.model_json_schema()["properties"][field]
    (integer,) = [s for s in found.get("anyOf", [found]) if s.get("type") == "integer"]
    low = max(0, integer.get("minimum", 0))
    high = min(integer.get("maximum", 10**MAX_DIGITS - 1), 10**MAX_DIGITS - 1)
    return {
        "type": "string",
        "pattern": anchored(f"(?:{whole_numbers(low, high)})?"),
        "maxLength": MAX_DIGITS,
    }


def chroot_words(names: Collection[str] | None) -> dict[str, Any]:
    """The JSON schema of what :func:`words` reads as chroot names: one or more of
    ``names`` (None: any chroot name), separated by whitespace."""
    if names is None:
        token = json_schema("chroot")["pattern"][1:-1]
    else:
        token = f"(?:{'|'.join(literal(name) for name in sorted(names))})"
    schema = split_schema(token, SPACES, min_items=1, max_items=MAX_LIST)
    return schema if names is not None else {**schema, CHROOT_WORDS_MARK: True}


CHROOT_FIELDS_MARK = "x-coprd-chroot-fields"
"""Marks a form's schema whose chroot fields the document lists (``body_doc``)."""
CHROOT_WORDS_MARK = "x-coprd-chroot-words"
"""Marks a field of chroot names the document enumerates (:func:`chroot_words`)."""
CHROOT_WORDS = chroot_words(None)
"""A field of chroot names, as :func:`words` reads them."""


def renamed(fields: Fields, names: Mapping[str, str]) -> Fields:
    """The fields ``names`` knows, under the core's names."""
    return {core: fields[legacy] for legacy, core in names.items() if legacy in fields}


def validated(model: type[M], data: Fields, names: Mapping[str, str] | None = None) -> M:
    """``data`` as the core's input type ``model``; its complaints name the legacy fields
    (``names`` maps legacy names to the core's)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        legacy = {core: name for name, core in (names or {}).items()}
        lines = []
        for error in exc.errors():
            loc = [str(part) for part in error.get("loc", ())]
            if loc:
                loc[0] = legacy.get(loc[0], loc[0])
            lines.append(f"{'.'.join(loc) or 'body'}: {error.get('msg', 'invalid')}")
        raise InvalidInput("\n".join(lines) or str(exc)) from None


def upload_part(fields: Fields, name: str) -> UploadFile:
    part = fields.pop(name, None)
    if not isinstance(part, UploadFile):
        raise InvalidInput(f"the multipart body has no '{name}' file part", name)
    return part
