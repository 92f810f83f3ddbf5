"""The OpenAPI document (firmware/cameraserviced/ui/openapi.json): what the generator writes, valid
OpenAPI 3.1, complete against the endpoint list and the WebSocket catalogue, its examples valid
against its reply schemas, and what the daemon serves at GET /openapi.json."""

from __future__ import annotations

import difflib
import re

import pytest

from e2e_support import REPO_ROOT, load_endpoints

TABLE_RS = REPO_ROOT / "firmware" / "api" / "src" / "table.rs"
# Paths outside endpoints.txt: the update API and the plain paths.
EXTRA_PATHS = {"/update=install", "/update=status", "/update=reboot", "/storage/{path}", "/openapi.json", "/",
               "/ui/{file}"}


def test_committed_document_is_what_the_generator_writes(doc, generator):
    fresh = generator.render()
    if doc.text != fresh:
        diff = "".join(list(difflib.unified_diff(doc.text.splitlines(True), fresh.splitlines(True),
                                                 "committed", "generated", n=1))[:60])
        pytest.fail(f"{doc.path.name} is stale: run python3 tests/openapi/gen_openapi.py\n{diff}")


def test_readme_compatibility_table_is_current(generator):
    readme = generator.README.read_text(encoding="utf-8")
    want = generator.readme_with_table(readme)
    assert want is not None, "README.md lacks the compatibility table markers"
    assert want == readme, "README.md's compatibility table is stale: run python3 tests/openapi/gen_openapi.py"
    for e in generator.ENDPOINTS:  # every endpoint of the document has a row
        assert f"| `{e.key}`" in readme, e.key


def test_generator_is_deterministic(generator):
    assert generator.render() == generator.render()


def test_document_is_valid_openapi_3_1(doc):
    try:
        from openapi_spec_validator import validate
    except ImportError:  # openapi-spec-validator before 0.7
        from openapi_spec_validator import validate_spec as validate
    assert doc.doc["openapi"].startswith("3.1")
    validate(doc.doc)


def test_info(doc, generator):
    info = doc.doc["info"]
    assert info["title"] == "CameraService appliance API"
    assert info["version"] == generator.workspace_version()
    for words in ("/GROUP=ACTION", "/?GROUP=ACTION", "first JSON value", "clamped", "STRING", '`"0"`'):
        assert words in info["description"], words


def test_component_schemas_are_valid_json_schema(doc):
    from jsonschema import Draft202012Validator

    for name, schema in doc.doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)


def test_every_listed_endpoint_has_a_path(doc):
    listed = load_endpoints()
    paths = set(doc.doc["paths"])
    missing = [e for e in listed if "/" + e.replace("*", "{action}") not in paths]
    assert not missing, f"endpoints.txt lists endpoints the document lacks: {missing}"
    expected = {"/" + e.replace("*", "{action}") for e in listed} | EXTRA_PATHS
    extra = sorted(paths - expected)
    assert not extra, f"paths neither in endpoints.txt nor known extras: {extra}"


def test_every_endpoint_path_has_get_and_post_and_a_reply_example(doc):
    for path, item in doc.doc["paths"].items():
        methods = [m for m in ("get", "post") if m in item]
        if path in EXTRA_PATHS:
            assert methods, path
        else:
            assert methods == ["get", "post"], path
        for m in methods:
            replies = [doc.resolve(r) for r in item[m]["responses"].values()]
            assert any(media.get("examples") for r in replies for media in r.get("content", {}).values()), \
                f"{path} {m}: no reply example"


