"""Fixtures of the OpenAPI tests (see README.md): the document, its generator, a validator resolving
`#/components/...` references, and a daemon started through the e2e harness (tests/e2e/e2e_support.py).

Run from the repository root:  python3 -m pytest -q tests/openapi
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

OPENAPI_DIR = Path(__file__).resolve().parent
E2E_DIR = OPENAPI_DIR.parent / "e2e"
if str(E2E_DIR) not in sys.path:
    sys.path.insert(0, str(E2E_DIR))

from e2e_support import DaemonFactory  # noqa: E402


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_openapi", OPENAPI_DIR / "gen_openapi.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


GEN = load_generator()
DOC_URI = "urn:cameraservice:openapi"


class Doc:
    """The committed document, with JSON Schema validation against its components."""

    def __init__(self, path: Path):
        from jsonschema import Draft202012Validator
        from referencing import Registry
        from referencing.jsonschema import DRAFT202012

        self.path = path
        self.text = path.read_text(encoding="utf-8")
        self.doc = json.loads(self.text)
        self.registry = Registry().with_resource(DOC_URI, DRAFT202012.create_resource(self.doc))
        self._validators: dict[str, Draft202012Validator] = {}
        self._cls = Draft202012Validator

    def resolve(self, node):
        """Follow a local `$ref` (`#/...`) to what it names, repeatedly."""
        while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/"):
            target = self.doc
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def validator(self, schema: dict):
        """A Draft 2020-12 validator of `schema` (a `$ref` into the document, or a schema inside it)."""
        if set(schema) == {"$ref"} and schema["$ref"].startswith("#/"):
            key = schema["$ref"]
            if key not in self._validators:
                self._validators[key] = self._cls({"$ref": DOC_URI + key}, registry=self.registry)
            return self._validators[key]
        # A schema written inline: its local references point into the document.
        return self._cls(_absolute(schema), registry=self.registry)

    def errors(self, schema: dict, value) -> list[str]:
        out = []
        for e in self.validator(schema).iter_errors(value):
            where = "/".join(str(p) for p in e.absolute_path) or "(top)"
            out.append(f"{where}: {e.message[:300]}")
        return out

    # -- the API's paths and reply schemas
    def path_for(self, endpoint: str) -> str | None:
        """The path documenting an endpoint key (`video=grabimage`, `facelive=start`, `serialport=open`, `ocr`)."""
        paths = {p.lower(): p for p in self.doc["paths"]}
        key = "/" + endpoint.strip().lower()
        if key in paths:
            return paths[key]
        group = key.split("=", 1)[0]
        return paths.get(group + "={action}") if "=" in key else None

    def reply_schema(self, path: str, status: int = 200, method: str = "post") -> dict | None:
        """The JSON schema of the reply of `path` for this HTTP status (the 200 reply's when the status
        is not documented there)."""
        item = self.doc["paths"][path]
        op = item.get(method.lower()) or item.get("post") or item.get("get")
        responses = op["responses"]
        for code in (str(status), "200"):
            if code in responses:
                r = self.resolve(responses[code])
                media = r.get("content", {}).get("application/json")
                if media:
                    return media["schema"]
        return None


def _absolute(node):
    """A copy of a schema whose `#/...` references name the document's URI."""
    if isinstance(node, dict):
        return {k: (DOC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#/") else _absolute(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_absolute(v) for v in node]
    return node


@pytest.fixture(scope="session")
def doc() -> Doc:
    return Doc(GEN.OUTPUT)


@pytest.fixture(scope="session")
def generator():
    return GEN


@pytest.fixture(scope="session")
def default_daemon(tmp_path_factory):
    """One daemon with the default configuration, shared by the session."""
    f = DaemonFactory(tmp_path_factory)
    try:
        yield f({})
    finally:
        f.close()


def pytest_terminal_summary(terminalreporter):
    """The per-endpoint counts of test_recorded.py (set on the config by the test)."""
    lines = getattr(terminalreporter.config, "cameraservice_recorded", None)
    if lines:
        terminalreporter.section("recorded replies validated against openapi.json")
        for line in lines:
            terminalreporter.write_line(line)
