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
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import json
import http.client

BOUNDARY = b"--cameraserviceframe"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_port(port, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def post(port, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", path, json.dumps(body))
    r = json.loads(c.getresponse().read())
    c.close()
    return r


class Clients:
    """N streaming clients read by one selector; counts complete parts per client."""

    def __init__(self, port, path, n):
        self.sel = selectors.DefaultSelector()
        self.counts = [0] * n
        self.bufs = [b""] * n
        self.socks = []
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, i)
            self.socks.append(s)

    def pump(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            for key, _ in self.sel.select(timeout=0.1):
                i = key.data
                try:
                    data = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not data:
                    self.sel.unregister(key.fileobj)
                    continue
                buf = self.bufs[i] + data
                n = buf.count(BOUNDARY)
                if n == 0:
                    self.bufs[i] = buf
                    continue
                # Each boundary closes the part before it (the first opens the stream).
                self.counts[i] += n
                self.bufs[i] = buf[buf.rfind(BOUNDARY) + len(BOUNDARY):]

    def total(self):
        return sum(self.counts)

    def close(self):
        for s in self.socks:
            try:
                self.sel.unregister(s)
            except Exception:
                pass
            s.close()


def one_frame(port, path):
    """One preview JPEG, read through http.client (which undoes the chunked coding)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    buf = b""
    while buf.count(BOUNDARY) < 2:
        d = r.read1(1 << 20)
        if not d:
            break
        buf += d
    c.close()
    return buf.split(BOUNDARY)[1].split(b"\r\n\r\n", 1)[1][:-2]


def measure(pid, port, path, n, seconds):
    cl = Clients(port, path, n)
    try:
        cl.pump(2.0)  # warm up
        f0, c0 = cl.total(), cpu_seconds(pid)
        cl.pump(seconds)
        f1, c1 = cl.total(), cpu_seconds(pid)
        frames = f1 - f0
        return (c1 - c0) / max(frames, 1), frames / seconds / n
    finally:
        cl.close()


def first_frame_latency(port, path, runs=10):
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(f"GET {path}&tid={time.time()} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        buf = b""
        while buf.count(BOUNDARY) < 2:
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d
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
