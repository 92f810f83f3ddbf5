#!/usr/bin/env python3
"""A virtual USB keyboard through /dev/uinput (standard library only): what a HID magnetic stripe
reader is to the kernel. Importable (Keyboard class) or runnable:

  uinput_keyboard.py --name rig-magstripe --type '%B123?;456?' --enter --hold 2

Output: "device /dev/input/eventN" once the node exists. With --type it then waits (up to
--wait-timeout, 30 s) until another process has the event node open, and types.
"""
import argparse
import fcntl
import os
import struct
import sys
import time

EV_SYN, EV_KEY = 0x00, 0x01
BUS_USB = 0x03
KEY_LEFTSHIFT, KEY_ENTER = 42, 28

# US layout: character -> (key code, shift).
_ROW1 = "1234567890-="
_ROW1S = "!@#$%^&*()_+"
KEYMAP = {}
for i, (a, b) in enumerate(zip(_ROW1, _ROW1S)):
    KEYMAP[a] = (2 + i, False)
    KEYMAP[b] = (2 + i, True)
for i, ch in enumerate("qwertyuiop"):
    KEYMAP[ch] = (16 + i, False)
    KEYMAP[ch.upper()] = (16 + i, True)
for i, ch in enumerate("asdfghjkl"):
    KEYMAP[ch] = (30 + i, False)
    KEYMAP[ch.upper()] = (30 + i, True)
for i, ch in enumerate("zxcvbnm"):
    KEYMAP[ch] = (44 + i, False)
    KEYMAP[ch.upper()] = (44 + i, True)
KEYMAP.update({"[": (26, False), "{": (26, True), "]": (27, False), "}": (27, True),
               ";": (39, False), ":": (39, True), "'": (40, False), '"': (40, True),
               "`": (41, False), "~": (41, True), "\\": (43, False), "|": (43, True),
               ",": (51, False), "<": (51, True), ".": (52, False), ">": (52, True),
               "/": (53, False), "?": (53, True), " ": (57, False)})


def _ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (ord("U") << 8) | nr


UI_DEV_CREATE = _ioc(0, 1, 0)
UI_DEV_DESTROY = _ioc(0, 2, 0)
UI_DEV_SETUP = _ioc(1, 3, 92)
UI_SET_EVBIT = _ioc(1, 100, 4)
UI_SET_KEYBIT = _ioc(1, 101, 4)


def UI_GET_SYSNAME(length):
    return _ioc(2, 44, length)


class Keyboard:
    def __init__(self, name="rig-keyboard", vendor=0x0801, product=0x0002):
        self.fd = os.open("/dev/uinput", os.O_WRONLY | os.O_NONBLOCK)
        fcntl.ioctl(self.fd, UI_SET_EVBIT, EV_SYN)
        fcntl.ioctl(self.fd, UI_SET_EVBIT, EV_KEY)
        for code in range(1, 120):
            fcntl.ioctl(self.fd, UI_SET_KEYBIT, code)
        setup = struct.pack("=4H80sI", BUS_USB, vendor, product, 1, name.encode()[:79], 0)
        fcntl.ioctl(self.fd, UI_DEV_SETUP, setup)
        fcntl.ioctl(self.fd, UI_DEV_CREATE)
        buf = bytearray(64)
        fcntl.ioctl(self.fd, UI_GET_SYSNAME(len(buf)), buf)
        sysname = buf.split(b"\0", 1)[0].decode()
        self.node = None  # stays None if evdev gives it no node within 20 s
        deadline = time.monotonic() + 20
        while self.node is None and time.monotonic() < deadline:
            try:
                for entry in os.listdir(f"/sys/devices/virtual/input/{sysname}"):
                    if entry.startswith("event") and os.path.exists(f"/dev/input/{entry}"):
                        self.node = f"/dev/input/{entry}"
            except OSError:
                pass
            if self.node is None:
                time.sleep(0.02)  # poll interval

    def _emit(self, etype, code, value):
        t = time.time()
        os.write(self.fd, struct.pack("llHHi", int(t), int((t % 1) * 1e6), etype, code, value))

    def key(self, code, shift=False):
        if shift:
            self._emit(EV_KEY, KEY_LEFTSHIFT, 1)
        self._emit(EV_KEY, code, 1)
        self._emit(EV_SYN, 0, 0)
        self._emit(EV_KEY, code, 0)
        if shift:
            self._emit(EV_KEY, KEY_LEFTSHIFT, 0)
        self._emit(EV_SYN, 0, 0)

    def type(self, text, enter=True, delay=0.002):
        for ch in text:
            code, shift = KEYMAP[ch]
            self.key(code, shift)
            time.sleep(delay)  # deliberate: a reader types its characters one after another
        if enter:
            self.key(KEY_ENTER)

    def readers(self):
        """PIDs of other processes that have the event node open."""
        pids = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == self.node:
                        pids.append(int(pid))
                        break
                except OSError:
                    pass
        return pids

    def wait_reader(self, timeout=30.0):
        """Wait until another process has the event node open; raises TimeoutError after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self.readers():
            if time.monotonic() > deadline:
                raise TimeoutError(f"nobody opened {self.node} within {timeout:.0f}s")
            time.sleep(0.05)  # poll interval

    def close(self):
        try:
            fcntl.ioctl(self.fd, UI_DEV_DESTROY)
        finally:
            os.close(self.fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="rig-keyboard")
    ap.add_argument("--type", default="")
    ap.add_argument("--enter", action="store_true")
    ap.add_argument("--hold", type=float, default=0, help="seconds to keep the device afterwards")
    ap.add_argument("--wait-timeout", type=float, default=30.0,
                    help="seconds to wait for a reader of the node before typing (default 30)")
    a = ap.parse_args()
    k = Keyboard(a.name)
    if k.node is None:
        print("uinput_keyboard: no /dev/input/event* node within 20 s (is evdev loaded?)", file=sys.stderr)
        return 1
    print(f"device {k.node}", flush=True)
    try:
        if a.type:
            # typing before anyone listens would send the keys nowhere
            k.wait_reader(a.wait_timeout)
            k.type(a.type, enter=a.enter)
        time.sleep(a.hold)  # deliberate: keep the device as long as the caller asked (--hold)
    except TimeoutError as e:
        print(f"uinput_keyboard: {e}", file=sys.stderr)
        return 1
    finally:
        k.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
