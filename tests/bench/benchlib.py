"""Shared by the benchmarks: a simulated-device daemon on a free loopback port, and JSON calls."""

import contextlib
import http.client
import json
import os
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
