#!/usr/bin/env python3
"""The signing screen against the real kernel stack: cameraserviced with signpad.backend = "drm" on
vkms (its Virtual-1 connector, 1024x768 at 60 Hz) and the pen through evdev from a uinput tablet.
Runs inside the QEMU rig guest (standard library only).

Checks: the daemon takes the vkms display and the pen (diag=status); sign=start shows a window and
sign=stream shows it; strokes drawn with the uinput pen at known digitiser points land in the
signature PNG within 1 px of the mapped position, at rotation 0 and with the digitiser turned
90 degrees; the confirm button pressed with the pen ends the task; the pen is grabbed (another
reader of its node sees nothing while the daemon holds it); the pen unplugged and plugged again
keeps working. A four-corner calibration file describing the same 90-degree turn maps as well.
What the display scans out is read back from the kernel (GETFB + map): the idle screen and a sign
window on the glass; `sign=browser` hands the display to cog (its DRM platform) whose page shows
on the glass, the pen is shared as a pointer (enable_sign_screen_mouse) and grabbed again, the
display comes back after `sign=closebrowser` and after the browser is killed. Prints the time from
pen events to the signature state (emulated CPU: a bound, not a measurement of the board).
The windows of the golden-image test (tests/e2e/sign_scenes.py, those without ink) are shown on
vkms and compared through sign=stream with the same golden images as the virtual screen.

usage: signpad.py DAEMON_BIN
"""

import base64
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HELPERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers")
sys.path.insert(0, HELPERS)
from rigcheck import call, check, daemon, finish  # noqa: E402
from uinput_pen import Pen  # noqa: E402
from ws_min import WebSocket  # noqa: E402

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


def calibration_file(tmp, rotation):
    """Four targets 10% in from the corners of a 1024x768 screen and where the digitiser turned
    `rotation` degrees reports them (what a calibration tool would have written)."""
    path = os.path.join(tmp, "pen-calibration.txt")
    screen = (1024, 768)
    with open(path, "w") as f:
        f.write("# screen_x screen_y raw_x raw_y\n")
        for sx, sy in ((102, 77), (921, 77), (921, 691), (102, 691)):
            rx, ry = to_digitiser(sx, sy, screen, rotation)
            f.write(f"{sx} {sy} {rx} {ry}\n")
    return path


