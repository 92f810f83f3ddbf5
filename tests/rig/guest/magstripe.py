#!/usr/bin/env python3
"""HID magnetic stripe readers against the real kernel input stack: a uinput keyboard named like a
reader, cameraserviced (magcard.device = a part of its name) waiting in card=magcard, a swipe typed
as key events. Runs inside the QEMU rig guest (standard library only).

Checks: the swipe's three tracks come back; the reader is grabbed exclusively while the daemon
waits (another reader of the same event node sees nothing) and released afterwards; a bad track
(`E`) comes back empty with a message; no swipe within the time-out answers "3"; an absent
device answers "2"; the daemon keeps serving.

usage: magstripe.py DAEMON_BIN
"""

import os
import select
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from rigcheck import call, check, daemon, finish  # noqa: E402
from uinput_keyboard import Keyboard  # noqa: E402


def call_async(path):
    out = {}

    def run():
        out["r"] = call(path)

    t = threading.Thread(target=run)
    t.start()
    return t, out


def events_seen(node, seconds):
    """Key events another reader of the node gets within `seconds`."""
    fd = os.open(node, os.O_RDONLY | os.O_NONBLOCK)
    n = 0
    end = time.time() + seconds
    try:
        while time.time() < end:
            r, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
            if r:
                try:
                    n += len(os.read(fd, 4096)) // 24
                except BlockingIOError:
                    pass
    finally:
        os.close(fd)
    return n


def main():
    binary = sys.argv[1]
    kb = Keyboard("rig-magstripe MSR")
    if not check("uinput keyboard created", kb.node is not None):
        return finish()
    tmp = tempfile.mkdtemp()
    with daemon(binary, tmp, '[magcard]\ndevice = "rig-magstripe"\ntimeout_ms = 4000\n'):
        swipe = "%B6222021234567890^ZHANG/SAN^3012101?;6222021234567890=30121010000?+0123456789?"
        t, out = call_async("/card=magcard")
        time.sleep(1.0)
        # Meanwhile a second reader of the node must see nothing: the daemon holds the grab.
        seen = [None]
        watcher = threading.Thread(target=lambda: seen.__setitem__(0, events_seen(kb.node, 1.5)))
        watcher.start()
        time.sleep(0.2)
        kb.type(swipe)
        watcher.join()
        t.join(30)
        r = out.get("r", {})
        check("swipe read: code 0", r.get("code") == "0", r)
        info = r.get("MagCardInfo", {})
        check("track 1", info.get("Track1") == "B6222021234567890^ZHANG/SAN^3012101", info)
        check("track 2", info.get("Track2") == "6222021234567890=30121010000", info)
        check("track 3", info.get("Track3") == "0123456789", info)
        check("exclusive grab: nobody else saw the swipe", seen[0] == 0, seen[0])
        # Released after the call: typing reaches other readers again.
        seen2 = [None]
        watcher = threading.Thread(target=lambda: seen2.__setitem__(0, events_seen(kb.node, 1.0)))
        watcher.start()
        time.sleep(0.2)
        kb.type("123", enter=False)
        watcher.join()
        check("grab released after the call", (seen2[0] or 0) > 0, seen2[0])
        # A bad track.
        t, out = call_async("/card=magcard")
        time.sleep(1.0)
        kb.type("%E?;6222021234567890=3012?+E?")
        t.join(30)
        r = out.get("r", {})
        check("bad tracks: code 0 with the good one", r.get("code") == "0"
              and r.get("MagCardInfo", {}).get("Track2") == "6222021234567890=3012"
              and r.get("MagCardInfo", {}).get("Track1") == "" and r.get("message"), r)
        # No swipe.
        t0 = time.time()
        r = call("/card=magcard")
        check("no swipe: code 3 after the time-out", r.get("code") == "3" and time.time() - t0 >= 3.5, r)
        check("daemon keeps serving", call("/param=get", {"type": "app_version"}).get("code") == "0")
        kb.close()
        time.sleep(0.3)
        r = call("/card=magcard")
        check("reader unplugged: code 2", r.get("code") == "2", r)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
