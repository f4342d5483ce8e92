"""The document states the rules the server holds request bodies to, no more and no less
(issue 12, item 18): for values that tempt a schema and a check to differ (a control
character, "{", a trailing newline, Unicode whitespace, a URL of another scheme, a list
item with a space, digits of other scripts), a request the documented schema admits is
accepted and one it refuses is refused (400).

The schemas are read as schemathesis reads them, by jsonschema_rs: patterns are ECMA-262,
where ``$`` is the end of the string (Python's also matches before a last newline).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account

RAWHIDE = "fedora-rawhide-x86_64"
ARM = "fedora-rawhide-aarch64"
URL = "https://e.org/r"
SRPM = "https://e.org/hello-1-1.src.rpm"
COMPS = '<?xml version="1.0"?>\n<comps><group><id>core</id></group></comps>\n'

# Values for a text field: tab, LF and CR are text, other controls are not; DEL, NEL,
# the line separators and a BOM are characters like others.
TEXTS = [
    "plain",
    "tab\there",
    "two\nlines\r\n",
    "trailing newline\n",
    "bell\x07",
    "nul\x00",
    "vt\x0b",
    "unit separator\x1f",
    "del\x7f",
    "nel\x85",
    "line separator\u2028",
    "bom\ufeff",
    "{{ braces }}",
    "astral \U0001f600",
    "",
]
# Values for a word (a package, an option, a module, a forge project).
WORDS = ["gcc", "a b", "a,b", "m:1", "{{x}}", "a\x00", "tab\t", "del\x7f", "nbsp\xa0", "", "é"]
WORDS += ["\U0001f600", "bom\ufeff", "nel\x85"]
# Values for one repository URL.
REPOS = [
    URL,
    "copr://alice/other",
    "ftp://e.org/r",
    "http://",
    "file:///etc",
    "HTTPS://e.org/r",
    "https://e.org/a b",
    "https://e.org/r\n",
    "https://e.org/\xa0",
    "https://e.org/\x85",
    "https://e.org/\ufeff",
    "https://e.org/\x7f",
    "https://e.org/{{x}}",
    "https://e.org/a,b",
    "https://e.org/" + "x" * 2034,
    "https://e.org/" + "x" * 2035,
    "",
]
# Values for a list of repository URLs sent as one string.
REPO_STRINGS = [
    f"{URL} copr://a/b",
    f"{URL},copr://a/b",
    f" {URL} ,\n copr://a/b \t",
    f"{URL}\u2028copr://a/b",
    f"{URL}\x85copr://a/b",
    f"{URL}\x1ccopr://a/b",
    f"{URL}\ufeff",
    f"{URL} file:///etc",
    f"{URL} {{x}}",
    "",
    " , ",
    " ".join([URL] * 200),
    " ".join([URL] * 201),
    "https://e.org/" + "x" * 2035,
]
# Values for a whole number.
NUMBERS = [7, 7.0, 7.5, "7", "-1", "-0", "07", " 7", "7\n", "+7", "7_0", "\u0667", "\uff17"]
NUMBERS += [True, None, 0, 99, 100, "100", 3650, 3651, "3651", -1, -2, "-2", 1e300]


class Agreement:
    """Sends requests and checks that the documented schema and the server agree."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers
        self.document: dict[str, Any] = client.get("/api_3/openapi.json").json()
        self.disagreements: list[str] = []
        self.names = (f"p{n}" for n in itertools.count())

    def schema(self, path: str, method: str, content_type: str) -> jsonschema_rs.Validator:
        body = self.document["paths"][path][method]["requestBody"]["content"][content_type]
        root = {**body["schema"], "components": self.document["components"]}
        return jsonschema_rs.validator_for(root)

    def check(self, valid: bool, r: httpx.Response, what: object) -> None:
        """``r`` answered a request the schema admits (``valid``) or refuses."""
        # What the request names may not exist or conflict (404, 409): that is not its shape.
        accepted = r.status_code < 400 or r.status_code in (404, 409)
        if valid != accepted or not r.status_code < 500:
            shown = json.dumps(what, ensure_ascii=True)[:200]
            self.disagreements.append(f"{shown}: schema {valid}, {r.status_code} {r.text[:200]}")

    def json(self, method: str, path: str, template: str, bodies: Iterable[dict[str, Any]]) -> None:
        schema = self.schema(template, method.lower(), "application/json")
        for body in bodies:
            r = self.client.request(method, path, json=body, headers=self.headers)
            self.check(schema.is_valid(body), r, body)

    def form(self, path: str, template: str, bodies: Iterable[dict[str, str]]) -> None:
        content_type = "application/x-www-form-urlencoded"
        schema = self.schema(template, "post", content_type)
        for body in bodies:
            r = self.client.post(path, data=body, headers=self.headers)
            self.check(schema.is_valid(body), r, body)

    def assert_agreed(self) -> None:
        assert self.disagreements == []


