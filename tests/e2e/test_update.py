"""Over-the-air update API: /update=install, /update=status, /update=reboot (firmware ota.rs).

RAUC is replaced by fake_busctl.py (configured as `[update] busctl`), which emulates the RAUC
D-Bus service from a state directory named by $FAKE_RAUC_DIR in the daemon's environment; the real
RAUC is exercised by the QEMU image tests. A fake install takes ~1.5 s.
"""

import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import websocket

from e2e_support import LOOPBACK, check_api_reply, wait_for

TOKEN = "e2e-admin-token-0123456789"
ADMIN_ORIGIN = "http://admin.example:8080"
EVIL = "http://evil.example"
MAX = 16 * 1024 * 1024  # main daemon: a 10 MB upload may start
SMALL_MAX = 256 * 1024  # small daemon: the over-limit cases
FAKE_SRC = Path(__file__).resolve().parent / "fake_busctl.py"
APP_VERSION = {"type": "app_version"}


# --------------------------------------------------------------------------- fake RAUC


class FakeRauc:
    """The fake busctl program and its state directory."""

    def __init__(self, root: Path):
        self.dir = root / "rauc"
        self.dir.mkdir(parents=True)
        self.busctl = root / "busctl"
        src = FAKE_SRC.read_text(encoding="utf-8")
        body = src.split("\n", 1)[1] if src.startswith("#!") else src
        self.busctl.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
        self.busctl.chmod(0o755)

    @property
    def env(self) -> dict:
        return {"FAKE_RAUC_DIR": str(self.dir)}

    def flag(self, name: str, on: bool = True) -> None:
        p = self.dir / name
        if on:
            p.write_text("1")
        elif p.exists():
            p.unlink()

    def installs(self) -> list[dict]:
        p = self.dir / "installs.jsonl"
        if not p.exists():
            return []
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]

    def calls(self) -> list[list[str]]:
        p = self.dir / "calls.log"
        if not p.exists():
            return []
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def update_config(fake: FakeRauc, **over) -> dict:
    section = {"admin_token": TOKEN, "allowed_origins": [ADMIN_ORIGIN], "max_bundle_bytes": MAX,
               "busctl": str(fake.busctl)}
    section.update(over)
    return {"update": section}


@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> FakeRauc:
    return FakeRauc(tmp_path_factory.mktemp("fake-rauc"))


@pytest.fixture(scope="module")
def upd(module_daemon, fake):
    """The daemon most tests share (token, one allowed origin, 16 MB limit)."""
    return module_daemon(update_config(fake), env=fake.env)


@pytest.fixture(scope="module")
def small_fake(tmp_path_factory) -> FakeRauc:
    return FakeRauc(tmp_path_factory.mktemp("fake-rauc-small"))


@pytest.fixture(scope="module")
def small(module_daemon, small_fake):
    """A daemon with a 256 KiB bundle limit."""
    return module_daemon(update_config(small_fake, max_bundle_bytes=SMALL_MAX), env=small_fake.env)


@pytest.fixture
def ready(upd, fake):
    """The shared daemon with RAUC reachable and idle, no update running, an empty spool."""
    for name in ("unavailable", "busy", "refuse"):
        fake.flag(name, False)
    wait_for(lambda: status(upd)["state"] not in ("receiving", "installing"), 10, 0.1, "no update running")
    flag = reboot_flag(upd)
    if flag.exists():
        flag.unlink()
    yield upd
    for name in ("unavailable", "busy", "refuse"):
        fake.flag(name, False)


# --------------------------------------------------------------------------- helpers


def auth(token: str | None = TOKEN, form: str = "x-admin-token") -> dict:
    if token is None:
        return {}
    if form == "bearer":
        return {"Authorization": f"Bearer {token}"}
    return {"X-Admin-Token": token}


