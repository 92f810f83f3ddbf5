"""Cross-origin headers, preflights (incl. Private Network Access), origin allowlist, Host allowlist."""

import json
import uuid

import pytest
import websocket

from e2e_support import check_api_reply

APP_VERSION = {"type": "app_version"}
PAGE = "http://page.example:8080"


def tokens(value: str | None) -> set[str]:
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}


def assert_cors(reply, origin: str | None):
    acao = reply.header("Access-Control-Allow-Origin")
    if origin == "null":  # file:// pages; either answer lets the browser read the reply
        assert acao in ("null", "*"), f"Access-Control-Allow-Origin {acao!r} for Origin null"
    elif origin is None:
        assert acao == "*", f"Access-Control-Allow-Origin {acao!r}: {reply.headers}"
    else:
        assert acao == origin, f"Access-Control-Allow-Origin {acao!r} for Origin {origin!r}"


# --------------------------------------------------------------------------- default: any origin


@pytest.mark.parametrize("origin", [None, PAGE, "null", "https://x.y.example"])
def test_cors_on_normal_reply(default_daemon, origin):
    headers = {"Origin": origin} if origin else {}
    reply = default_daemon.post("/param=get", APP_VERSION, headers=headers)
    assert check_api_reply(reply)["code"] == "0"
    assert_cors(reply, origin)


def test_cors_companion_headers(default_daemon):
    reply = default_daemon.post("/param=get", APP_VERSION, headers={"Origin": PAGE})
    assert {"get", "post", "options"} <= tokens(reply.header("Access-Control-Allow-Methods")), reply.headers
    assert reply.header("Access-Control-Allow-Headers"), reply.headers
    assert reply.header("Access-Control-Expose-Headers") is not None, reply.headers
    assert "origin" in tokens(reply.header("Vary")), reply.headers


@pytest.mark.parametrize("origin", [None, PAGE])
def test_cors_on_error_reply(default_daemon, origin):
    headers = {"Origin": origin} if origin else {}
    reply = default_daemon.post_raw("/param=get", b'{"type":', "application/json", headers=headers)
    assert check_api_reply(reply)["code"] == "1"
    assert_cors(reply, origin)


@pytest.mark.parametrize("origin", [None, PAGE])
def test_cors_on_404(default_daemon, origin):
    headers = {"Origin": origin} if origin else {}
    reply = default_daemon.post("/nosuch=thing", {}, headers=headers)
    assert check_api_reply(reply, status=404)["code"] == "8"
    assert_cors(reply, origin)


@pytest.mark.parametrize("target", ["/param=set", "/?param=set", "/video=grabimage&tid=1", "/ocr"])
def test_preflight(default_daemon, target):
    reply = default_daemon.request("OPTIONS", target, headers={
        "Origin": PAGE,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-requested-with",
    })
    assert reply.status in (200, 204), reply
    assert_cors(reply, PAGE)
    assert "post" in tokens(reply.header("Access-Control-Allow-Methods")), reply.headers
    allowed = tokens(reply.header("Access-Control-Allow-Headers"))
    assert "*" in allowed or {"content-type", "x-requested-with"} <= allowed, reply.headers
    assert reply.header("Access-Control-Max-Age"), reply.headers


def test_preflight_custom_header_is_allowed(default_daemon):
    reply = default_daemon.request("OPTIONS", "/param=get", headers={
        "Origin": PAGE,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-Custom-Token",
    })
    assert reply.status in (200, 204), reply
    allowed = tokens(reply.header("Access-Control-Allow-Headers"))
    assert "*" in allowed or "x-custom-token" in allowed, reply.headers


def test_preflight_private_network_access(default_daemon):
    reply = default_daemon.request("OPTIONS", "/param=get", headers={
        "Origin": "https://public.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
        "Access-Control-Request-Private-Network": "true",
    })
    assert reply.status in (200, 204), reply
    assert_cors(reply, "https://public.example")
    assert (reply.header("Access-Control-Allow-Private-Network") or "").lower() == "true", reply.headers


def test_preflight_without_pna_request_has_no_pna_grant(default_daemon):
    reply = default_daemon.request("OPTIONS", "/param=get", headers={
        "Origin": PAGE, "Access-Control-Request-Method": "POST"})
    assert reply.status in (200, 204), reply
    # Not asked for: granting it is harmless, but it must not be anything other than "true".
    pna = reply.header("Access-Control-Allow-Private-Network")
    assert pna in (None, "true"), reply.headers


# --------------------------------------------------------------------------- restricted origins

GOOD = "http://good.example"
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def restricted(module_daemon):
    return module_daemon({"server": {"allowed_origins": [GOOD]}})


def test_allowed_origin_works(restricted):
    reply = restricted.post("/param=get", APP_VERSION, headers={"Origin": GOOD})
    assert check_api_reply(reply)["code"] == "0"
    assert_cors(reply, GOOD)


def test_disallowed_origin_forbidden(restricted):
    reply = restricted.post("/param=get", APP_VERSION, headers={"Origin": EVIL})
    obj = check_api_reply(reply, status=403)
    assert obj["code"] != "0", obj
    assert "app_version" not in obj
    assert reply.header("Access-Control-Allow-Origin") not in (EVIL, "*"), reply.headers