def _media_with_examples(doc):
    """(where, schema, examples) of every media type object that has both."""
    seen = set()

    def visit(node, where):
        node = doc.resolve(node)
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, dict):
            if "schema" in node and isinstance(node.get("examples"), dict):
                yield where, node["schema"], node["examples"]
            for k, v in node.items():
                if k not in ("schema", "examples"):
                    yield from visit(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from visit(v, f"{where}/{i}")

    yield from visit(doc.doc["paths"], "paths")
    yield from visit(doc.doc["components"].get("responses", {}), "components/responses")
    yield from visit(doc.doc["components"].get("requestBodies", {}), "components/requestBodies")


def test_every_example_validates_against_its_schema(doc):
    checked, failures = 0, []
    for where, schema, examples in _media_with_examples(doc):
        for name, ex in examples.items():
            ex = doc.resolve(ex)
            assert "value" in ex, f"{where} {name}: no value"
            errors = doc.errors(schema, ex["value"])
            checked += 1
            if errors:
                failures.append(f"{where} example {name}: {errors[:3]}")
    assert checked >= 100, f"only {checked} examples found"
    assert not failures, "\n".join(failures)


def test_reply_schemas_accept_errors_and_reject_wrong_types(doc):
    """Every reply schema takes an error reply, none takes a numeric code; a success without its
    required fields fails where the schema requires any."""
    for path in doc.doc["paths"]:
        schema = doc.reply_schema(path)
        if schema is None or path in ("/openapi.json",):
            continue
        assert not doc.errors(schema, {"code": "9", "message": "not available"}), path
        assert not doc.errors(schema, {"function": "x", "code": "4", "message": "bad"}), path
        assert doc.errors(schema, {"code": 0, "message": ""}), f"{path} accepts a numeric code"
        assert doc.errors(schema, {"code": "0"}), f"{path} accepts a reply without message"
    grab = doc.reply_schema("/video=grabimage")
    assert doc.errors(grab, {"code": "0", "message": ""}), "grabimage success without images"
    assert doc.errors(grab, {"code": "0", "message": "", "image_count": "1", "images": []})
    assert not doc.errors(grab, {"code": "0", "message": "", "photoBase64": "x"})
    prop = doc.reply_schema("/video=getproperty")
    assert not doc.errors(prop, {"code": "0", "message": "", "settable": "1"})
    assert doc.errors(prop, {"code": "0", "message": "", "settable": "0"})


def _rust_strings(block: str) -> list[str]:
    return re.findall(r'"([^"]*)"', block)


def _rust_const(text: str, name: str) -> str:
    m = re.search(rf"pub const {name}: [^=]+= &\[(.*?)\n\];", text, re.S)
    assert m, f"{name} not found in {TABLE_RS.name}"
    return m.group(1)


def test_websocket_functions_match_the_catalogue(doc):
    """x-websocket lists every WebSocket name of api::table (WS_ONLY, OLDER_WS_ONLY, WS_ALIASES) with
    the endpoint each runs, plus subscribe/unsubscribe; every endpoint named has a path."""
    text = TABLE_RS.read_text(encoding="utf-8")
    ws_only = _rust_strings(_rust_const(text, "WS_ONLY")) + _rust_strings(_rust_const(text, "OLDER_WS_ONLY"))
    aliases = {name: f"{g}={a}" for name, g, a in
               re.findall(r'\("(\w+)",\s*\("(\w+)",\s*"(\w+)"\)\)', _rust_const(text, "WS_ALIASES"))}
    assert aliases, "no WS_ALIASES parsed"
    functions = doc.doc["x-websocket"]["functions"]
    assert set(functions) == set(ws_only) | set(aliases) | {"subscribe", "unsubscribe"}
    for name, endpoint in aliases.items():
        assert functions[name]["endpoint"] == endpoint, name
    for name, f in functions.items():
        if f["endpoint"]:
            assert "/" + f["endpoint"] in doc.doc["paths"], name
        assert doc.resolve(f["reply"]), name


@pytest.fixture(scope="module")
def served(default_daemon):
    r = default_daemon.get("/openapi.json")
    if r.status == 404:
        pytest.skip("the daemon binary does not serve GET /openapi.json yet (404): rebuild it")
    return r


def test_daemon_serves_the_committed_document(served, doc):
    assert served.status == 200, served
    assert served.content_type.split(";")[0].strip() == "application/json", served.content_type
    assert served.body == doc.text.encode("utf-8"), (
        "GET /openapi.json differs from the committed document: the binary embeds an older file "
        "(cargo build -p cameraserviced after running gen_openapi.py)")
