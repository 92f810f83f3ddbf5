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


KEY_F1 = 59  # no character on a stripe reader: the daemon ignores it
EVENT_SIZE = 24  # struct input_event on 64-bit


def drain(fd):
    """Input events waiting on our own descriptor of the node (read and counted). uinput hands a
    written event to every listening descriptor before write() returns, so after kb.key()/kb.type()
    everything typed is already here, unless someone else holds the grab."""
    n = 0
    while True:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return n
        if not data:
            return n
        n += len(data) // EVENT_SIZE


def wait_grabbed(kb, fd, timeout=30.0):
    """Wait until the daemon holds the reader grabbed: a key it ignores (F1) no longer reaches our
    descriptor. True once grabbed; False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        drain(fd)
        kb.key(KEY_F1)
        if drain(fd) == 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # poll interval


def unplugged(name):
    """No input device with this name is left."""
    for e in os.listdir("/sys/class/input"):
        try:
            with open(f"/sys/class/input/{e}/device/name") as f:
                if f.read().strip() == name:
                    return False
        except OSError:
            pass
    return True


def main():
    binary = sys.argv[1]
    name = "rig-magstripe MSR"
    kb = Keyboard(name)
    if not check("uinput keyboard created", kb.node is not None):
        return finish()
    tmp = tempfile.mkdtemp()
    # Our own reader of the node: it sees every key unless the daemon holds the grab.
    fd = os.open(kb.node, os.O_RDONLY | os.O_NONBLOCK)
    with daemon(binary, tmp, '[magcard]\ndevice = "rig-magstripe"\ntimeout_ms = 4000\n'):
        swipe = "%B6222021234567890^ZHANG/SAN^3012101?;6222021234567890=30121010000?+0123456789?"
        t, out = call_async("/card=magcard")
        # Type once the daemon waits for the swipe, i.e. holds the grab.
        grabbed = wait_grabbed(kb, fd)
        if not grabbed:
            check("the daemon grabs the reader while card=magcard waits", False,
                  "timed out after 30 s waiting for the grab (F1 still reached another reader)")
        kb.type(swipe)
        # Meanwhile our reader must have seen nothing of the swipe: the daemon holds the grab.
        seen = drain(fd)
        t.join(30)
        r = out.get("r", {})
        check("swipe read: code 0", r.get("code") == "0", r)
        info = r.get("MagCardInfo", {})
        check("track 1", info.get("Track1") == "B6222021234567890^ZHANG/SAN^3012101", info)
        check("track 2", info.get("Track2") == "6222021234567890=30121010000", info)
        check("track 3", info.get("Track3") == "0123456789", info)
        check("exclusive grab: nobody else saw the swipe", grabbed and seen == 0, seen)
        # Released after the call (the daemon closes the node before it answers): typing reaches
        # other readers again.
        drain(fd)
        kb.type("123", enter=False)
        seen2 = drain(fd)
        check("grab released after the call", seen2 > 0, seen2)
        # A bad track.
        t, out = call_async("/card=magcard")
        if not wait_grabbed(kb, fd):
            check("the daemon grabs the reader for the bad-track swipe", False,
                  "timed out after 30 s waiting for the grab")
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
        os.close(fd)
        kb.close()
        # the daemon looks the reader up by name: wait until the kernel has removed it
        deadline = time.monotonic() + 30
        while not unplugged(name) and time.monotonic() < deadline:
            time.sleep(0.05)  # poll interval
        if not unplugged(name):
            check("uinput keyboard removed", False,
                  f"timed out after 30 s waiting for the input device {name!r} to go away")
            return finish()
        r = call("/card=magcard")
        check("reader unplugged: code 2", r.get("code") == "2", r)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
