#!/usr/bin/env python3
"""Read input events from an evdev node and check that expected ones arrive (standard library only).

  evdev_read.py /dev/input/event3 --timeout 5
  evdev_read.py --name rig-pen --ready-file /tmp/ready --expect ABS_X --expect BTN_TOUCH=1 \\
                --expect BTN_TOUCH=0 --expect 'ABS_PRESSURE>0' --timeout 10

Prints every event as "TYPE CODE VALUE" (names where known, e.g. "EV_ABS ABS_X 1234"). With
--expect it stops as soon as all expectations are met and exits 0, or exits 1 after --timeout
listing the unmet ones. An expectation is CODE (any value), CODE=V, CODE>V or CODE<V.
Without --expect it reads until --timeout or --count events.
"""
import argparse
import os
import select
import struct
import sys
import time

EVENT = struct.Struct("=qqHHi")  # struct input_event on 64-bit: timeval, type, code, value

TYPES = {0x00: "EV_SYN", 0x01: "EV_KEY", 0x02: "EV_REL", 0x03: "EV_ABS", 0x04: "EV_MSC"}
CODES = {
    0x00: {0: "SYN_REPORT", 3: "SYN_DROPPED"},
    0x01: {0x140: "BTN_TOOL_PEN", 0x141: "BTN_TOOL_RUBBER", 0x14A: "BTN_TOUCH",
           0x14B: "BTN_STYLUS", 0x14C: "BTN_STYLUS2", 0x110: "BTN_LEFT", 0x111: "BTN_RIGHT"},
    0x02: {0: "REL_X", 1: "REL_Y", 8: "REL_WHEEL"},
    0x03: {0x00: "ABS_X", 0x01: "ABS_Y", 0x18: "ABS_PRESSURE", 0x19: "ABS_DISTANCE",
           0x1A: "ABS_TILT_X", 0x1B: "ABS_TILT_Y", 0x35: "ABS_MT_POSITION_X",
           0x36: "ABS_MT_POSITION_Y"},
    0x04: {0x04: "MSC_SCAN"},
}


def name_of(etype, code):
    return TYPES.get(etype, f"EV_{etype:#x}"), CODES.get(etype, {}).get(code, f"{code:#x}")


def find_by_name(name, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            entries = sorted(os.listdir("/sys/class/input"))
        except FileNotFoundError:
            entries = []
        for e in entries:
            if not e.startswith("event"):
                continue
            try:
                with open(f"/sys/class/input/{e}/device/name") as f:
                    if f.read().strip() == name and os.path.exists(f"/dev/input/{e}"):
                        return f"/dev/input/{e}"
            except OSError:
                pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


class Expectation:
    def __init__(self, text):
        self.text = text
        for op in ("=", ">", "<"):
            if op in text:
                code, value = text.split(op, 1)
                self.code, self.op, self.value = code.strip(), op, int(value, 0)
                break
        else:
            self.code, self.op, self.value = text.strip(), None, None
        self.met = False

    def check(self, code_name, value):
        if self.met or code_name != self.code:
            return
        if (self.op is None or (self.op == "=" and value == self.value)
                or (self.op == ">" and value > self.value) or (self.op == "<" and value < self.value)):
            self.met = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("device", nargs="?", help="/dev/input/eventN")
    ap.add_argument("--name", help="find the device by its name instead (waits for it to appear)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    ap.add_argument("--count", type=int, default=0, help="stop after this many events")
    ap.add_argument("--expect", action="append", default=[], metavar="CODE[=|>|<V]")
    ap.add_argument("--ready-file", help="create this file once the device is open")
    ap.add_argument("--quiet", action="store_true", help="do not print the events")
    ap.add_argument("--no-syn", action="store_true", help="do not print SYN_REPORT events")
    args = ap.parse_args()

    start = time.monotonic()
    path = args.device
    if args.name:
        path = find_by_name(args.name, args.timeout)
        if not path:
            print(f"evdev_read: no input device named {args.name!r}", file=sys.stderr)
            return 1
    if not path:
        ap.error("give a device or --name")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    print(f"# reading {path}", flush=True)
    if args.ready_file:
        with open(args.ready_file, "w"):
            pass

    expectations = [Expectation(e) for e in args.expect]
    seen = 0
    buf = b""
    deadline = start + args.timeout
    while True:
        if expectations and all(e.met for e in expectations):
            break
        if args.count and seen >= args.count:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            buf += os.read(fd, EVENT.size * 64)
        except BlockingIOError:
            continue
        while len(buf) >= EVENT.size:
            sec, usec, etype, code, value = EVENT.unpack_from(buf)
            buf = buf[EVENT.size:]
            seen += 1
            tname, cname = name_of(etype, code)
            if not args.quiet and not (args.no_syn and etype == 0):
                print(f"{tname} {cname} {value}", flush=True)
            for e in expectations:
                e.check(cname, value)
    os.close(fd)
    missing = [e.text for e in expectations if not e.met]
    if missing:
        print(f"evdev_read: not seen within {args.timeout}s: {', '.join(missing)} "
              f"({seen} events read)", file=sys.stderr)
        return 1
    print(f"# {seen} events", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
