"""Real replies against the OpenAPI document: every reply the e2e tests recorded (tests/e2e/e2e_support.py,
CAMERASERVICE_RECORD_REPLIES=<file>) must validate against the reply schema of its path (HTTP) or of
its function (x-websocket). Per-endpoint counts are printed at the end of the run.

    CAMERASERVICE_RECORD_REPLIES=/tmp/replies.jsonl python3 -m pytest -q tests/e2e
    CAMERASERVICE_RECORD_REPLIES=/tmp/replies.jsonl python3 -m pytest -q tests/openapi
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from e2e_support import RECORD_ENV

MAX_REPORTED = 40


def recorded() -> list[dict]:
    name = os.environ.get(RECORD_ENV, "")
    if not name:
        pytest.skip(f"{RECORD_ENV} is not set: no recorded replies to check (see tests/openapi/README.md)")
    p = Path(name)
    if not p.is_file() or p.stat().st_size == 0:
        pytest.skip(f"{RECORD_ENV}={name}: no recorded replies (run tests/e2e with it set first)")
    out = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                pytest.fail(f"{name}:{n} is not JSON ({e}): {line[:200]}")
    return out


def schema_of(doc, rec: dict) -> tuple[str, dict | None]:
    """(what the reply is checked as, its schema or None when the document has nothing for it)."""
    endpoint = rec["endpoint"]
    if endpoint.startswith("ws:"):
        name = endpoint[3:]
        functions = doc.doc["x-websocket"]["functions"]
        f = functions.get(name) or functions.get(name.lower())
        if f is None:
            return f"ws {name}", None
        return f"ws {name}", f["reply"]
    path = doc.path_for(endpoint)
    if path is None:
        return endpoint, None
    label = endpoint if path == "/" + endpoint else f"{endpoint} ({path})"
    if rec.get("transport") == "ws":
        return f"ws {label}", doc.reply_schema(path)
    return label, doc.reply_schema(path, rec.get("status", 200), rec.get("method", "post"))


def test_recorded_replies_match_the_document(doc, request):
    records = recorded()
    checked: Counter = Counter()
    codes: dict[str, Counter] = defaultdict(Counter)
    failures: list[str] = []
    unknown: Counter = Counter()
    for rec in records:
        label, schema = schema_of(doc, rec)
        reply = rec["reply"]
        if schema is None:
            # An unknown WebSocket function is answered "8", as an unknown HTTP endpoint is 404.
            if not (rec.get("transport") == "ws" and reply.get("code") == "8"):
                unknown[label] += 1
            continue
        checked[label] += 1
        codes[label][str(reply.get("code"))] += 1
        for e in doc.errors(schema, reply):
            failures.append(f"{label} [HTTP {rec.get('status', '-')}] {e}: {json.dumps(reply, ensure_ascii=False)[:300]}")
    width = max(map(len, checked), default=10)
    lines = [f"{label:<{width}}  {n:5d}  codes {dict(sorted(codes[label].items()))}"
             for label, n in sorted(checked.items())]
    lines.append(f"{len(records)} recorded replies, {sum(checked.values())} checked on {len(checked)} endpoints/functions")
    request.config.cameraservice_recorded = lines
    problems = []
    if unknown:
        problems.append(f"replies of endpoints the document lacks: {dict(unknown)}")
    if failures:
        problems.append(f"{len(failures)} replies do not match their schema:\n" + "\n".join(failures[:MAX_REPORTED]))
    assert not problems, "\n".join(problems)