def run(binary, rotation, calibrated=False, mode=""):
    """Geometry, buttons, grab and replug with the digitiser turned `rotation` degrees, told to
    the daemon by pen_rotation or (calibrated) by a four-corner calibration file; `mode` picks a
    display mode other than vkms' preferred 1024x768."""
    tmp = tempfile.mkdtemp()
    if calibrated:
        cfg = ('[signpad]\nbackend = "drm"\npen = "rig-pen"\npen_calibration_file = "%s"\n'
               % calibration_file(tmp, rotation))
    else:
        cfg = ('[signpad]\nbackend = "drm"\npen = "rig-pen"\npen_rotation = %d\n' % rotation)
    if mode:
        cfg += 'mode = "%s"\n' % mode
    tag = (f"cal{rotation}" if calibrated else f"rot{rotation}") + (f"-{mode}" if mode else "")
    pen = Pen("rig-pen", MAX, MAX, 4095, 100, True, 0x1209, 0x7001)
    with daemon(binary, tmp, cfg):
        if calibrated:
            sp = [c for c in call("/diag=status").get("classes", []) if c["class"] == "signpad"]
            check(f"{tag}.calibration-file-read", bool(sp) and "four-corner" in sp[0]["detail"], sp)
        st = call("/diag=status")
        sp = [c for c in st.get("classes", []) if c["class"] == "signpad"]
        check(f"{tag}.drm-backend", bool(sp) and sp[0]["backend"] == "drm" and "DRM" in sp[0]["detail"], sp)
        pos = call("/param=get", {"type": "screen_pos"})
        screen = (int(pos["pos"]["width"]), int(pos["pos"]["height"]))
        want = tuple(int(v) for v in mode.split("x")) if mode else None
        check(f"{tag}.screen-size", screen == want if want else (screen[0] >= 640 and screen[1] >= 480), pos)
        win = (50, 40, screen[0] - 100, screen[1] - 80)
        r = call("/sign=start", {"pos": {"left": win[0], "top": win[1], "width": win[2], "height": win[3]}})
        check(f"{tag}.start", r.get("code") == "0", r)
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
        check(f"{tag}.pen-grabbed", got == b"", f"{len(got)} bytes read past the grab")
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
        check(f"{tag}.confirmed-with-the-pen", done, call("/sign=status"))
        print(f"INFO {tag}: confirm tap to state 2: {(time.time() - t0) * 1000:.0f} ms (emulated CPU)")
        r = call("/sign=get")
        check(f"{tag}.get", r.get("code") == "0", {k: v for k, v in r.items() if k != "image"})
        if r.get("code") == "0":
            w, h, alpha = png_alpha(base64.b64decode(r["image"]))
            check(f"{tag}.png-size", (w, h) == (win[2], win[3]), (w, h))
            wy = y - win[1]
            missing = [x for x in range(x0 - win[0] + 3, x1 - win[0] - 3, 5)
                       if max(alpha[wy + dy][x] for dy in (-1, 0, 1)) < 128]
            check(f"{tag}.stroke-within-1px", not missing, f"no ink near x={missing[:10]} y={wy}")
            check(f"{tag}.nothing-elsewhere", alpha[wy + 30][(x0 + x1) // 2 - win[0]] == 0)
        lat = call("/diag=status").get("signpad_latency_ms", {})
        period = 1000 / 60
        # Measured at all (the figures are printed; how many presents a stroke gets depends on the load).
        check(f"{tag}.latency-measured", lat.get("samples", 0) >= 5, lat)
        if lat.get("samples"):
            print(f"INFO {tag}: ink latency, pen event to page flip: p50 {lat['p50']} ms, "
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
        check(f"{tag}.pen-replugged", wait_status("2"), call("/sign=status"))
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
        check(f"{tag}.stream", b"\xff\xd8" in buf and b"\xff\xd9" in buf, len(buf))
    pen.close()


IDLE = (0xEE, 0xF1, 0xF5)  # the idle screen's background
PAGE = (0xFF, 0x00, 0xFF)  # the test page's background


def scanout(x, y):
    """The colour the display scans out at (x, y), read from the kernel; None when unreadable."""
    r = subprocess.run([sys.executable, os.path.join(HELPERS, "drm_dumb.py"), "--card", "/dev/dri/card0",
                        "--read-scanout", f"{x},{y}"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0 or "#" not in r.stdout:
        return None
    h = r.stdout.strip().rsplit("#", 1)[1]
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


def near(c, want, tol=12):
    return c is not None and all(abs(a - b) <= tol for a, b in zip(c, want))


def wait_glass(x, y, want, timeout):
    end = time.time() + timeout
    c = None
    while time.time() < end:
        c = scanout(x, y)
        if near(c, want):
            return True, c
        time.sleep(0.5)
    return False, c


_probe = [300]


def pen_reaches_others(pen):
    """Whether another reader of the pen's node sees a report (False while it is grabbed)."""
    fd = os.open(pen.node, os.O_RDONLY | os.O_NONBLOCK)
    try:
        _probe[0] += 7  # a new value each time: the input core drops reports that change nothing
        pen.emit(3, 0, _probe[0])
        pen.syn()
        time.sleep(0.2)
        try:
            return len(os.read(fd, 4096)) > 0
        except BlockingIOError:
            return False
    finally:
        os.close(fd)


def browser_pids():
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() == "cog":
                        pids.append(int(d))
            except OSError:
                pass
    return pids


def run_golden(binary):
    """The windows of the golden-image test (tests/e2e/sign_scenes.py; those without ink) shown on
    vkms and read back through sign=stream, compared with the same golden images."""
    sys.path.insert(0, os.path.join(os.getcwd(), "tests", "e2e"))
    import sign_scenes as sc
    from PIL import Image

    tmp = tempfile.mkdtemp()
    idle = sc.idle_picture(os.path.join(tmp, "idle.png"))
    cfg = '[signpad]\nbackend = "drm"\npen = "rig-pen"\nidle_image = "%s"\n' % idle
    with daemon(binary, tmp, cfg):
        pos = call("/param=get", {"type": "screen_pos"})["pos"]
        size = (int(pos["width"]), int(pos["height"]))
        for name, scene in sc.scenes().items():
            if scene["strokes"]:
                continue
            golden = sc.golden_path(name, size)
            if not os.path.exists(golden):
                check(f"golden.{name}", False, f"no golden image for {size}")
                continue
            codes = [call(path, body).get("code") for path, body in sc.CLEAR + scene["calls"]]
            want = Image.open(golden)
            end = time.time() + 15
            while True:
                try:
                    got = sc.stream_frame("127.0.0.1", 38088, 20)
                except (AssertionError, OSError):
                    got = None
                mean, frac = sc.difference(got, want) if got else (255.0, 1.0)
                if (mean <= sc.MAX_MEAN and frac <= sc.MAX_FRACTION) or time.time() > end:
                    break
                time.sleep(0.3)
            check(f"golden.{name}", all(c == "0" for c in codes) and mean <= sc.MAX_MEAN
                  and frac <= sc.MAX_FRACTION, f"codes {codes}, mean {mean:.2f}, off {frac:.4f}")
        for path, body in sc.CLEAR:
            call(path, body)


def run_glass_and_browser(binary):
    """Our windows on the glass, the display handed to cog and taken back, the pen shared."""
    tmp = tempfile.mkdtemp()
    page_dir = os.path.join(tmp, "page")
    os.makedirs(page_dir)
    with open(os.path.join(page_dir, "index.html"), "w") as f:
        f.write('<html><body style="background:#ff00ff;margin:0"><h1>page</h1></body></html>')
    server = subprocess.Popen([sys.executable, "-m", "http.server", "8099", "--bind", "127.0.0.1",
                               "--directory", page_dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cfg = '[signpad]\nbackend = "drm"\npen = "rig-pen"\n'
    pen = Pen("rig-pen", MAX, MAX, 4095, 100, True, 0x1209, 0x7001)
    try:
        with daemon(binary, tmp, cfg):
            time.sleep(1.5)  # the pen is found and grabbed
            ok, c = wait_glass(5, 5, IDLE, 10)
            check("glass.idle-screen", ok, c)
            call("/sign=start", {"pos": {"left": 100, "top": 100, "width": 600, "height": 400},
                                 "tip_message": {"content": "", "fontsize": "12"}})
            ok, c = wait_glass(400, 250, (255, 255, 255), 10)
            check("glass.sign-window", ok, c)
            call("/sign=stop")
            # enable_sign_screen_mouse: shared with other readers, then held again.
            check("pointer.grabbed-by-default", not pen_reaches_others(pen))
            check("pointer.enable", call("/param=set", {"enable_sign_screen_mouse": "1"}).get("code") == "0")
            time.sleep(0.5)
            check("pointer.shared", pen_reaches_others(pen))
            check("pointer.disable", call("/param=set", {"enable_sign_screen_mouse": "0"}).get("code") == "0")
            time.sleep(0.5)
            check("pointer.grabbed-again", not pen_reaches_others(pen))
            if not shutil.which("cog"):
                check("browser.cog-installed", False, "cog not found (scripts/install-deps.sh installs it)")
                return
            t0 = time.time()
            r = call("/sign=browser", {"url": "http://127.0.0.1:8099/"})
            check("browser.started", r.get("code") == "0", r)
            ok, c = wait_glass(512, 600, PAGE, 90)
            check("browser.page-on-the-glass", ok, c)
            print(f"INFO browser: cog's page on the glass {time.time() - t0:.1f} s after sign=browser "
                  f"(emulated CPU)")
            st = call("/diag=status").get("signpad_state", {})
            check("browser.handed-over-pen-shared", st == {"handed_over": True, "pen_shared": True}, st)
            check("browser.pen-reaches-the-browser", pen_reaches_others(pen))
            pids = browser_pids()
            check("browser.closebrowser", call("/sign=closebrowser").get("code") == "0")
            ok, c = wait_glass(5, 5, IDLE, 15)
            check("browser.display-taken-back", ok, c)
            check("browser.cog-ended", pids and not any(p in browser_pids() for p in pids), (pids, browser_pids()))
            # The pen works on our windows again.
            call("/param=set", {"enable_sign_screen_mouse": "0"})
            win = (50, 40, 924, 688)
            call("/sign=start", {"pos": {"left": win[0], "top": win[1], "width": win[2], "height": win[3]}})
            a = to_digitiser(200, 200, (1024, 768), 0)
            b = to_digitiser(600, 200, (1024, 768), 0)
            pen.stroke(a[0], a[1], b[0], b[1], 20, 3000, 0.01)
            ok_btn = to_digitiser(win[0] + win[2] - MARGIN - BUTTON_W // 2, win[1] + win[3] - MARGIN - BUTTON_H // 2,
                                  (1024, 768), 0)
            pen.stroke(ok_btn[0], ok_btn[1], ok_btn[0], ok_btn[1], 2, 3000, 0.01)
            check("browser.pen-ours-again", wait_status("2"), call("/sign=status"))
            # The browser killed from outside: the display comes back by itself.
            r = call("/sign=browser", {"url": "http://127.0.0.1:8099/", "enable_sign_screen_mouse": "0"})
            check("browser.second-start", r.get("code") == "0", r)
            ok, c = wait_glass(512, 600, PAGE, 90)
            check("browser.second-page-on-the-glass", ok, c)
            for p in browser_pids():
                os.kill(p, signal.SIGKILL)
            ok, c = wait_glass(5, 5, IDLE, 15)
            check("browser.killed-display-taken-back", ok, c)
            st = call("/diag=status").get("signpad_state", {})
            check("browser.state-after-kill", st.get("handed_over") is False, st)
    finally:
        pen.close()
        server.terminate()
        server.wait(10)


BAR_COLOUR = (0x26, 0x2A, 0x33)  # the document viewer's toolbar
OK_BLUE = (0x1F, 0x6F, 0xD1)     # a sign window's confirm button


def run_pdf(binary):
    """PDF signing (vendor 9.6) on vkms with the uinput pen: the viewer on the glass, a tap in sign
    mode and a long press in drag mode open the sign window, the pen signs and confirms, the
    toolbar's keys work with the pen, the sign-off brings the signed PDF."""
    tmp = tempfile.mkdtemp()
    cfg = '[signpad]\nbackend = "drm"\npen = "rig-pen"\n'
    pen = Pen("rig-pen", MAX, MAX, 4095, 100, True, 0x1209, 0x7001)
    screen = (1024, 768)
    bar = max(40, min(72, screen[1] // 10))
    area_h = screen[1] - bar
    # The page fitted into the page area (A4), as the viewer lays it out.
    scale = int(min((screen[0] - 16) / 595, (area_h - 16) / 842) * 1000) / 1000
    pw, ph = 595 * scale, 842 * scale
    ox, oy = (screen[0] - pw) / 2, (area_h - ph) / 2
    keys = ["上一页", "下一页", "缩小", "放大", "拖动", "签字模式", "批注", "完成"]
    slot_w = (screen[0] - 8) // (len(keys) + 1)

    def key(label):
        i = keys.index(label)
        slot = i + 1 if i >= 2 else i
        return 4 + slot * slot_w + 2 + (slot_w - 4) // 2, screen[1] - bar + bar // 2

    def tap(x, y):
        d = to_digitiser(x, y, screen, 0)
        pen.stroke(d[0], d[1], d[0], d[1], 2, 3000, 0.01)

    def window_at(x, y, w=min(640, screen[0] * 3 // 5), h=min(320, screen[1] * 9 // 20)):
        return min(max(x, 0), screen[0] - w), min(max(y, 0), area_h - h), w, h

    def ok_point(win):
        return win[0] + win[2] - MARGIN - BUTTON_W // 2, win[1] + win[3] - MARGIN - BUTTON_H // 2

    def ok_blue_point(win):
        return win[0] + win[2] - MARGIN - BUTTON_W + 10, win[1] + win[3] - MARGIN - BUTTON_H // 2

    def push(ws):
        for _ in range(50):
            m = ws.recv()
            if m.get("function") == "sign_pdf_info" and "code" not in m:
                return m
        return {}

    sys.path.insert(0, os.path.join(os.getcwd(), "tests", "e2e"))
    from handpdf import text_pdf
    doc = text_pdf(b"BT /F1 24 Tf 72 760 Td (Contract) Tj ET")
    try:
        with daemon(binary, tmp, cfg):
            time.sleep(1.5)  # the pen is found and grabbed
            ws = WebSocket("127.0.0.1", 38088)
            r = ws.call("show_sign_pdf", {"base64": base64.b64encode(doc).decode(), "default_mode": "sign"})
            check("pdf.show", r.get("code") == "0" and r.get("page_count") == "1", r)
            ok, c = wait_glass(screen[0] // 2, screen[1] - 3, BAR_COLOUR, 20)
            check("pdf.viewer-on-the-glass", ok, c)
            ok, c = wait_glass(round(ox + pw / 2), round(oy + ph / 2), (255, 255, 255), 20)
            check("pdf.page-on-the-glass", ok, c)
            # Sign mode: a tap on the page opens the window there; the pen signs and confirms.
            tx, ty = round(ox + 0.3 * pw), round(oy + 0.6 * ph)
            tap(tx, ty)
            win = window_at(tx, ty)
            ok, c = wait_glass(*ok_blue_point(win), OK_BLUE, 20)
            check("pdf.tap-opens-the-window", ok, c)
            a = to_digitiser(win[0] + 60, win[1] + 80, screen, 0)
            b = to_digitiser(win[0] + 300, win[1] + 120, screen, 0)
            pen.stroke(a[0], a[1], b[0], b[1], 30, 3000, 0.01)
            tap(*ok_point(win))
            m = push(ws)
            pos = m.get("pos", {})
            check("pdf.signature-pushed", bool(m.get("signature")) and pos.get("page") == "1"
                  and abs(float(pos.get("x", -1)) - 0.3) < 0.01 and abs(float(pos.get("y", -1)) - 0.6) < 0.01,
                  {k: v for k, v in m.items() if k != "signature"})
            # Drag mode by its key; a long press opens the window; return closes it.
            tap(*key("拖动"))
            time.sleep(0.5)
            lx, ly = round(ox + 0.5 * pw), round(oy + 0.2 * ph)
            d = to_digitiser(lx, ly, screen, 0)
            pen.emit(3, 0, d[0])
            pen.emit(3, 1, d[1])
            pen.emit(1, 0x140, 1)  # BTN_TOOL_PEN
            pen.emit(3, 0x18, 2000)  # ABS_PRESSURE
            pen.emit(1, 0x14A, 1)  # BTN_TOUCH
            pen.syn()
            win = window_at(lx, ly)
            ok, c = wait_glass(*ok_blue_point(win), OK_BLUE, 20)
            pen.emit(3, 0x18, 0)
            pen.emit(1, 0x14A, 0)
            pen.syn()
            pen.emit(1, 0x140, 0)
            pen.syn()
            check("pdf.long-press-opens-the-window", ok, c)
            tap(win[0] + win[2] - 3 * (MARGIN + BUTTON_W) + BUTTON_W // 2, win[1] + win[3] - MARGIN - BUTTON_H // 2)
            end, c = time.time() + 20, None
            while time.time() < end:
                c = scanout(*ok_blue_point(win))
                if c is not None and not near(c, OK_BLUE):
                    break
                time.sleep(0.5)
            check("pdf.return-closes-the-window", c is not None and not near(c, OK_BLUE), c)
            # 完成: the sign-off with the signed PDF.
            tap(*key("完成"))
            m = push(ws)
            path = m.get("signed_file_path", "")
            signed = b""
            if path:
                with open(os.path.join(tmp, "storage", path.lstrip("/")), "rb") as f:
                    signed = f.read()
            check("pdf.signoff-with-signed-pdf", m.get("action") == "signoff" and signed.startswith(doc)
                  and len(signed) > len(doc), m)
            ok, c = wait_glass(screen[0] // 2, screen[1] - 3, IDLE, 20)
            check("pdf.viewer-closed", ok, c)
            ws.close()
    finally:
        pen.close()


def main():
    binary = sys.argv[1]
    if not os.path.exists("/dev/dri/card0"):
        check("vkms /dev/dri/card0", False, "vkms not loaded")
        return finish()
    for rotation in (0, 90):
        run(binary, rotation)
    for rotation in (0, 90):
        run(binary, rotation, mode="800x600")
    run(binary, 90, calibrated=True)
    run_golden(binary)
    run_pdf(binary)
    run_glass_and_browser(binary)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
