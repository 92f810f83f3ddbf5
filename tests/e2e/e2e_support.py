"""Support code for the cameraserviced black-box end-to-end tests (see conftest.py).

The daemon binary is taken from $CAMERASERVICED_BIN, else <repo>/target/debug/cameraserviced
(the repository root is two levels above this file). Every daemon started here listens on a
free 127.0.0.1 port, keeps its state in a fresh temporary directory and is stopped with SIGTERM
at teardown (SIGKILL only if it does not exit).

Set CAMERASERVICED_E2E_SIM=1 to start every daemon with --sim.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any, Iterable

import pytest

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parents[1]
LOOPBACK = "127.0.0.1"

READY_TIMEOUT = 20.0  # seconds to wait for the port to accept connections
STOP_TIMEOUT = 10.0  # seconds to wait for exit after SIGTERM
HTTP_TIMEOUT = 15.0

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
CJK_RE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


# --------------------------------------------------------------------------- binary / ports / toml


def daemon_binary() -> Path:
    env = os.environ.get("CAMERASERVICED_BIN")
    if env:
        return Path(env)
    return REPO_ROOT / "target" / "debug" / "cameraserviced"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def to_toml(config: dict) -> str:
    """Write a config dict ({table: {key: value}} plus optional top-level scalars) as TOML."""
    top = [f"{k} = {_toml_value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    tables = []
    for name, values in config.items():
        if isinstance(values, dict):
            tables.append(f"[{name}]")
            tables.extend(f"{k} = {_toml_value(v)}" for k, v in values.items())
            tables.append("")
    text = "\n".join(top + [""] + tables)
    assert tomllib.loads(text) == config, "TOML writer bug"
    return text


# --------------------------------------------------------------------------- HTTP helpers


class Reply:
    """One HTTP response, fully read."""

    def __init__(self, status: int, reason: str, headers: http.client.HTTPMessage, body: bytes):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self._json: Any = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def json(self) -> Any:
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise AssertionError(f"reply is not JSON ({e}): {self.status} {self.body[:500]!r}") from e
        return self._json

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.content_type!r} {self.body[:300]!r}>"


def encode_body(body: Any) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def http_request(
    port: int,
    method: str,
    target: str,
    body: Any = None,
    *,
    content_type: str | None = None,
    headers: dict | None = None,
    host: str | None = None,
    timeout: float = HTTP_TIMEOUT,
    conn: http.client.HTTPConnection | None = None,
) -> Reply:
    """Send one request with http.client (no URL re-quoting, so raw JSON in the target is sent as is).

    `body` may be bytes (sent verbatim), str (UTF-8), dict/list (JSON) or None (no body; http.client
    sends Content-Length: 0 for POST). `host` overrides the Host header.
    """
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        if host is not None:
            hdrs["Host"] = host
        conn.request(method, target, body=encode_body(body), headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        reply = Reply(resp.status, resp.reason, resp.headers, data)
        record_http_reply(method, target, reply)
        return reply
    finally:
        if own:
            conn.close()


def post_raw(port: int, target: str, data: bytes, content_type: str | None = None, **kw) -> Reply:
    """POST raw bytes with a chosen Content-Type (None = no Content-Type header)."""
    return http_request(port, "POST", target, data, content_type=content_type, **kw)


def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Write raw bytes to a fresh connection and read until the server closes it (or timeout)."""
    out = bytearray()
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except (ConnectionResetError, BrokenPipeError):
                break
            if not chunk:
                break
            out += chunk
            if response_complete(bytes(out)):
                break
    return bytes(out)


def response_complete(buf: bytes) -> bool:
    """True when buf holds one complete HTTP response (Content-Length or chunked framing)."""
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        fields[k.strip().lower()] = v.strip()
    if "content-length" in fields:
        return len(rest) >= int(fields["content-length"])
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return rest.endswith(b"0\r\n\r\n")
    return False  # read until close


