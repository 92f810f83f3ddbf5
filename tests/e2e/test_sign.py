"""The signing screen (vendor 9.1-9.5, 9.7-9.12, 9.14-9.19; param 5.7, 5.8) on the virtual screen
with the simulated pen: the pen socket (its path is in `diag=status`) takes `down X Y [P] [T]`,
`move ...`, `up` in screen pixels and answers `ok` to each. Strokes drawn at known points must
land in the signature PNG at the mapped window position (within 1 px)."""

from __future__ import annotations

import base64
import io
import math
import socket
import time

import pytest
from PIL import Image

import sign_scenes
from e2e_support import LOOPBACK

BUTTON_W, BUTTON_H, MARGIN = 140, 56, 16


class Pen:
    def __init__(self, path: str):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(5)
        # "@name": a Linux abstract socket.
        self.s.connect("\0" + path[1:] if path.startswith("@") else path)
        self.f = self.s.makefile("rw")
        self.t = 0.0

    def send(self, line: str) -> str:
        self.f.write(line + "\n")
        self.f.flush()
        return self.f.readline().strip()

    def stroke(self, points, pressure=0.6, dt=16.0):
        (x, y), rest = points[0], points[1:]
        assert self.send(f"down {x} {y} {pressure} {self.t}") == "ok"
        for x, y in rest:
            self.t += dt
            assert self.send(f"move {x} {y} {pressure} {self.t}") == "ok"
        self.t += dt
        assert self.send(f"up {self.t}") == "ok"

    def tap(self, x, y):
        self.stroke([(x, y)])

    def close(self):
        self.s.close()


def pen_socket(d) -> str:
    for c in d.api("/diag=status")["classes"]:
        if c["class"] == "signpad":
            return c["detail"].split(" pen ", 1)[1]
    raise AssertionError("no signpad class in diag=status")


@pytest.fixture(scope="module", params=[(1280, 800), (800, 480)], ids=["1280x800", "800x480"])
def rig(request, module_daemon):
    w, h = request.param
    d = module_daemon({"signpad": {"width": w, "height": h}}, args=["--sim"])
    pen = Pen(pen_socket(d))
    yield d, pen, (w, h)
    pen.close()


