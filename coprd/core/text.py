"""Rules on the text clients send, each written once: the regular expression the server
matches a value against whole, which is also the ``pattern`` the API documents state.

The expressions keep to what ECMA-262 (JSON schema patterns, as validators read them) and
Python's ``re`` read alike: literal ASCII, ``\\xHH`` and ``\\uHHHH`` escapes, character
classes of those, groups, alternatives and counted repeats. No ``\\s``, ``\\d``, ``\\w`` or
``.``, whose meanings differ between the two (``\\s`` takes U+FEFF in one and U+0085 and
U+001C to U+001F in the other); whitespace is spelled out as :data:`SPACES`. The documents
anchor each one as ``^(?:…)$``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

__all__ = [
    "CONTROLS",
    "SPACES",
    "Integer",
    "IsNot",
    "NonEmpty",
    "Rule",
    "Split",
    "anchored",
    "integers",
    "literal",
    "refusal",
    "shown",
    "split_schema",
    "whole_numbers",
]

SPACES = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""Whitespace as ``str.split()``, ``str.strip()`` and ``str.isspace()`` read it, as the
body of a character class."""
CONTROLS = r"\x00-\x1f\x7f"
"""The C0 control characters and DEL, as the body of a character class."""
_SPECIAL = frozenset("\\^$.|?*+()[]{}/")


def anchored(pattern: str) -> str:
    """``pattern`` as a JSON schema states it: matched whole."""
    return f"^(?:{pattern})$"


def literal(text: str) -> str:
    """``text`` as a pattern that matches it alone (``-`` is left as it is: escaped outside a
    character class it is an error in ECMA-262's Unicode mode)."""
    return "".join(f"\\{ch}" if ch in _SPECIAL else ch for ch in text)


def refusal(reason: str) -> PydanticCustomError:
    """A validation error that says ``reason`` and nothing else."""
    return PydanticCustomError("invalid_value", "{reason}", {"reason": reason})


def shown(value: str) -> str:
    """``value`` quoted for a message: its first 100 characters, non-ASCII and control
    characters escaped."""
    return repr(value[:100].encode("unicode_escape").decode("ascii"))


@dataclass(frozen=True)
class IsNot:
    """A :class:`Rule`'s reason that names the value refused: "'<value>' is not <what>"."""

    what: str

    def __call__(self, value: str) -> str:
        return f"{shown(value)} is not {self.what}"


class _After:
    """As a pydantic annotation: :meth:`check` runs after the type's own validation, and
    :meth:`document` adds to the type's JSON schema what the check holds it to."""

    def check(self, value: Any) -> Any:
        raise NotImplementedError

    def document(self, found: JsonSchemaValue) -> None:
        raise NotImplementedError

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        found = handler(schema)
        self.document(found)
        return found


@dataclass(frozen=True)
class NonEmpty(_After):
    """As a pydantic annotation on a list type: the list may not be empty, refused with
    ``reason``, and documented so (``minItems``)."""

    reason: str

    def check(self, value: list[Any]) -> list[Any]:
        if not value:
            raise refusal(self.reason)
        return value

    def document(self, found: JsonSchemaValue) -> None:
        found["minItems"] = 1


@dataclass(frozen=True)
class Rule(_After):
    """A string that ``pattern`` matches whole, at most ``max_length`` characters. As a
    pydantic annotation (after the string's own type) it refuses other values with
    ``reason`` (a sentence, or what to say of the value; a value too long with
    ``too_long``) and puts the pattern and the length into the field's JSON schema."""

    pattern: str
    reason: str | Callable[[str], str]
    max_length: int | None = None
    too_long: str | None = None
    """What to say of a value longer than ``max_length``; default "is longer than … characters"."""

    @cached_property
    def _compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    def matches(self, value: str) -> bool:
        return self._compiled.fullmatch(value) is not None

    def check(self, value: str) -> str:
        if self.max_length is not None and len(value) > self.max_length:
            raise refusal(self.too_long or f"is longer than {self.max_length} characters")
        if not self.matches(value):
            raise refusal(self.reason if isinstance(self.reason, str) else self.reason(value))
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "pattern": anchored(self.pattern)}
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema

    def document(self, found: JsonSchemaValue) -> None:
        found["pattern"] = anchored(self.pattern)
        if self.max_length is not None:
            found["maxLength"] = self.max_length


