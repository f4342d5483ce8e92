"""Schemathesis against a real ``coprd serve``: the served OpenAPI document and the server
agree (issue 12, "The API's own description is part of the contract").

Every check schemathesis has is on, anonymously and with an API token in Basic auth as
the copr clients send it; the stateful phase follows the document's links (project add →
project get/edit, package add → package get, build create → build get/cancel) and must
create a project, a package and a build. The runs are bounded by examples and time, so
the whole test stays within about three minutes on two cores.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from coprd.api_v3.links import LINKS
from tests.integration.conftest import BIN, Server, start_server, stop_server

pytestmark = pytest.mark.integration

# Checks switched off, each with its reason; everything else schemathesis has is on.
DISABLED_EVERYWHERE: dict[str, str] = {}
# Paths that also serve a method older python-copr releases send (POST for PUT and DELETE,
# PUT for a fork): served for them, not advertised (tests/api_v3/test_project_repos.py).
_OLD_METHODS = (
    "^/api_3/(project/(edit|delete|regenerate-repos|fork)/|build/delete/|package/(reset|delete)$"
    "|project-chroot/edit/)"
)
# (check, path regex, reason): checks switched off for some operations only.
DISABLED_FOR: list[tuple[str, str, str]] = [
    ("unsupported_method", _OLD_METHODS, "the undocumented method is served for old clients"),
    ("allow_header_conformance", _OLD_METHODS, "Allow names the method served for old clients"),
    # Every rule of a request's shape is in the document; these requests are also held to
    # what is stored (the project's chroots, its builds, a build's state): a schema-valid
    # request can still be refused by the data.
    (
        "positive_data_acceptance",
        r"^/api/coprs/\{username\}/\{projectname\}/new_build(_upload)?$",
        "the chroots a build selects must be enabled in the project (400 otherwise, as "
        "Copr): the document lists every active chroot, the project enables some of them: "
        "data; and the upload must be an SRPM, a rule on a file part's content",
    ),
    (
        "positive_data_acceptance",
        r"^/api_2/builds(/\{build_id\})?$",
        "a build's chroots must be enabled in its project (data, as above), its upload must "
        "be an SRPM (a file part's content), and a pending build cannot be deleted nor an "
        "ended one canceled (400, as Copr's APIv2): the build's state",
    ),
    (
        "positive_data_acceptance",
        "^/api_3/project/fork/",
        "forking into an existing project needs confirm (400, as on Copr), and a project "
        "is not its own fork: whether the destination exists is data",
    ),
    (
        "positive_data_acceptance",
        "^/api_3/package/edit/",
        "which source fields an edit must give depends on the stored package: none of a "
        "source of the same type (the stored ones stay), those the type needs otherwise: data",
    ),
    (
        "positive_data_acceptance",
        "^/api_3/(build/(create/(url|scm|pypi|rubygems|custom|distgit)$|resubmit/)|package/build$)",
        "a build's chroots must be enabled in its project, and after_build_id and "
        "with_build_id must name a build of the same project (400 otherwise, as Copr): data",
    ),
    (
        "negative_data_rejection",
        "^/api_2/(build_tasks|builds)$",
        "as upstream's APIv2, project_id (and build_id) win over owner, which is then not "
        "read at all: a wrong owner beside them is not refused",
    ),
    (
        "positive_data_acceptance",
        "^/api_3/build/(delete/|cancel/)",
        "a pending build cannot be deleted (400) nor an ended one canceled (409), as Copr "
        "answers: the build's state, not the request's shape",
    ),
    (
        "positive_data_acceptance",
        "^/api_3/build/check-before-build$",
        "the chroots must be enabled in the named project (400 otherwise, as Copr): the "
        "document lists every active chroot, the project enables some of them: data",
    ),
    (
        "positive_data_acceptance",
        "^/api_3/build/create/(upload|rpm-upload)$",
        "the uploaded file's name must end in .src.rpm, .nosrc.rpm or .spec (.rpm): a rule on "
        "the multipart part's filename, which OpenAPI cannot state",
    ),
    (
        "positive_data_acceptance",
        "^/api_3/project/permissions/(set|request)/",
        "the body names users and the request depends on who asks (an owner asking for "
        "rights is refused): data, not the schema",
    ),
]
SEED = 20261204


def _config(path: Path, login: str | None, token: str | None) -> Path:
    lines = [
        "[checks]",
        "enabled = true",
        *(f"{check}.enabled = false" for check in DISABLED_EVERYWHERE),
        # A body refused as too large (413) is rejected too.
        'negative_data_rejection.expected-statuses = ["400", "401", "403", "404", '
        '"405", "406", "409", "413", "415", "422", "428", "429"]',
        "[generation]",
        "max-examples = 8",
        "[phases.stateful]",
        "max-steps = 40",
        # The stateful phase of schemathesis 4.32.5 reports requests it made from the schema
        # as "schema-violating" when accepted (ST201 "Invalid component: positive test
        # case"); negative_data_rejection stays on in the examples, coverage and fuzzing.
        "checks.negative_data_rejection.enabled = false",
    ]
    if login and token:
        lines[0:0] = [f'[auth]\nbasic = {{ username = "{login}", password = "{token}" }}']
        # Alice acts on her own projects, so that what the links lead to exists.
        lines += ["[parameters]", 'ownername = "alice"']
        # Renewing the token the run authenticates with ends its authentication: every
        # later request would be anonymous. The anonymous run covers the operation.
        lines += ["[[operations]]", 'include-path = "/api_3/api-token"', "enabled = false"]
    for check, regex, _reason in DISABLED_FOR:
        lines += [
            "[[operations]]",
            f"include-path-regex = {json.dumps(regex)}",
            f"checks.{check}.enabled = false",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _schemathesis(server: Server, config: Path, phases: str, max_time: int, *only: str) -> str:
    """Run the fuzzer; ``only``: CLI filters of the operations it tests (all by default)."""
    done = subprocess.run(
        [
            str(BIN / "st"),
            "--config-file",
            str(config),
            "run",
            f"{server.url}/api_3/openapi.json",
            "--phases",
            phases,
            "--max-time",
            str(max_time),
            "--seed",
            str(SEED),
            # One worker: on Python 3.11, hypothesis's ast.parse of its own lambdas in two
            # threads at once fails ("AST constructor recursion depth mismatch").
            "--workers",
            "1",
            "--no-color",
            *only,
        ],
        capture_output=True,
        text=True,
        timeout=max_time + 120,
        env={**server.env, "SCHEMATHESIS_HOOKS": ""},
        cwd=config.parent,  # its cache (.schemathesis/) stays out of the source tree
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The fuzzer sends wrong credentials on purpose (ignored_auth, negative headers); counted
    # as failed authentications they would soon throttle its own valid token (429).
    limits = {
        "COPRD_AUTH_FAILURES_PER_ACCOUNT": "1000000",
        "COPRD_AUTH_FAILURES_PER_ADDRESS": "1000000",
    }
    server = start_server(tmp_path_factory.mktemp("fuzz"), env=limits)
    yield server
    stop_server(server)


def _linked_paths() -> set[str]:
    """The paths of the operations the document's links lead from or to."""
    paths = {path for path, _method in LINKS}
    for links in LINKS.values():
        for link in links.values():
            pointer = link["operationRef"].removeprefix("#/paths/").rsplit("/", 1)[0]
            paths.add(pointer.replace("~1", "/").replace("~0", "~"))
    return paths