def ok_button(win):
    """Screen centre of the default confirm button of a window (left, top, width, height)."""
    l, t, w, h = win
    return (l + w - MARGIN - BUTTON_W // 2, t + h - MARGIN - BUTTON_H // 2)


def reset_button(win):
    l, t, w, h = win
    return (l + w - 2 * (MARGIN + BUTTON_W) + BUTTON_W // 2, t + h - MARGIN - BUTTON_H // 2)


def start(d, win, **extra):
    l, t, w, h = win
    r = d.api("/sign=start", {"pos": {"left": str(l), "top": str(t), "width": str(w), "height": str(h)}, **extra})
    assert r["code"] == "0", r
    return r["task_id"]


def signature(d, **body) -> tuple[dict, Image.Image | None]:
    r = d.api("/sign=get", body)
    if r["code"] != "0":
        return r, None
    return r, Image.open(io.BytesIO(base64.b64decode(r["image"]))).convert("RGBA")


def test_screen_pos(rig):
    d, _, (w, h) = rig
    assert d.api("/param=get", {"type": "screen_pos"}) == {
        "code": "0", "message": "", "pos": {"x": "0", "y": "0", "width": str(w), "height": str(h)}}


def test_stroke_lands_where_drawn(rig):
    """A sine stroke through known screen points: every sample point is inked in the PNG at the
    window-relative position, nothing 6 px away from the curve's band, the background transparent."""
    d, pen, (sw, sh) = rig
    win = (40, 30, sw - 100, sh - 80)
    task = start(d, win, remark="contract 7")
    assert d.api("/sign=status") == {"code": "0", "message": "", "status": "1", "task_id": task}
    r, _ = signature(d)
    assert r["code"] == "1" and r["message"], r  # no signature before confirm (vendor 9.3)
    pts = [(100 + i * 8, 150 + round(30 * math.sin(i / 5))) for i in range(50)]
    pen.stroke(pts)
    pen.tap(*ok_button(win))
    deadline = time.time() + 5
    while d.api("/sign=status")["status"] != "2":
        assert time.time() < deadline, "confirm not taken"
        time.sleep(0.05)
    r, img = signature(d, task_id=task)
    assert r["remark"] == "contract 7"
    assert img.size == (win[2], win[3])
    alpha = img.getchannel("A")
    for x, y in pts[1:-1]:
        wx, wy = x - win[0], y - win[1]
        near = max(alpha.getpixel((wx + dx, wy + dy)) for dx in (-1, 0, 1) for dy in (-1, 0, 1))
        assert near > 160, f"no ink within 1 px of ({x},{y}) -> ({wx},{wy})"
    assert alpha.getpixel((5, 5)) == 0
    # Nothing far from the stroke's band.
    for x, y in pts[::7]:
        assert alpha.getpixel((x - win[0], y - win[1] + 40)) == 0
    px = img.getpixel((pts[10][0] - win[0], pts[10][1] - win[1]))
    assert px[:3] == (0, 0, 0)


def test_reset_return_stop_and_status(rig):
    d, pen, (sw, sh) = rig
    win = (0, 0, sw, sh)
    # Reset clears the ink: confirming then is ignored (nothing signed).
    t1 = start(d, win)
    pen.stroke([(100, 100), (200, 120)])
    pen.tap(*reset_button(win))
    pen.tap(*ok_button(win))
    time.sleep(0.2)
    assert d.api("/sign=status")["status"] == "1"
    # The return button, made visible, leaves without a signature.
    t2 = start(d, win, sign_buttons_info=[{"button_name": "sign_return_button", "visible": "1",
                                            "button_rect": {"left": "0", "top": "0", "right": "120", "bottom": "60"}}])
    assert t2 != t1
    assert d.api("/sign=status", {"task_id": t1})["code"] == "8"  # replaced
    pen.stroke([(300, 300), (400, 320)])
    pen.tap(60, 30)
    time.sleep(0.2)
    assert d.api("/sign=status") == {"code": "0", "message": "", "status": "0", "task_id": t2}
    assert signature(d)[0]["code"] == "1"
    # sign=stop while signing: idle.
    start(d, win)
    assert d.api("/sign=stop")["code"] == "0"
    assert d.api("/sign=status")["status"] == "0"
    # Confirmed, then stop: the signature stays; reset_status forgets it.
    t4 = start(d, win)
    pen.stroke([(100, 100), (300, 140)])
    pen.tap(*ok_button(win))
    time.sleep(0.2)
    assert d.api("/sign=stop")["code"] == "0"
    assert d.api("/sign=status", {"task_id": t4})["status"] == "2"
    assert signature(d, task_id=t4)[0]["code"] == "0"
    assert signature(d, task_id="nope")[0]["code"] == "8"
    assert d.api("/sign=reset_status")["code"] == "0"
    assert d.api("/sign=status")["status"] == "0"
    assert signature(d)[0]["code"] == "1"
    assert d.api("/sign=reset_sign_device")["code"] == "0"


def test_valid_area_and_percent_units(rig):
    d, pen, (sw, sh) = rig
    win = (0, 0, sw, sh)
    start(d, win, valid_sign_rect={"left": "0", "top": "0", "right": "50%", "bottom": "100%"})
    pen.stroke([(sw // 4, 100), (sw * 3 // 4, 100)])  # crosses the area's right edge
    pen.tap(*ok_button(win))
    time.sleep(0.2)
    _, img = signature(d)
    a = img.getchannel("A")
    assert max(a.getpixel((sw // 4 + 20, 100 + dy)) for dy in (-1, 0, 1)) > 160
    assert all(a.getpixel((x, 100)) == 0 for x in range(sw // 2 + 1, sw * 3 // 4))


def read_stream_frame(port: int, timeout: float = 5.0) -> Image.Image:
    return sign_scenes.stream_frame(LOOPBACK, port, timeout)


def test_stream_shows_the_screen(rig):
    d, pen, (sw, sh) = rig
    d.api("/sign=stop")
    idle = read_stream_frame(d.port)
    assert idle.size == (sw, sh)
    start(d, (50, 50, 400, 300), tip_message={"content": "请签名", "fontsize": "30", "color": "red"})
    shown = read_stream_frame(d.port)
    assert shown.getpixel((60, 120)) == pytest.approx((255, 255, 255), abs=12) or sum(shown.getpixel((60, 120))) > 700
    assert sum(idle.getpixel((60, 120))) < sum(shown.getpixel((60, 120)))
    d.api("/sign=stop")


@pytest.mark.parametrize("body,code", [
    ({"pos": {"left": "0", "top": "0", "width": "10", "height": "10"}}, "4"),
    ({"pos": {"left": "abc", "top": "0", "width": "300", "height": "300"}}, "4"),
    ({"pos": {"left": "50%", "top": "0", "right": "10%", "bottom": "50%"}}, "4"),
    ({"tip_message": {"content": "x", "color": "notacolour"}}, "4"),
    ({"sign_buttons_info": [{"button_name": "sign_big_button"}]}, "4"),
    ({"sign_buttons_info": ["x"]}, "4"),
    ({"valid_sign_rect": {"left": "90%", "right": "10%"}}, "4"),
    ({"background_image": {"filepath": "/no/such.jpg"}}, "8"),
    ({"background_image": {"base64": base64.b64encode(b"not an image").decode()}}, None),
])
def test_bad_input(rig, body, code):
    d, _, _ = rig
    r = d.api("/sign=start", body)
    assert r["code"] != "0" and r["message"], r
    if code:
        assert r["code"] == code, r
    assert d.alive()


def test_background_and_opacity(rig):
    d, _, _ = rig
    b = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 0, 0)).save(b, "PNG")
    bg = base64.b64encode(b.getvalue()).decode()
    start(d, (0, 0, 400, 300), background_image={"base64": bg}, opacity="150")  # clamped to 100
    frame = read_stream_frame(d.port)
    r, g, bl = frame.getpixel((200, 30))
    assert r > 150 and g < 60 and bl < 60, (r, g, bl)
    start(d, (0, 0, 400, 300), background_image={"base64": bg}, opacity="0")
    frame = read_stream_frame(d.port)
    r, g, bl = frame.getpixel((200, 30))
    assert abs(r - g) < 20, "an invisible window shows the idle screen"
    d.api("/sign=stop")


def test_pen_socket_refuses_garbage(rig):
    d, pen, _ = rig
    for line in ("jump 1 2", "down x y", "move 1", "down NaN 2"):
        assert pen.send(line).startswith("err"), line
    assert d.api("/sign=status")["code"] == "0"


def test_without_a_screen(daemon):
    d = daemon({"signpad": {"backend": "none"}})
    for ep in ("/sign=start", "/sign=get", "/sign=status", "/sign=stop", "/sign=reset_status",
               "/sign=reset_sign_device", "/sign=showevaluator", "/sign=closeevaluator",
               "/sign=getevaluatorresult", "/sign=showefloatingbuttongroup",
               "/sign=closefloatingbuttongroup", "/sign=getfloatingbuttongroupresult",
               "/sign=showadvertisingplayer", "/sign=closeadvertisingplayer", "/sign=closebrowser"):
        r = d.api(ep)
        assert r["code"] == "2" and "signpad" in r["message"], (ep, r)
    assert d.api("/param=get", {"type": "screen_pos"})["code"] == "2"
    assert d.api("/param=set", {"enable_sign_screen_mouse": "1"})["code"] == "2"
    assert d.api("/sign=browser", {"url": "http://127.0.0.1/"})["code"] == "2"
    r = d.get("/sign=stream")
    assert r.json()["code"] == "2"


def test_drm_backend_without_a_display_stops_the_daemon(daemon, tmp_path):
    """backend "drm" naming a device that is no KMS device: the daemon refuses to start (the
    panel itself is tested on vkms in the QEMU rig, tests/rig/signpad.sh)."""
    with pytest.raises(Exception):
        daemon({"signpad": {"backend": "drm", "card": str(tmp_path / "nocard")}})


def test_drm_mode_that_does_not_parse_stops_the_daemon(daemon, tmp_path):
    with pytest.raises(Exception, match="signpad.mode"):
        daemon({"signpad": {"backend": "drm", "card": str(tmp_path / "nocard"), "mode": "big"}})


def test_set_recv_hwnd_is_not_supported(rig):
    """9.13 (Windows window messages) cannot exist here: "9" naming the WebSocket topic instead."""
    d, _, _ = rig
    r = d.api("/sign=set_recv_hwnd", {"hwnd": "1234", "message_type": "1"})
    assert r["code"] == "9" and "sign_pen" in r["message"], r


def test_live_pen_events_over_websocket(rig):
    """Subscribers of "sign_pen" get the pen's reports on the sign window: down, moves (at most
    one per refresh interval of the pen's clock), up, in screen pixels, with the task id."""
    import json

    import websocket

    d, pen, (sw, sh) = rig
    task = start(d, (0, 0, sw, sh))
    conn = websocket.create_connection(d.ws_url("/"), timeout=10)
    try:
        conn.send(json.dumps({"function": "subscribe", "params": {"topics": ["sign_pen"]}}))
        assert json.loads(conn.recv())["code"] == "0"
        pts = [(100 + 20 * i, 200 + i) for i in range(10)]
        pen.stroke(pts, dt=40.0)  # slower than the refresh: every move is reported
        events = []
        while not events or events[-1]["type"] != "up":
            m = json.loads(conn.recv())
            if m.get("topic") == "sign_pen":
                events.append(m)
    finally:
        conn.close()
    assert [e["type"] for e in events] == ["down"] + ["move"] * 9 + ["up"], [e["type"] for e in events]
    assert (events[0]["x"], events[0]["y"]) == pts[0]
    assert [(e["x"], e["y"]) for e in events[1:-1]] == pts[1:]
    assert all(e["task_id"] == task and e["event"] == "sign_pen" for e in events)
    assert 0 < events[1]["pressure"] <= 1
    d.api("/sign=stop")
    # Fast moves are thinned to the refresh rate (60 Hz: one per 16.7 ms of the pen's clock).
    start(d, (0, 0, sw, sh))
    conn = websocket.create_connection(d.ws_url("/"), timeout=10)
    try:
        conn.send(json.dumps({"function": "subscribe", "params": {"topics": ["sign_pen"]}}))
        conn.recv()
        pen.stroke([(100 + i, 300) for i in range(41)], dt=4.0)  # 160 ms of moves
        events = []
        while not events or events[-1]["type"] != "up":
            m = json.loads(conn.recv())
            if m.get("topic") == "sign_pen":
                events.append(m)
    finally:
        conn.close()
    moves = sum(1 for e in events if e["type"] == "move")
    assert 8 <= moves <= 11, moves
    d.api("/sign=stop")


def png_b64(size=(320, 200), color=(30, 120, 60)) -> str:
    b = io.BytesIO()
    Image.new("RGB", size, color).save(b, "PNG")
    return base64.b64encode(b.getvalue()).decode()


def center(r):
    return (r[0] + r[2] // 2, r[1] + r[3] // 2)


def test_evaluator_defaults_and_choice(rig):
    """9.8-9.10: the documented defaults (at 340,280 600x240, moved inside a smaller screen; four
    buttons); a button pressed with the pen is the result (code "1" before), the window closes."""
    d, pen, (sw, sh) = rig
    d.api("/sign=stop")
    assert d.api("/sign=showevaluator")["code"] == "0"
    r = d.api("/sign=getevaluatorresult")
    assert r["code"] == "1" and r["message"], r
    # The window: (340, 280, 600, 240) moved inside the screen; the tip takes the top 35 %, then
    # four buttons share the row: the third is "一般".
    l, t = min(340, sw - 600), min(280, sh - 240)
    tip_h = int(240 * 0.35)
    bw = (600 - 8 * 5) // 4
    third = (l + 8 + 2 * (bw + 8) + bw // 2, t + tip_h + (240 - tip_h) // 2)
    frame = read_stream_frame(d.port)
    assert frame.getpixel((l + 5, t + 5)) == pytest.approx((0x71, 0xA2, 0xE4), abs=12) or \
        sum(abs(a - b) for a, b in zip(frame.getpixel((l + 5, t + 5)), (0x71, 0xA2, 0xE4))) < 36
    pen.tap(*third)
    deadline = time.time() + 5
    while (r := d.api("/sign=getevaluatorresult"))["code"] != "0":
        assert time.time() < deadline, r
        time.sleep(0.05)
    assert r["result"] == "一般"
    assert d.api("/sign=getevaluatorresult")["result"] == "一般"  # kept until the next show
    # Custom buttons and tip; closing keeps nothing on the screen.
    r = d.api("/sign=showevaluator", {
        "pos": {"left": "0", "top": "0", "width": "400", "height": "200"},
        "tip_message": {"content": "评分", "fontsize": "20", "textcolor": "0x000000", "backgroundcolor": "0xFFFF00"},
        "buttons": [{"content": "好", "icon": "0"}, {"content": "差", "icon": ""}]})
    assert r["code"] == "0", r
    assert d.api("/sign=getevaluatorresult")["code"] == "1"
    frame = read_stream_frame(d.port)
    assert frame.getpixel((5, 5))[2] < 80 and frame.getpixel((5, 5))[0] > 200  # yellow tip
    assert d.api("/sign=closeevaluator")["code"] == "0"


def test_floating_buttons(rig):
    d, pen, (sw, sh) = rig
    assert d.api("/sign=showefloatingbuttongroup")["code"] == "0"
    assert d.api("/sign=getfloatingbuttongroupresult")["code"] == "1"
    # The default (950, 700) 256x64 moved inside the screen; two fixed-size buttons given here.
    r = d.api("/sign=showefloatingbuttongroup", {
        "pos": {"left": "2000", "top": "2000", "width": "256", "height": "64"},
        "buttons": [{"content": "确认", "width": "100", "height": "40"},
                    {"content": "取消", "width": "100", "height": "40"}]})
    assert r["code"] == "0", r
    l, t = sw - 256, sh - 64
    ok = (l + 8 + 50, t + 12 + 20)
    cancel = (l + 8 + 108 + 50, t + 12 + 20)
    pen.tap(*cancel)
    deadline = time.time() + 5
    while (r := d.api("/sign=getfloatingbuttongroupresult"))["code"] != "0":
        assert time.time() < deadline, r
        time.sleep(0.05)
    assert r["result"] == "取消"
    assert d.api("/sign=getfloatingbuttongroupresult")["code"] == "1"  # taken when read
    pen.tap(*ok)
    time.sleep(0.3)
    assert d.api("/sign=getfloatingbuttongroupresult")["result"] == "确认"
    # The group stays while a sign window is shown over the rest of the screen.
    assert d.api("/sign=closefloatingbuttongroup")["code"] == "0"


def test_ad_player(rig):
    d, _, (sw, sh) = rig
    green, red = png_b64(color=(30, 120, 60)), png_b64(color=(200, 30, 30))
    d.api("/imagepro=storage_image", {"source_image": {"base64": red}, "output_image": {"filepath": "D:/ads/red.png"}})
    r = d.api("/sign=showadvertisingplayer", {"piclist": [green, "D:/ads/red.png"], "time": "1"})
    assert r["code"] == "0", r
    seen = set()
    deadline = time.time() + 6
    while time.time() < deadline and len(seen) < 2:
        px = read_stream_frame(d.port).getpixel((sw // 2, sh // 2))
        if px[1] > 100 and px[0] < 60:
            seen.add("green")
        if px[0] > 170 and px[1] < 60:
            seen.add("red")
        time.sleep(0.2)
    assert seen == {"green", "red"}, seen
    # Letterboxed: a 320x200 picture on the screen leaves black bars where the ratios differ.
    assert d.api("/sign=closeadvertisingplayer")["code"] == "0"
    time.sleep(0.2)
    px = read_stream_frame(d.port).getpixel((sw // 2, sh // 2))
    assert px[0] > 200 and px[1] > 200, px  # the idle screen again


@pytest.mark.parametrize("endpoint,body,code", [
    ("/sign=showadvertisingplayer", {}, "4"),
    ("/sign=showadvertisingplayer", {"piclist": []}, "4"),
    ("/sign=showadvertisingplayer", {"piclist": ["D:/no/such.png"]}, "8"),
    ("/sign=showadvertisingplayer", {"piclist": [12]}, "4"),
    ("/sign=showevaluator", {"buttons": [{"content": "x", "icon": "D:/no/icon.png"}]}, "8"),
    ("/sign=showevaluator", {"tip_message": {"textcolor": "0xZZZZZZ"}}, "4"),
    ("/sign=showevaluator", {"buttons": ["x"]}, "4"),
    ("/sign=showefloatingbuttongroup", {"buttons": [{"content": "x", "width": "100"}]}, "4"),
    ("/sign=showefloatingbuttongroup", {"pos": {"left": 0, "top": 0, "width": 4, "height": 4}}, "4"),
])
def test_panels_bad_input(rig, endpoint, body, code):
    d, _, _ = rig
    r = d.api(endpoint, body)
    assert r["code"] == code and r["message"], r


# ---- 9.4 / 9.5 the kiosk browser, 5.8 the pen as a pointer ---------------------------------------

FAKE_BROWSER = __import__("pathlib").Path(__file__).with_name("fake_browser.py")


@pytest.fixture(scope="module")
def browser_rig(module_daemon, tmp_path_factory):
    """The virtual screen with a stand-in browser program (the real one, cog on DRM, runs in
    the QEMU rig): it records its arguments and stays until signalled."""
    import json
    import sys
    record = tmp_path_factory.mktemp("browser") / "started.jsonl"
    cmd = f'{sys.executable} "{FAKE_BROWSER}" "{record}" {{url}} {{width}} {{height}}'
    d = module_daemon({"signpad": {"width": 640, "height": 400, "browser_command": cmd}}, args=["--sim"])
    pen = Pen(pen_socket(d))

    def starts():
        if not record.exists():
            return []
        return [json.loads(line) for line in record.read_text().splitlines()]
    yield d, pen, starts
    pen.close()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def signpad_state(d):
    return d.api("/diag=status")["signpad_state"]


def bright(img) -> float:
    from PIL import ImageStat
    return ImageStat.Stat(img.convert("L")).mean[0]


def wait_until(cond, timeout=10.0, what=""):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"not reached: {what}")


def test_browser_takes_the_screen_and_gives_it_back(browser_rig):
    d, pen, starts = browser_rig
    idle = bright(read_stream_frame(d.port))
    n = len(starts())
    r = d.api("/sign=browser", {"url": "http://192.168.7.2:8080/form?x=1"})
    assert r["code"] == "0", r
    s = starts()[n]
    assert (s["url"], s["width"], s["height"]) == ("http://192.168.7.2:8080/form?x=1", "640", "400")
    assert s["pgid"] == s["pid"], "the browser runs in its own process group"
    assert s["home"].endswith("browser") and s["runtime_dir"].endswith("run")
    assert alive(s["pid"])
    # enable_sign_screen_mouse defaults to "1": the pen is shared as a pointer
    assert signpad_state(d) == {"handed_over": True, "pen_shared": True}
    # the stream cannot show another program's picture: it shows a dark notice instead
    assert bright(read_stream_frame(d.port)) < idle - 60
    assert d.api("/sign=closebrowser")["code"] == "0"
    wait_until(lambda: not alive(s["pid"]), 5, "browser ended")
    assert signpad_state(d)["handed_over"] is False
    assert abs(bright(read_stream_frame(d.port)) - idle) < 5
    assert d.api("/sign=closebrowser")["code"] == "0", "closing twice is harmless"


def test_browser_that_ends_by_itself_returns_the_screen(browser_rig):
    d, _, starts = browser_rig
    n = len(starts())
    r = d.api("/sign=browser", {"url": "http://127.0.0.1/page#exit-after=1.8",
                                "enable_sign_screen_mouse": "0"})
    assert r["code"] == "0", r
    assert signpad_state(d) == {"handed_over": True, "pen_shared": False}
    pid = starts()[n]["pid"]
    wait_until(lambda: not signpad_state(d)["handed_over"], 10, "screen taken back")
    assert not alive(pid)


def test_browser_that_cannot_start(browser_rig):
    d, _, _ = browser_rig
    r = d.api("/sign=browser", {"url": "http://127.0.0.1/#exit-now"})
    assert r["code"] == "2" and "ended at once" in r["message"], r
    assert signpad_state(d)["handed_over"] is False


def test_a_second_page_replaces_the_first(browser_rig):
    d, _, starts = browser_rig
    n = len(starts())
    assert d.api("/sign=browser", {"url": "http://127.0.0.1/one"})["code"] == "0"
    assert d.api("/sign=browser", {"url": "http://127.0.0.1/two"})["code"] == "0"
    one, two = starts()[n:n + 2]
    wait_until(lambda: not alive(one["pid"]), 5, "first browser ended")
    assert alive(two["pid"])
    assert d.api("/sign=closebrowser")["code"] == "0"
    wait_until(lambda: not alive(two["pid"]), 5, "second browser ended")


def test_browser_ignoring_sigterm_is_killed(browser_rig):
    d, _, starts = browser_rig
    n = len(starts())
    assert d.api("/sign=browser", {"url": "http://127.0.0.1/#ignore-term"})["code"] == "0"
    pid = starts()[n]["pid"]
    t = time.time()
    assert d.api("/sign=closebrowser")["code"] == "0"
    assert not alive(pid) and time.time() - t < 8
    assert signpad_state(d)["handed_over"] is False


def test_pen_is_not_ours_while_the_browser_shows(browser_rig):
    d, pen, _ = browser_rig
    win = (20, 20, 600, 360)
    start(d, win)
    assert d.api("/sign=browser", {"url": "http://127.0.0.1/x"})["code"] == "0"
    pen.stroke([(100, 100), (200, 150), (300, 120)])
    assert d.api("/sign=closebrowser")["code"] == "0"
    # nothing was inked: the confirm button is ignored with an empty window
    pen.tap(*ok_button(win))
    time.sleep(0.3)
    assert d.api("/sign=status")["status"] == "1"
    d.api("/sign=stop")


@pytest.mark.parametrize("url", ["", "file:///etc/passwd", "javascript:alert(1)", "data:text/html,x",
                                 "http://", "http://a b/", "ftp://x/"])
def test_browser_refuses_other_addresses(browser_rig, url):
    d, _, _ = browser_rig
    body = {"url": url} if url else {}
    r = d.api("/sign=browser", body)
    assert r["code"] == "4" and r["message"], r
    assert signpad_state(d)["handed_over"] is False


def test_pen_pointer_setting(browser_rig):
    """param=set enable_sign_screen_mouse (5.8): the pen shared as a pointer, or held; grab and
    release on a real evdev pen are checked in the QEMU rig."""
    d, _, _ = browser_rig
    for v, want in (("1", True), ("0", False), (1, True), ("false", False)):
        r = d.api("/param=set", {"enable_sign_screen_mouse": v})
        assert r["code"] == "0", r
        assert signpad_state(d)["pen_shared"] is want
    r = d.api("/param=set", {"enable_sign_screen_mouse": "maybe"})
    assert r["code"] == "4", r


def test_browser_without_a_program(rig):
    """The simulated screen without signpad.browser_command: no browser, said so."""
    d, _, _ = rig
    r = d.api("/sign=browser", {"url": "http://127.0.0.1/"})
    assert r["code"] == "2" and "browser_command" in r["message"], r


def test_idle_picture(daemon, tmp_path):
    pic = tmp_path / "idle.png"
    Image.new("RGB", (64, 40), (200, 40, 160)).save(pic)
    d = daemon({"signpad": {"width": 640, "height": 400, "idle_image": str(pic)}}, args=["--sim"])
    img = read_stream_frame(d.port)
    assert img.getpixel((320, 200)) == pytest.approx((200, 40, 160), abs=12)
    # a missing picture is no reason not to start: the device's name instead
    d2 = daemon({"signpad": {"width": 640, "height": 400, "idle_image": str(tmp_path / "none.png")}},
                args=["--sim"])
    assert sum(read_stream_frame(d2.port).getpixel((5, 5))) > 600