def parse_raw_response(buf: bytes) -> tuple[int, dict, bytes]:
    """(status, lower-case header dict, decoded body) from raw response bytes."""
    head, sep, rest = buf.partition(b"\r\n\r\n")
    assert sep, f"no complete HTTP response head in {buf[:300]!r}"
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        fields[k.strip().lower()] = v.strip()
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = bytearray()
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            body += rest[:size]
            rest = rest[size + 2 :]
        rest = bytes(body)
    elif "content-length" in fields:
        rest = rest[: int(fields["content-length"])]
    return status, fields, rest


def check_api_reply(reply: Reply, status: int = 200) -> dict:
    """The shape every API reply has: status, JSON content type, an object whose code is a string."""
    assert reply.status == status, f"expected HTTP {status}, got {reply!r}"
    ct = reply.content_type.replace(" ", "").lower()
    assert ct == JSON_CONTENT_TYPE.replace(" ", ""), f"Content-Type {reply.content_type!r}: {reply!r}"
    obj = reply.json()
    assert isinstance(obj, dict), f"reply is not a JSON object: {obj!r}"
    assert "code" in obj, f"reply has no code: {obj!r}"
    assert isinstance(obj["code"], str), f"code is not a string: {obj!r}"
    return obj


def has_cjk(text: str) -> bool:
    return bool(CJK_RE.search(text))


# --------------------------------------------------------------------------- reply recorder
#
# With CAMERASERVICE_RECORD_REPLIES naming a file, every JSON API reply the helpers above receive is
# appended to it as one line {"endpoint": "group=action", "method", "status", "reply"}, and every
# reply of ws_call() as {"endpoint", "transport": "ws", "function", "reply"}; tests/openapi/
# test_recorded.py validates them against the OpenAPI document. Strings over RECORD_STRING_MAX
# characters (base64 ...) are cut in the record (their type stays). Recording never fails a test.

RECORD_ENV = "CAMERASERVICE_RECORD_REPLIES"
RECORD_STRING_MAX = 256
UPDATE_PATHS = ("/update=install", "/update=status", "/update=reboot")
_record_lock = threading.Lock()
_groups: frozenset | None = None


def _endpoint_groups() -> frozenset:
    """The URL grammar's groups: those of endpoints.txt (kept equal to the catalogue)."""
    global _groups
    if _groups is None:
        _groups = frozenset(e.split("=", 1)[0].lower() for e in load_endpoints() if "=" in e)
    return _groups


def _starts_json(text: str) -> bool:
    t = text.lstrip(" ")
    return t[:1] in ("{", "[") or t[:3].lower() in ("%7b", "%5b")


def endpoint_of_target(target: str) -> str | None:
    """The endpoint key (`video=grabimage`, `ocr`) a request target names, read as api::url::parse_target
    reads it (path or query form, separators ?&;, JSON values skipped), or the update API's key; None
    for the plain paths (/storage/, /ui/, /openapi.json, /) and targets naming no endpoint."""
    path, sep, query = target.partition("?")
    if path in UPDATE_PATHS:
        return path[1:]
    if path.startswith(("/storage/", "/ui/")) or path == "/openapi.json":
        return None
    text = path.lstrip("/") + ("?" + query if sep else "")
    groups = _endpoint_groups()
    decoder = json.JSONDecoder()
    pos, first, decoded, attempts = 0, True, False, 0

    def skip_json(at: int) -> int | None:
        # A JSON object or array at `at`: the position after it (the rest is decoded once, as the daemon does).
        nonlocal text, decoded, attempts
        if attempts >= 4:
            return None
        attempts += 1
        rest = text[at:] if decoded else urllib.parse.unquote(text[at:], errors="replace")
        lead = len(rest) - len(rest.lstrip())
        try:
            value, end = decoder.raw_decode(rest, lead)
        except ValueError:
            return None
        if not isinstance(value, (dict, list)):
            return None
        if decoded:
            return at + end
        text, decoded = rest, True
        return end

    while True:
        while pos < len(text) and text[pos] in "?&;":
            pos += 1
        if pos >= len(text):
            return None
        if _starts_json(text[pos:]):
            nxt = skip_json(pos)
            if nxt is not None:
                pos = nxt
                continue
        rest = text[pos:]
        end = next((i for i, c in enumerate(rest) if c in "?&;"), len(rest))
        seg = rest[:end]
        if "=" in seg:
            eq = seg.index("=")
            if _starts_json(text[pos + eq + 1:]):
                nxt = skip_json(pos + eq + 1)
                if nxt is not None:
                    pos, first = nxt, False
                    continue
            key = urllib.parse.unquote(seg[:eq], errors="replace").strip().lower()
            if key in groups:
                action = urllib.parse.unquote(seg[eq + 1:], errors="replace").strip().lower()
                return f"{key}={action}"
        elif first and urllib.parse.unquote(seg, errors="replace").strip().lower() == "ocr":
            return "ocr"
        first = False
        pos += end