def call(d, action: str, body: bytes | None = None, *, method: str = "POST", token: str | None = TOKEN,
         form: str = "x-admin-token", headers: dict | None = None, query: str = "", **kw):
    """One update call; the raw Reply."""
    hdrs = auth(token, form)
    hdrs.update(headers or {})
    if body is not None:
        hdrs.setdefault("Content-Type", "application/octet-stream")
    return d.request(method, f"/update={action}{query}", body, headers=hdrs, **kw)


def status(d, **kw) -> dict:
    obj = check_api_reply(call(d, "status", method="GET", **kw))
    assert obj["code"] == "0", obj
    return obj


def spool(d) -> Path:
    return d.state_dir / "update"


def reboot_flag(d) -> Path:
    return spool(d) / "reboot-requested"


def spool_files(d) -> list[str]:
    p = spool(d)
    return sorted(os.listdir(p)) if p.is_dir() else []


def wait_final(d, timeout: float = 10.0) -> dict:
    """Poll status until the running update has ended; the final status."""
    seen = []

    def ended():
        s = status(d)
        seen.append((s["state"], s["progress"]))
        return s if s["state"] in ("done", "failed") else None

    s = wait_for(ended, timeout, 0.1, "update finished")
    s["_seen"] = seen
    return s


def bundle(n: int) -> bytes:
    data = os.urandom(n)
    return data if not data.startswith(b"BAD") else b"X" + data[1:]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_code(reply, code: str, http_status: int = 200) -> dict:
    obj = check_api_reply(reply, http_status)
    assert obj["code"] == code, f"expected code {code}: {reply!r}"
    if code != "0":
        assert obj.get("message"), obj
    return obj


def install(d, data: bytes, query: str = "", **kw) -> dict:
    obj = assert_code(call(d, "install", data, query=query, **kw), "0")
    assert obj["state"] == "installing", obj
    assert obj["bytes"] == len(data), obj
    return obj


# --------------------------------------------------------------------------- API off


def test_api_off_without_token(daemon, tmp_path):
    fk = FakeRauc(tmp_path)
    d = daemon({"update": {"busctl": str(fk.busctl)}}, env=fk.env)
    for action, body in (("status", None), ("install", b"bundle"), ("reboot", None)):
        assert_code(call(d, action, body, token=None), "9")
        assert_code(call(d, action, body), "9")
    assert spool_files(d) == []
    assert fk.installs() == []


def test_api_off_with_short_token(daemon, tmp_path):
    fk = FakeRauc(tmp_path)
    short = "short-token"  # 11 characters
    d = daemon({"update": {"admin_token": short, "busctl": str(fk.busctl)}}, env=fk.env)
    for action, body in (("status", None), ("install", b"bundle"), ("reboot", None)):
        obj = assert_code(call(d, action, body, token=short), "9")
        assert "state" not in obj, obj
    assert spool_files(d) == []
    assert fk.installs() == []


def test_token_file_and_spool_dir(daemon, tmp_path):
    """admin_token_file (first line) when admin_token is empty; spool_dir; stale uploads removed at start."""
    fk = FakeRauc(tmp_path)
    token_file = tmp_path / "admin-token"
    token_file.write_text(f"  {TOKEN}  \nsecond line is ignored\n")
    sp = tmp_path / "spool"
    sp.mkdir()
    (sp / "bundle.raucb.part").write_bytes(b"half an upload")
    (sp / "bundle.raucb").write_bytes(b"an old bundle")
    d = daemon({"update": {"admin_token_file": str(token_file), "spool_dir": str(sp),
                           "busctl": str(fk.busctl)}}, env=fk.env)
    assert sorted(os.listdir(sp)) == [], "stale upload files not removed at start"
    assert status(d)["state"] == "idle"
    assert_code(call(d, "status", token="second line is ignored"), "14", 403)
    assert_code(call(d, "reboot"), "0")
    assert (sp / "reboot-requested").exists()
    assert not reboot_flag(d).exists()


