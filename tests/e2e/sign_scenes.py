"""Scenes of the signing screen for the golden-image tests: every window kind with its defaults and
with custom options, each a list of API calls on a fresh screen. Used by tests/e2e/test_sign_golden.py
(virtual screen, simulated pen) and by the QEMU rig (vkms; scenes without pen strokes), which
also read the screen through `stream_frame`. Needs only PIL and numpy (the rig's system python).

Pictures are generated here (no files needed), deterministically. Golden images live in
tests/e2e/golden/sign/<scene>-<W>x<H>.png: what `sign=stream` showed (the JPEG decoded), made with
`UPDATE_GOLDEN=1 python3 -m pytest tests/e2e/test_sign_golden.py` and checked by eye when they change.
"""

from __future__ import annotations

import base64
import io
import math
import os

from PIL import Image, ImageDraw

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "sign")
SIZES = [(1024, 768), (800, 480)]

# Every scene starts from this: no window, no panel, no slide show.
CLEAR = [
    ("/sign=stop", {}),
    ("/sign=closeevaluator", {}),
    ("/sign=closefloatingbuttongroup", {}),
    ("/sign=closeadvertisingplayer", {}),
]


def pattern(w: int, h: int, a: tuple, b: tuple) -> Image.Image:
    """Colour a with a band of colour b, a grid of white squares and a dark circle: shows scaling,
    placement and letterboxing at a glance (flat colours, so the golden images stay small)."""
    img = Image.new("RGB", (w, h), a)
    d = ImageDraw.Draw(img)
    d.rectangle([0, h * 3 // 4, w - 1, h - 1], fill=b)
    step = max(w, h) // 8
    for gy in range(0, h, step):
        for gx in range(0, w, step):
            if (gx // step + gy // step) % 2 == 0:
                d.rectangle([gx + step // 4, gy + step // 4, gx + step // 2, gy + step // 2], fill=(255, 255, 255))
    r = min(w, h) // 4
    d.ellipse([w // 2 - r, h // 2 - r, w // 2 + r, h // 2 + r], outline=(20, 20, 20), width=max(2, r // 10))
    return img


def png_b64(img: Image.Image) -> str:
    b = io.BytesIO()
    img.save(b, "PNG")
    return base64.b64encode(b.getvalue()).decode()


def idle_picture(path: str) -> str:
    """The idle picture the golden daemons show (4:3, so fitted with bars on 5:3 screens)."""
    if not os.path.exists(path):
        pattern(320, 240, (230, 236, 244), (180, 196, 220)).save(path)
    return path


def scenes() -> dict[str, dict]:
    """name -> {"calls": [(path, body)], "strokes": [[(x, y), ...]] in screen pixels}."""
    background = png_b64(pattern(160, 90, (255, 250, 235), (235, 225, 200)))
    ad = png_b64(pattern(400, 400, (40, 90, 160), (200, 60, 60)))
    return {
        "idle": {"calls": [], "strokes": []},
        "sign-default": {"calls": [("/sign=start", {})], "strokes": []},
        "sign-every-option": {
            "calls": [("/sign=start", {
                "pos": {"left": "10%", "top": "8%", "right": "90%", "bottom": "92%"},
                "tip_message": {"content": "请在框内签名 Please sign", "fontsize": "28", "color": "#c81e1e"},
                "opacity": "90",
                "background_image": {"base64": background},
                "valid_sign_rect": {"left": "5%", "top": "20%", "right": "95%", "bottom": "70%"},
                "sign_buttons_info": [
                    {"button_name": "sign_ok_button", "text": "完成", "visible": "true"},
                    {"button_name": "sign_reset_button", "text": "重写", "visible": "true"},
                    {"button_name": "sign_return_button", "text": "返回", "visible": "true",
                     "button_rect": {"left": "2%", "top": "80%", "right": "25%", "bottom": "96%"}},
                ],
                "remark": "golden",
            })],
            # Inside the valid area at both sizes (it starts 10% + 5% of the window in).
            "strokes": [[(260 + i * 6, 250 + round(36 * math.sin(i / 3))) for i in range(40)]],
        },
        "evaluator-default": {"calls": [("/sign=showevaluator", {})], "strokes": []},
        "evaluator-custom": {"calls": [("/sign=showevaluator", {
            "pos": {"left": "40", "top": "40", "width": "500", "height": "220"},
            "tip_message": {"content": "请为本次服务打分", "fontsize": "26",
                            "textcolor": "0x1F2937", "backgroundcolor": "0xFDE68A"},
            "buttons": [
                {"content": "满意", "icon": "0", "buttoncolor": "0x16A34A"},
                {"content": "一般", "icon": "2"},
                {"content": "不满意", "icon": "3", "textcolor": "0xFFFF00", "buttoncolor": "0xB91C1C"},
            ]})], "strokes": []},
        "buttons-default": {"calls": [("/sign=showefloatingbuttongroup", {})], "strokes": []},
        "buttons-custom": {"calls": [("/sign=showefloatingbuttongroup", {
            "pos": {"left": "30", "top": "300", "width": "360", "height": "80"},
            "buttons": [{"content": "下一步", "width": "150", "height": "56", "buttoncolor": "0x0EA5E9"},
                        {"content": "上一步", "width": "150", "height": "56"}]})], "strokes": []},
        "ad-player": {"calls": [("/sign=showadvertisingplayer", {"piclist": [ad], "time": "3600"})],
                      "strokes": []},
        # Composition order: the panels under a half-transparent sign window.
        "sign-over-panels": {"calls": [
            ("/sign=showevaluator", {}),
            ("/sign=showefloatingbuttongroup", {}),
            ("/sign=start", {"pos": {"left": "100", "top": "60", "width": "520", "height": "300"},
                             "opacity": "60", "tip_message": {"content": "签名", "fontsize": "24"}}),
        ], "strokes": []},
    }


def stream_frame(host: str, port: int, timeout: float = 5.0) -> Image.Image:
    """The first frame of `sign=stream`, decoded."""
    import http.client
    import time

    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/sign=stream")
        resp = conn.getresponse()
        ctype = resp.getheader("Content-Type") or ""
        assert resp.status == 200 and ctype.startswith("multipart/x-mixed-replace"), (resp.status, ctype)
        buf = b""
        end = time.time() + timeout
        while time.time() < end:
            buf += resp.read1(65536)
            i = buf.find(b"\xff\xd8")
            j = buf.find(b"\xff\xd9", i + 2)
            if i >= 0 and j > 0:
                return Image.open(io.BytesIO(buf[i:j + 2])).convert("RGB")
        raise AssertionError("no frame")
    finally:
        conn.close()


def golden_path(name: str, size: tuple[int, int]) -> str:
    return os.path.join(GOLDEN_DIR, f"{name}-{size[0]}x{size[1]}.png")


def difference(a: Image.Image, b: Image.Image) -> tuple[float, float]:
    """(mean absolute difference per channel, fraction of pixels with a channel off by more than
    48) — the tolerance absorbs JPEG and anti-aliasing noise, not a moved or missing element."""
    import numpy as np

    if a.size != b.size:
        return 255.0, 1.0
    x = np.asarray(a.convert("RGB"), dtype=np.int16)
    y = np.asarray(b.convert("RGB"), dtype=np.int16)
    d = np.abs(x - y)
    return float(d.mean()), float((d.max(axis=2) > 48).mean())


MAX_MEAN, MAX_FRACTION = 1.5, 0.002
