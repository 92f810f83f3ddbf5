"""Rows 4 and 6 of issue 13: load a page (or many) can generate.

4. 200 v1.0 grabs (video=grabimage {"camidx":"0"}, no image_process_info) and 200 MJPEG streams at
   once: each grab answers "0" or "15" (busy), each stream delivers frames or answers 503; afterwards
   RSS returns under idle + 200 MiB (polled for up to 20 s).
6. 8 clients sending ~64 KB URLs of repeated "{}" segments in a loop while plain app_version calls
   are timed: every app_version is answered "0", each within 3 s (the old daemon took 6-10 s).
"""

import http.client
import json
import re
import statistics
import threading
import time

from e2e_support import LOOPBACK, MjpegStream
from reliability_support import api_json, codes_of, rss_mib, run_threads


def test_row04_two_hundred_grabs_and_streams_at_once(start):
    d, g = start()
    n = 200

    def grab():
        r, secs = api_json(d, "video=grabimage", {"camidx": "0"}, timeout=120)
        return r["code"], secs

    def stream(i):
        def run():
            s = MjpegStream(d.port, f"/video=stream&camidx=0&tid={i}", timeout=60)
            try:
                if s.status == 503:
                    obj = json.loads(s.resp.read())
                    return f"503 code {obj.get('code')}"
                if not s.is_multipart:
                    return f"HTTP {s.status} {s.read_reply().body[:80]!r}"
                for _ in range(1 + i % 2):  # a part or two, then close
                    s.frame(60)
                return "frames"
            finally:
                s.close()
        return run

    t0 = time.monotonic()
    results = run_threads([grab] * n + [stream(i) for i in range(n)], 150)
    wall = time.monotonic() - t0
    grabs, streams = results[:n], results[n:]
    grab_codes = [r[0] if isinstance(r, tuple) else r for r in grabs]
    ok_secs = sorted(r[1] for r in grabs if isinstance(r, tuple) and r[0] == "0")
    g.note(f"{n} v1.0 grabs + {n} streams in {wall:.1f}s: grabs {codes_of(grab_codes)}, "
           f"streams {codes_of(streams)}; grab '0' times "
           + (f"median {statistics.median(ok_secs):.1f}s max {ok_secs[-1]:.1f}s" if ok_secs else "-")
           + f"; RSS right after {rss_mib(g.pid):.0f} MiB")
    assert d.alive(), f"daemon died; log:\n{d.log_tail(30)}"
    bad_grabs = [c for c in grab_codes if c not in ("0", "15")]
    bad_streams = [s for s in streams if s not in ("frames", "503 code 15")]
    assert not bad_grabs, f"grabs must answer \"0\" or \"15\": {codes_of(bad_grabs)}"
    assert not bad_streams, f"streams must deliver frames or 503: {codes_of(bad_streams)}"
    g.finish(settle_below=g.idle_rss + 200, settle_timeout=20)


URL_BYTES = 64_000  # the request target; http's Uri takes at most 65534 bytes


def brace_url() -> str:
    head = "/param=get&type=app_version&"
    return head + "{}&" * ((URL_BYTES - len(head)) // 3)


def test_row06_urls_of_repeated_braces_do_not_starve_others(start):
    d, g = start()
    url = brace_url()
    stop = threading.Event()
    hammer_stats = []
    lock = threading.Lock()

    def hammer():
        times, outcomes = [], []
        while not stop.is_set():
            t0 = time.monotonic()
            conn = http.client.HTTPConnection(LOOPBACK, d.port, timeout=60)
            try:
                conn.request("GET", url)
                resp = conn.getresponse()
                body = resp.read()
                try:
                    code = json.loads(body).get("code")
                    outcomes.append(f"HTTP {resp.status} code {code}" if isinstance(code, str)
                                    else f"HTTP {resp.status} no code")
                except ValueError:
                    outcomes.append(f"HTTP {resp.status} not JSON")
            except (OSError, http.client.HTTPException) as e:
                outcomes.append(type(e).__name__)
            finally:
                conn.close()
            times.append(time.monotonic() - t0)
        with lock:
            hammer_stats.append((times, outcomes))

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    latencies, codes = [], []
    end = time.monotonic() + 6.0
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            r, secs = api_json(d, "param=get", {"type": "app_version"}, timeout=30)
            codes.append(r["code"])
        except (OSError, AssertionError) as e:
            codes.append(type(e).__name__)
            secs = time.monotonic() - t0
        latencies.append(secs)
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(90)
    times = sorted(x for ts, _ in hammer_stats for x in ts)
    outcomes = [o for _, os_ in hammer_stats for o in os_]
    lat = sorted(latencies)
    g.note(f"{len(url)}-byte brace URLs: {len(times)} sent by 8 clients, outcomes {codes_of(outcomes)}, "
           f"time median {statistics.median(times):.3f}s max {times[-1]:.3f}s" if times else "no brace URL answered")
    g.note(f"app_version under load: {len(lat)} calls, min {lat[0] * 1000:.0f} ms, median "
           f"{statistics.median(lat) * 1000:.0f} ms, p90 {lat[int(len(lat) * 0.9)] * 1000:.0f} ms, "
           f"max {lat[-1] * 1000:.0f} ms")
    assert all(not t.is_alive() for t in threads), "brace-URL clients still waiting 90 s after the run"
    assert all(c == "0" for c in codes), f"app_version under load: {codes_of(codes)}"
    assert lat[-1] < 3.0, f"app_version took up to {lat[-1]:.1f}s under the brace-URL load"
    bad = [o for o in outcomes if not re.fullmatch(r"HTTP (200|4\d\d) code .+", o)]
    assert not bad, f"brace URLs without a JSON reply: {codes_of(bad)}"
    g.finish()
