"""PDF signing on the device screen (vendor 9.6, WebSocket only) with --sim: the virtual screen
seen through sign=stream and the simulated pen. Documents are written by PIL and by hand here (not
by the daemon); the signed PDF is read back by pypdf, qpdf --check and pdftoppm.

The viewer's layout, as the README documents it: the page area is the screen above a toolbar of
height clamp(H/10, 40, 72); its keys share the width in equal slots, the page label in the third
slot: 上一页, 下一页, [n / N], 缩小, 放大, 拖动, 签字模式 (with long_press_trigger_sign), 批注,
签字 (without it), 完成. The page is found on the screen from the picture itself (its white)."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import time

import pytest
import websocket
from PIL import Image

import sign_scenes
from e2e_support import LOOPBACK, storage_root, ws_call
from handpdf import STSONG, text_pdf
from test_sign import BUTTON_H, BUTTON_W, MARGIN, Pen, pen_socket

W, H = 1024, 768
BAR = max(40, min(72, H // 10))


@pytest.fixture(scope="module")
def rig(module_daemon):
    d = module_daemon({"signpad": {"width": W, "height": H}}, args=["--sim"])
    pen = Pen(pen_socket(d))
    yield d, pen
    pen.close()


def pil_pdf(pages=3, size=(600, 840), colors=((250, 250, 250), (235, 245, 255), (255, 245, 230))) -> bytes:
    """A PDF of plain pages, written by PIL (an independent writer)."""
    imgs = [Image.new("RGB", size, colors[i % len(colors)]) for i in range(pages)]
    b = io.BytesIO()
    imgs[0].save(b, "PDF", save_all=True, append_images=imgs[1:], resolution=72)
    return b.getvalue()


def toolbar_shown(f: Image.Image) -> bool:
    p = f.getpixel((W // 2, H - 3))
    return all(abs(a - b) < 14 for a, b in zip(p, (0x26, 0x2a, 0x33)))


def window_shown(f: Image.Image, win) -> bool:
    """The window's confirm button (its blue, left of its label) is on the screen."""
    l, t, w, h = win
    r, g, b = f.getpixel((l + w - MARGIN - BUTTON_W + 12, t + h - MARGIN - BUTTON_H // 2))
    return r < 90 and b > 150 and b - r > 100


def until(cond, timeout=5.0) -> bool:
    """Poll `cond` (a frame-reading check) until it holds or `timeout` passes."""
    end = time.time() + timeout
    while True:
        if cond():
            return True
        if time.time() > end:
            return False
        time.sleep(0.1)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def frame(d) -> Image.Image:
    return sign_scenes.stream_frame(LOOPBACK, d.port)


def page_box(img: Image.Image):
    """The shown page: the bounding box of near-white pixels above the toolbar."""
    px = img.load()
    xs, ys = [], []
    for y in range(0, H - BAR, 4):
        for x in range(0, W, 4):
            r, g, b = px[x, y]
            if r > 225 and g > 225 and b > 215:
                xs.append(x)
                ys.append(y)
    assert xs, "no page on the screen"
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def wait_page(d, timeout=10.0):
    """The shown page's box, once the viewer (its toolbar) is on the screen."""
    end = time.time() + timeout
    while True:
        f = frame(d)
        try:
            if toolbar_shown(f):
                return page_box(f)
        except AssertionError:
            pass
        if time.time() > end:
            raise AssertionError("no document viewer on the screen")
        time.sleep(0.2)


def key(label: str, long_press=True, sign=True):
    keys = ["上一页", "下一页", "缩小", "放大", "拖动"]
    if sign and long_press:
        keys.append("签字模式")
    keys.append("批注")
    if sign and not long_press:
        keys.append("签字")
    keys.append("完成")
    w = (W - 8) // (len(keys) + 1)
    i = keys.index(label)
    slot = i + 1 if i >= 2 else i
    return 4 + slot * w + 2 + (w - 4) // 2, H - BAR + 4 + (BAR - 8) // 2


def window_at(x, y, size=(min(640, max(64, W * 3 // 5)), min(320, max(48, H * 9 // 20)))):
    """The sign window opened at a point without `pos`: its size there, moved inside the page area."""
    w, h = size
    left = min(max(x, 0), W - w)
    top = min(max(y, 0), H - BAR - h)
    return left, top, w, h


def ok_of(win):
    l, t, w, h = win
    return l + w - MARGIN - BUTTON_W // 2, t + h - MARGIN - BUTTON_H // 2


def return_of(win):
    l, t, w, h = win
    return l + w - 3 * (MARGIN + BUTTON_W) + BUTTON_W // 2, t + h - MARGIN - BUTTON_H // 2


def recv(conn, timeout=10.0) -> dict:
    conn.settimeout(timeout)
    return json.loads(conn.recv())


def push(conn, timeout=15.0) -> dict:
    """The next sign_pdf_info push."""
    end = time.time() + timeout
    while time.time() < end:
        m = recv(conn, max(0.1, end - time.time()))
        if m.get("function") == "sign_pdf_info":
            return m
    raise AssertionError("no sign_pdf_info push")


def sign_here(pen, win, dx=40, dy=60):
    l, t, _, _ = win
    pen.stroke([(l + dx + 12 * i, t + dy + (i % 4) * 6) for i in range(12)])
    pen.tap(*ok_of(win))


def sign_round(d, pen, conn, src: dict, fx: float, fy: float) -> str:
    """Show `src` in sign mode, sign at (fx, fy) of the page, finish; the signed PDF's path."""
    assert ws_call(conn, "show_sign_pdf", {**src, "default_mode": "sign"})["code"] == "0"
    x0, y0, x1, y1 = wait_page(d)
    tx, ty = round(x0 + fx * (x1 - x0)), round(y0 + fy * (y1 - y0))
    pen.tap(tx, ty)
    win = window_at(tx, ty)
    assert until(lambda: window_shown(frame(d), win))
    sign_here(pen, win)
    push(conn)
    pen.tap(*key("完成"))
    m = push(conn)
    assert m.get("action") == "signoff", m
    return m["signed_file_path"]


@pytest.fixture
def conn(rig):
    d, _ = rig
    c = websocket.create_connection(d.ws_url("/"), timeout=10)
    yield c
    try:
        ws_call(c, "close_sign_pdf")
    except Exception:
        pass
    c.close()


def ink_box(png: Image.Image, dark=110):
    px = png.convert("RGB").load()
    pts = [(x, y) for y in range(png.height) for x in range(png.width) if sum(px[x, y]) < dark * 3]
    assert pts, "no ink"
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def rendered(path, dpi=72) -> Image.Image:
    out = subprocess.run(["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-png", str(path)],
                         capture_output=True, check=True)
    return Image.open(io.BytesIO(out.stdout))


def check_signed(d, original: bytes, signed_path: str) -> bytes:
    p = storage_root(d) / signed_path.lstrip("/")
    data = p.read_bytes()
    assert data.startswith(original), "the original bytes are not a prefix of the signed file"
    import pypdf
    r = pypdf.PdfReader(io.BytesIO(data), strict=True)
    assert len(r.pages) >= 1
    if shutil.which("qpdf"):
        q = subprocess.run(["qpdf", "--check", str(p)], capture_output=True, text=True)
        assert q.returncode == 0 and "WARNING" not in q.stdout + q.stderr, q.stdout + q.stderr
    return data


def test_sign_by_tap_push_and_signed_pdf(rig, conn):
    d, pen = rig
    doc = text_pdf()
    r = ws_call(conn, "show_sign_pdf", {"base64": b64(doc), "default_mode": "sign"})
    assert r["code"] == "0" and r["page_count"] == "1", r
    x0, y0, x1, y1 = wait_page(d)
    assert toolbar_shown(frame(d))
    # The whole A4 page fits the page area (fit page by default).
    assert y1 - y0 > (H - BAR) * 0.85 and abs((x1 - x0) / (y1 - y0) - 595 / 842) < 0.03
    # A tap at 30 % / 70 % of the page opens the sign window there.
    tx, ty = x0 + 0.3 * (x1 - x0), y0 + 0.7 * (y1 - y0)
    pen.tap(round(tx), round(ty))
    win = window_at(round(tx), round(ty))
    assert until(lambda: window_shown(frame(d), win)), "no sign window (its confirm button) where tapped"
    sign_here(pen, win)
    m = push(conn)
    assert m["file_path"] == "" and set(m["pos"]) == {"page", "x", "y"}, m
    assert m["pos"]["page"] == "1"
    px, py = float(m["pos"]["x"]), float(m["pos"]["y"])
    assert abs(px - 0.3) < 0.02 and abs(py - 0.7) < 0.02, m["pos"]
    pos = m["pos"]
    sig = Image.open(io.BytesIO(base64.b64decode(m["signature"])))
    assert sig.format == "PNG" and sig.mode == "RGBA"
    # The client's answer is taken without a reply; the connection goes on.
    conn.send(json.dumps({"function": "sign_pdf_info", "code": "0", "message": ""}))
    # 完成: the sign-off push with the signed PDF.
    pen.tap(*key("完成"))
    m = push(conn)
    assert m["action"] == "signoff" and m.get("signed_file_path"), m
    signed = check_signed(d, doc, m["signed_file_path"])
    # The stamp is at the pushed position within 1 % of the page (pdftoppm's picture).
    img = rendered(storage_root(d) / m["signed_file_path"].lstrip("/"))
    wx, wy = float(pos["x"]), float(pos["y"])
    # Only below the document's own text line.
    bx0, by0, _, _ = ink_box(img.crop((0, img.height // 2, img.width, img.height)))
    by0 += img.height // 2
    # The ink starts a few pixels inside the signature's picture (its 4 px margin in the window,
    # 0.2 % of the page, and anti-aliasing): within 1 % of the page.
    assert 0 <= bx0 / img.width - wx < 0.01 and 0 <= by0 / img.height - wy < 0.01, \
        (bx0 / img.width, by0 / img.height, wx, wy)
    assert len(signed) > len(doc)
    # The viewer closed: the toolbar is gone.
    assert until(lambda: not toolbar_shown(frame(d)))
    assert ws_call(conn, "param=get", {"type": "app_version"})["code"] == "0"


def test_long_press_in_drag_mode_and_return(rig, conn):
    d, pen = rig
    r = ws_call(conn, "show_sign_pdf", {"base64": b64(pil_pdf()), "preview_zoom": "fit_height"})
    assert r["code"] == "0" and r["page_count"] == "3", r
    x0, y0, x1, y1 = wait_page(d)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    # A short tap in drag mode opens nothing.
    pen.tap(cx, cy)
    time.sleep(0.3)
    win = window_at(cx, cy)
    assert not window_shown(frame(d), win)
    # A long press does.
    assert pen.send(f"down {cx} {cy} 0.5 {pen.t}") == "ok"
    time.sleep(1.3)
    pen.t += 1300
    assert pen.send(f"up {pen.t}") == "ok"
    assert until(lambda: window_shown(frame(d), win)), "no window after a long press"
    # Return closes it without a push.
    pen.tap(*return_of(win))
    assert until(lambda: not window_shown(frame(d), win))
    # Page turning by its key: the second page's colour.
    pen.tap(*key("下一页"))

    def second_page():
        p = frame(d).getpixel((cx, cy))
        return abs(p[0] - 235) < 12 and abs(p[2] - 255) < 12
    assert until(second_page), frame(d).getpixel((cx, cy))
    # Nothing signed: the sign-off has no signed file.
    pen.tap(*key("完成"))
    m = push(conn)
    assert m["action"] == "signoff" and "signed_file_path" not in m, m


def test_button_signing_without_position_and_remarks(rig, conn):
    d, pen = rig
    doc = pil_pdf(pages=1)
    r = ws_call(conn, "show_sign_pdf", {"base64": b64(doc), "long_press_trigger_sign": "false",
                                        "pos": {"left": "100", "top": "80", "width": "500", "height": "260"}})
    assert r["code"] == "0", r
    x0, y0, x1, y1 = wait_page(d)
    pen.tap(*key("签字", long_press=False))
    win = (100, 80, 500, 260)
    assert until(lambda: window_shown(frame(d), win)), "no window at pos"
    sign_here(pen, win)
    m = push(conn)
    assert "pos" not in m and m["signature"], m
    # Remarks: a stroke across the page's middle.
    pen.tap(*key("批注", long_press=False))
    my = (y0 + y1) // 2
    pen.stroke([(x0 + 40 + 10 * i, my) for i in range(20)])

    def remark_ink():
        f = frame(d)
        return any(p[0] - p[1] > 70 for p in (f.getpixel((x0 + 140, my + dy)) for dy in range(-4, 5)))
    assert until(remark_ink), "no remark ink on the screen"
    pen.tap(*key("完成", long_press=False))
    m = push(conn)
    assert m["action"] == "signoff", m
    check_signed(d, doc, m["signed_file_path"])
    img = rendered(storage_root(d) / m["signed_file_path"].lstrip("/")).convert("RGB")
    fx, fy = (x0 + 140 - x0) / (x1 - x0), (my - y0) / (y1 - y0)
    # The remark line is red on the page where it was drawn (within 1 % of the page height).
    col = [img.getpixel((round(fx * img.width), round(fy * img.height) + dy)) for dy in range(-8, 9)]
    assert any(c[0] > 150 and c[1] < 100 for c in col), col


def test_update_keeps_the_window_and_disconnect_closes(rig):
    d, pen = rig
    c = websocket.create_connection(d.ws_url("/"), timeout=10)
    r = ws_call(c, "show_sign_pdf", {"base64": b64(pil_pdf(pages=2)), "default_mode": "sign"})
    assert r["code"] == "0" and r["page_count"] == "2"
    r = ws_call(c, "show_sign_pdf", {"base64": b64(pil_pdf(pages=5)), "update": "true"})
    assert r["code"] == "0" and r["page_count"] == "5"
    x0, y0, x1, y1 = wait_page(d)
    # Still in sign mode after the update: a tap opens the window.
    pen.tap((x0 + x1) // 2, (y0 + y1) // 2)
    win = window_at((x0 + x1) // 2, (y0 + y1) // 2)
    assert until(lambda: window_shown(frame(d), win))
    # The client goes away mid-signing: window and viewer close.
    c.close()
    end = time.time() + 5
    while time.time() < end:
        f = frame(d)
        if not toolbar_shown(f) and not window_shown(f, win):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("viewer still shown after its client went away\n" + d.log()[-3000:])


def test_close_while_signing(rig, conn):
    d, pen = rig
    assert ws_call(conn, "show_sign_pdf", {"base64": b64(pil_pdf()), "default_mode": "sign"})["code"] == "0"
    x0, y0, x1, y1 = wait_page(d)
    pen.tap((x0 + x1) // 2, (y0 + y1) // 2)
    assert ws_call(conn, "close_sign_pdf")["code"] == "0"
    time.sleep(0.3)
    win = window_at((x0 + x1) // 2, (y0 + y1) // 2)
    assert not window_shown(frame(d), win)
    # Closing again is fine.
    assert ws_call(conn, "close_sign_pdf")["code"] == "0"


def test_file_path_and_fingerprint(rig, conn):
    d, _ = rig
    root = storage_root(d)
    (root / "contracts").mkdir(parents=True, exist_ok=True)
    (root / "contracts" / "a.pdf").write_bytes(text_pdf())
    r = ws_call(conn, "show_sign_pdf", {"file_path": "contracts/a.pdf", "fingerprint": "true"})
    assert r["code"] == "0" and "fingerprint module" in r["fingerprint"], r


@pytest.mark.parametrize("params,code", [
    ({}, "4"),
    ({"base64": base64.b64encode(b"hello, not a pdf").decode()}, "4"),
    ({"file_path": "../../etc/passwd"}, None),
    ({"file_path": "no/such.pdf"}, None),
    ({"base64": "", "file_path": ""}, "4"),
    ({"base64": "@@@"}, None),
    ({"preview_zoom": "200"}, "4"),
    ({"preview_zoom": "wide"}, "4"),
    ({"default_mode": "scribble"}, "4"),
    ({"sign": "maybe"}, "4"),
])
def test_bad_input(rig, conn, params, code):
    d, _ = rig
    if "preview_zoom" in params or "default_mode" in params or "sign" in params:
        params = {"base64": b64(pil_pdf(pages=1)), **params}
    r = ws_call(conn, "show_sign_pdf", params)
    assert r["code"] != "0" and r.get("message"), r
    if code:
        assert r["code"] == code, r
    # Nothing is shown.
    assert not toolbar_shown(frame(d))


def test_encrypted_pdf_is_refused_with_a_clear_message(rig, conn):
    import pypdf
    w = pypdf.PdfWriter()
    w.add_blank_page(595, 842)
    w.encrypt(user_password="secret", owner_password="owner")
    b = io.BytesIO()
    w.write(b)
    r = ws_call(conn, "show_sign_pdf", {"base64": b64(b.getvalue())})
    assert r["code"] == "4" and "加密" in r["message"], r


def test_xref_stream_original(rig, conn, tmp_path):
    """A document with cross-reference and object streams (qpdf's): the update keeps it readable."""
    if not shutil.which("qpdf"):
        pytest.skip("qpdf not installed")
    d, pen = rig
    src = tmp_path / "in.pdf"
    src.write_bytes(text_pdf())
    out = tmp_path / "obj.pdf"
    subprocess.run(["qpdf", "--object-streams=generate", str(src), str(out)], check=True)
    doc = out.read_bytes()
    check_signed(d, doc, sign_round(d, pen, conn, {"base64": b64(doc)}, 0.5, 0.25))


def test_keyword_opens_the_window_next_to_it(rig, conn):
    """Appliance extension `keyword`: the sign window opens next to the first place the text is
    drawn; the signature goes right of it, level with its top."""
    d, pen = rig
    # 签字： (UCS-2 7B7E 5B57 FF1A) at (100, 200) 24 pt; an English line above it.
    doc = text_pdf(b"BT /F1 24 Tf 72 760 Td (Agreement) Tj ET BT /F2 24 Tf 100 200 Td <7B7E5B57FF1A> Tj ET",
                   STSONG)
    r = ws_call(conn, "show_sign_pdf", {"base64": b64(doc), "keyword": "签字："})
    assert r["code"] == "0" and r["keyword_found"] == "true", r
    kx, ky = float(r["keyword_pos"]["x"]), float(r["keyword_pos"]["y"])
    # Right of the ink of three 24 pt glyphs from x=100 (the full-width colon inked in its left
    # half: about 150-172 pt, plus a gap), top near 842 - 200 - 24 = 618 pt.
    assert 155 / 595 < kx < 200 / 595 and abs(ky - 618 / 842) < 0.015, r["keyword_pos"]
    x0, y0, x1, y1 = wait_page(d)
    sx, sy = round(x0 + kx * (x1 - x0)), round(y0 + ky * (y1 - y0))
    win = window_at(sx, sy)
    assert until(lambda: window_shown(frame(d), win)), "no sign window next to the keyword"
    sign_here(pen, win)
    m = push(conn)
    assert abs(float(m["pos"]["x"]) - kx) < 0.002 and abs(float(m["pos"]["y"]) - ky) < 0.002, (m["pos"], kx, ky)
    pen.tap(*key("完成"))
    m = push(conn)
    img = rendered(storage_root(d) / m["signed_file_path"].lstrip("/"))
    # The signature's ink starts right of the keyword, on its line.
    band = img.crop((0, round(img.height * (ky - 0.02)), img.width, round(img.height * (ky + 0.1))))
    bx0, _, _, _ = ink_box(band.crop((round(img.width * kx), 0, img.width, band.height)))
    assert bx0 / img.width < 0.05, bx0
    # Not found: shown as usual, and the reply says so.
    r = ws_call(conn, "show_sign_pdf", {"base64": b64(doc), "keyword": "盖章"})
    assert r["code"] == "0" and r["keyword_found"] == "false" and "keyword_pos" not in r, r


def text_top(f: Image.Image) -> int:
    """The first row above the toolbar with dark (text) pixels."""
    px = f.load()
    for y in range(H - BAR):
        if any(sum(px[x, y]) < 200 for x in range(0, W, 2)):
            return y
    raise AssertionError("no text on the screen")


def test_zoom_pan_and_view_only(rig, conn):
    d, pen = rig
    # preview_zoom 50 is the original size: A4 at 96 dpi is 793 px wide.
    r = ws_call(conn, "show_sign_pdf", {"base64": b64(text_pdf()), "preview_zoom": "50", "sign": "false"})
    assert r["code"] == "0", r
    x0, y0, x1, y1 = wait_page(d)
    assert abs((x1 - x0) - 595 * 96 / 72) < 10, (x0, x1)
    # 25 is half that.
    assert ws_call(conn, "show_sign_pdf", {"base64": b64(text_pdf()), "preview_zoom": "25",
                                           "sign": "false"})["code"] == "0"
    assert until(lambda: abs((lambda b: b[2] - b[0])(wait_page(d)) - 595 * 48 / 72) < 10)
    x0, y0, x1, y1 = wait_page(d)
    # Without signing there are no sign keys: the keys are 上一页 下一页 缩小 放大 拖动 批注 完成.
    pen.tap(*key("放大", sign=False))
    assert until(lambda: abs((lambda b: b[2] - b[0])(wait_page(d)) / (x1 - x0) - 1.25) < 0.05), wait_page(d)
    # Zoomed in twice more the page is taller than the area: a drag upwards moves it up.
    pen.tap(*key("放大", sign=False))
    pen.tap(*key("放大", sign=False))
    time.sleep(0.4)
    # Dragged down, the page's top is shown (the pan stops there): its text line in view.
    pen.stroke([(W // 2, 100 + 40 * i) for i in range(14)])
    time.sleep(0.5)
    top = text_top(frame(d))
    # Dragged up by 60 px: the text moves up by as much.
    pen.stroke([(W // 2, 400 - 6 * i) for i in range(11)])
    assert until(lambda: abs(text_top(frame(d)) - (top - 60)) <= 6), (top, text_top(frame(d)))
    # A tap in drag mode, a long press: nothing opens (signing is off).
    assert pen.send(f"down {W // 2} 300 0.5 {pen.t}") == "ok"
    time.sleep(1.2)
    pen.t += 1200
    assert pen.send(f"up {pen.t}") == "ok"
    time.sleep(0.3)
    assert not window_shown(frame(d), window_at(W // 2, 300))


def test_huge_page_and_zoom_stay_bounded(rig, conn):
    """A 14400 pt square page (PDF's largest) shows fitted; zooming in stops at the page pixel
    ceiling and the daemon keeps answering."""
    d, pen = rig
    doc = text_pdf().replace(b"/MediaBox [0 0 595 842]", b"/MediaBox [0 0 14400 14400]")
    # The cross-reference offsets move with the edit: rewrite them by letting pypdf repair it.
    import pypdf
    w = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(doc)))
    b = io.BytesIO()
    w.write(b)
    r = ws_call(conn, "show_sign_pdf", {"base64": b64(b.getvalue()), "sign": "false"})
    assert r["code"] == "0", r
    x0, y0, x1, y1 = wait_page(d)
    assert abs((x1 - x0) - (y1 - y0)) < 12
    for _ in range(12):
        pen.tap(*key("放大", sign=False))
    assert until(lambda: toolbar_shown(frame(d)))
    assert ws_call(conn, "param=get", {"type": "app_version"})["code"] == "0"


def test_update_keeps_the_zoom_set_with_the_keys(rig, conn):
    d, pen = rig
    assert ws_call(conn, "show_sign_pdf", {"base64": b64(text_pdf()), "preview_zoom": "25",
                                           "sign": "false"})["code"] == "0"
    assert until(lambda: abs((lambda b: b[2] - b[0])(wait_page(d)) - 595 * 48 / 72) < 10)
    pen.tap(*key("放大", sign=False))
    assert until(lambda: abs((lambda b: b[2] - b[0])(wait_page(d)) - 1.25 * 595 * 48 / 72) < 12)
    r = ws_call(conn, "show_sign_pdf", {"base64": b64(pil_pdf(pages=2, size=(595, 842))), "update": "true",
                                        "sign": "false"})
    assert r["code"] == "0" and r["page_count"] == "2"
    time.sleep(0.3)
    assert until(lambda: abs((lambda b: b[2] - b[0])(wait_page(d)) - 1.25 * 595 * 48 / 72) < 12), wait_page(d)


def test_a_second_signer_keeps_the_first_signature_and_no_live_pen_events(rig, conn):
    d, pen = rig
    # A subscriber of sign_pen hears nothing of the document's sign window.
    watcher = websocket.create_connection(d.ws_url("/"), timeout=10)
    watcher.send(json.dumps({"function": "subscribe", "params": {"topics": ["sign_pen"]}}))
    assert json.loads(watcher.recv())["code"] == "0"
    doc = text_pdf()
    signed_paths = []
    for fx, fy in ((0.2, 0.3), (0.2, 0.7)):
        src = {"base64": b64(doc)} if not signed_paths else {"file_path": signed_paths[-1]}
        signed_paths.append(sign_round(d, pen, conn, src, fx, fy))
    first = (storage_root(d) / signed_paths[0].lstrip("/")).read_bytes()
    check_signed(d, first, signed_paths[1])
    img = rendered(storage_root(d) / signed_paths[1].lstrip("/"))
    h = img.height
    # Both signatures are on the page: ink below 0.3 and below 0.7 of its height.
    ink_box(img.crop((0, round(0.3 * h), img.width, round(0.45 * h))))
    ink_box(img.crop((0, round(0.7 * h), img.width, round(0.85 * h))))
    watcher.settimeout(1.0)
    with pytest.raises(websocket.WebSocketTimeoutException):
        m = json.loads(watcher.recv())
        raise AssertionError(f"a live pen event for the document's window: {m}")
    watcher.close()