@pytest.fixture
def agree(client: TestClient, alice: Account) -> Agreement:
    return Agreement(client, alice.headers)


def _fields(**values: list[Any]) -> list[dict[str, Any]]:
    return [{field: value} for field, options in values.items() for value in options]


def test_project_add(agree: Agreement) -> None:
    changes = _fields(
        description=[*TEXTS, "x" * 65536, "x" * 65537],
        homepage=[*TEXTS, "x" * 2048, "x" * 2049],
        bootstrap_image=TEXTS,
        additional_repos=[[repo] for repo in REPOS] + REPO_STRINGS + [[URL] * 201, None],
        runtime_dependencies=[[repo] for repo in REPOS[:8]] + REPO_STRINGS[:8],
        packit_forge_projects_allowed=[[w] for w in WORDS]
        + ["a b,c", "a\x01b", "github.com/a/*", ["http://[x"]],
        delete_after_days=NUMBERS,
        repo_priority=NUMBERS,
        chroots=[[], [RAWHIDE, RAWHIDE], ["fedora-0-x86_64"], "fedora-rawhide-x86_64"],
        enable_net=[True, None, "yes", "true", 1, 0],
        fedora_review=[False, None, True],
        appstream=[False, True],
        storage=["backend", None],
    )
    changes += [
        {"bootstrap": "image"},
        {"bootstrap": "image", "bootstrap_image": None},
        {"bootstrap": "image", "bootstrap_image": ""},
        {"bootstrap": "image", "bootstrap_image": "fedora:40"},
        {"bootstrap": "on", "bootstrap_image": "fedora:40"},
        {"bootstrap": "on", "bootstrap_image": ""},
        {"bootstrap_image": "fedora:40"},
        {"devel_mode": True, "disable_createrepo": False},
        {"devel_mode": True, "disable_createrepo": True},
        {"devel_mode": None, "disable_createrepo": False},
    ]
    template = "/api_3/project/add/{ownername}"
    bodies = [{"name": next(agree.names), "chroots": [RAWHIDE], **change} for change in changes]
    agree.json("POST", "/api_3/project/add/alice", template, bodies)
    agree.assert_agreed()


def test_project_edit(agree: Agreement) -> None:
    body = {"name": "demo", "chroots": [RAWHIDE], "bootstrap_image": "fedora:40"}
    assert agree.client.post("/api_3/project/add/alice", json=body, headers=agree.headers)
    changes = _fields(
        instructions=TEXTS,
        repos=[[repo] for repo in REPOS[:9]] + REPO_STRINGS,
        chroots=[[], [ARM], [RAWHIDE, ARM], ["fedora-0-x86_64"], None],
        delete_after_days=NUMBERS,
    )
    changes += [
        {"bootstrap": "image", "bootstrap_image": ""},
        {"bootstrap": "image"},
        {"bootstrap": "default", "bootstrap_image": ""},
    ]
    template = "/api_3/project/edit/{ownername}/{projectname}"
    agree.json("PUT", "/api_3/project/edit/alice/demo", template, changes)
    agree.assert_agreed()


def test_project_chroot_edit(agree: Agreement) -> None:
    body = {"name": "demo", "chroots": [RAWHIDE]}
    assert agree.client.post("/api_3/project/add/alice", json=body, headers=agree.headers)
    path = f"/api_3/project-chroot/edit/alice/demo/{RAWHIDE}"
    template = "/api_3/project-chroot/edit/{ownername}/{projectname}/{chrootname}"
    changes = _fields(
        additional_packages=[[w] for w in WORDS] + ["gcc make", "gcc,make\n", "a{b c", ""],
        additional_modules=["m:1, !n:2", "m:1 n:2", ["m:1 n:2"], "m{1", "m:1\x00"],
        with_opts=["x\ty", ["x\ty"], "x\u3000y"],
        additional_repos=REPO_STRINGS[:10],
        timeout=[30, "30", 30.0, "\u0663\u0660", " 30", 108000, 108001, -1, False],
        reset_fields=[["comps"], ["nope"], ["bootstrap_image"] * 11, ["timeout"] * 12],
    )
    changes += [
        {"bootstrap": "custom_image", "bootstrap_image": "fedora:40"},
        {"bootstrap": "image", "bootstrap_image": ""},
        {"bootstrap": "image", "reset_fields": ["bootstrap_image"]},
        {"bootstrap": "image", "reset_fields": ["bootstrap_image"], "bootstrap_image": "f:1"},
        {"bootstrap": "on", "bootstrap_image": "fedora:40"},
        {"bootstrap": "on", "bootstrap_image": ""},
    ]
    agree.json("PUT", path, template, changes)
    schema = agree.schema(template, "put", "multipart/form-data")
    for comps in [COMPS, "  \n<comps/>", "<x/><comps>", "<x/>", "<COMPS/>", "\ufeff<comps/>", ""]:
        form = {"json": {"with_opts": "x"}, "upload_comps": comps}
        files = {"json": ("json", json.dumps(form["json"]).encode(), "application/json")}
        sent = {"upload_comps": comps}
        r = agree.client.put(path, data=sent, files=files, headers=agree.headers)
        agree.check(schema.is_valid(form), r, form)
    agree.assert_agreed()


