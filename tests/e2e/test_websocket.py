"""WebSocket: {"function": NAME, "params": {...}} requests dispatched through the HTTP endpoint table."""

import json
import uuid

import pytest
import websocket

from e2e_support import check_api_reply


def recv_for(conn, function: str, limit: int = 50) -> dict:
    """Next message whose `function` is `function` (server pushes for other functions are skipped)."""
    for _ in range(limit):
        raw = conn.recv()
        msg = json.loads(raw)
        assert isinstance(msg, dict), raw
        if msg.get("function") == function:
            return msg
    raise AssertionError(f"no reply with function {function!r}")


def call(conn, payload, function=None) -> dict:
    conn.send(payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False))
    if function is None:
        function = payload.get("function") if isinstance(payload, dict) else ""
    msg = recv_for(conn, function)
    assert isinstance(msg.get("code"), str), msg
    return msg


@pytest.fixture
def ws(default_daemon):
    conn = websocket.create_connection(default_daemon.ws_url("/"), timeout=10)
    yield conn
    conn.close()


@pytest.mark.parametrize("path", ["/", "/ws", "/websocket?tid=1", "/param=get"])
def test_app_version_over_websocket(default_daemon, path):
    conn = websocket.create_connection(default_daemon.ws_url(path), timeout=10)
    try:
        msg = call(conn, {"function": "param=get", "params": {"type": "app_version"}})
        assert msg["function"] == "param=get"
        assert msg["code"] == "0", msg
        assert isinstance(msg.get("app_version"), str) and msg["app_version"], msg
    finally:
        conn.close()


def test_same_reply_as_http(default_daemon, ws):
    msg = call(ws, {"function": "param=get", "params": {"type": "app_version"}})
    http = check_api_reply(default_daemon.post("/param=get", {"type": "app_version"}))
    assert {k: v for k, v in msg.items() if k != "function"} == http


def test_params_at_top_level(ws):
    msg = call(ws, {"function": "param=get", "type": "app_version"})
    assert msg["code"] == "0" and msg["app_version"], msg


def test_params_absent(ws):
    msg = call(ws, {"function": "video=status"})
    assert msg["function"] == "video=status"


def test_grab_image_dispatches(ws):
    msg = call(ws, {"function": "grab_image", "params": {"camidx": "0"}})
    assert msg["function"] == "grab_image"
    assert msg["code"] != "8", f"grab_image not in the dispatch table: {msg}"


@pytest.mark.parametrize("name", ["show_sign_pdf", "close_sign_pdf", "open_camera", "close_camera",
                                  # older vocabulary (api::table::OLDER_WS_ONLY)
                                  "get_resolution", "set_resolution", "get_param", "set_cutpage"])
def test_vendor_websocket_names_known(ws, name):
    msg = call(ws, {"function": name, "params": {}})
    assert msg["function"] == name
    assert msg["code"] != "8", f"{name} not in the dispatch table: {msg}"


@pytest.mark.parametrize("bad", ["{not json", "", "[]", "42", '"param=get"', '{"params":{"type":"app_version"}}'])
def test_bad_request_keeps_connection(ws, bad):
    msg = call(ws, bad, function="")
    assert msg["code"] == "1", msg
    assert msg.get("message"), msg
    # the connection stays open and usable
    msg = call(ws, {"function": "param=get", "params": {"type": "app_version"}})
    assert msg["code"] == "0", msg


def test_unknown_function(ws):
    msg = call(ws, {"function": "nosuch=thing", "params": {}})
    assert msg["code"] == "8", msg
    msg = call(ws, {"function": "no_such_function"})
    assert msg["code"] == "8", msg
    msg = call(ws, {"function": "param=get", "params": {"type": "app_version"}})
    assert msg["code"] == "0", msg


def test_function_name_case_insensitive(ws):
    ws.send(json.dumps({"function": "PARAM=GET", "params": {"type": "app_version"}}))
    for _ in range(50):
        msg = json.loads(ws.recv())
        if str(msg.get("function", "")).lower() == "param=get":
            break
    assert msg["code"] == "0", msg


def test_malformed_params_type(ws):
    msg = call(ws, {"function": "param=get", "params": {"type": "no_such_type"}})
    assert msg["code"] == "4", msg


def test_cache_shared_between_websocket_and_http(default_daemon, ws):
    key = f"ws-{uuid.uuid4().hex[:8]}"
    msg = call(ws, {"function": "param=set", "params": {"type": "set_cache_data", "key": key, "value": "a+b/c=="}})
    assert msg["code"] == "0", msg
    got = check_api_reply(default_daemon.post("/param=get", {"type": "get_cache_data", "key": key}))
    assert got["value"] == "a+b/c==", got
    msg = call(ws, {"function": "param=get", "params": {"type": "get_cache_data", "key": key}})
    assert msg["code"] == "0" and msg["value"] == "a+b/c==", msg


def test_several_requests_in_a_row(ws):
    for i in range(5):
        ws.send(json.dumps({"function": "param=get", "params": {"type": "app_version"}}))
    for i in range(5):
        msg = recv_for(ws, "param=get")
        assert msg["code"] == "0", msg


def test_two_clients(default_daemon):
    a = websocket.create_connection(default_daemon.ws_url("/"), timeout=10)
    b = websocket.create_connection(default_daemon.ws_url("/ws"), timeout=10)
    try:
        assert call(a, {"function": "param=get", "type": "app_version"})["code"] == "0"
        assert call(b, {"function": "param=get", "type": "app_version"})["code"] == "0"
        a.close()
        assert call(b, {"function": "param=get", "type": "serial_number"})["code"] == "0"
    finally:
        a.close()
        b.close()


def test_ping_pong(ws):
    ws.ping(b"hi")
    ws.send(json.dumps({"function": "param=get", "type": "app_version"}))
    assert recv_for(ws, "param=get")["code"] == "0"


def test_subscribe_and_unsubscribe_topics(default_daemon):
    conn = websocket.create_connection(default_daemon.ws_url("/"), timeout=10)
    try:
        def call(msg):
            conn.send(json.dumps(msg))
            return json.loads(conn.recv())

        r = call({"function": "subscribe", "params": {"topics": ["no_such_topic"]}})
        assert r["function"] == "subscribe" and r["code"] == "4" and "update_progress" in r["message"], r
        assert r["topics"] == [], r
        r = call({"function": "subscribe", "params": {}})
        assert r["code"] == "4", r
        r = call({"function": "subscribe", "topics": "update_progress"})
        assert r == {"function": "subscribe", "code": "0", "message": "", "topics": ["update_progress"]}, r
        r = call({"function": "unsubscribe", "params": {"topics": ["update_progress"]}})
        assert r["code"] == "0" and r["topics"] == [], r
        r = call({"function": "subscribe", "params": {"topics": ["update_progress"]}})
        r = call({"function": "unsubscribe"})
        assert r["code"] == "0" and r["topics"] == [], r
        # Ordinary calls still work on the same connection.
        r = call({"function": "param=get", "params": {"type": "app_version"}})
        assert r["function"] == "param=get" and r["code"] == "0", r
    finally:
        conn.close()
