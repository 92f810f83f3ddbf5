"""Rows 7 and 8 of issue 13: connections that hold the daemon's resources.

7. Slowloris: connections that send nothing, a request line with one header line a second, a
   request line cut in the middle, an idle keep-alive connection after one request, and a body cut
   short (Content-Length 1000, 10 bytes sent): the daemon closes each within its timeout
   (server.header_timeout_seconds, server.body_timeout_seconds) plus slack; others are served.
8. Connection flood against a daemon started with RLIMIT_NOFILE 256: of 400 idle connections at most
   max_connections (clamped to the soft limit minus 96 = 160) are held; the others get HTTP 503
   with a JSON code "15" at once (or are closed); requests on new connections meanwhile get an answer
   (503 "15", or "0") promptly instead of hanging; once the held ones time out, app_version is "0".
"""

import json
import resource
import select
import socket
import time

from e2e_support import LOOPBACK, parse_raw_response, response_complete
from reliability_support import api_json, codes_of, fd_count, run_threads, wait_closed

SLACK = 3.0  # seconds allowed beyond a configured timeout


def _connect(port: int) -> socket.socket:
    s = socket.create_connection((LOOPBACK, port), timeout=5)
    s.setblocking(True)
    return s


def test_row07_slowloris(start):
    d, g = start()
    header_t = d.config["server"].get("header_timeout_seconds", 15)
    body_t = d.config["server"].get("body_timeout_seconds", 30)
    port = d.port

    def idle():
        s = _connect(port)
        t0 = time.monotonic()
        try:
            how, _ = wait_closed(s, t0 + header_t + SLACK + 5)
            return "idle", how, time.monotonic() - t0, header_t
        finally:
            s.close()

    def trickle_headers():
        s = _connect(port)
        t0 = time.monotonic()
        s.sendall(b"GET /param=get&type=app_version HTTP/1.1\r\n")
        k = [0]

        def more():
            k[0] += 1
            return f"X-Slow-{k[0]}: {k[0]}\r\n".encode()
        try:
            how, _ = wait_closed(s, t0 + header_t + SLACK + 5, more, 1.0)
            return "headers one line a second", how, time.monotonic() - t0, header_t
        finally:
            s.close()

    def half_request_line():
        s = _connect(port)
        t0 = time.monotonic()
        s.sendall(b"GET /param=get&ty")
        try:
            how, _ = wait_closed(s, t0 + header_t + SLACK + 5)
            return "half request line", how, time.monotonic() - t0, header_t
        finally:
            s.close()

    def idle_keep_alive():
        s = _connect(port)
        s.sendall(b"GET /param=get&type=app_version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        buf = bytearray()
        s.settimeout(10)
        while not response_complete(bytes(buf)):
            chunk = s.recv(65536)
            if not chunk:
                return "idle keep-alive", "closed before the reply", 0.0, header_t
            buf += chunk
        t0 = time.monotonic()
        try:
            how, _ = wait_closed(s, t0 + header_t + SLACK + 5)
            return "idle keep-alive", how, time.monotonic() - t0, header_t
        finally:
            s.close()

    def half_body():
        s = _connect(port)
        s.sendall(b"POST /param=set HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n" + b'{"type":"s')
        t0 = time.monotonic()
        try:
            how, _ = wait_closed(s, t0 + body_t + SLACK + 5)
            return "half body", how, time.monotonic() - t0, body_t
        finally:
            s.close()

    fns = [idle, trickle_headers, half_request_line, idle_keep_alive, half_body] * 3

    # others are served meanwhile
    served = []

    def legit():
        end = time.monotonic() + header_t + 1
        while time.monotonic() < end:
            r, secs = api_json(d, "param=get", {"type": "app_version"}, timeout=10)
            served.append((r["code"], secs))
            time.sleep(0.2)
        return "done"

    results = run_threads(fns + [legit], max(header_t, body_t) + SLACK + 15)
    rows = [r for r in results[:-1] if isinstance(r, tuple)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"client errors: {errors[:3]}"
    by_kind = {}
    for kind, how, secs, limit in rows:
        by_kind.setdefault(kind, []).append((how, secs, limit))
    for kind, xs in by_kind.items():
        g.note(f"{kind}: " + ", ".join(f"{how} after {secs:.1f}s" for how, secs, _ in xs)
               + f" (timeout {xs[0][2]}s)")
    g.note(f"app_version meanwhile: {codes_of([c for c, _ in served])}, max "
           f"{max(s for _, s in served) * 1000:.0f} ms" if served else "app_version meanwhile: none")
    late = [(k, how, round(secs, 1)) for k, how, secs, limit in rows
            if how not in ("eof", "reset") or secs > limit + SLACK]
    assert not late, f"not closed within timeout + {SLACK}s: {late}"
    assert served and all(c == "0" for c, _ in served), f"app_version meanwhile: {served}"
    g.finish()


NOFILE = 256
FLOOD = 400
CAP = NOFILE - 96  # max_connections: the soft descriptor limit less 64 kept and 32 for refusals


def _limit_descriptors():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def test_row08_connection_flood_with_few_descriptors(start):
    d, g = start({"server": {"header_timeout_seconds": 6}}, preexec=_limit_descriptors)
    limits = open(f"/proc/{g.pid}/limits").read()
    assert any(line.startswith("Max open files") and f" {NOFILE} " in line for line in limits.splitlines()), limits
    header_t = d.config["server"].get("header_timeout_seconds", 15)

    socks = []
    t0 = time.monotonic()
    connect_failures = []
    for _ in range(FLOOD):
        try:
            s = socket.create_connection((LOOPBACK, d.port), timeout=3)
            s.setblocking(False)
            socks.append(s)
        except OSError as e:
            connect_failures.append(type(e).__name__)
    opened = time.monotonic() - t0

    # classify for 2.5 s: a reply (must be 503 + JSON code "15"), closed, or held open
    state = {s: bytearray() for s in socks}
    ended = {}
    end = time.monotonic() + 2.5
    while time.monotonic() < end:
        live = [s for s in socks if s not in ended]
        if not live:
            break
        r, _, _ = select.select(live, [], [], max(0.0, end - time.monotonic()))
        for s in r:
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except (ConnectionResetError, ConnectionAbortedError):
                ended[s] = ("reset", time.monotonic() - t0)
                continue
            if not chunk:
                ended[s] = ("eof", time.monotonic() - t0)
            else:
                state[s] += chunk
    kinds = []
    wrong = []
    held = []
    for s in socks:
        data = bytes(state[s])
        if data:
            try:
                status, headers, body = parse_raw_response(data)
                code = json.loads(body).get("code")
            except (AssertionError, ValueError, IndexError) as e:
                wrong.append(f"unparsable {data[:80]!r} ({e})")
                continue
            if status == 503 and code == "15":
                kinds.append("503 code 15")
            else:
                wrong.append(f"HTTP {status} code {code}")
        elif s in ended:
            kinds.append("closed")
        else:
            kinds.append("held open")
            held.append(s)
    g.note(f"{FLOOD} idle connections opened in {opened:.2f}s (connect failures {codes_of(connect_failures)}): "
           f"{codes_of(kinds)}; daemon fds {fd_count(g.pid)}")

    # new connections with a real request while the flood is held: an answer (or a close), promptly
    def probe():
        t = time.monotonic()
        try:
            s = socket.create_connection((LOOPBACK, d.port), timeout=3)
        except OSError as e:
            return f"connect {type(e).__name__}", time.monotonic() - t
        try:
            s.sendall(b"GET /param=get&type=app_version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            how, data = wait_closed(s, t + 3.0)
            if data:
                try:
                    status, _, body = parse_raw_response(data)
                    return f"HTTP {status} code {json.loads(body).get('code')}", time.monotonic() - t
                except (AssertionError, ValueError, IndexError):
                    return f"unparsable {data[:60]!r}", time.monotonic() - t
            return ("closed" if how != "open" else "no answer in 3s"), time.monotonic() - t
        finally:
            s.close()

    probes = run_threads([probe] * 20, 10)
    probe_kinds = [p[0] if isinstance(p, tuple) else repr(p) for p in probes]
    g.note(f"20 requests during the flood: {codes_of(probe_kinds)}")

    # release what the daemon rejected; the held ones must time out by themselves
    for s in socks:
        if s not in held:
            s.close()
    t_wait = time.monotonic()
    still = list(held)
    while still and time.monotonic() < t_wait + header_t + SLACK + 2:
        r, _, _ = select.select(still, [], [], 0.5)
        for s in r:
            try:
                if not s.recv(65536):
                    still.remove(s)
            except (ConnectionResetError, ConnectionAbortedError):
                still.remove(s)
            except BlockingIOError:
                pass
    g.note(f"held connections closed by the daemon: {len(held) - len(still)} of {len(held)} within "
           f"{time.monotonic() - t_wait:.1f}s")
    for s in socks:
        s.close()

    assert not wrong, f"unexpected replies to idle connections: {codes_of(wrong)}"
    assert len(held) <= CAP, f"{len(held)} connections held open, more than max_connections {CAP}"
    assert kinds.count("503 code 15") + kinds.count("closed") >= FLOOD - CAP - len(connect_failures), codes_of(kinds)
    bad_probes = [k for k in probe_kinds if k not in ("HTTP 503 code 15", "HTTP 200 code 0", "closed")]
    assert not bad_probes, f"requests during the flood: {codes_of(probe_kinds)}"
    assert not still, f"{len(still)} idle connections not closed within header_timeout {header_t}s + slack"
    g.finish()
