#!/usr/bin/env python3
"""A virtual pen tablet through /dev/uinput (standard library only).

Creates an input device with ABS_X, ABS_Y, ABS_PRESSURE, BTN_TOUCH, BTN_TOOL_PEN and BTN_STYLUS,
prints its event node, optionally draws strokes, and can stay alive for a while (or until it is
killed: SIGTERM or SIGINT remove the device and end it with status 0) so that a program under test
keeps seeing the device.

  uinput_pen.py --name rig-pen --stroke 1000,1000:20000,15000 --hold 5
  uinput_pen.py --wait-file /tmp/reader-ready --stroke 0,0:32767,32767 --points 50

Output (stdout, one line each, flushed):
  device /dev/input/event3          as soon as the node exists
  stroke N points                   after each stroke
A stroke is: pen in proximity (BTN_TOOL_PEN 1), touch down (BTN_TOUCH 1) with pressure, N moves
along the line with a pressure ramp, touch up (BTN_TOUCH 0, pressure 0), out of proximity
(BTN_TOOL_PEN 0). Each step ends with SYN_REPORT.

The device needs uinput (modprobe uinput, or run-in-vm.sh --modules uinput) and evdev for the
/dev/input/eventN node.
"""
import argparse
import fcntl
import os
import signal
import struct
import sys
import time

# linux/input-event-codes.h
EV_SYN, EV_KEY, EV_ABS = 0x00, 0x01, 0x03
SYN_REPORT = 0
ABS_X, ABS_Y, ABS_PRESSURE = 0x00, 0x01, 0x18
BTN_TOOL_PEN, BTN_TOUCH, BTN_STYLUS = 0x140, 0x14A, 0x14B
INPUT_PROP_POINTER, INPUT_PROP_DIRECT = 0x00, 0x01
BUS_USB = 0x03


def _ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (ord("U") << 8) | nr


_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2
UI_DEV_CREATE = _ioc(_IOC_NONE, 1, 0)
UI_DEV_DESTROY = _ioc(_IOC_NONE, 2, 0)
UI_DEV_SETUP = _ioc(_IOC_WRITE, 3, 92)  # struct uinput_setup
UI_ABS_SETUP = _ioc(_IOC_WRITE, 4, 28)  # struct uinput_abs_setup
UI_SET_EVBIT = _ioc(_IOC_WRITE, 100, 4)
UI_SET_KEYBIT = _ioc(_IOC_WRITE, 101, 4)
UI_SET_ABSBIT = _ioc(_IOC_WRITE, 103, 4)
UI_SET_PROPBIT = _ioc(_IOC_WRITE, 110, 4)


def UI_GET_SYSNAME(length):
    return _ioc(_IOC_READ, 44, length)


class Pen:
    def __init__(self, name, max_x, max_y, max_pressure, resolution, direct, vendor, product):
        self.fd = os.open("/dev/uinput", os.O_WRONLY | os.O_NONBLOCK)
        for ev in (EV_SYN, EV_KEY, EV_ABS):
            fcntl.ioctl(self.fd, UI_SET_EVBIT, ev)
        for key in (BTN_TOOL_PEN, BTN_TOUCH, BTN_STYLUS):
            fcntl.ioctl(self.fd, UI_SET_KEYBIT, key)
        fcntl.ioctl(self.fd, UI_SET_PROPBIT, INPUT_PROP_DIRECT if direct else INPUT_PROP_POINTER)
        for code, maximum, res in ((ABS_X, max_x, resolution), (ABS_Y, max_y, resolution),
                                   (ABS_PRESSURE, max_pressure, 0)):
            fcntl.ioctl(self.fd, UI_SET_ABSBIT, code)
            # struct uinput_abs_setup { u16 code; (pad) struct input_absinfo { value, minimum,
            # maximum, fuzz, flat, resolution } }
            fcntl.ioctl(self.fd, UI_ABS_SETUP, struct.pack("=H2x6i", code, 0, 0, maximum, 0, 0, res))
        # struct uinput_setup { struct input_id { bustype, vendor, product, version }; char name[80];
        # u32 ff_effects_max }
        setup = struct.pack("=4H80sI", BUS_USB, vendor, product, 1, name.encode()[:79], 0)
        fcntl.ioctl(self.fd, UI_DEV_SETUP, setup)
        fcntl.ioctl(self.fd, UI_DEV_CREATE)
        self.sysname = self._sysname()
        self.node = self._wait_node()

    def _sysname(self):
        buf = bytearray(64)
        fcntl.ioctl(self.fd, UI_GET_SYSNAME(len(buf)), buf)
        return buf.split(b"\0", 1)[0].decode()

    def _wait_node(self, timeout=20.0):
        base = f"/sys/devices/virtual/input/{self.sysname}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                for entry in os.listdir(base):
                    if entry.startswith("event") and os.path.exists(f"/dev/input/{entry}"):
                        return f"/dev/input/{entry}"
            except FileNotFoundError:
                pass
            time.sleep(0.01)  # poll interval
        raise RuntimeError(f"no /dev/input/event* node for {base} within {timeout:.0f}s (is evdev loaded?)")

    def emit(self, etype, code, value):
        # struct input_event: struct timeval (zero: the kernel stamps it), u16 type, u16 code, s32
        os.write(self.fd, struct.pack("=qqHHi", 0, 0, etype, code, value))

    def syn(self):
        self.emit(EV_SYN, SYN_REPORT, 0)

    def stroke(self, x0, y0, x1, y1, points, pressure, interval):
        # The pauses of `interval` between reports are deliberate: they pace the stroke like a
        # real pen's report rate; nothing is waited for.
        points = max(points, 2)
        self.emit(EV_ABS, ABS_X, x0)
        self.emit(EV_ABS, ABS_Y, y0)
        self.emit(EV_KEY, BTN_TOOL_PEN, 1)
        self.syn()
        time.sleep(interval)
        for i in range(points):
            t = i / (points - 1)
            self.emit(EV_ABS, ABS_X, round(x0 + (x1 - x0) * t))
            self.emit(EV_ABS, ABS_Y, round(y0 + (y1 - y0) * t))
            # pressure ramps up over the first quarter and down over the last
            ramp = min(1.0, 4 * t, 4 * (1 - t)) if points > 4 else 1.0
            self.emit(EV_ABS, ABS_PRESSURE, max(1, round(pressure * ramp)))
            if i == 0:
                self.emit(EV_KEY, BTN_TOUCH, 1)
            self.syn()
            time.sleep(interval)
        self.emit(EV_ABS, ABS_PRESSURE, 0)
        self.emit(EV_KEY, BTN_TOUCH, 0)
        self.syn()
        time.sleep(interval)
        self.emit(EV_KEY, BTN_TOOL_PEN, 0)
        self.syn()

    def close(self):
        try:
            fcntl.ioctl(self.fd, UI_DEV_DESTROY)
        finally:
            os.close(self.fd)


