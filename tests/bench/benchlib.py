"""Shared by the benchmarks: a simulated-device daemon on a free loopback port, and JSON calls."""

import contextlib
import http.client
import json
import os
import selectors
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, path, body, timeout=120):
    """POST JSON; the reply object."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("POST", path, json.dumps(body))
    r = json.loads(c.getresponse().read())
    c.close()
    return r


@contextlib.contextmanager
def sim_daemon(binary, config_text, prefix="bench-", env=None, with_pid=False):
    """`binary --sim` with `config_text` as its configuration, in a fresh state directory; yields
    (port, state directory) once it accepts connections, and stops it afterwards. `env` adds
    environment variables; `with_pid` yields (port, state directory, pid)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    port = free_port()
    cfg = os.path.join(tmp, "c.toml")
    with open(cfg, "w") as f:
        f.write(config_text)
    d = subprocess.Popen([binary, "--sim", "--config", cfg, "--state-dir", tmp,
                          "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL,
                         env={**os.environ, **(env or {})})
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield (port, tmp, d.pid) if with_pid else (port, tmp)
    finally:
        d.terminate()
        d.wait(timeout=10)


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of a process (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_port(port, proc, timeout=20):
    """Wait until `proc` accepts connections on loopback `port`."""
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


class Clients:
    """N multipart (MJPEG) streaming clients read by one selector; counts complete parts per
    client by the stream's boundary."""

    def __init__(self, port, path, n, boundary=b"--cameraserviceframe"):
        self.boundary = boundary
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
        b = self.boundary
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
                n = buf.count(b)
                if n == 0:
                    self.bufs[i] = buf
                    continue
                # Each boundary closes the part before it (the first opens the stream).
                self.counts[i] += n
                self.bufs[i] = buf[buf.rfind(b) + len(b):]

    def total(self):
        return sum(self.counts)

    def close(self):
        for s in self.socks:
            try:
                self.sel.unregister(s)
            except Exception:
                pass
            s.close()


def measure_stream(pid, port, path, n, seconds, boundary=b"--cameraserviceframe", warmup=2.0):
    """CPU seconds of process `pid` per delivered frame, and frames a second per client, with `n`
    clients on the stream at `path` (after `warmup` seconds)."""
    cl = Clients(port, path, n, boundary)
    try:
        cl.pump(warmup)
        f0, c0 = cl.total(), cpu_seconds(pid)
        cl.pump(seconds)
        f1, c1 = cl.total(), cpu_seconds(pid)
        frames = f1 - f0
        return (c1 - c0) / max(frames, 1), frames / seconds / n
    finally:
        cl.close()
