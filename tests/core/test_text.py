"""The rules of coprd/core/text.py read alike as Python's ``re`` (the server's checks) and as
ECMA-262 (the documents' patterns, as jsonschema_rs reads them: what schemathesis checks
answers with)."""

from __future__ import annotations

import random
import re
import sys

import jsonschema_rs
import pytest

from coprd.core.text import SPACES, Integer, Split, anchored, integers, split_schema

_SPACE_CLASS = re.compile(f"[{SPACES}]")
# Characters the two readings of \s (and str.strip, str.split) disagree on, and others
# that tempt a pattern: controls, DEL, a BOM, an NBSP, the line separators, astral ones.
TRICKY = [
    *(chr(c) for c in range(0x21)),
    "\x7f",
    "\x85",
    "\xa0",
    "\u1680",
    "\u2007",
    "\u2028",
    "\u202f",
    "\u3000",
    "\ufeff",
    "{",
    ",",
    "é",
    "\U0001f600",
    "\u0663",  # ARABIC-INDIC DIGIT THREE
    "\uff13",  # FULLWIDTH DIGIT THREE
    "\u00b3",  # SUPERSCRIPT THREE
]


def _ecma(schema: dict[str, object]) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(schema)


def test_spaces_are_what_python_strips_and_splits_on() -> None:
    differ = [
        hex(c)
        for c in range(sys.maxunicode + 1)
        if chr(c).isspace() != bool(_SPACE_CLASS.fullmatch(chr(c)))
    ]
    assert differ == []
    # And the document's reading of the class is the same.
    schema = _ecma({"type": "string", "pattern": f"^[{SPACES}]$"})
    assert [ch for ch in TRICKY if schema.is_valid(ch) != ch.isspace()] == []


def test_an_anchored_pattern_ends_at_the_end() -> None:
    """Python's ``$`` also matches before a last newline; the documents' does not, and the
    server matches whole (``fullmatch``)."""
    schema = _ecma({"type": "string", "pattern": anchored("[a-z]+")})
    assert schema.is_valid("abc")
    assert not schema.is_valid("abc\n")
    assert not re.fullmatch("[a-z]+", "abc\n")


@pytest.mark.parametrize(("low", "high"), [(0, 108000), (-1, 3650), (1, 99), (64, 10**18 - 1)])
def test_integers_as_text_are_the_numbers_in_range(low: int, high: int) -> None:
    integer = Integer(low, high)
    pattern = re.compile(integers(low, high))
    schema = _ecma({"type": "string", "pattern": anchored(integers(low, high))})
    rng = random.Random(low ^ high)
    samples = [str(n) for n in range(-3, 200)] + [
        str(rng.randrange(-(10**19), 10**19)) for _ in range(2000)
    ]
    samples += ["00", "007", "-0", "-01", "+1", " 1", "1 ", "1_0", "1.0", "", "-", "٣", "³"]
    samples += [str(high), str(high + 1), str(low), str(low - 1), "0" * 30 + str(high)]
    for text in samples:
        value = integer.read(text)
        number = value if isinstance(value, int) else None
        expected = number is not None and low <= number <= high
        assert bool(pattern.fullmatch(text)) == expected, text
        assert schema.is_valid(text) == expected, text


def _random_text(rng: random.Random, alphabet: list[str]) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))


@pytest.mark.parametrize("separators", [SPACES, SPACES + ","])
def test_a_split_string_is_documented_as_the_server_splits_it(separators: str) -> None:
    """The string shape's pattern admits a string exactly when the split gives 1 to 3
    items, each a word of letters or ``{``-free printable characters, at most 4 long."""
    token = f"[^{separators}\\x00-\\x1f\\x7f{{]+"
    split = Split(token, separators, max_items=3, max_token=4)
    schema = _ecma(split_schema(token, separators, max_items=3, min_items=1, max_token=4))
    item = re.compile("[^\\x00-\\x1f\\x7f{]{1,4}")
    rng = random.Random(7)
    alphabet = [*TRICKY, "a", "b", "a", "b", " "]
    for _ in range(5000):
        text = _random_text(rng, alphabet)
        items = split.split(text)
        expected = 1 <= len(items) <= 3 and all(item.fullmatch(word) for word in items)
        assert schema.is_valid(text) == expected, repr(text)
