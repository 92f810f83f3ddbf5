#!/usr/bin/env python3
"""Memory after load (hardening issue): the same burst of work against the daemon with glibc's
default allocator settings (CAMERASERVICE_MALLOC=default) and with the daemon's own settings
(fewer arenas, a fixed mmap threshold, periodic trimming), in the same run. Prints the resident
memory before, at the peak, and 5 s and 25 s after the burst, and the ratio of what stays
resident above idle.

The burst: 200 v1.0 grabs and 40 MJPEG streams at once (40 client threads), 40 imagepro=process
calls with auto-crop on a 2592x1944 JPEG and 20 merge_images, all at the same time.

usage: memory_return.py DAEMON_BIN [--rounds N]
"""

import argparse
import base64
import http.client
import io
import json
import sys
import threading
import time

from benchlib import sim_daemon

CONFIG = "[limits]\nbusy_wait_ms = 30000\n"


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def post(port, path, body, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("POST", path, json.dumps(body))
    r = c.getresponse().read()
    c.close()
    try:
        return json.loads(r).get("code")
    except ValueError:
        return "?"


def stream(port, frames=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/video=stream&camidx=0")
    r = c.getresponse()
    got = 0
    while got < frames * 20000:
        d = r.read1(65536)
        if not d:
            break
        got += len(d)
    c.close()


def page_jpeg():
    from PIL import Image, ImageDraw
    img = Image.new("RGB", (2592, 1944), (60, 60, 70))
    d = ImageDraw.Draw(img)
    d.rectangle((500, 300, 2100, 1700), fill=(235, 235, 230))
    for y in range(400, 1600, 40):
        d.line((600, y, 2000, y), fill=(30, 30, 30), width=3)
    b = io.BytesIO()
    img.save(b, "JPEG", quality=90)
    return base64.b64encode(b.getvalue()).decode()


def burst(port, jpeg_b64):
    codes = {}
    lock = threading.Lock()

    def note(c):
        with lock:
            codes[c] = codes.get(c, 0) + 1

    def grabs():
        for _ in range(5):
            note(post(port, "/video=grabimage", {"camidx": "0"}))

    def processes():
        note(post(port, "/imagepro=process", {
            "source_image": {"base64": jpeg_b64},
            "image_process_info": {"cut_type": "1", "rect_correct": "1"}}))

    def merges():
        src = {"base64": jpeg_b64}
        note(post(port, "/imagepro=merge_images", {"source_images": [src, src]}))

    threads = [threading.Thread(target=grabs) for _ in range(40)]
    threads += [threading.Thread(target=stream, args=(port,)) for _ in range(40)]
    threads += [threading.Thread(target=processes) for _ in range(40)]
    threads += [threading.Thread(target=merges) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return codes


def measure(binary, mode, jpeg_b64):
    env = {"CAMERASERVICE_MALLOC": "default"} if mode == "glibc default" else {}
    with sim_daemon(binary, CONFIG, env=env, with_pid=True) as (port, _tmp, pid):
        post(port, "/param=get", {"type": "app_version"})
        time.sleep(2)
        idle = rss_kib(pid)
        codes = burst(port, jpeg_b64)
        peak = rss_kib(pid, "VmHWM")
        time.sleep(5)
        after5 = rss_kib(pid)
        time.sleep(20)
        after25 = rss_kib(pid)
    return {"idle": idle, "peak": peak, "after5": after5, "after25": after25, "codes": codes}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("daemon")
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()
    jpeg_b64 = page_jpeg()
    rows = []
    for _ in range(a.rounds):
        for mode in ("glibc default", "daemon settings"):
            r = measure(a.daemon, mode, jpeg_b64)
            rows.append((mode, r))
            print(f"{mode:16} idle {r['idle'] // 1024:4d} MiB  peak {r['peak'] // 1024:5d} MiB  "
                  f"+5 s {r['after5'] // 1024:5d} MiB  +25 s {r['after25'] // 1024:5d} MiB  "
                  f"codes {r['codes']}", flush=True)
    by = {m: [r for mm, r in rows if mm == m] for m in ("glibc default", "daemon settings")}
    held = {m: sum(r["after25"] - r["idle"] for r in rs) / len(rs) for m, rs in by.items()}
    peak = {m: sum(r["peak"] for r in rs) / len(rs) for m, rs in by.items()}
    print(f"memory held above idle 25 s after the burst: daemon settings / glibc default = "
          f"{held['daemon settings'] / max(held['glibc default'], 1):.2f} "
          f"({held['daemon settings'] / 1024:.0f} MiB vs {held['glibc default'] / 1024:.0f} MiB); "
          f"peak ratio {peak['daemon settings'] / max(peak['glibc default'], 1):.2f}")


if __name__ == "__main__":
    sys.exit(main())