def split_schema(
    token: str,
    separators: str,
    *,
    max_items: int,
    min_items: int = 0,
    max_token: int | None = None,
) -> dict[str, Any]:
    """The JSON schema of a string of items separated by runs of ``separators`` (a
    character-class body), as ``re.split`` on those runs (empty items dropped) reads it:
    ``min_items`` to ``max_items`` items, each matching ``token`` whole and at most
    ``max_token`` characters long. ``token`` must match no separator, nor the empty
    string."""
    sep = f"[{separators}]"
    more = f"(?:{sep}+{token}){{0,{max_items - 1}}}"
    items = f"{token}{more}" if min_items else f"(?:{token}{more})?"
    schema: dict[str, Any] = {"type": "string", "pattern": anchored(f"{sep}*{items}{sep}*")}
    if max_token is not None:
        # Each run of other characters is one item: none may be longer (stated apart:
        # a counted repeat inside a counted repeat is too large for some validators).
        schema["not"] = {"pattern": f"[^{separators}]{{{max_token + 1}}}"}
    return schema


@dataclass(frozen=True)
class Split:
    """A list, or the same as one string of items separated by runs of ``separators`` (a
    character-class body). As a pydantic annotation on a list type it splits a string
    into its items before the list is validated, and adds the string's shape
    (:func:`split_schema`: items matching ``token``, at most ``max_items`` of at most
    ``max_token`` characters) beside the list's in the JSON schema. The list's own type
    checks the items, in either shape."""

    token: str
    separators: str
    max_items: int
    max_token: int | None = None
    _split: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_split", re.compile(f"[{self.separators}]+"))

    def split(self, value: Any) -> Any:
        if isinstance(value, str):
            return [item for item in self._split.split(value) if item]
        return value

    def text_schema(self) -> dict[str, Any]:
        return split_schema(
            self.token, self.separators, max_items=self.max_items, max_token=self.max_token
        )

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.split, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        found = handler(schema)
        shapes = found.pop("anyOf", None)
        if shapes is None:
            shapes, found = [found], {}
        at = next(i for i, shape in enumerate(shapes) if shape.get("type") == "array")
        shapes.insert(at + 1, self.text_schema())
        found["anyOf"] = shapes
        return found


def _same_length(low: str, high: str) -> list[str]:
    """Patterns for the numbers from ``low`` to ``high``, written with as many digits."""
    if low == high:
        return [low]
    if len(low) == 1:
        return [f"[{low}-{high}]"]
    head = 0
    while low[head] == high[head]:
        head += 1
    prefix, rest = low[:head], len(low) - head - 1
    a, b = low[head], high[head]
    low_tail, high_tail = low[head + 1 :], high[head + 1 :]
    if low_tail == "0" * rest and high_tail == "9" * rest:
        return [f"{prefix}[{a}-{b}][0-9]{{{rest}}}" if rest else f"{prefix}[{a}-{b}]"]
    parts = [prefix + a + p for p in _same_length(low_tail, "9" * rest)]
    if int(b) - int(a) > 1:
        middle = f"[{int(a) + 1}-{int(b) - 1}]"
        parts.append(f"{prefix}{middle}[0-9]{{{rest}}}")
    parts += [prefix + b + p for p in _same_length("0" * rest, high_tail)]
    return parts


