"""Process lifecycle: readiness, sd_notify, SIGTERM shutdown, repeated --listen."""

import http.client
import json
import socket
import time

import pytest
import websocket

from e2e_support import LOOPBACK, check_api_reply

APP_VERSION = {"type": "app_version"}
EXIT_WITHIN = 5.0


def assert_exits_cleanly(d, within=EXIT_WITHIN):
    t0 = time.monotonic()
    rc = d.terminate(timeout=within)
    took = time.monotonic() - t0
    assert rc is not None, f"no exit within {within}s of SIGTERM (killed); log:\n{d.log_tail()}"
    assert rc == 0, f"exit code {rc} after SIGTERM; log:\n{d.log_tail()}"
    return took


def test_sigterm_exits_zero(daemon):
    d = daemon({})
    assert check_api_reply(d.post("/param=get", APP_VERSION))["code"] == "0"
    assert_exits_cleanly(d)
    with pytest.raises(OSError):
        socket.create_connection((LOOPBACK, d.port), timeout=0.5).close()


def test_runs_without_config_file(daemon):
    d = daemon(use_config=False)
    assert check_api_reply(d.post("/param=get", APP_VERSION))["code"] == "0"
    assert_exits_cleanly(d)


def test_sigterm_with_open_websocket(daemon):
    d = daemon({})
    ws = websocket.create_connection(d.ws_url("/"), timeout=10)
    try:
        ws.send(json.dumps({"function": "param=get", "params": APP_VERSION}))
        assert json.loads(ws.recv())["code"] == "0"
        assert_exits_cleanly(d)
    finally:
        ws.close()


def test_sigterm_with_idle_keepalive_connection(daemon):
    d = daemon({})
    conn = http.client.HTTPConnection(LOOPBACK, d.port, timeout=10)
    try:
        conn.request("POST", "/param=get", body=json.dumps(APP_VERSION), headers={"Content-Type": "application/json"})
        conn.getresponse().read()
        assert_exits_cleanly(d)
    finally:
        conn.close()


def test_sigterm_with_open_stream(daemon):
    d = daemon({})
    conn = http.client.HTTPConnection(LOOPBACK, d.port, timeout=10)
    try:
        conn.request("GET", "/video=stream&camidx=0")
        resp = conn.getresponse()
        if not resp.getheader("Content-Type", "").lower().startswith("multipart/"):
            resp.read()  # no camera: a JSON error, nothing long-lived to test
        assert_exits_cleanly(d)
    finally:
        conn.close()


def test_sd_notify_ready(daemon, tmp_path_factory):
    sock_dir = tmp_path_factory.mktemp("n")
    path = str(sock_dir / "notify.sock")
    if len(path) >= 100:
        pytest.skip("temporary path too long for a unix socket")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        srv.bind(path)
        srv.settimeout(0.2)
        d = daemon({}, env={"NOTIFY_SOCKET": path}, wait=False)
        got = b""
        deadline = time.monotonic() + 20
        while b"READY=1" not in got and time.monotonic() < deadline:
            assert d.alive(), f"daemon exited; log:\n{d.log_tail()}"
            try:
                got += srv.recv(4096) + b"\n"
            except socket.timeout:
                pass
        assert b"READY=1" in got, f"no READY=1 notification (got {got!r})"
        # READY means the port already accepts connections
        socket.create_connection((LOOPBACK, d.port), timeout=1).close()
        assert check_api_reply(d.post("/param=get", APP_VERSION))["code"] == "0"
        assert_exits_cleanly(d)
    finally:
        srv.close()


def test_listen_repeatable(daemon):
    d = daemon({}, listen=2)
    assert len(d.ports) == 2 and d.ports[0] != d.ports[1]
    for port in d.ports:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
        try:
            conn.request("POST", "/param=get", body=json.dumps(APP_VERSION),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            obj = json.loads(resp.read())
            assert resp.status == 200 and obj["code"] == "0", (port, obj)
        finally:
            conn.close()
    assert_exits_cleanly(d)


def test_port_in_use_fails(daemon):
    """A --listen address that cannot be bound is a startup error, not a silent half-start."""
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind((LOOPBACK, 0))
    blocker.listen(1)
    try:
        port = blocker.getsockname()[1]
        d = daemon({}, listen=[port], wait=False)
        try:
            rc = d.proc.wait(10)
        except Exception:
            d.kill()
            pytest.fail("daemon kept running although its --listen address was in use")
        assert rc != 0
    finally:
        blocker.close()


def test_bad_config_fails(daemon):
    d = daemon({"server": {"body_limit_bytes": "not a number"}}, wait=False)
    try:
        rc = d.proc.wait(10)
    except Exception:
        d.kill()
        pytest.fail("daemon started with an invalid config value")
    assert rc != 0
    assert d.log().strip(), "no error message on stderr for an invalid config"