def test_token_file_missing_api_off(daemon, tmp_path):
    fk = FakeRauc(tmp_path)
    d = daemon({"update": {"admin_token_file": str(tmp_path / "no-such-file"), "busctl": str(fk.busctl)}},
               env=fk.env)
    assert_code(call(d, "status"), "9")
    assert_code(call(d, "status", token=""), "9")


# --------------------------------------------------------------------------- token, origin, host


@pytest.mark.parametrize("headers", [
    {},
    {"X-Admin-Token": "wrong-token-0123456789abc"},
    {"X-Admin-Token": TOKEN[:-1]},
    {"Authorization": f"Bearer {TOKEN}x"},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": TOKEN},
], ids=["missing", "wrong", "prefix", "bearer-wrong", "basic", "no-scheme"])
def test_wrong_or_missing_token(ready, headers):
    t0 = time.monotonic()
    obj = assert_code(call(ready, "status", method="GET", token=None, headers=headers), "14", 403)
    assert time.monotonic() - t0 >= 0.4, "a refused token is answered without the delay"
    assert "state" not in obj and "booted_slot" not in obj, obj


def test_wrong_token_install_not_received(ready, fake):
    before = len(fake.installs())
    assert_code(call(ready, "install", bundle(4096), token="wrong-token-0123456789abc"), "14", 403)
    assert_code(call(ready, "reboot", token=None), "14", 403)
    assert spool_files(ready) == []
    assert not reboot_flag(ready).exists()
    assert len(fake.installs()) == before


@pytest.mark.parametrize("form", ["x-admin-token", "bearer"])
def test_right_token_both_forms(ready, form):
    s = status(ready, form=form)
    assert s["state"] in ("idle", "done", "failed"), s
    for key in ("progress", "operation", "error", "bytes"):
        assert key in s, s
    assert s["booted_slot"] == "A" and s["compatible"] == "cameraservice-test", s
    assert s["rauc"] == "idle", s


@pytest.mark.parametrize("origin", [EVIL, "null", "http://admin.example:8081", "http://admin.example"])
def test_origin_not_allowed(ready, fake, origin):
    before = len(fake.installs())
    assert_code(call(ready, "status", method="GET", headers={"Origin": origin}), "14", 403)
    assert_code(call(ready, "install", bundle(4096), headers={"Origin": origin}), "14", 403)
    assert_code(call(ready, "reboot", headers={"Origin": origin}), "14", 403)
    assert spool_files(ready) == []
    assert len(fake.installs()) == before


def test_allowed_origin_passes(ready):
    obj = assert_code(call(ready, "status", headers={"Origin": ADMIN_ORIGIN}), "0")
    assert obj["booted_slot"] == "A", obj


def test_origin_checked_before_token(ready):
    # a page from another origin learns nothing, not even whether its token would be right
    t0 = time.monotonic()
    assert_code(call(ready, "status", token="wrong-token-0123456789abc", headers={"Origin": EVIL}), "14", 403)
    assert time.monotonic() - t0 < 0.4


@pytest.mark.parametrize("case", ["status", "status-allowed-origin", "status-evil-origin", "no-token",
                                  "install-error"])
def test_no_cors_headers(ready, case):
    if case == "status":
        r = call(ready, "status")
    elif case == "status-allowed-origin":
        r = call(ready, "status", headers={"Origin": ADMIN_ORIGIN})
    elif case == "status-evil-origin":
        r = call(ready, "status", headers={"Origin": EVIL})
    elif case == "no-token":
        r = call(ready, "status", token=None, headers={"Origin": ADMIN_ORIGIN})
    else:
        r = call(ready, "install", b"", headers={"Origin": ADMIN_ORIGIN})
    check_api_reply(r, r.status)
    cors = {k: v for k, v in r.headers.items() if k.lower().startswith("access-control-")}
    assert not cors, f"update reply carries CORS headers: {cors}"