def whole_numbers(low: int, high: int, *, leading_zeros: bool = True) -> str:
    """A pattern for the numbers from ``low`` to ``high`` (0 ≤ low ≤ high) in ASCII digits,
    leading zeros allowed (as :func:`coprd.core.names.parse_digits` reads them; their
    count is the schema's ``maxLength``), or not (``leading_zeros=False``: as ``str()``
    writes them)."""
    parts: list[str] = []
    full: list[int] = []  # digit counts whose every number is in the range

    def flush() -> None:
        if full:
            counts = f"{full[0] - 1}" if len(full) == 1 else f"{full[0] - 1},{full[-1] - 1}"
            parts.append(f"[1-9][0-9]{{{counts}}}")
            full.clear()

    for digits in range(len(str(low)), len(str(high)) + 1):
        first = max(low, 10 ** (digits - 1) if digits > 1 else 0)
        last = min(high, 10**digits - 1)
        if digits > 1 and (first, last) == (10 ** (digits - 1), 10**digits - 1):
            full.append(digits)
            continue
        flush()
        if first <= last:
            parts += _same_length(str(first), str(last))
    flush()
    return f"{'0*' if leading_zeros else ''}(?:{'|'.join(parts)})"


def integers(low: int, high: int, *, leading_zeros: bool = True) -> str:
    """A pattern for the numbers from ``low`` to ``high`` as :class:`Integer` reads them:
    ASCII digits, leading zeros allowed, ``-`` before a negative one (or a zero); or, with
    ``leading_zeros=False``, only as ``str()`` writes them (no leading zeros, no ``-0``)."""
    parts = []
    if high >= 0:
        parts.append(whole_numbers(max(low, 0), high, leading_zeros=leading_zeros))
    if leading_zeros and low <= 0:
        parts.append("-" + whole_numbers(max(-high, 0), -low))
    elif low < 0:
        parts.append("-" + whole_numbers(max(-high, 1), -low, leading_zeros=False))
    return "|".join(parts)


_SIGNED = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class Integer:
    """An integer from ``low`` to ``high``, as clients send it: a JSON integer, a whole JSON
    number (``3.0``, which JSON schema's ``integer`` is too), or the number written in
    ASCII digits (copr-cli sends its options' text as given). As a pydantic annotation on
    ``int`` it reads all three, holds the number to its bounds, and documents both shapes.

    With ``reason``, every other value (a boolean, text the pattern does not match, a
    number out of bounds) is refused saying ``reason``; ``leading_zeros=False`` reads and
    documents the digits only as ``str()`` writes them; ``empty``: ``null`` and ``""`` are
    "not given" (None), and documented so."""

    low: int
    high: int
    reason: str | None = None
    leading_zeros: bool = True
    empty: bool = False

    @cached_property
    def pattern(self) -> str:
        """The text shape, as the document states it (not anchored)."""
        found = integers(self.low, self.high, leading_zeros=self.leading_zeros)
        return f"(?:{found})?" if self.empty else found

    @cached_property
    def _text(self) -> re.Pattern[str]:
        if self.reason is None and self.leading_zeros:
            return _SIGNED  # out of bounds: refused by the bounds, in pydantic's words
        return re.compile(integers(self.low, self.high, leading_zeros=self.leading_zeros))

    def read(self, value: Any) -> Any:
        if self.empty and (value is None or value == ""):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and self._text.fullmatch(value):
            return int(value)
        if self.reason is not None and (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not self.low <= value <= self.high
        ):
            raise refusal(self.reason)
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        bounded: core_schema.CoreSchema = core_schema.int_schema(ge=self.low, le=self.high)
        if self.empty:
            bounded = core_schema.nullable_schema(bounded)
        return core_schema.no_info_before_validator_function(self.read, bounded)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        text = {"type": "string", "pattern": anchored(self.pattern)}
        found = handler(schema)
        if not self.empty:
            return {"anyOf": [found, text]}
        number, *rest = found["anyOf"]  # the integer, then null
        return {"anyOf": [number, text, *rest]}