def _trimmed(value):
    if isinstance(value, str):
        return value if len(value) <= RECORD_STRING_MAX else value[:64] + f"...({len(value)} chars)"
    if isinstance(value, dict):
        return {k: _trimmed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trimmed(v) for v in value]
    return value


def _record(entry: dict) -> None:
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    with _record_lock, open(os.environ[RECORD_ENV], "a", encoding="utf-8") as f:
        f.write(line)


def record_http_reply(method: str, target: str, reply: "Reply") -> None:
    """Append a JSON API reply to the record file (see above); anything else is left out."""
    if not os.environ.get(RECORD_ENV) or reply.status == 404:
        return
    try:
        if not reply.content_type.replace(" ", "").lower().startswith("application/json"):
            return
        endpoint = endpoint_of_target(target)
        if endpoint is None:
            return
        obj = reply.json()
        if isinstance(obj, dict):
            _record({"endpoint": endpoint, "method": method.upper(), "status": reply.status,
                     "reply": _trimmed(obj)})
    except Exception:  # noqa: BLE001 - recording must never break a test
        pass


def record_ws_reply(function: str, msg: dict) -> None:
    """Append a WebSocket reply: `endpoint` is GROUP=ACTION when the function is written so, else
    `ws:<function>` (the OpenAPI document's x-websocket maps the name)."""
    if not os.environ.get(RECORD_ENV):
        return
    try:
        f = function.strip()
        if "=" in f:
            g, _, a = f.partition("=")
            endpoint = f"{g.strip().lower()}={a.strip().lower()}"
        elif f.lower() == "ocr":
            endpoint = "ocr"
        else:
            endpoint = "ws:" + f
        _record({"endpoint": endpoint, "transport": "ws", "function": function, "reply": _trimmed(msg)})
    except Exception:  # noqa: BLE001
        pass


# --------------------------------------------------------------------------- daemon


class Daemon:
    def __init__(self, proc: subprocess.Popen, ports: list[int], workdir: Path, state_dir: Path,
                 config_path: Path | None, log_path: Path):
        self.proc = proc
        self.ports = ports
        self.port = ports[0]
        self.workdir = workdir
        self.state_dir = state_dir
        self.config_path = config_path
        self.log_path = log_path
        self.exit_code: int | None = None

    # -- addresses
    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def ws_url(self, path: str = "/") -> str:
        return f"ws://{LOOPBACK}:{self.port}{path}"

    # -- HTTP
    def request(self, method: str, target: str, body: Any = None, **kw) -> Reply:
        return http_request(self.port, method, target, body, **kw)

    def get(self, target: str, **kw) -> Reply:
        return self.request("GET", target, None, **kw)

    def post(self, target: str, body: Any = None, content_type: str | None = "application/json", **kw) -> Reply:
        return self.request("POST", target, body, content_type=content_type, **kw)

    def post_raw(self, target: str, data: bytes, content_type: str | None = None, **kw) -> Reply:
        return post_raw(self.port, target, data, content_type, **kw)

    def api(self, endpoint: str, params: Any = None, *, status: int = 200, **kw) -> dict:
        """POST JSON `params` to /endpoint and return the checked reply object."""
        target = endpoint if endpoint.startswith("/") else "/" + endpoint
        return check_api_reply(self.post(target, {} if params is None else params, **kw), status)

    def raw(self, data: bytes, timeout: float = 5.0) -> bytes:
        return raw_exchange(self.port, data, timeout)

    # -- lifecycle
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-n:])

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        pending = list(self.ports)
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"cameraserviced exited with {self.proc.returncode} before listening on {pending}; "
                    f"log:\n{self.log_tail()}")
            try:
                with socket.create_connection((LOOPBACK, pending[0]), timeout=0.25):
                    pending.pop(0)
                    continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"cameraserviced not listening on {pending} after {timeout}s; "
                                   f"log:\n{self.log_tail()}")
            time.sleep(0.02)

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM and wait; returns the exit code, or None if it had to be killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self.exit_code = self.proc.returncode
        return self.exit_code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)