@pytest.mark.parametrize("origin", [EVIL, ADMIN_ORIGIN])
def test_preflight_not_granted(ready, origin):
    r = ready.request("OPTIONS", "/update=install", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-admin-token,content-type",
        "Access-Control-Request-Private-Network": "true"})
    assert r.header("Access-Control-Allow-Origin") is None, r.headers
    assert r.header("Access-Control-Allow-Private-Network") is None, r.headers


@pytest.mark.parametrize("host", ["evil.example.com", "evil.example.com:{port}", "localhost.evil.example"])
def test_host_refused(ready, fake, host):
    before = len(fake.installs())
    h = host.format(port=ready.port)
    assert_code(call(ready, "status", host=h), "14", 403)
    assert_code(call(ready, "install", bundle(4096), host=h), "14", 403)
    assert_code(call(ready, "reboot", host=h), "14", 403)
    assert spool_files(ready) == []
    assert not reboot_flag(ready).exists()
    assert len(fake.installs()) == before


# --------------------------------------------------------------------------- RAUC not there / busy


def test_rauc_unavailable(ready, fake):
    fake.flag("unavailable")
    before = len(fake.installs())
    obj = assert_code(call(ready, "install", bundle(64 * 1024)), "9")
    assert "No such file or directory" in obj["message"] or "RAUC" in obj["message"], obj
    assert spool_files(ready) == []
    s = status(ready)
    assert s["state"] not in ("receiving", "installing"), s
    assert s["booted_slot"] == "" and s["compatible"] == "", s
    assert s["rauc"].startswith("unavailable: "), s
    assert "Failed to connect to bus" in s["rauc"], s
    assert len(fake.installs()) == before


def test_rauc_busy(ready, fake):
    fake.flag("busy")
    before = len(fake.installs())
    obj = assert_code(call(ready, "install", bundle(64 * 1024)), "9")
    assert "busy" in obj["message"].lower() or "忙" in obj["message"], obj
    assert spool_files(ready) == []
    s = status(ready)
    assert s["state"] not in ("receiving", "installing"), s
    assert s["rauc"] == "installing", s
    assert len(fake.installs()) == before


# --------------------------------------------------------------------------- installs


def test_good_upload(ready, fake):
    data = bundle(3 * 1024 * 1024)
    before = len(fake.installs())
    calls_before = len(fake.calls())
    install(ready, data)
    assert not reboot_flag(ready).exists()
    final = wait_final(ready)
    assert final["state"] == "done", final
    assert final["progress"] == 100 and final["error"] == "", final
    assert final["bytes"] == len(data), final
    assert any(st == "installing" for st, _ in final["_seen"]), final
    installs = fake.installs()[before:]
    assert len(installs) == 1, installs
    assert installs[0]["sha256"] == sha(data) and installs[0]["size"] == len(data), installs
    assert installs[0]["path"] == str(spool(ready) / "bundle.raucb"), installs
    rauc = ["de.pengutronix.rauc", "/", "de.pengutronix.rauc.Installer"]
    calls = fake.calls()[calls_before:]
    assert ["--system", "call", *rauc, "InstallBundle", "sa{sv}", installs[0]["path"], "0"] in calls, calls
    polls = [c for c in calls if c[-3:] == ["Operation", "Progress", "LastError"]]
    assert polls and all(c[:4] == ["--system", "--json=short", "get-property", *rauc[:1]] for c in polls), calls
    assert spool_files(ready) == [], "bundle left in the spool after the install"
    assert not reboot_flag(ready).exists(), "reboot requested without reboot=1"


