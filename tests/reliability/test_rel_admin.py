"""Row 10 of issue 13: guessing the admin token in parallel does not multiply the guesses.

The update API (configured like tests/e2e/test_update.py: a token and fake_busctl.py standing in
for RAUC's D-Bus service) answers a wrong token after at least 0.5 s, and failures are serialised
across requests: 10 wrong tokens sent at once take >= 10 * 0.5 s in total. The right token still
works afterwards (it may wait for the throttle).
"""

import sys
import time

from e2e_support import check_api_reply
from reliability_support import E2E_DIR, codes_of, run_threads

TOKEN = "reliability-admin-token-0123456789"
WRONG = 10
PER_FAILURE = 0.5


def fake_busctl(tmp_path):
    """fake_busctl.py from the e2e tests as an executable for this Python, and its state dir."""
    rauc = tmp_path / "rauc"
    rauc.mkdir()
    busctl = tmp_path / "busctl"
    src = (E2E_DIR / "fake_busctl.py").read_text(encoding="utf-8")
    body = src.split("\n", 1)[1] if src.startswith("#!") else src
    busctl.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    busctl.chmod(0o755)
    return busctl, rauc


def test_row10_wrong_admin_tokens_are_throttled_across_requests(start, tmp_path):
    busctl, rauc = fake_busctl(tmp_path)
    d, g = start({"update": {"admin_token": TOKEN, "busctl": str(busctl)}}, env={"FAKE_RAUC_DIR": str(rauc)})

    def wrong(i):
        def run():
            t0 = time.monotonic()
            r = d.request("GET", "/update=status", headers={"X-Admin-Token": f"wrong-token-{i:02d}-0123456789"},
                          timeout=120)
            obj = check_api_reply(r, r.status)
            return f"HTTP {r.status} code {obj['code']}", time.monotonic() - t0
        return run

    t0 = time.monotonic()
    results = run_threads([wrong(i) for i in range(WRONG)], 120)
    wall = time.monotonic() - t0
    outcomes = [r[0] if isinstance(r, tuple) else repr(r) for r in results]
    each = sorted(r[1] for r in results if isinstance(r, tuple))
    g.note(f"{WRONG} wrong tokens at once: {codes_of(outcomes)} in {wall:.2f}s total "
           f"(each {each[0]:.2f}-{each[-1]:.2f}s)" if each else f"{WRONG} wrong tokens: {codes_of(outcomes)}")
    assert all(o == "HTTP 403 code 14" for o in outcomes), codes_of(outcomes)
    assert wall >= WRONG * PER_FAILURE - 0.05, (f"{WRONG} parallel wrong tokens answered in {wall:.2f}s: "
                                                f"not throttled across requests (>= {WRONG * PER_FAILURE}s)")

    t1 = time.monotonic()
    r = d.request("GET", "/update=status", headers={"X-Admin-Token": TOKEN}, timeout=120)
    obj = check_api_reply(r)
    g.note(f"right token afterwards: code {obj['code']} after {time.monotonic() - t1:.2f}s")
    assert obj["code"] == "0", obj
    g.finish()
