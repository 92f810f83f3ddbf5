#!/usr/bin/env python3
"""MJPEG fan-out benchmark (camera issue): daemon CPU per delivered frame for 1, 10 and 50
clients against a floor that writes the same bytes to the same number of sockets with no capture
(examples/mjpeg_floor.rs, the same multipart writer), measured in one run; plus first-frame
latency of a new client on an open camera, against the frame interval.

usage: camera_fanout.py DAEMON_BIN FLOOR_BIN [--seconds S]
Prints a markdown table. Ratios, not absolute timings, are the result: the machine is shared.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import json
import http.client

from benchlib import Clients, call as post, free_port, measure_stream as measure, wait_port

BOUNDARY = b"--cameraserviceframe"


def first_part(read):
    """Read with `read(n)` until the first part of a multipart stream is complete."""
    buf = b""
    while buf.count(BOUNDARY) < 2:
        d = read(1 << 20)
        if not d:
            break
        buf += d
    return buf


def one_frame(port, path):
    """One preview JPEG, read through http.client (which undoes the chunked coding)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    buf = first_part(c.getresponse().read1)
    c.close()
    return buf.split(BOUNDARY)[1].split(b"\r\n\r\n", 1)[1][:-2]


def first_frame_latency(port, path, runs=10):
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(f"GET {path}&tid={time.time()} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        first_part(s.recv)
        out.append((time.perf_counter() - t0) * 1000)
        s.close()
        time.sleep(0.2)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("daemon")
    ap.add_argument("floor")
    ap.add_argument("--seconds", type=float, default=6.0)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="fanout-")
    port = free_port()
    cfg = os.path.join(tmp, "c.toml")
    with open(cfg, "w") as f:
        f.write("[camera]\npreview_fps = 15\nlinger_seconds = 1\n[log]\nlevel = \"warn\"\n")
    d = subprocess.Popen([a.daemon, "--sim", "--config", cfg, "--state-dir", tmp,
                          "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    rows = []
    try:
        wait_port(port, d)
        scenarios = [
            ("MJPEG passthrough (document camera 640x480 MJPG)", {"width": "640", "height": "480"}),
            ("decode+scale+encode (document camera 2592x1944 MJPG -> 640x480)",
             {"width": "2592", "height": "1944"}),
        ]
        path = "/video=stream&camidx=0"
        for name, res in scenarios:
            r = post(port, "/param=set", {"camidx": "0", "resolution": res})
            assert r["code"] == "0", r
            keeper = Clients(port, path, 1)  # keeps the camera open between runs
            keeper.pump(1.5)
            frame = one_frame(port, path)
            lat = first_frame_latency(port, path)
            for n in (1, 10, 50):
                cpf, fps = measure(d.pid, port, path, n, a.seconds)
                fport = free_port()
                jpeg = os.path.join(tmp, "frame.jpg")
                with open(jpeg, "wb") as f:
                    f.write(frame)
                fl = subprocess.Popen([a.floor, f"127.0.0.1:{fport}", jpeg, f"{max(fps, 1.0):.2f}"],
                                      stderr=subprocess.DEVNULL)
                try:
                    wait_port(fport, fl)
                    fcpf, _ = measure(fl.pid, fport, "/x", n, a.seconds)
                finally:
                    fl.terminate()
                    fl.wait()
                rows.append((name, n, fps, cpf * 1e6, fcpf * 1e6, cpf / max(fcpf, 1e-9)))
            keeper.close()
            rows.append((name, "first frame", lat, None, None, lat / (1000 / 15)))
    finally:
        d.terminate()
        d.wait(timeout=10)

    print("| scenario | clients | fps per client | daemon CPU µs/frame | floor CPU µs/frame | ratio |")
    print("|---|---|---|---|---|---|")
    for name, n, fps, cpf, fcpf, ratio in rows:
        if cpf is None:
            print(f"| {name} | new client on open camera: first frame {fps:.0f} ms (median of 10) | | | | "
                  f"{ratio:.2f} frame intervals |")
        else:
            print(f"| {name} | {n} | {fps:.1f} | {cpf:.0f} | {fcpf:.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
