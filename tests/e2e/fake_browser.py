#!/usr/bin/env python3
"""A stand-in for the kiosk browser (cog on the device) under `signpad.browser_command`:
records how it was started, then stays until it is signalled, or ends by itself when the page
address asks it to (`...#exit-after=N` seconds; `#exit-now` at once with status 3).

usage: fake_browser.py RECORD_FILE URL WIDTH HEIGHT
"""

import json
import os
import signal
import sys
import time


def main() -> int:
    record, url, width, height = sys.argv[1:5]
    with open(record, "a", encoding="utf-8") as f:
        f.write(json.dumps({"pid": os.getpid(), "pgid": os.getpgid(0), "url": url,
                            "width": width, "height": height, "home": os.environ.get("HOME"),
                            "runtime_dir": os.environ.get("XDG_RUNTIME_DIR")}) + "\n")
    if url.endswith("#exit-now"):
        return 3
    limit = None
    if "#exit-after=" in url:
        limit = time.monotonic() + float(url.rsplit("=", 1)[1])
    if url.endswith("#ignore-term"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while limit is None or time.monotonic() < limit:
        time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
