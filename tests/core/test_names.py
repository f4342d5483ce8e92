"""How ids and counts are read from text: ASCII digits, nothing else."""

from __future__ import annotations

import pytest

from coprd.core.names import parse_digits


@pytest.mark.parametrize(
    ("text", "number"), [("0", 0), ("7", 7), ("0012", 12), ("9" * 18, int("9" * 18))]
)
def test_ascii_digits_are_a_number(text: str, number: int) -> None:
    assert parse_digits(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        " 1",
        "1 ",
        "+1",
        "-1",
        "1_000",
        "1.0",
        "\u00b9",  # superscript one: isdigit() but int() fails
        "\u0661\u0662",  # Arabic-Indic 12: int() reads 12
        "\uff11",  # fullwidth 1
        "\u09e7",  # Bengali 1
        "9" * 19,
    ],
)
def test_anything_else_is_not(text: str) -> None:
    assert parse_digits(text) is None


def test_a_caller_bounds_the_length() -> None:
    assert parse_digits("1234567890", max_digits=9) is None
    assert parse_digits("123456789", max_digits=9) == 123456789
