#!/usr/bin/env python3
"""The signing screen against the real kernel stack: cameraserviced with signpad.backend = "drm" on
vkms (its Virtual-1 connector, 1024x768 at 60 Hz) and the pen through evdev from a uinput tablet.
Runs inside the QEMU rig guest (standard library only).

Checks: the daemon takes the vkms display and the pen (diag=status); sign=start shows a window and
sign=stream shows it; strokes drawn with the uinput pen at known digitiser points land in the
signature PNG within 1 px of the mapped position, at rotation 0 and with the digitiser turned
90 degrees; the confirm button pressed with the pen ends the task; the pen is grabbed (another
reader of its node sees nothing while the daemon holds it); the pen unplugged and plugged again
keeps working. Prints the time from pen events to the signature state (emulated CPU: a bound, not
a measurement of the board).

usage: signpad.py DAEMON_BIN
"""

import base64
import os
import struct
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from rigcheck import call, check, daemon, finish  # noqa: E402
from uinput_pen import Pen  # noqa: E402

MAX = 32767
BUTTON_W, BUTTON_H, MARGIN = 140, 56, 16


def png_alpha(data):
    """(width, height, alpha rows) of an 8-bit RGBA PNG (standard library only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype == 6, (depth, ctype)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * 4
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 4] if i >= 4 else 0
            b = prev[i]
            c = prev[i - 4] if i >= 4 else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line[3::4]))
        prev = line
    return w, h, rows


def to_digitiser(x, y, screen, rotation):
    """Screen pixel -> digitiser units for a digitiser turned `rotation` degrees clockwise."""
    w, h = screen
    u, v = x / (w - 1), y / (h - 1)
    if rotation == 90:
        u, v = v, 1 - u
    return round(u * MAX), round(v * MAX)


def wait_status(want, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        r = call("/sign=status")
        if r.get("status") == want:
            return True
        time.sleep(0.05)
    return False


def run(binary, rotation):
    tmp = tempfile.mkdtemp()
    cfg = ('[signpad]\nbackend = "drm"\npen = "rig-pen"\npen_rotation = %d\n' % rotation)
    pen = Pen("rig-pen", MAX, MAX, 4095, 100, True, 0x1209, 0x7001)
    with daemon(binary, tmp, cfg):
        st = call("/diag=status")
        sp = [c for c in st.get("classes", []) if c["class"] == "signpad"]
        check(f"rot{rotation}.drm-backend", bool(sp) and sp[0]["backend"] == "drm" and "DRM" in sp[0]["detail"], sp)
        pos = call("/param=get", {"type": "screen_pos"})
        screen = (int(pos["pos"]["width"]), int(pos["pos"]["height"]))
        check(f"rot{rotation}.screen-size", screen[0] >= 640 and screen[1] >= 480, pos)
        win = (50, 40, screen[0] - 100, screen[1] - 80)
        r = call("/sign=start", {"pos": {"left": win[0], "top": win[1], "width": win[2], "height": win[3]}})
        check(f"rot{rotation}.start", r.get("code") == "0", r)
        time.sleep(1.5)  # the daemon finds and grabs the pen (it looks every second)
        # Grabbed: our own descriptor of the node sees nothing of a report.
        fd = os.open(pen.node, os.O_RDONLY | os.O_NONBLOCK)
        pen.emit(3, 0, 100)
        pen.syn()
        try:
            got = os.read(fd, 4096)
        except BlockingIOError:
            got = b""
        os.close(fd)
        check(f"rot{rotation}.pen-grabbed", got == b"", f"{len(got)} bytes read past the grab")
        # A horizontal stroke at known screen points.
        y = win[1] + 120
        x0, x1 = win[0] + 100, win[0] + 500
        a = to_digitiser(x0, y, screen, rotation)
        b = to_digitiser(x1, y, screen, rotation)
        pen.stroke(a[0], a[1], b[0], b[1], 40, 3000, 0.01)
        ok = (win[0] + win[2] - MARGIN - BUTTON_W // 2, win[1] + win[3] - MARGIN - BUTTON_H // 2)
        c = to_digitiser(*ok, screen, rotation)
        t0 = time.time()
        pen.stroke(c[0], c[1], c[0], c[1], 2, 3000, 0.01)
        done = wait_status("2")
        check(f"rot{rotation}.confirmed-with-the-pen", done, call("/sign=status"))
        print(f"INFO rot{rotation}: confirm tap to state 2: {(time.time() - t0) * 1000:.0f} ms (emulated CPU)")
        r = call("/sign=get")
        check(f"rot{rotation}.get", r.get("code") == "0", {k: v for k, v in r.items() if k != "image"})
        if r.get("code") == "0":
            w, h, alpha = png_alpha(base64.b64decode(r["image"]))
            check(f"rot{rotation}.png-size", (w, h) == (win[2], win[3]), (w, h))
            wy = y - win[1]
            missing = [x for x in range(x0 - win[0] + 3, x1 - win[0] - 3, 5)
                       if max(alpha[wy + dy][x] for dy in (-1, 0, 1)) < 128]
            check(f"rot{rotation}.stroke-within-1px", not missing, f"no ink near x={missing[:10]} y={wy}")
            check(f"rot{rotation}.nothing-elsewhere", alpha[wy + 30][(x0 + x1) // 2 - win[0]] == 0)
        lat = call("/diag=status").get("signpad_latency_ms", {})
        period = 1000 / 60
        check(f"rot{rotation}.latency-measured", lat.get("samples", 0) > 10, lat)
        if lat.get("samples"):
            print(f"INFO rot{rotation}: ink latency, pen event to page flip: p50 {lat['p50']} ms, "
                  f"p95 {lat['p95']} ms over {lat['samples']} presents = {lat['p95'] / period:.2f} refresh "
                  f"intervals at 60 Hz (emulated CPU, TCG)")
        # Unplug and plug the pen again: it keeps working.
        pen.close()
        time.sleep(1.0)
        pen = Pen("rig-pen", MAX, MAX, 4095, 100, True, 0x1209, 0x7001)
        time.sleep(2.5)
        call("/sign=start", {"pos": {"left": win[0], "top": win[1], "width": win[2], "height": win[3]}})
        pen.stroke(a[0], a[1], b[0], b[1], 20, 3000, 0.01)
        pen.stroke(c[0], c[1], c[0], c[1], 2, 3000, 0.01)
        check(f"rot{rotation}.pen-replugged", wait_status("2"), call("/sign=status"))
        # The stream shows the screen (a JPEG of its size).
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", 38088, timeout=20)
        conn.request("GET", "/sign=stream")
        resp = conn.getresponse()
        buf = b""
        end = time.time() + 15
        while time.time() < end and b"\xff\xd9" not in buf:
            buf += resp.read1(65536)
        conn.close()
        check(f"rot{rotation}.stream", b"\xff\xd8" in buf and b"\xff\xd9" in buf, len(buf))
    pen.close()


def main():
    binary = sys.argv[1]
    if not os.path.exists("/dev/dri/card0"):
        check("vkms /dev/dri/card0", False, "vkms not loaded")
        return finish()
    for rotation in (0, 90):
        run(binary, rotation)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
