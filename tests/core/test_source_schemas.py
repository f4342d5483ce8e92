"""The bodies that carry a source (build/create/<type>, package/add/…/<type>,
package/edit/…/<type>) are documented exactly as the server checks them: a body is valid
by the served document's schema if and only if the server takes it, value by value, for
every source field and every package setting (issue 12, item 18).

The document is read as schemathesis reads it: with jsonschema_rs, whose patterns end
where the string ends (Python's ``$`` would also match before a final newline)."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from coprd.api_v3.builds import SOURCE_BODIES, BuildTarget
from coprd.api_v3.packages import ADD_BODIES, EDIT_BODIES
from coprd.config import Settings
from coprd.core.builds import BuildOptions
from coprd.core.errors import InvalidInput
from coprd.core.packages import PackageFields, _merged, _source_input
from coprd.core.sources import SOURCE_TYPES, SourceSettings, check_source

# The least each type needs, beside the field a case changes.
NEEDED: dict[str, dict[str, Any]] = {
    "scm": {"clone_url": "https://git.example.org/hello.git"},
    "pypi": {"pypi_package_name": "hello"},
    "rubygems": {"gem_name": "hello"},
    "custom": {"script": "#!/bin/sh\n"},
    "distgit": {"package_name": "hello"},
}
# Fields checked elsewhere (the project's names, the build options): not this test's.
_NOT_SOURCE = set(BuildTarget.model_fields) | set(BuildOptions.model_fields)
TRICKY_TEXT = [
    "",
    "x",
    "X_1+",
    "x\n",
    "\nx",
    " x",
    "x ",
    "-x",
    "..",
    "a..b",
    "../x",
    "x/../y",
    "/x/",
    "a//b",
    "x/y",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: a digit to str.isdigit, not to [0-9]
    "x\u0663",
    "\u00e9",
    "a b",
    "a  b",
    " a b ",
    "a\tb",
    "a\nb",
    "\x00",
    "x\x00",
    "{x}",
    "^x",
    "~1",
    "@",
    "v1.0",
    "3",
    "2",
    "4",
    "0",
    "010",
    "100000",
    "100001",
    "108000",
    "108001",
    "1e3",
    "+5",
    "hello.spec",
    "x/hello.spec",
    "/hello.spec/",
    ".spec",
    "hello.spec ",
    "https://git.example.org/a.git",
    "http://x.org/a",
    "git://x.org/a",
    "copr://alice/demo",
    "https://",
    "file:///etc",
    "/srv/git/x",
    "ssh://x.org/a",
    "https://x.org/a b",
    "https://x.org/a https://y.org/b",
    "https://x.org/a\n",
    "fedora",
    "centos",
    "git",
    "svn",
    "cvs",
    "rpkg",
    "tito_test",
    "pyp2rpm",
    "epel7",
    "fedora-rawhide-x86_64",
    "Fedora-x",
    "fedora-*",
    "fedora-*,epel-*",
    "fedora-*, epel-*",
    ",",
    "x" * 101,
    "x" * 201,
    "x" * 256,
    "a/" * 600,
    "#!/bin/sh\n",
    "   ",
    "\u00a0",
    "\x1c",
]
TRICKY_OTHER: list[Any] = [
    None,
    0,
    1,
    2,
    3,
    3.0,
    2.5,
    -1,
    True,
    False,
    100000,
    100001,
    108001,
    [],
    ["x"],
    ["x y"],
    ["x "],
    [""],
    ["git", "make"],
    [3, 2],
    ["3", "2"],
    [4],
    ["4"],
    [True],
    [None],
    [3.0],
    ["https://x.org/a"],
    ["file:///x"],
    ["fedora-*"],
    {"a": 1},
    ["x"] * 201,
]
TRICKY = TRICKY_TEXT + TRICKY_OTHER


def _accepted(verb: str, source_type: str, body: dict[str, Any], settings: SourceSettings) -> bool:
    """Whether the route takes ``body``, as the route checks it: its body model (FastAPI),
    then the source's check; an edit, of a package of this type whose stored source has
    what the type needs (what is stored changes what is required, not what a given field
    may be)."""
    model: type[BaseModel] = {"build": SOURCE_BODIES, "add": ADD_BODIES, "edit": EDIT_BODIES}[verb][
        source_type
    ]
    try:
        checked = model.model_validate(body)
        if verb == "build":
            stored = check_source(source_type, checked.model_dump(), settings)
        elif verb == "add":
            given = checked.model_dump(exclude_none=True)
            stored = check_source(source_type, _source_input("hello", given), settings)
        else:
            before = check_source(source_type, NEEDED[source_type], settings)
            given = _source_input("hello", checked.model_dump(exclude_none=True))
            stored = check_source(source_type, _merged(before, given), settings)
    except (ValidationError, InvalidInput):
        return False
    # What is stored is taken again as it is: package edit and rebuilds check it again.
    assert check_source(source_type, stored, settings) == stored
    return True


def _base(verb: str, source_type: str) -> dict[str, Any]:
    if verb == "edit":
        return {}
    if verb == "add":
        return {k: v for k, v in NEEDED[source_type].items() if k != "package_name"}
    return {"ownername": "alice", "projectname": "demo", **NEEDED[source_type]}


_BODY_NAME = {"build": "Build{}In", "add": "PackageAdd{}In", "edit": "PackageEdit{}In"}
CASES = [(verb, kind) for verb in ("build", "add", "edit") for kind in SOURCE_TYPES]


def _validator(client: TestClient, verb: str, source_type: str) -> tuple[Any, list[str]]:
    document = client.get("/api_3/openapi.json").json()
    name = _BODY_NAME[verb].format(source_type.capitalize())
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    fields = [
        field
        for field in document["components"]["schemas"][name]["properties"]
        if field not in _NOT_SOURCE
    ]
    return jsonschema_rs.validator_for(schema), fields


def _disagreements(
    validator: Any,
    verb: str,
    source_type: str,
    cases: list[tuple[str, Any]],
    settings: SourceSettings,
) -> list[tuple[str, Any, bool, bool]]:
    found = []
    for field, value in cases:
        body = {**_base(verb, source_type), field: value}
        documented = validator.is_valid(body)
        served = _accepted(verb, source_type, body, settings)
        if documented != served:
            found.append((field, value, documented, served))
    return found


@pytest.mark.parametrize(("verb", "source_type"), CASES)
def test_the_documented_body_is_the_checked_body(
    client: TestClient, settings: Settings, verb: str, source_type: str
) -> None:
    validator, fields = _validator(client, verb, source_type)
    sources = SourceSettings.of(settings)
    assert validator.is_valid(_base(verb, source_type))
    assert _accepted(verb, source_type, _base(verb, source_type), sources)
    cases = [(field, value) for field in fields for value in TRICKY]
    assert _disagreements(validator, verb, source_type, cases, sources) == []
    # Without a field the type needs: refused by both.
    for needed in NEEDED[source_type] if verb == "build" else ():
        body = {k: v for k, v in _base(verb, source_type).items() if k != needed}
        assert not validator.is_valid(body)
        assert not _accepted(verb, source_type, body, sources)


# Characters the rules treat differently, and prefixes that get past the first of them.
_ALPHABET = st.sampled_from("aZ09._-+/:@{}^~!$&'()*,;=%?#[] \t\n\r\x00\x0b\u00e9\u0663\u2003")
_TEXT = st.one_of(
    st.text(_ALPHABET, max_size=12),
    st.builds(
        str.__add__,
        st.sampled_from(["https://", "copr://", "git://", "x/", "/", "a ", "3", "1"]),
        st.text(_ALPHABET, max_size=12),
    ),
)
_VALUE = st.one_of(_TEXT, st.lists(_TEXT, max_size=3), st.integers(-2, 200_000))


@pytest.mark.parametrize(("verb", "source_type"), CASES)
def test_drawn_values_agree_too(
    client: TestClient, settings: Settings, verb: str, source_type: str
) -> None:
    validator, fields = _validator(client, verb, source_type)
    sources = SourceSettings.of(settings)

    @hypothesis_settings(
        max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(st.sampled_from(fields), _VALUE)
    def agree(field: str, value: Any) -> None:
        assert _disagreements(validator, verb, source_type, [(field, value)], sources) == []

    agree()


def test_package_settings_are_documented_as_checked(client: TestClient) -> None:
    """PackageFields' own rules, in every package body: copr-cli's strings included."""
    validator, _ = _validator(client, "edit", "scm")
    for field in PackageFields.model_fields:
        for value in TRICKY:
            body = {field: value}
            try:
                PackageFields.model_validate(body)
                served = True
            except ValidationError:
                served = False
            assert validator.is_valid(body) == served, (field, value)