def _token(server: Server) -> tuple[str, str]:
    config = server.add_user("alice").read_text()
    fields = dict(line.split(" = ", 1) for line in config.splitlines() if " = " in line)
    return fields["login"], fields["token"]


def _created(log: list[str], operation: str) -> int:
    """How many requests to ``operation`` succeeded in these lines of the server's access
    log (the fuzzer deletes what it made, so the log counts them, not the tables)."""
    return sum(f'"POST {operation}' in line and '" 200' in line for line in log)


def test_the_server_answers_as_its_document_says(fuzzed: Server, tmp_path: Path) -> None:
    login, token = _token(fuzzed)
    anonymous = _config(tmp_path / "anonymous.toml", None, None)
    _schemathesis(fuzzed, anonymous, "examples,coverage,fuzzing", 50)
    authenticated = _config(tmp_path / "authenticated.toml", login, token)
    _schemathesis(fuzzed, authenticated, "examples,coverage,fuzzing", 75)
    # The stateful phase runs on its own, with its own time: a slow machine cannot spend
    # its budget on the other phases, and only its requests are counted below (the
    # other phases create projects too).
    # It walks the operations the document's links join (the others are covered above, and
    # the links schemathesis would infer between them spend its steps on dead ends).
    before = len(fuzzed.server_log().splitlines())
    linked = "|".join(re.escape(path) + "$" for path in _linked_paths())
    _schemathesis(fuzzed, authenticated, "stateful", 30, "--include-path-regex", f"^({linked})")
    stateful = fuzzed.server_log().splitlines()[before:]
    # The stateful phase got as far as the links lead.
    assert _created(stateful, "/api_3/project/add/alice") >= 1
    assert _created(stateful, "/api_3/package/add/alice/") >= 1
    assert _created(stateful, "/api_3/build/create/url") >= 1