class DaemonFactory:
    """Starts daemons and stops every one of them at close()."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory):
        self._tmp = tmp_path_factory
        self.daemons: list[Daemon] = []

    def __call__(
        self,
        config: dict | None = None,
        *,
        args: Iterable[str] = (),
        listen: int | list[int] = 1,
        state_dir: Path | None = None,
        use_config: bool = True,
        sim: bool | None = None,
        env: dict | None = None,
        wait: bool = True,
        preexec=None,
    ) -> Daemon:
        """Start a daemon.

        config: dict written as TOML and passed with --config ({} = an empty file; use_config=False
        passes no --config at all). listen: number of free ports, or explicit port list (all on
        127.0.0.1). state_dir: reuse a state directory (e.g. for restart tests). preexec: run in the
        child before exec (e.g. resource limits).
        """
        binary = daemon_binary()
        if not binary.is_file():
            # The suite script builds it first; a missing binary there is a failure, not a skip.
            pytest.fail(f"daemon binary not built: {binary} (cargo build, or set CAMERASERVICED_BIN)")
        workdir = self._tmp.mktemp("daemon")
        ports = [free_port() for _ in range(listen)] if isinstance(listen, int) else list(listen)
        if state_dir is None:
            state_dir = workdir / "state"
            state_dir.mkdir()
        cmd = [str(binary)]
        config_path = None
        if use_config:
            config_path = workdir / "config.toml"
            config_path.write_text(to_toml(config or {}), encoding="utf-8")
            cmd += ["--config", str(config_path)]
        for p in ports:
            cmd += ["--listen", f"{LOOPBACK}:{p}"]
        cmd += ["--state-dir", str(state_dir)]
        if sim if sim is not None else os.environ.get("CAMERASERVICED_E2E_SIM") == "1":
            cmd.append("--sim")
        cmd += list(args)

        run_env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        run_env.setdefault("RUST_BACKTRACE", "1")
        run_env.update(env or {})
        log_path = workdir / "daemon.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=run_env, cwd=workdir, preexec_fn=preexec)
        d = Daemon(proc, ports, workdir, state_dir, config_path, log_path)
        self.daemons.append(d)
        if wait:
            d.wait_ready()
        return d

    def close(self) -> None:
        for d in self.daemons:
            rc = d.terminate()
            if rc != 0:
                print(f"[e2e] daemon on port {d.port} stopped with {rc!r}; log tail:\n{d.log_tail()}")
        self.daemons.clear()


# --------------------------------------------------------------------------- endpoint list

ENDPOINTS_FILE = E2E_DIR / "endpoints.txt"
STREAM_ENDPOINTS = {"video=stream", "sign=stream"}


def load_endpoints() -> list[str]:
    out = []
    for line in ENDPOINTS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def background(fn, *a, **kw) -> threading.Thread:
    t = threading.Thread(target=fn, args=a, kwargs=kw, daemon=True)
    t.start()
    return t


# --------------------------------------------------------------------------- MJPEG streams

MJPEG_BOUNDARY = "cameraserviceframe"


class MjpegPart:
    """One part of a multipart/x-mixed-replace stream: its header fields (lower-case) and body."""

    def __init__(self, headers: dict, body: bytes, at: float):
        self.headers = headers
        self.body = body
        self.at = at  # time.monotonic() when the part was complete

    @property
    def content_length(self) -> int | None:
        v = self.headers.get("content-length")
        return int(v) if v is not None else None

    def assert_jpeg(self) -> tuple[int, int]:
        """The part is image/jpeg, Content-Length matches, FFD8..FFD9; returns (width, height)."""
        assert self.headers.get("content-type", "").lower() == "image/jpeg", self.headers
        assert self.content_length == len(self.body), (self.headers, len(self.body))
        assert self.body[:2] == b"\xff\xd8", f"no JPEG SOI: {self.body[:16]!r}"
        assert self.body[-2:] == b"\xff\xd9", f"no JPEG EOI: {self.body[-16:]!r}"
        return jpeg_size(self.body)


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the first SOFn marker of a JPEG."""
    assert data[:2] == b"\xff\xd8", f"not a JPEG: {data[:16]!r}"
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise AssertionError(f"bad JPEG marker at {i}: {data[i:i + 8]!r}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        seg_len = int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h = int.from_bytes(data[i + 5:i + 7], "big")
            w = int.from_bytes(data[i + 7:i + 9], "big")
            return w, h
        i += 2 + seg_len
    raise AssertionError("no SOF marker in JPEG")


class MjpegStream:
    """A GET of an MJPEG endpoint, read part by part (http.client undoes the chunked framing).

    Parsing is strict: every part must start with `--<boundary>\\r\\n`, carry a Content-Length, and
    its body must be followed by `\\r\\n`, so a wrong Content-Length fails the next read. The end of
    the response may come after a part, after a closing delimiter, or right after a boundary line.
    Use as a context manager, or call close().
    """

    def __init__(self, port: int, target: str, timeout: float = 10.0):
        self.target = target
        self.conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
        self.conn.request("GET", target)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = self.resp.headers
        self.content_type = self.resp.headers.get("Content-Type", "")
        self.buf = bytearray()
        self.eof = False
        self.clean_end: bool | None = None  # at EOF: True = terminating chunk seen, False = cut off
        self.trailing_boundary = False  # the response ended right after a boundary line
        self.parts = 0

    # -- shape
    @property
    def is_multipart(self) -> bool:
        return self.content_type.replace(" ", "").lower().startswith("multipart/x-mixed-replace")

    @property
    def boundary(self) -> str | None:
        m = re.search(r'boundary="?([^";]+)"?', self.content_type)
        return m.group(1) if m else None

    def read_reply(self) -> Reply:
        """For a non-stream answer: the whole response as a Reply."""
        reply = Reply(self.status, self.resp.reason, self.resp.headers, self.resp.read())
        record_http_reply("GET", self.target, reply)
        return reply

    # -- reading
    def _fill(self, deadline: float) -> bool:
        """Read more bytes into buf; False at EOF."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no complete MJPEG part in time (after {self.parts} parts)")
        if self.conn.sock is not None:
            self.conn.sock.settimeout(min(remaining, 30.0))
        try:
            chunk = self.resp.read1(65536)
        except socket.timeout as e:
            raise TimeoutError(f"no MJPEG data in time (after {self.parts} parts)") from e
        except http.client.IncompleteRead as e:
            self.buf += e.partial
            self.eof, self.clean_end = True, False
            return bool(e.partial)
        except (ConnectionResetError, BrokenPipeError):
            self.eof, self.clean_end = True, False
            return False
        if not chunk:
            self.eof, self.clean_end = True, True
            return False
        self.buf += chunk
        return True

    def next_part(self, timeout: float = 10.0) -> MjpegPart | None:
        """The next complete part, or None when the response has ended (EOF or closing boundary)."""
        deadline = time.monotonic() + timeout
        start = f"--{self.boundary or MJPEG_BOUNDARY}".encode()
        # boundary line
        while True:
            # tolerate CRLFs before the boundary line (RFC 2046 preamble/epilogue style)
            while self.buf[:2] == b"\r\n":
                del self.buf[:2]
            if len(self.buf) >= len(start) + 2:
                head = bytes(self.buf[:len(start) + 2])
                if head == start + b"--":
                    # closing delimiter: the response must end right after it
                    deadline = time.monotonic() + min(timeout, 5.0)
                    while self._fill(deadline):
                        pass
                    return None
                assert head == start + b"\r\n", f"part does not start with the boundary: {bytes(self.buf[:80])!r}"
                break
            if not self._fill(deadline):
                assert not self.buf.strip(), f"stream ended inside a boundary: {bytes(self.buf[:80])!r}"
                return None
        # header block
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                if bytes(self.buf) == start + b"\r\n":
                    # The daemon writes the next boundary right after each part (so a browser shows
                    # a frame at once); a stream that ends therefore ends with a boundary line.
                    self.buf.clear()
                    self.trailing_boundary = True
                    return None
                raise AssertionError(f"stream ended inside part headers: {bytes(self.buf[:200])!r}")
        head, _, _ = bytes(self.buf).partition(b"\r\n\r\n")
        del self.buf[:len(head) + 4]
        fields = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            k, sep, v = line.partition(":")
            assert sep, f"bad part header line {line!r}"
            fields[k.strip().lower()] = v.strip()
        assert "content-length" in fields, f"part without Content-Length: {fields}"
        n = int(fields["content-length"])
        while len(self.buf) < n + 2:
            if not self._fill(deadline):
                raise AssertionError(f"stream ended inside a part body ({len(self.buf)} of {n} bytes)")
        body = bytes(self.buf[:n])
        assert self.buf[n:n + 2] == b"\r\n", \
            f"Content-Length {n} does not match: body followed by {bytes(self.buf[n:n + 20])!r}"
        del self.buf[:n + 2]
        self.parts += 1
        return MjpegPart(fields, body, time.monotonic())

    def frame(self, timeout: float = 10.0) -> MjpegPart:
        """The next part, which must exist and be a valid JPEG."""
        part = self.next_part(timeout)
        assert part is not None, f"stream ended after {self.parts} parts"
        part.assert_jpeg()
        return part

    def count_for(self, seconds: float, part_timeout: float = 10.0) -> int:
        """Read (and check) parts for `seconds`; the number read. Fails if the stream ends."""
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            self.frame(part_timeout)
            n += 1
        return n

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.resp.close()
        with contextlib.suppress(Exception):
            self.conn.close()

    def __enter__(self) -> "MjpegStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll predicate() until it returns something truthy; returns that value, else fails."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")
        time.sleep(interval)


# --------------------------------------------------------------------------- JPEG headers


class JpegInfo:
    """What the headers of a JPEG say (parsed up to the first SOS)."""

    def __init__(self, width: int, height: int, components: int, sof: int,
                 jfif: tuple[int, int, int] | None, dqt: dict[int, tuple[int, ...]]):
        self.width = width
        self.height = height
        self.components = components  # 1 = greyscale, 3 = YCbCr
        self.sof = sof  # SOF marker (0xC0 baseline, 0xC2 progressive ...)
        self.jfif = jfif  # (units, x density, y density) of the JFIF APP0 segment, None without one
        self.dqt = dqt  # quantisation tables by id, in the order they are stored

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def __repr__(self) -> str:
        return f"<JpegInfo {self.width}x{self.height} comps={self.components} jfif={self.jfif}>"


def jpeg_info(data: bytes) -> JpegInfo:
    """Parse a JPEG's markers up to SOS: size, component count, JFIF density, quantisation tables.

    Fails (AssertionError) on anything that is not a well-formed JPEG ending in EOI.
    """
    assert data[:2] == b"\xff\xd8", f"not a JPEG (no SOI): {data[:16]!r}"
    assert data.rstrip(b"\x00")[-2:] == b"\xff\xd9", f"JPEG does not end with EOI: {data[-16:]!r}"
    i = 2
    jfif = None
    dqt: dict[int, tuple[int, ...]] = {}
    sof = None
    while i + 4 <= len(data):
        assert data[i] == 0xFF, f"bad JPEG marker at {i}: {data[i:i + 8]!r}"
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        seg_len = int.from_bytes(data[i + 2:i + 4], "big")
        seg = data[i + 4:i + 2 + seg_len]
        if marker == 0xE0 and seg[:5] == b"JFIF\x00" and jfif is None:
            jfif = (seg[7], int.from_bytes(seg[8:10], "big"), int.from_bytes(seg[10:12], "big"))
        elif marker == 0xDB:
            j = 0
            while j < len(seg):
                pq, tq = seg[j] >> 4, seg[j] & 0x0F
                n = 128 if pq else 64
                body = seg[j + 1:j + 1 + n]
                dqt[tq] = tuple(body) if not pq else tuple(
                    int.from_bytes(body[k:k + 2], "big") for k in range(0, n, 2))
                j += 1 + n
        elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and sof is None:
            sof = (marker, int.from_bytes(seg[3:5], "big"), int.from_bytes(seg[1:3], "big"), seg[5])
        elif marker == 0xDA:
            break
        i += 2 + seg_len
    assert sof is not None, "no SOF marker in JPEG"
    marker, w, h, comps = sof
    return JpegInfo(w, h, comps, marker, jfif, dqt)


# --------------------------------------------------------------------------- device simulators


def devsim_binary() -> Path:
    """The device simulator ($DEVSIM_BIN, else next to the daemon binary)."""
    env = os.environ.get("DEVSIM_BIN")
    if env:
        return Path(env)
    return daemon_binary().parent / "devsim"


class DevSimProcess:
    """One `devsim MODE ARGS...` process: its first stdout line (the banner), then stdin commands
    answered `ok`. Ended at close(): `quit`, then SIGKILL to its own pid if it lingers."""

    def __init__(self, mode: str, args: list[str], log_path: Path):
        binary = devsim_binary()
        if not binary.is_file():
            pytest.fail(f"simulator binary not built: {binary} (cargo build -p devsim --bins, or set DEVSIM_BIN)")
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([str(binary), mode, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, bufsize=0)
        self._buf = bytearray()
        self.banner = self.readline(10.0)

    def readline(self, timeout: float) -> str:
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"devsim said nothing within {timeout}s (so far {bytes(self._buf)!r})")
            r, _, _ = select.select([fd], [], [], remaining)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise AssertionError(f"devsim ended (rc {self.proc.poll()}); stderr: {self.stderr()}")
                self._buf += chunk
        line, _, rest = bytes(self._buf).partition(b"\n")
        self._buf = bytearray(rest)
        return line.decode("utf-8", "replace")

    def cmd(self, line: str) -> None:
        """Send one command; devsim must answer `ok`."""
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        answer = self.readline(5.0)
        assert answer == "ok", f"devsim {line!r}: {answer!r}"

    def stderr(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.flush()
                self.proc.wait(3)
            except (OSError, subprocess.TimeoutExpired):
                os.kill(self.proc.pid, signal.SIGKILL)  # its own pid only
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self._log.close()


# --------------------------------------------------------------------------- images and storage


def b64(text: str) -> bytes:
    """Strict base64 of a reply field."""
    import base64

    assert isinstance(text, str) and text, f"expected a base64 string, got {text!r:.80}"
    return base64.b64decode(text, validate=True)


def enc(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def decode_image(data: bytes):
    """A PIL image, fully loaded."""
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def api_code(d: "Daemon", endpoint: str, body, code: str = "0", timeout: float = 60.0) -> dict:
    """Call an endpoint and require `code` (a failure must carry a message)."""
    r = d.api(endpoint, body, timeout=timeout)
    assert r["code"] == code, f"{endpoint} {json.dumps(body)[:300]}: {r!r:.600}"
    if code != "0":
        assert r.get("message"), r
    return r


def store_image(d: "Daemon", data: bytes, path: str | None, image_type: str = "jpg", code: str = "0",
                timeout: float = 60.0) -> dict:
    """imagepro=storage_image of `data` (to `path` when given)."""
    body = {"source_image": {"base64": enc(data), "image_type": image_type}}
    if path is not None:
        body["output_image"] = {"filepath": path}
    return api_code(d, "imagepro=storage_image", body, code, timeout)


def storage_root(d: "Daemon") -> Path:
    return d.state_dir / "storage"


def file_tree(root) -> dict:
    """{relative path: bytes} of every regular file under root (symlinks not followed)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                out[p.relative_to(root).as_posix()] = p.read_bytes()
    return dict(sorted(out.items()))


def ws_call(conn, function: str, params: dict | None = None) -> dict:
    """Send a vendor WebSocket function call; the reply that echoes it (pushes skipped)."""
    conn.send(json.dumps({"function": function, "params": params or {}}))
    for _ in range(50):
        msg = json.loads(conn.recv())
        if msg.get("function") == function:
            record_ws_reply(function, msg)
            return msg
    raise AssertionError(f"no reply with function {function!r}")
