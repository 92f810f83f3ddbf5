"""Rows 5 and 9 of issue 13: WebSocket clients.

5. A client that sends 300 imagepro=file2base64 requests for a stored ~2.2 MB file and never reads:
   the daemon holds about ws_in_flight replies for it (RSS bounded while it is connected), drops it
   within send_timeout_seconds of no progress, RSS falls once it is gone, and other clients (HTTP
   and WebSocket) are served meanwhile.
9. One 17 MiB frame ({"function":"param=set", ... "value": "x" * 17 MiB}): a reply arrives on the same
   connection (any code; "11" for the cache limit) and the connection stays usable.
"""

import base64
import json
import os
import socket
import threading
import time

import websocket

from e2e_support import ws_call
from reliability_support import (
    MIB,
    api_json,
    b64s,
    codes_of,
    rss_mib,
    server_side_state,
)

FILE_BYTES = 2_200_000
HELD_GROWTH_MIB = 100  # RSS above idle allowed while the stalled client is connected
SETTLE_GROWTH_MIB = 64  # ... and after it has gone


def test_row05_websocket_client_that_never_reads(start):
    d, g = start()
    send_timeout = d.config["server"].get("send_timeout_seconds", 30)
    data = b"\xff\xd8\xff\xe0" + os.urandom(FILE_BYTES - 4)  # sniffed as a JPEG, stored unchanged
    r, _ = api_json(d, "imagepro=storage_image", {"source_image": {"base64": b64s(data), "image_type": "jpg"},
                                                  "output_image": {"filepath": "/ws/big.jpg"}})
    assert r["code"] == "0", r
    idle = rss_mib(g.pid)

    stalled = websocket.create_connection(d.ws_url("/"), timeout=10,
                                          sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    client_port = stalled.sock.getsockname()[1]
    msg = json.dumps({"function": "imagepro=file2base64", "params": {"filepath": "/ws/big.jpg"}})
    sent = 0
    try:
        for _ in range(300):
            stalled.send(msg)
            sent += 1
    except (OSError, websocket.WebSocketException) as e:
        g.note(f"stalled client: sending stopped after {sent} messages ({type(e).__name__})")
    t_sent = time.monotonic()

    # meanwhile: other clients, and the daemon's RSS
    stop = threading.Event()
    other = {"http": [], "ws": []}

    def http_client():
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                r, secs = api_json(d, "param=get", {"type": "app_version"}, timeout=20)
                other["http"].append((r["code"], secs))
            except (OSError, AssertionError) as e:
                other["http"].append((type(e).__name__, time.monotonic() - t0))
            stop.wait(0.3)

    def ws_client():
        try:
            conn = websocket.create_connection(d.ws_url("/"), timeout=20)
        except (OSError, websocket.WebSocketException) as e:
            other["ws"].append((f"connect {type(e).__name__}", 0.0))
            return
        try:
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    rep = ws_call(conn, "imagepro=file2base64", {"filepath": "/ws/big.jpg"})
                    ok = rep.get("code") == "0" and base64.b64decode(rep.get("base64", "")) == data
                    other["ws"].append(("0" if ok else f"code {rep.get('code')}", time.monotonic() - t0))
                except (OSError, websocket.WebSocketException, ValueError) as e:
                    other["ws"].append((type(e).__name__, time.monotonic() - t0))
                    return
                stop.wait(0.5)
        finally:
            conn.close()

    helpers = [threading.Thread(target=http_client, daemon=True), threading.Thread(target=ws_client, daemon=True)]
    for t in helpers:
        t.start()

    samples = []
    closed_at = None
    state = None
    deadline = t_sent + send_timeout + 12
    while time.monotonic() < deadline:
        samples.append(rss_mib(g.pid))
        state = server_side_state(d.port, client_port)
        if state != "ESTABLISHED":
            closed_at = time.monotonic()
            break
        time.sleep(0.1)
    held_peak = max(samples) if samples else 0.0
    # keep the other clients going a moment after the stalled one is gone
    time.sleep(1.0)
    stop.set()
    for t in helpers:
        t.join(30)
    stalled.close()

    http_lat = [s for c, s in other["http"]]
    g.note(f"stalled client sent {sent} requests; server side "
           + (f"closed ({state}) {closed_at - t_sent:.1f}s after the last send" if closed_at
              else f"still {state} after {deadline - t_sent:.0f}s")
           + f"; RSS idle {idle:.0f} MiB, max while connected {held_peak:.0f} MiB")
    g.note(f"meanwhile HTTP app_version {codes_of([c for c, _ in other['http']])} "
           f"(max {max(http_lat) * 1000:.0f} ms), WebSocket file2base64 {codes_of([c for c, _ in other['ws']])}"
           if http_lat else "meanwhile: no HTTP call completed")
    assert closed_at is not None, (f"the client that never reads was not disconnected within "
                                   f"{send_timeout}s + 12s (server side {state})")
    assert closed_at - t_sent <= send_timeout + 7, f"disconnected only after {closed_at - t_sent:.1f}s"
    assert held_peak - idle < HELD_GROWTH_MIB, (f"RSS grew by {held_peak - idle:.0f} MiB while the "
                                                f"stalled client was connected")
    assert other["http"] and all(c == "0" for c, _ in other["http"]), f"HTTP meanwhile: {other['http']}"
    assert max(http_lat) < 3.0, f"app_version took {max(http_lat):.1f}s meanwhile"
    assert other["ws"] and all(c == "0" for c, _ in other["ws"]), f"WebSocket meanwhile: {other['ws']}"
    g.finish(settle_below=idle + SETTLE_GROWTH_MIB, settle_timeout=10)


def test_row09_websocket_frame_of_17_mib(start):
    d, g = start()
    ws = websocket.create_connection(d.ws_url("/"), timeout=60)
    try:
        big = json.dumps({"function": "param=set",
                          "params": {"type": "set_cache_data", "key": "k", "value": "x" * (17 * MIB)}})
        t0 = time.monotonic()
        ws.send(big)  # one frame (websocket-client does not fragment)
        reply = None
        for _ in range(50):
            try:
                msg = json.loads(ws.recv())
            except (OSError, websocket.WebSocketException) as e:
                raise AssertionError(f"connection dropped after the 17 MiB frame: {type(e).__name__} {e}") from e
            if msg.get("function") == "param=set":
                reply = msg
                break
        secs = time.monotonic() - t0
        assert reply is not None, "no reply to the 17 MiB frame"
        assert isinstance(reply.get("code"), str), reply
        g.note(f"17 MiB frame: code {reply['code']} in {secs:.2f}s")
        again = ws_call(ws, "param=get", {"type": "app_version"})
        assert again.get("code") == "0", f"the connection is not usable after the big frame: {again}"
    finally:
        ws.close()
    g.finish()