def test_legacy_forms(agree: Agreement) -> None:
    fields = _fields(
        description=TEXTS,
        contact=TEXTS,
        repos=REPO_STRINGS,
        initial_pkgs=["", SRPM, f" {SRPM}\n{SRPM} ", "file:///x.src.rpm", f"{SRPM}\x85"],
        unlisted_on_hp=["y", " Y ", "yes\n", "\u2028on", "", "maybe", "y\x00"],
        isolation=["simple", "Simple", ""],
    )
    fields += [{ARM: ""}, {ARM: "y"}, {"fedora-1-vax": ""}, {"fedora-1-vax": "y"}]
    bodies = [{"name": next(agree.names), RAWHIDE: "y", **field} for field in fields]
    bodies += [{"name": next(agree.names), RAWHIDE: "n"}, {"name": next(agree.names)}]
    agree.form("/api/coprs/alice/new", "/api/coprs/{username}/new", bodies)

    assert agree.client.post("/api/coprs/alice/demo/delete", data={"verify": "yes"})
    body = {"name": "demo", RAWHIDE: "y", ARM: "y"}
    assert agree.client.post("/api/coprs/alice/new", data=body, headers=agree.headers)
    modify = "/api/coprs/{username}/{projectname}/modify"
    chroots = [RAWHIDE, f" {RAWHIDE}\n{ARM}\t", "", f"{RAWHIDE},{ARM}", "fedora-0-x86_64"]
    agree.form("/api/coprs/alice/demo/modify", modify, _fields(chroots=chroots))

    new_build = "/api/coprs/{username}/{projectname}/new_build"
    numbers = ["", "0", "3600", "0003600", "108001", "-1", " 5", "\u0663", "1" * 19, "1.0"]
    builds = _fields(timeout=numbers, memory_reqs=["63", "64", "0064", "2048", "\uff16\uff14"])
    builds += _fields(pkgs=["", SRPM, f"{SRPM} file:///x", f"{SRPM}\u3000{SRPM}"])
    builds = [{"pkgs": SRPM, **build} for build in builds]
    agree.form("/api/coprs/alice/demo/new_build", new_build, builds)

    chroot = "/api/coprs/{username}/{projectname}/modify/{chrootname}"
    packages = ["gcc make", "", "a{b", "a\x00b", "gcc\u2028make"]
    changes = _fields(buildroot_pkgs=packages, repos=REPO_STRINGS[:9])
    agree.form(f"/api/coprs/alice/demo/modify/{RAWHIDE}", chroot, changes)
    agree.assert_agreed()


def test_apiv2_bodies(agree: Agreement) -> None:
    def project(name: str, **fields: Any) -> dict[str, Any]:
        return {"id": None, "name": name, "owner": "alice", "chroots": [RAWHIDE], **fields}

    changes = _fields(
        description=TEXTS,
        homepage=TEXTS[:6],
        repos=[[repo] for repo in REPOS] + [f"{URL} {URL}"],
        owner=["alice", "", None, "@nope"],
        chroots=[[], [RAWHIDE, ARM], ["fedora-0-x86_64"]],
        disable_createrepo=[True, "true", 1],
    )
    bodies = [project(next(agree.names), **change) for change in changes]
    agree.json("POST", "/api_2/projects", "/api_2/projects", bodies)

    created = agree.client.post("/api_2/projects", json=project("demo"), headers=agree.headers)
    project_id = created.json()["project"]["id"]
    base = f"/api_2/projects/{project_id}/chroots"
    comps = [None, "", COMPS, "<x/>", "\n\n<comps/>", "no markup"]
    chroot_changes = _fields(buildroot_pkgs=[[w] for w in WORDS] + ["gcc make"], comps=comps)
    template = "/api_2/projects/{project_id}/chroots/{name}"
    agree.json("PUT", f"{base}/{RAWHIDE}", template, chroot_changes)

    build = {"project_id": project_id, "srpm_url": SRPM, "chroots": [], "enable_net": False}
    states = ["canceled", "cancelled", "Canceled", "canceled\n", "failed"]
    for state in states:
        made = agree.client.post("/api_2/builds", json=build, headers=agree.headers)
        assert made.status_code == 201, made.text
        path = f"/api_2/builds/{made.json()['build']['id']}"
        agree.json("PUT", path, "/api_2/builds/{build_id}", [{"state": state}])
    agree.assert_agreed()