def parse_stroke(text):
    try:
        a, b = text.split(":")
        x0, y0 = (int(v) for v in a.split(","))
        x1, y1 = (int(v) for v in b.split(","))
        return x0, y0, x1, y1
    except ValueError:
        raise argparse.ArgumentTypeError("a stroke is X0,Y0:X1,Y1")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--name", default="rig-pen", help="device name (default rig-pen)")
    ap.add_argument("--max-x", type=int, default=32767)
    ap.add_argument("--max-y", type=int, default=32767)
    ap.add_argument("--max-pressure", type=int, default=4095)
    ap.add_argument("--resolution", type=int, default=100, help="units per mm for X/Y (default 100)")
    ap.add_argument("--direct", action="store_true", help="INPUT_PROP_DIRECT (a pen display) "
                    "instead of INPUT_PROP_POINTER (a tablet)")
    ap.add_argument("--vendor", type=lambda v: int(v, 0), default=0x1209)
    ap.add_argument("--product", type=lambda v: int(v, 0), default=0x7001)
    ap.add_argument("--stroke", type=parse_stroke, action="append", default=[],
                    metavar="X0,Y0:X1,Y1", help="draw a stroke (repeatable)")
    ap.add_argument("--points", type=int, default=20, help="moves per stroke (default 20)")
    ap.add_argument("--pressure", type=int, default=None, help="peak pressure (default 3/4 of max)")
    ap.add_argument("--interval", type=float, default=0.01, help="seconds between reports")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds to wait before drawing")
    ap.add_argument("--wait-file", help="before drawing, wait until this file exists (a reader "
                    "creates it once it has opened the device)")
    ap.add_argument("--wait-timeout", type=float, default=30.0)
    ap.add_argument("--hold", type=float, default=0.0,
                    help="seconds to keep the device after drawing (default 0; -1: until killed, "
                    "SIGTERM or SIGINT)")
    args = ap.parse_args()
    pressure = args.pressure if args.pressure is not None else args.max_pressure * 3 // 4
    # Being killed is the normal way to end a --hold -1 pen: remove the device, exit 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    pen = Pen(args.name, args.max_x, args.max_y, args.max_pressure, args.resolution, args.direct,
              args.vendor, args.product)
    try:
        print(f"device {pen.node}", flush=True)
        if args.wait_file:
            deadline = time.monotonic() + args.wait_timeout
            while not os.path.exists(args.wait_file):
                if time.monotonic() > deadline:
                    print(f"uinput_pen: {args.wait_file} did not appear", file=sys.stderr)
                    return 1
                time.sleep(0.01)  # poll interval
        if args.delay:
            time.sleep(args.delay)  # a deliberate pause the caller asked for (--delay)
        for s in args.stroke:
            pen.stroke(*s, args.points, pressure, args.interval)
            print(f"stroke {args.points} points", flush=True)
        # --hold: keep the device for as long as the caller asked (deliberate), or until killed
        if args.hold < 0:
            while True:
                time.sleep(3600)
        time.sleep(args.hold)
    except KeyboardInterrupt:
        pass
    finally:
        pen.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