def test_websocket_progress_events(ready):
    ws = websocket.create_connection(ready.ws_url("/"), timeout=10)
    # A second client that does not subscribe gets no events.
    other = websocket.create_connection(ready.ws_url("/"), timeout=10)
    try:
        ws.send(json.dumps({"function": "subscribe", "params": {"topics": ["update_progress"]}}))
        reply = json.loads(ws.recv())
        assert reply == {"function": "subscribe", "code": "0", "message": "", "topics": ["update_progress"]}, reply
        data = bundle(512 * 1024)
        install(ready, data)
        events = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            if msg.get("event") != "update_progress":
                continue
            assert msg["topic"] == "update_progress", msg
            events.append(msg)
            if msg["state"] in ("done", "failed"):
                break
        # The unsubscribed client: its next message is the reply to its own call, no event before it.
        other.send(json.dumps({"function": "param=get", "params": APP_VERSION}))
        first = json.loads(other.recv())
        assert first.get("function") == "param=get", first
    finally:
        ws.close()
        other.close()
    assert events, "no update_progress events"
    for e in events:
        for key in ("state", "progress", "operation", "error", "bytes"):
            assert key in e, e
    assert events[-1]["state"] == "done", events
    assert events[-1]["progress"] == 100 and events[-1]["bytes"] == len(data), events
    assert any(e["state"] == "installing" for e in events), events
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress), f"progress went back: {progress}"
    assert len(set(progress)) >= 3, f"too few progress steps pushed: {progress}"


