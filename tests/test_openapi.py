"""The OpenAPI document is valid and says what the server answers (coprd/openapi.py)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from coprd.http import parse_bool
from tests.conftest import Account


def _document(client: TestClient) -> dict[str, Any]:
    found: dict[str, Any] = client.get("/api_3/openapi.json").json()
    return found


def test_the_document_is_valid_openapi(client: TestClient) -> None:
    document = _document(client)
    validate(document)  # raises on the first error, with its place in the document
    assert document["components"]["schemas"]["ProjectChrootEditIn"]["properties"]


def test_webhooks_with_a_package_declare_it(client: TestClient) -> None:
    paths = _document(client)["paths"]
    for forge in ("github", "gitlab", "bitbucket", "pagure", "forgejo", "custom"):
        operation = paths[f"/webhooks/{forge}/{{project_id}}/{{secret}}/{{package}}/"]["post"]
        declared = [(p["name"], p["in"]) for p in operation["parameters"]]
        assert declared.count(("package", "path")) == 1, (forge, declared)


def test_no_operation_documents_fastapis_422(client: TestClient) -> None:
    document = _document(client)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_refusals_are_documented_in_each_dialects_envelope(
    client: TestClient, alice: Account
) -> None:
    paths = _document(client)["paths"]
    envelopes = {
        ("/api_3/project/add/{ownername}", "post"): {"error"},
        ("/api_2/projects", "post"): {"message"},
        ("/api/coprs/{username}/new", "post"): {"output", "error"},
    }
    for (path, method), fields in envelopes.items():
        responses = paths[path][method]["responses"]
        assert {"400", "401", "403", "409"} <= set(responses), path
        for status in ("400", "401", "403"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert set(schema["properties"]) == fields, (path, status)
        assert "WWW-Authenticate" in responses["401"]["headers"]
    # And what is documented is what is sent.
    r = client.post("/api_3/project/add/alice", json={"name": "x"})
    assert r.status_code == 401 and set(r.json()) == {"error"}
    r = client.post("/api_3/project/add/bob", json={"name": "x"}, headers=alice.headers)
    assert r.status_code in (400, 403, 404) and set(r.json()) == {"error"}


def test_names_and_bounds_are_the_servers(client: TestClient) -> None:
    paths = _document(client)["paths"]
    add = paths["/api_3/project/add/{ownername}"]["post"]
    owner = next(p for p in add["parameters"] if p["name"] == "ownername")["schema"]
    assert owner["pattern"].startswith("^@?") and owner["maxLength"] == 101
    listed = paths["/api_3/project/list"]["get"]["parameters"]
    limit = next(p for p in listed if p["name"] == "limit")["schema"]["anyOf"][0]
    assert limit == {"type": "integer", "minimum": 0, "maximum": 10_000}
    # The bound documented is the bound enforced.
    assert client.get("/api_3/project/list?limit=10000").status_code == 200
    assert client.get("/api_3/project/list?limit=10001").status_code == 400


def test_words_under_build_are_not_build_ids(client: TestClient) -> None:
    """GET /api_3/build/check-before-build was read as build "check-before-build" (400);
    the path serves POST only, as the document says."""
    r = client.get("/api_3/build/check-before-build")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert client.get("/api_3/build/12345").status_code == 404


def test_chroot_names_are_the_active_chroots(client: TestClient) -> None:
    document = _document(client)
    listed = client.get("/api_2/mock_chroots?active_only=True").json()["chroots"]
    active = [c["chroot"]["name"] for c in listed]
    chroots = document["components"]["schemas"]["ProjectAddIn"]["properties"]["chroots"]
    items = next(s for s in chroots.get("anyOf", [chroots]) if s.get("type") == "array")["items"]
    assert sorted(items["enum"]) == sorted(active) and active


def test_the_monitors_additional_fields_are_named(client: TestClient) -> None:
    """What ``additional_fields[]`` takes is in the document (the fuzzer sent other words
    and was refused with 400, as the server must)."""
    document = client.get("/api_3/openapi.json").json()
    parameters = document["paths"]["/api_3/monitor"]["get"]["parameters"]
    (fields,) = [p for p in parameters if p["name"] == "additional_fields[]"]
    schema = fields["schema"]
    assert schema["items"]["enum"] == ["url_build_log", "url_backend_log", "url_build"]


def test_a_repo_files_404_is_documented_as_text(client: TestClient) -> None:
    """dnf's "Chroot not found" 404 is text (the fuzzer found it undocumented)."""
    document = client.get("/api_3/openapi.json").json()
    for path in ("/coprs/{owner}/{project}/repo/{release}/",):
        content = document["paths"][path]["get"]["responses"]["404"]["content"]
        assert "text/plain" in content


def test_legacy_forms_admit_what_the_last_legacy_clients_send(client: TestClient) -> None:
    """python-copr 1.x adds its own ``username`` to every form and sends an unchecked
    checkbox as an empty string; the server takes both (tests/api_legacy), so the
    document must too, or tools that check bodies against it refuse the real client's."""
    paths = _document(client)["paths"]
    sent = {
        "/api/coprs/{username}/{projectname}/new_build": {
            "pkgs": "https://example.com/hello-1.0-1.src.rpm",
            "memory_reqs": "",
            "timeout": "",
            "username": "alice",
            "background": "",
            "fedora-rawhide-x86_64": "y",
            "fedora-rawhide-aarch64": "",
        },
        "/api/coprs/{username}/new": {
            "name": "demo",
            "username": "alice",
            "unlisted_on_hp": "y",
            "build_enable_net": "",
            "persistent": "",
            "fedora-rawhide-x86_64": "y",
        },
        "/api/coprs/{username}/{projectname}/modify": {
            "username": "alice",
            "unlisted_on_hp": "",
            "auto_prune": "y",
            "chroots": "fedora-rawhide-x86_64",
        },
    }
    for path, body in sent.items():
        for content in paths[path]["post"]["requestBody"]["content"].values():
            Draft202012Validator(content["schema"]).validate(body)
    # What the document admits, the server reads: "" is an unchecked box.
    new_build = paths["/api/coprs/{username}/{projectname}/new_build"]["post"]
    schema = new_build["requestBody"]["content"]["multipart/form-data"]["schema"]
    for word in ("y", "Yes", "on", "1", "n", "FALSE", "off", "0", ""):
        Draft202012Validator(schema["properties"]["background"]).validate(word)
        assert parse_bool(word, "background") in (True, False)
    assert not Draft202012Validator(schema["properties"]["background"]).is_valid("maybe")


def test_order_type_is_documented_as_read(client: TestClient) -> None:
    """make_page reads ``order_type`` in any case; the document said ASC, DESC or empty."""
    parameters = _document(client)["paths"]["/api_3/build/list"]["get"]["parameters"]
    (order_type,) = [p for p in parameters if p["name"] == "order_type"]
    found = order_type["schema"]
    schema = next(s for s in found.get("anyOf", [found]) if s.get("type") == "string")
    for word in ("ASC", "desc", "Desc", ""):
        Draft202012Validator(schema).validate(word)
        r = client.get("/api_3/project/list", params={"order_type": word})
        assert r.status_code == 200, (word, r.text)
    assert not Draft202012Validator(schema).is_valid("up")
    assert client.get("/api_3/project/list", params={"order_type": "up"}).status_code == 400
