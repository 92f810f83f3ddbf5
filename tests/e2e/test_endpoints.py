"""Every endpoint of the API answers (none forgotten): HTTP 200, JSON, a string `code`."""

import http.client
import json
import re

import pytest
import websocket

from e2e_support import (
    ENDPOINTS_FILE,
    LOOPBACK,
    REPO_ROOT,
    STREAM_ENDPOINTS,
    check_api_reply,
    load_endpoints,
)

ENDPOINTS = load_endpoints()
# `group=*` takes every action of its group: it is called with these actions instead.
ANY_ACTION_SAMPLES = ("open", "no_such_action")


def concrete(endpoints: list[str]) -> list[str]:
    out = []
    for e in endpoints:
        if e.endswith("=*"):
            out += [e[:-1] + a for a in ANY_ACTION_SAMPLES]
        else:
            out.append(e)
    return out


PLAIN_ENDPOINTS = concrete([e for e in ENDPOINTS if e not in STREAM_ENDPOINTS])
SPEC_FILE = REPO_ROOT.parent / "shared" / "spec" / "ENDPOINTS.md"
GROUPS = ("video", "card", "param", "imagepro", "face", "fp", "sign", "barcode_scanner",
          # older vocabulary (the "# Older vocabulary" section of endpoints.txt)
          "device", "pdf", "barcode", "biokey", "comparison", "facelive", "camera", "serialport",
          # the appliance's own (the "# Appliance endpoints" section)
          "diag", "editor")


def test_endpoint_list_is_well_formed():
    assert len(ENDPOINTS) == len(set(ENDPOINTS)), "duplicates in endpoints.txt"
    for e in ENDPOINTS:
        assert e == "ocr" or re.fullmatch(r"[A-Za-z_]+=(?:[A-Za-z0-9_]+|\*)", e), e
        assert e == "ocr" or e.split("=")[0].lower() in GROUPS, e
    assert "ocr" in ENDPOINTS
    assert STREAM_ENDPOINTS <= set(ENDPOINTS)


@pytest.mark.skipif(not SPEC_FILE.is_file(), reason="endpoint index (../shared/spec/ENDPOINTS.md) not present")
def test_endpoint_list_covers_spec_index():
    text = SPEC_FILE.read_text(encoding="utf-8")
    named = set()
    for token in re.findall(r"`([^`\n]+)`", text):
        m = re.fullmatch(r"([a-z_]+)=([A-Za-z0-9_]+)(?:&.*)?", token.strip())
        if m:
            named.add(f"{m.group(1)}={m.group(2)}".lower())
    assert named, "no group=action tokens found in ENDPOINTS.md; has its format changed?"
    missing = sorted(named - {e.lower() for e in ENDPOINTS})
    assert not missing, f"in {SPEC_FILE.name} but not in {ENDPOINTS_FILE.name}: {missing}"


@pytest.mark.parametrize("endpoint", PLAIN_ENDPOINTS)
def test_endpoint_answers_json(default_daemon, endpoint):
    reply = default_daemon.post("/" + endpoint, {})
    assert reply.status != 404, f"/{endpoint} is unknown to the daemon: {reply!r}"
    obj = check_api_reply(reply)
    assert "message" in obj, obj


@pytest.mark.parametrize("endpoint", ["ocr"])
def test_ocr_query_form(default_daemon, endpoint):
    obj = check_api_reply(default_daemon.post("/?" + endpoint, {}))
    assert "message" in obj


@pytest.mark.parametrize("endpoint", sorted(STREAM_ENDPOINTS))
def test_stream_endpoint_answers(default_daemon, endpoint):
    """A stream is multipart/x-mixed-replace, or (no device) a JSON error. Read a little, close."""
    conn = http.client.HTTPConnection(LOOPBACK, default_daemon.port, timeout=10)
    try:
        conn.request("GET", f"/{endpoint}&camidx=0&tid=1700000000")
        resp = conn.getresponse()
        assert resp.status == 200, (resp.status, resp.read(500))
        ctype = resp.getheader("Content-Type", "")
        assert resp.getheader("Access-Control-Allow-Origin"), "stream reply without CORS header"
        if ctype.lower().startswith("multipart/x-mixed-replace"):
            assert "boundary=" in ctype.lower(), ctype
            chunk = resp.read1(4096) if hasattr(resp, "read1") else resp.read(1)
            assert chunk, "stream sent no data"
        else:
            body = resp.read()
            assert ctype.replace(" ", "").lower() == "application/json;charset=utf-8", ctype
            obj = json.loads(body)
            assert isinstance(obj.get("code"), str) and obj["code"] != "0", obj
    finally:
        conn.close()
    # the daemon is fine after the client went away
    check_api_reply(default_daemon.post("/param=get", {"type": "app_version"}))


@pytest.fixture(scope="module")
def ws(default_daemon):
    conn = websocket.create_connection(default_daemon.ws_url("/"), timeout=10)
    yield conn
    conn.close()


def ws_call(conn, payload: dict) -> dict:
    conn.send(json.dumps(payload))
    fn = payload.get("function")
    for _ in range(50):  # skip unrelated server pushes
        msg = json.loads(conn.recv())
        if msg.get("function") == fn:
            return msg
    raise AssertionError(f"no reply for {fn}")


@pytest.mark.parametrize("endpoint", PLAIN_ENDPOINTS)
def test_endpoint_reachable_over_websocket(default_daemon, ws, endpoint):
    """HTTP and WebSocket share one table: every endpoint is a WebSocket function too.

    Code "8" over WebSocket would mean "unknown function"; it may only appear where HTTP gives "8"
    for the same request as well.
    """
    reply = ws_call(ws, {"function": endpoint, "params": {}})
    assert isinstance(reply.get("code"), str), reply
    http_code = check_api_reply(default_daemon.post("/" + endpoint, {}))["code"]
    assert (reply["code"] == "8") == (http_code == "8"), (
        f"{endpoint}: WebSocket code {reply['code']!r}, HTTP code {http_code!r}: {reply}")