def test_reboot_after_install(ready, fake):
    data = bundle(256 * 1024)
    install(ready, data, query="?reboot=1")
    assert not reboot_flag(ready).exists(), "reboot requested before the install finished"
    final = wait_final(ready)
    assert final["state"] == "done", final
    # "done" stays visible to pollers for 5 s before the restart is asked for
    assert not reboot_flag(ready).exists(), "reboot requested the moment the install finished"
    wait_for(reboot_flag(ready).exists, 10, 0.05, "reboot-requested after done")
    assert spool_files(ready) == ["reboot-requested"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_upload(ready, fake, tmp_path):
    """The way an operator uploads: curl --data-binary (over 1 MB, so with Expect: 100-continue)."""
    data = bundle(1536 * 1024)
    f = tmp_path / "update.raucb"
    f.write_bytes(data)
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "-H", f"Authorization: Bearer {TOKEN}",
                        "--data-binary", f"@{f}", f"{ready.base_url}/update=install"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["code"] == "0" and obj["bytes"] == len(data), obj
    assert wait_final(ready)["state"] == "done"
    assert fake.installs()[-1]["sha256"] == sha(data)


def test_reboot_call(ready):
    assert not reboot_flag(ready).exists()
    assert_code(call(ready, "reboot"), "0")
    assert reboot_flag(ready).exists()


def test_bad_bundle_fails(ready, fake):
    data = b"BAD" + bundle(128 * 1024)
    before = len(fake.installs())
    install(ready, data, query="?reboot=1")
    final = wait_final(ready)
    assert final["state"] == "failed", final
    assert final["error"] == "signature verification failed", final
    assert final["progress"] != 100, final
    installs = fake.installs()[before:]
    assert len(installs) == 1 and installs[0]["sha256"] == sha(data), installs
    assert spool_files(ready) == [], "bundle left (or reboot requested) after a failed install"


def test_second_upload_while_installing(ready, fake):
    first = bundle(1024 * 1024)
    before = len(fake.installs())
    install(ready, first)
    obj = assert_code(call(ready, "install", bundle(64 * 1024)), "9")
    assert "state" not in obj, obj
    s = status(ready)
    assert s["state"] == "installing" and s["bytes"] == len(first), s
    assert_code(call(ready, "reboot"), "9")
    assert not reboot_flag(ready).exists()
    final = wait_final(ready)
    assert final["state"] == "done", final
    installs = fake.installs()[before:]
    assert [i["sha256"] for i in installs] == [sha(first)], installs
    assert spool_files(ready) == []


def test_install_refused_by_rauc(ready, fake):
    fake.flag("refuse")
    install(ready, bundle(64 * 1024))
    final = wait_final(ready, 5)
    assert final["state"] == "failed", final
    assert "Already processing" in final["error"], final
    assert spool_files(ready) == []


@pytest.mark.parametrize("kind", ["content-length", "chunked"])
def test_empty_body(ready, fake, kind):
    before = len(fake.installs())
    if kind == "content-length":
        assert_code(call(ready, "install", b""), "4")
    else:
        r = requests.post(f"{ready.base_url}/update=install", data=iter([]), headers=auth(), timeout=10)
        assert r.status_code == 200 and r.json()["code"] == "4", r.text
    assert spool_files(ready) == []
    assert len(fake.installs()) == before
    assert status(ready)["state"] not in ("receiving", "installing")


def test_broken_upload(ready, fake):
    before = len(fake.installs())
    total = 10 * 1024 * 1024
    head = (f"POST /update=install HTTP/1.1\r\nHost: {LOOPBACK}:{ready.port}\r\n"
            f"X-Admin-Token: {TOKEN}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {total}\r\n\r\n").encode()
    s = socket.create_connection((LOOPBACK, ready.port), timeout=10)
    try:
        s.sendall(head)
        s.sendall(os.urandom(1024 * 1024))
        wait_for(lambda: (spool(ready) / "bundle.raucb.part").exists(), 5, 0.05, "upload being received")
        assert status(ready)["state"] == "receiving"
    finally:
        s.close()
    wait_for(lambda: spool_files(ready) == [], 5, 0.1, "spool empty after the broken upload")
    st = wait_for(lambda: (lambda x: x if x["state"] in ("failed", "idle") else None)(status(ready)), 5, 0.1,
                  "status failed or idle after the broken upload")
    assert st["state"] in ("failed", "idle"), st
    assert len(fake.installs()) == before
    obj = ready.api("/param=get", APP_VERSION)
    assert obj["code"] == "0" and obj["app_version"], obj
    # and the next upload is taken
    data = bundle(64 * 1024)
    install(ready, data)
    assert wait_final(ready)["state"] == "done"


# A client that closes (or half-closes) right after sending the whole bundle: the server may drop
# the handler mid-way; the update API must not stay stuck in "receiving" or keep a partial file.
@pytest.mark.parametrize("how, size", [("close", 1024 * 1024), ("half-close", 4096)])
def test_upload_closed_before_reply(daemon, tmp_path, how, size):
    fk = FakeRauc(tmp_path)
    d = daemon(update_config(fk), env=fk.env)
    data = bundle(size)
    head = (f"POST /update=install HTTP/1.1\r\nHost: {LOOPBACK}:{d.port}\r\n"
            f"X-Admin-Token: {TOKEN}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode()
    with socket.create_connection((LOOPBACK, d.port), timeout=10) as s:
        s.sendall(head + data)
        if how == "half-close":
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            try:
                s.recv(65536)  # the reply (the bundle was complete)
            except OSError:
                pass
    # The whole bundle arrived: installing it or dropping it are both fine; hanging is not.
    # The state starts "idle". The server may drop the request before the handler ran at all
    # (then nothing happened and "idle" stays); otherwise it must end installed or failed.
    # "idle" may thus be final: it gets a deliberate 3 s to change (nothing to wait for when the
    # request was dropped). "receiving" is not final: it is waited out (up to 30 s).
    t0 = time.monotonic()
    st = status(d)
    while st["state"] not in ("installing", "failed", "done"):
        waited = time.monotonic() - t0
        if waited > 30 or (st["state"] == "idle" and waited > 3):
            break
        time.sleep(0.1)  # poll interval
        st = status(d)
    if st["state"] == "installing":
        st = wait_final(d)
    assert st["state"] in ("idle", "failed", "done"), st
    assert spool_files(d) == []
    assert_code(call(d, "install", bundle(1024)), "0")
    assert wait_final(d)["state"] == "done"


# --------------------------------------------------------------------------- size limit


def test_over_limit_content_length(small, small_fake):
    conn = http.client.HTTPConnection(LOOPBACK, small.port, timeout=10)
    try:
        conn.putrequest("POST", "/update=install")
        conn.putheader("X-Admin-Token", TOKEN)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(SMALL_MAX + 1))
        conn.endheaders()  # no body: the limit is checked on the header alone
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert resp.status == 413, (resp.status, body)
    obj = json.loads(body)
    assert obj["code"] == "10" and obj["message"], obj
    assert spool_files(small) == []
    assert small_fake.installs() == []
    assert status(small)["state"] not in ("receiving", "installing")


def test_over_limit_chunked(small, small_fake):
    sent = []

    def gen():
        chunk = os.urandom(16 * 1024)
        for _ in range(SMALL_MAX // len(chunk) + 4):
            sent.append(len(chunk))
            yield chunk

    reply = None
    try:
        reply = requests.post(f"{small.base_url}/update=install", data=gen(), headers=auth(), timeout=10)
    except requests.ConnectionError:
        pass  # the daemon may close the connection before the client has sent everything
    if reply is not None:
        assert reply.status_code == 413, reply.text
        assert reply.json()["code"] == "10", reply.text
    s = wait_for(lambda: (lambda x: x if x["state"] not in ("receiving",) else None)(status(small)), 5, 0.1,
                 "upload ended")
    assert s["state"] == "failed" and str(SMALL_MAX) in s["error"], s
    wait_for(lambda: spool_files(small) == [], 3, 0.1, "spool empty after the refused upload")
    assert small_fake.installs() == []


def test_at_limit_accepted(small, small_fake):
    data = bundle(SMALL_MAX)
    install(small, data)
    assert wait_final(small)["state"] == "done"
    assert small_fake.installs()[-1]["sha256"] == sha(data)


# --------------------------------------------------------------------------- stalls and races


def test_stalled_upload_is_abandoned(daemon, tmp_path):
    """A client that stops sending without closing (a pulled cable) must not hold the API."""
    fk = FakeRauc(tmp_path)
    d = daemon(update_config(fk, receive_timeout_seconds=2), env=fk.env)
    head = (f"POST /update=install HTTP/1.1\r\nHost: {LOOPBACK}:{d.port}\r\n"
            f"X-Admin-Token: {TOKEN}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {4 * 1024 * 1024}\r\n\r\n").encode()
    with socket.create_connection((LOOPBACK, d.port), timeout=10) as s:
        s.sendall(head + bundle(256 * 1024))
        st = wait_for(lambda: (lambda x: x if x["state"] == "receiving" else None)(status(d)), 5, 0.05,
                      "upload under way")
        # silent from here on, connection kept open
        st = wait_for(lambda: (lambda x: x if x["state"] == "failed" else None)(status(d)), 10, 0.2,
                      "stalled upload abandoned")
        assert "stalled" in st["error"], st
        assert spool_files(d) == []
    assert_code(call(d, "install", bundle(1024)), "0")
    assert wait_final(d)["state"] == "done"
    assert len(fk.installs()) == 1


def test_simultaneous_uploads_only_one_taken(daemon, tmp_path):
    import concurrent.futures
    fk = FakeRauc(tmp_path)
    d = daemon(update_config(fk), env=fk.env)
    data = bundle(512 * 1024)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        replies = list(ex.map(lambda _: call(d, "install", data).json()["code"], range(8)))
    assert replies.count("0") == 1, replies
    assert set(replies) <= {"0", "9"}, replies
    assert wait_final(d)["state"] == "done"
    assert len(fk.installs()) == 1
    assert spool_files(d) == []


def test_health_check_command(ready):
    """`cameraserviced --health-check` (run before a new slot is marked good)."""
    from e2e_support import daemon_binary, free_port
    ok = subprocess.run([str(daemon_binary()), "--health-check", f"{LOOPBACK}:{ready.port}"],
                        capture_output=True, timeout=20)
    assert ok.returncode == 0, ok.stderr
    down = subprocess.run([str(daemon_binary()), "--health-check", f"{LOOPBACK}:{free_port()}"],
                          capture_output=True, text=True, timeout=20)
    assert down.returncode == 1 and "health check failed" in down.stderr
