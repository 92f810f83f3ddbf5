"""Shared by the guest-side test scripts: PASS/FAIL bookkeeping and calls to the daemon under test
(standard library only)."""

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time

PORT = 38088
results = []


def check(name, ok, detail=""):
    """Record one check; print PASS/FAIL (with the detail on failure)."""
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}{'' if ok else ': ' + str(detail)}", flush=True)
    return ok


def call(path, body=None, timeout=60):
    """POST JSON to the daemon on 127.0.0.1:PORT; the reply object."""
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    c.request("POST", path, json.dumps(body or {}))
    r = json.loads(c.getresponse().read())
    c.close()
    return r


def finish():
    """Print "N passed, M failed"; the exit status (0 only when something passed and nothing failed)."""
    passed = sum(1 for r in results if r)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


@contextlib.contextmanager
def daemon(binary, tmp, config_text):
    """The daemon under test with `config_text` as its configuration and `tmp` as its state
    directory, serving on 127.0.0.1:PORT (waited for, up to 60 s). Yields the process; stops it
    afterwards and prints the end of its log when a check failed."""
    cfg = os.path.join(tmp, "c.toml")
    with open(cfg, "w") as f:
        f.write(config_text)
    log_path = os.path.join(tmp, "daemon.log")
    log = open(log_path, "w")
    d = subprocess.Popen([binary, "--config", cfg, "--state-dir", tmp, "--listen", f"127.0.0.1:{PORT}"],
                         stderr=log)
    try:
        end = time.time() + 60
        listening = False
        while time.time() < end and d.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", PORT), 0.5).close()
                listening = True
                break
            except OSError:
                time.sleep(0.2)  # poll interval
        if not listening:
            check(f"daemon listening on 127.0.0.1:{PORT}", False,
                  f"exited with {d.returncode}" if d.poll() is not None else "timed out after 60 s")
        yield d
    finally:
        d.terminate()
        try:
            d.wait(10)
        except subprocess.TimeoutExpired:
            d.kill()
        log.close()
        if not all(results):
            print(open(log_path).read()[-4000:], file=sys.stderr)
