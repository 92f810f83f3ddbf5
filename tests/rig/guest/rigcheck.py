"""Shared by the guest-side test scripts: PASS/FAIL bookkeeping and calls to the daemon under test
(standard library only)."""

import http.client
import json

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