def test_disallowed_origin_request_not_executed(restricted):
    key = f"evil-{uuid.uuid4().hex[:8]}"
    reply = restricted.post("/param=set", {"type": "set_cache_data", "key": key, "value": "pwned"},
                            headers={"Origin": EVIL})
    check_api_reply(reply, status=403)
    reply = restricted.get(f"/param=set&type=set_cache_data&key={key}&value=pwned", headers={"Origin": EVIL})
    check_api_reply(reply, status=403)
    got = check_api_reply(restricted.post("/param=get", {"type": "get_cache_data", "key": key},
                                          headers={"Origin": GOOD}))
    assert got["code"] == "8", f"request from a refused origin was executed: {got}"
    # and a good origin can store
    obj = check_api_reply(restricted.post("/param=set", {"type": "set_cache_data", "key": key, "value": "ok"},
                                          headers={"Origin": GOOD}))
    assert obj["code"] == "0", obj


def test_disallowed_origin_preflight_not_granted(restricted):
    reply = restricted.request("OPTIONS", "/param=set", headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert reply.header("Access-Control-Allow-Origin") not in (EVIL, "*"), reply.headers


def test_allowed_origin_preflight(restricted):
    reply = restricted.request("OPTIONS", "/param=set", headers={
        "Origin": GOOD, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
        "Access-Control-Request-Private-Network": "true"})
    assert reply.status in (200, 204), reply
    assert_cors(reply, GOOD)
    assert (reply.header("Access-Control-Allow-Private-Network") or "").lower() == "true"


def test_disallowed_origin_websocket_refused(restricted):
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(restricted.ws_url("/"), origin=EVIL, timeout=10)
    assert e.value.status_code == 403


def test_allowed_origin_websocket(restricted):
    ws = websocket.create_connection(restricted.ws_url("/"), origin=GOOD, timeout=10)
    try:
        ws.send('{"function":"param=get","params":{"type":"app_version"}}')
        msg = json.loads(ws.recv())
        assert msg["function"] == "param=get" and msg["code"] == "0", msg
    finally:
        ws.close()


# --------------------------------------------------------------------------- Host allowlist


@pytest.mark.parametrize("host", [
    "127.0.0.1:{port}",
    "127.0.0.1",
    "localhost:{port}",
    "localhost",
    "LocalHost:{port}",
    "app.localhost:{port}",
    "[::1]:{port}",
    "[::1]",
    "192.168.7.2:38088",
    "10.0.0.5",
    "cameraservice:{port}",
    "cameraservice.local:{port}",
    "cameraservice.local",
])
def test_host_allowed(default_daemon, host):
    reply = default_daemon.post("/param=get", APP_VERSION, host=host.format(port=default_daemon.port))
    assert check_api_reply(reply)["code"] == "0", (host, reply)


@pytest.mark.parametrize("host", [
    "evil.example.com",
    "evil.example.com:{port}",
    "localhost.evil.example:{port}",
    "cameraservice.local.evil.example",
    "127.0.0.1.nip.io:{port}",
    "kiosk.lan:{port}",
])
def test_host_refused(default_daemon, host):
    reply = default_daemon.post("/param=get", APP_VERSION, host=host.format(port=default_daemon.port))
    obj = check_api_reply(reply, status=403)
    assert obj["code"] != "0" and "app_version" not in obj, obj


def test_host_refused_for_get_and_not_executed(default_daemon):
    key = f"rebind-{uuid.uuid4().hex[:8]}"
    reply = default_daemon.get(f"/param=set&type=set_cache_data&key={key}&value=x", host="evil.example.com")
    check_api_reply(reply, status=403)
    got = check_api_reply(default_daemon.post("/param=get", {"type": "get_cache_data", "key": key}))
    assert got["code"] == "8", got


def test_host_refused_for_websocket(default_daemon):
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(default_daemon.ws_url("/"), host="evil.example.com", timeout=10)
    assert e.value.status_code == 403


@pytest.fixture(scope="module")
def kiosk(module_daemon):
    return module_daemon({"server": {"allowed_hosts": ["kiosk.lan"]}, "device": {"hostname": "scanner7"}})


@pytest.mark.parametrize("host", ["kiosk.lan:{port}", "kiosk.lan", "scanner7.local:{port}", "scanner7",
                                  "localhost:{port}", "127.0.0.1:{port}"])
def test_configured_hosts_allowed(kiosk, host):
    reply = kiosk.post("/param=get", APP_VERSION, host=host.format(port=kiosk.port))
    assert check_api_reply(reply)["code"] == "0", (host, reply)


@pytest.mark.parametrize("host", ["evil.example.com:{port}", "cameraservice.local:{port}", "kiosk.lan.evil.example"])
def test_configured_hosts_others_refused(kiosk, host):
    reply = kiosk.post("/param=get", APP_VERSION, host=host.format(port=kiosk.port))
    check_api_reply(reply, status=403)
