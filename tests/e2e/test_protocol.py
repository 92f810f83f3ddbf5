"""HTTP protocol: URL grammar, tolerant body parsing, reply shape, errors, body limit, language."""

import http.client
import json
import socket
import time
import uuid
from urllib.parse import quote

import pytest

from e2e_support import (
    JSON_CONTENT_TYPE,
    LOOPBACK,
    background,
    check_api_reply,
    has_cjk,
    parse_raw_response,
    response_complete,
)

APP_VERSION = {"type": "app_version"}


def assert_app_version(reply):
    obj = check_api_reply(reply)
    assert obj["code"] == "0", obj
    assert obj.get("message") == "", obj
    assert isinstance(obj.get("app_version"), str) and obj["app_version"], obj
    return obj


def unique_key(prefix="k"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def cache_get(d, key):
    return check_api_reply(d.post("/param=get", {"type": "get_cache_data", "key": key}))


# --------------------------------------------------------------------------- URL grammar


@pytest.mark.parametrize("prefix", ["/param=get", "/?param=get"])
def test_post_body_both_url_forms(default_daemon, prefix):
    assert_app_version(default_daemon.post(prefix, APP_VERSION))


@pytest.mark.parametrize("prefix", ["/param=get", "/?param=get"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_query_parameters_without_body(default_daemon, prefix, method):
    assert_app_version(default_daemon.request(method, f"{prefix}&type=app_version"))


def test_get_with_body(default_daemon):
    assert_app_version(default_daemon.request("GET", "/param=get", json.dumps(APP_VERSION),
                                              content_type="application/json"))


def test_head_is_get_without_body(default_daemon):
    conn = http.client.HTTPConnection(LOOPBACK, default_daemon.port, timeout=10)
    try:
        conn.request("HEAD", "/param=get&type=app_version")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        assert resp.getheader("Content-Type", "").replace(" ", "").lower() == "application/json;charset=utf-8"
    finally:
        conn.close()


@pytest.mark.parametrize("target", [
    "/PARAM=GET&type=app_version",
    "/Param=Get&type=app_version",
    "/?pArAm=gEt&type=app_version",
    "/%20param=get%20&type=app_version",
])
def test_group_and_action_case_and_spaces(default_daemon, target):
    assert_app_version(default_daemon.get(target))


def test_body_wins_over_query(default_daemon):
    assert_app_version(default_daemon.post("/param=get&type=nosuchtype", APP_VERSION))
    obj = check_api_reply(default_daemon.post("/param=get&type=app_version", {"type": "nosuchtype"}))
    assert obj["code"] == "4", obj


def test_query_merged_into_body(default_daemon):
    key = unique_key("merge")
    obj = check_api_reply(default_daemon.post(f"/param=set&type=set_cache_data&key={key}", {"value": "v1"}))
    assert obj["code"] == "0", obj
    got = cache_get(default_daemon, key)
    assert (got["code"], got.get("value")) == ("0", "v1"), got


@pytest.mark.parametrize("target", [
    "/param=get&type=app_version&tid=123",
    "/param=get&type=app_version?0.5",
    "/param=get&type=app_version&_=1700000000123",
    "/param=get?type=app_version",
    "/param=get&type=app_version&camidx=0?0.123",
    "/param=get;type=app_version;junk",
    "/?param=get&type=app_version?tid=5",
    "/param=get&novalue&type=app_version&&",
])
def test_cache_buster_junk(default_daemon, target):
    assert_app_version(default_daemon.get(target))


def test_plus_in_query_value_stays_plus(default_daemon):
    key = unique_key("qplus")
    obj = check_api_reply(default_daemon.get(f"/param=set&type=set_cache_data&key={key}&value=a+b%2Bc%20d"))
    assert obj["code"] == "0", obj
    assert cache_get(default_daemon, key).get("value") == "a+b+c d"


# A literal `"` after `?` is refused by the HTTP layer (400) before the daemon sees it; browsers
# always send it as %22 there (docs/protocol.md, "Limits").
@pytest.mark.parametrize("target", [
    '/param=get&{"type":"app_version"}',
    '/?param=get&{%22type%22:%22app_version%22}',  # how a browser encodes it in the query
    "/?param=get&" + quote('{"type":"app_version"}', safe=""),
    "/param=get&data=" + quote('{"type":"app_version"}', safe=""),
    "/?param=get&data=" + quote('{"type": "app_version"}', safe="") + "&tid=9",
])
def test_json_in_query_string(default_daemon, target):
    assert_app_version(default_daemon.get(target))


def test_raw_json_in_request_line_over_socket(default_daemon):
    """Raw quotes and braces in the request target (path form), as some pages send them."""
    port = default_daemon.port
    req = (f'GET /param=get&{{"type":"app_version"}}&tid=1 HTTP/1.1\r\n'
           f"Host: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").encode()
    status, headers, body = parse_raw_response(default_daemon.raw(req))
    assert status == 200, body
    obj = json.loads(body)
    assert obj["code"] == "0" and obj["app_version"], obj


# --------------------------------------------------------------------------- body variants


@pytest.mark.parametrize("content_type", [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "application/octet-stream",
    None,
])
@pytest.mark.parametrize("prefix", ["/param=get", "/?param=get"])
def test_body_read_as_json_whatever_content_type(default_daemon, content_type, prefix):
    assert_app_version(default_daemon.post_raw(prefix, b'{"type":"app_version"}', content_type))


@pytest.mark.parametrize("body", [None, b"", b" ", b"\r\n\t  \n"])
@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_absent_or_blank_body_means_defaults(default_daemon, body, content_type):
    assert_app_version(default_daemon.request("POST", "/param=get&type=app_version", body,
                                              content_type=content_type))


def test_get_without_body_and_without_content_length(default_daemon):
    port = default_daemon.port
    req = (f"GET /param=get&type=app_version HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
           "Connection: close\r\n\r\n").encode()
    status, _, body = parse_raw_response(default_daemon.raw(req))
    assert status == 200 and json.loads(body)["code"] == "0", body


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "application/json"])
def test_plus_in_body_value_survives(default_daemon, content_type):
    key = unique_key("plus")
    value = "a+b/c=="
    body = json.dumps({"type": "set_cache_data", "key": key, "value": value}).encode()
    obj = check_api_reply(default_daemon.post_raw("/param=set", body, content_type))
    assert obj["code"] == "0", obj
    got = cache_get(default_daemon, key)
    assert got["code"] == "0" and got["key"] == key and got["value"] == value, got


def test_base64_with_plus_and_percent_like_text_survives(default_daemon):
    key = unique_key("b64")
    value = "iVBORw0KGgo+AAAA/%2B%20+==" * 10
    body = json.dumps({"type": "set_cache_data", "key": key, "value": value}).encode()
    assert check_api_reply(default_daemon.post_raw("/param=set", body,
                                                   "application/x-www-form-urlencoded"))["code"] == "0"
    assert cache_get(default_daemon, key).get("value") == value


def test_number_where_string_documented(default_daemon):
    key = unique_key("num")
    obj = check_api_reply(default_daemon.post("/param=set", {"type": "set_cache_data", "key": key, "value": 123}))
    assert obj["code"] == "0", obj
    got = cache_get(default_daemon, key)
    assert got["value"] == "123", got
    obj = check_api_reply(default_daemon.post("/param=set", {"type": "set_cache_data", "key": key, "value": 1.5}))
    assert obj["code"] == "0", obj
    assert cache_get(default_daemon, key)["value"] == "1.5"


def test_number_key_is_its_string(default_daemon):
    key = int(time.time() * 1000) % 10**9 + 10**9
    obj = check_api_reply(default_daemon.post("/param=set", {"type": "set_cache_data", "key": key, "value": "n"}))
    assert obj["code"] == "0", obj
    got = cache_get(default_daemon, str(key))
    assert got["code"] == "0" and got["value"] == "n" and got["key"] == str(key), got


def test_unknown_and_misspelt_fields_ignored(default_daemon):
    assert_app_version(default_daemon.post("/param=get", {
        "type": "app_version", "tyep": "serial_number", "camidx": 0, "Type ": "x",
        "extra": {"nested": [1, 2, {"a": None}]}, "flag": True,
    }))


def test_utf8_bom_skipped(default_daemon):
    assert_app_version(default_daemon.post_raw("/param=get", b'\xef\xbb\xbf{"type":"app_version"}', "application/json"))
    assert_app_version(default_daemon.post_raw("/param=get", b'\xef\xbb\xbf{"type":"app_version"}', None))


def test_double_encoded_json_body(default_daemon):
    body = json.dumps(json.dumps(APP_VERSION)).encode()
    assert body.startswith(b'"{')
    assert_app_version(default_daemon.post_raw("/param=get", body, "text/plain"))


def test_unicode_value_roundtrip(default_daemon):
    key = unique_key("中文键")
    value = "签名 ✓ \U0001F600 \"quoted\" \\ back\nnewline"
    obj = check_api_reply(default_daemon.post("/param=set", {"type": "set_cache_data", "key": key, "value": value}))
    assert obj["code"] == "0", obj
    assert cache_get(default_daemon, key).get("value") == value


def test_keep_alive_several_requests_one_connection(default_daemon):
    conn = http.client.HTTPConnection(LOOPBACK, default_daemon.port, timeout=10)
    try:
        for _ in range(3):
            assert_app_version(default_daemon.request("POST", "/param=get", APP_VERSION,
                                                      content_type="application/json", conn=conn))
    finally:
        conn.close()


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("body", [
    b'{"type":',
    b'{"type" "app_version"}',
    b"{type:app_version}",
    b'[1, 2',
    b"\xff\xfe{}",
])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded", None])
def test_malformed_json(default_daemon, body, content_type):
    obj = check_api_reply(default_daemon.post_raw("/param=get", body, content_type))
    assert obj["code"] == "1", obj
    assert isinstance(obj.get("message"), str) and obj["message"], obj


@pytest.mark.parametrize("target", [
    "/nosuch=thing",
    "/video=nosuchaction",
    "/?nosuch=thing",
    "/?video=nosuchaction",
    "/param=nosuch",
    "/device=nosuchaction",  # an older-vocabulary group without a `group=*` entry
    "/barcode_scan=get",
])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_endpoint_404_json(default_daemon, target, method):
    reply = default_daemon.request(method, target, {} if method == "POST" else None)
    obj = check_api_reply(reply, status=404)
    assert obj["code"] == "8", obj
    assert obj.get("message"), obj
    assert reply.header("Access-Control-Allow-Origin"), reply.headers


def test_unknown_type_is_code_4(default_daemon):
    obj = check_api_reply(default_daemon.post("/param=get", {"type": "no_such_type"}))
    assert obj["code"] == "4", obj
    assert obj.get("message"), obj


def test_not_yet_built_type_is_not_success(default_daemon):
    obj = check_api_reply(default_daemon.post("/param=get", {"type": "resolution"}))
    assert obj["code"] != "0", obj


def test_garbage_request_does_not_kill_daemon(default_daemon):
    for junk in (b"GARBAGE\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64,
                 b"GET /param=get&type=app_version HTTP/9.9\r\n\r\n", b"GET\r\n"):
        out = default_daemon.raw(junk, timeout=3)
        if out:
            assert out.startswith(b"HTTP/1."), out[:200]
    assert default_daemon.alive()
    assert_app_version(default_daemon.get("/param=get&type=app_version"))


# --------------------------------------------------------------------------- reply shape and language


def test_success_reply_shape(default_daemon):
    reply = default_daemon.post("/param=get", APP_VERSION)
    assert reply.content_type.replace(" ", "").lower() == JSON_CONTENT_TYPE.replace(" ", "")
    assert_app_version(reply)


def test_other_built_gets(default_daemon):
    obj = check_api_reply(default_daemon.post("/param=get", {"type": "serial_number"}))
    assert obj["code"] == "0" and isinstance(obj.get("serial_number"), str), obj
    obj = check_api_reply(default_daemon.post("/param=get", {"type": "device_info"}))
    assert obj["code"] == "0", obj
    info = obj.get("device_info")
    assert isinstance(info, dict), obj
    for k in ("serial_number", "brand_name", "device_type", "company_name", "credit_code"):
        assert isinstance(info.get(k), str), (k, obj)


def test_device_info_from_config(daemon):
    device = {"hostname": "cam-e2e", "serial_number": "SN-0042", "brand_name": "品牌",
              "device_type": "GP-1", "company_name": "Example Co.", "credit_code": "91110000XXXXXXXX"}
    d = daemon({"device": device})
    obj = check_api_reply(d.post("/param=get", {"type": "serial_number"}))
    assert obj["code"] == "0" and obj["serial_number"] == "SN-0042", obj
    obj = check_api_reply(d.post("/param=get", {"type": "device_info"}))
    assert obj["code"] == "0", obj
    assert obj["device_info"] == {k: device[k] for k in
                                  ("serial_number", "brand_name", "device_type", "company_name", "credit_code")}


ERROR_REQUESTS = [
    ("POST", "/param=get", b'{"type":'),           # code 1
    ("POST", "/param=get", b'{"type":"no_such"}'),  # code 4
    ("POST", "/nosuch=thing", b"{}"),               # 404, code 8
]


def test_messages_default_to_chinese(default_daemon):
    for method, target, body in ERROR_REQUESTS:
        reply = default_daemon.request(method, target, body, content_type="application/json")
        obj = check_api_reply(reply, status=reply.status)
        assert obj["code"] != "0"
        assert has_cjk(obj.get("message", "")), (target, obj)


def test_messages_in_english(daemon):
    d = daemon({"server": {"language": "en"}})
    for method, target, body in ERROR_REQUESTS:
        reply = d.request(method, target, body, content_type="application/json")
        obj = check_api_reply(reply, status=reply.status)
        msg = obj.get("message", "")
        assert obj["code"] != "0" and msg, obj
        assert msg.isascii(), (target, obj)
    assert_app_version(d.post("/param=get", APP_VERSION))


# --------------------------------------------------------------------------- body limit

LIMIT = 1048576


@pytest.fixture(scope="module")
def limited_daemon(module_daemon):
    return module_daemon({"server": {"body_limit_bytes": LIMIT}})


def padded_body(size: int) -> bytes:
    head = b'{"type":"app_version","pad":"'
    tail = b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def send_big(port: int, body: bytes, chunked: bool) -> bytes:
    """Send a large POST while reading concurrently (the server may answer and close early)."""
    s = socket.create_connection((LOOPBACK, port), timeout=10)
    got = bytearray()

    def reader():
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            got.extend(chunk)
            if response_complete(bytes(got)):
                return

    t = background(reader)
    head = f"POST /param=get HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    try:
        if chunked:
            s.sendall(head.encode() + b"Transfer-Encoding: chunked\r\n\r\n")
            step = 64 * 1024
            for i in range(0, len(body), step):
                part = body[i:i + step]
                s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        else:
            s.sendall(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    except OSError:
        pass  # the server stopped reading and closed: expected
    t.join(10)
    s.close()
    return bytes(got)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_limit_is_code_10(limited_daemon, chunked):
    out = send_big(limited_daemon.port, padded_body(2 * 1000 * 1000), chunked)
    assert out, "no reply to an oversized body (connection closed or reset before the reply)"
    status, headers, body = parse_raw_response(out)
    assert status == 200, out[:300]
    assert headers.get("content-type", "").replace(" ", "").lower() == "application/json;charset=utf-8"
    obj = json.loads(body)
    assert obj["code"] == "10", obj
    assert obj.get("message"), obj
    # the daemon keeps serving, on a fresh connection
    assert limited_daemon.alive()
    assert_app_version(limited_daemon.post("/param=get", APP_VERSION))


def test_body_under_limit_accepted(limited_daemon):
    body = padded_body(900 * 1000)
    assert_app_version(limited_daemon.post_raw("/param=get", body, "application/json"))
    assert_app_version(limited_daemon.post_raw("/param=get", body, "application/x-www-form-urlencoded"))


def test_default_limit_accepts_two_megabytes(default_daemon):
    assert_app_version(default_daemon.post_raw("/param=get", padded_body(2 * 1000 * 1000), "text/plain"))
