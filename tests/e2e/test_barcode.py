"""imagepro=barcode (vendor 6.3): reading 1D barcodes and 2D codes from a stored or uploaded image,
or from the next frame of the document camera.

Test pictures are drawn here: the codes are made by the zxing-cpp Python package
(zxingcpp.create_barcode(...).to_image()), placed with Pillow on white canvases, on a light "page"
lying on a dark mat (the auto-crop path), inverted, or turned into a JPEG "photo" (scaled, slightly
rotated, noisy). Most tests share one --sim daemon (`bc`), whose simulated document camera shows a
generated page without any code (so the camera path finds nothing).

Request: {"source_image": {base64+image_type | filepath | uuid} (absent/empty: camera 0),
"roi": {top,left,bottom,right} fractions, "cut_type" (alias "cutpage", default on),
"binary" (default off)}. Reply: {"code":"0","count":N,"barcode":[{"type":...,"code":...}]}.
"""

import io
import json

import numpy as np
import pytest
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter

from e2e_support import api_code, enc
from e2e_support import file_tree as tree

SIM_CONFIG = {"camera": {"linger_seconds": 1, "warmup_frames": 0}}
FRAME = (1280, 960)  # document camera capture size set by the `bc` fixture
TIMEOUT = 60.0
ZERO_UUID = "00000000-0000-0000-0000-000000000000"

WHITE = 255
MAT = (50, 55, 60)  # dark background under a page
PAPER = (245, 245, 240)

QR_TEXT = "文档摄像头 条码测试：你好，世界！"
C128_TEXT = "CS-2024-0042/ab"
DM_TEXT = "DataMatrix 12345"
PDF_TEXT = "PDF417 sample, 中文 ok"


# --------------------------------------------------------------------------- pictures


def ean13(digits12: str) -> str:
    """The 13-digit EAN with its check digit."""
    assert len(digits12) == 12 and digits12.isdigit()
    s = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(digits12))
    return digits12 + str((10 - s % 10) % 10)


EAN_TEXT = ean13("690123456789")  # a Chinese (690-699) prefix


def code_image(text: str, fmt, scale: int = 4) -> Image.Image:
    """The code as a greyscale Pillow image (black on white, quiet zones included)."""
    bc = zxingcpp.create_barcode(text, fmt)
    im = Image.fromarray(np.asarray(bc.to_image(scale=scale)))
    return im.convert("L")


def on_canvas(size, items, colour=WHITE, mode="L") -> Image.Image:
    """A canvas with each (image, (x, y)) pasted on it."""
    im = Image.new(mode, size, colour)
    for part, pos in items:
        im.paste(part.convert(mode), pos)
    return im


def png(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def jpg(im: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    im.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()



def src(im_or_bytes, image_type: str = "png") -> dict:
    data = im_or_bytes if isinstance(im_or_bytes, bytes) else (png if image_type == "png" else jpg)(im_or_bytes)
    return {"base64": enc(data), "image_type": image_type}


def page_scene(code: Image.Image, size=(1000, 800), page=(100, 150, 500, 650), at=(220, 300)) -> Image.Image:
    """A light page (box `page`) on a dark mat with `code` pasted at `at` (picture coordinates)."""
    im = Image.new("RGB", size, MAT)
    d = ImageDraw.Draw(im)
    d.rectangle(page, fill=PAPER)
    # a few text-like lines on the page, away from the code
    x0, y0, x1, y1 = page
    for k in range(4):
        y = y0 + 30 + 22 * k
        d.line([(x0 + 30, y), (x1 - 30, y)], fill=(40, 40, 40), width=5)
    im.paste(code.convert("RGB"), at)
    return im


# --------------------------------------------------------------------------- API helpers


def barcode(d, body: dict, code: str = "0") -> dict:
    """POST imagepro=barcode; checks the reply code and, on success, the reply's shape."""
    r = d.api("imagepro=barcode", body, timeout=TIMEOUT)
    assert r["code"] == code, f"barcode {json.dumps(body, ensure_ascii=False)[:300]}: {r!r:.600}"
    if code == "0":
        assert isinstance(r.get("count"), int) and not isinstance(r["count"], bool), r
        assert isinstance(r.get("barcode"), list), r
        assert r["count"] == len(r["barcode"]), r
        for item in r["barcode"]:
            assert isinstance(item, dict), r
            assert isinstance(item.get("type"), str) and item["type"], r
            assert isinstance(item.get("code"), str), r
    else:
        assert r.get("message"), r
    return r


def found(r: dict) -> list[tuple[str, str]]:
    return sorted((item["type"], item["code"]) for item in r["barcode"])




# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def bc(module_daemon):
    d = module_daemon(SIM_CONFIG, sim=True)
    r = d.api("param=set", {"resolution": {"width": str(FRAME[0]), "height": str(FRAME[1])}, "camidx": "0"})
    assert r["code"] == "0", r
    return d


@pytest.fixture(scope="module")
def qr():
    return code_image(QR_TEXT, zxingcpp.QRCode, 4)


@pytest.fixture(scope="module")
def qr_src(qr):
    """A good source: the Chinese QR code on a white canvas (for follow-up calls after errors)."""
    return src(on_canvas((400, 300), [(qr, (100, 50))]))


def still_serving(d, qr_src) -> None:
    """A good call right after an error still answers correctly."""
    r = barcode(d, {"source_image": qr_src})
    assert found(r) == [("QR_CODE", QR_TEXT)], r


# --------------------------------------------------------------------------- symbologies


def test_qr_chinese_utf8(bc, qr):
    r = barcode(bc, {"source_image": src(on_canvas((500, 400), [(qr, (120, 80))]))})
    assert r["count"] == 1, r
    assert r["barcode"] == [{"type": "QR_CODE", "code": QR_TEXT}], r


@pytest.mark.parametrize("fmt,text,kind", [
    (zxingcpp.Code128, C128_TEXT, "CODE_128"),
    (zxingcpp.EAN13, EAN_TEXT, "EAN_13"),
    (zxingcpp.DataMatrix, DM_TEXT, "DATA_MATRIX"),
    (zxingcpp.PDF417, PDF_TEXT, "PDF_417"),
], ids=["code128", "ean13", "datamatrix", "pdf417"])
def test_symbologies(bc, fmt, text, kind):
    code = code_image(text, fmt, 3)
    canvas = on_canvas((code.width + 200, code.height + 160), [(code, (100, 80))])
    r = barcode(bc, {"source_image": src(canvas)})
    assert found(r) == [(kind, text)], r


def test_ean13_check_digit_is_valid():
    # the test's own helper: 690123456789 -> 6901234567892 (zxing agrees it is a valid EAN-13)
    assert EAN_TEXT == "6901234567892"
    assert zxingcpp.create_barcode(EAN_TEXT, zxingcpp.EAN13).text == EAN_TEXT


def test_jpeg_source(bc, qr):
    r = barcode(bc, {"source_image": src(on_canvas((500, 400), [(qr, (120, 80))]), "jpg")})
    assert found(r) == [("QR_CODE", QR_TEXT)], r


def test_several_codes_in_one_image(bc, qr):
    c128 = code_image(C128_TEXT, zxingcpp.Code128, 3)
    canvas = on_canvas((qr.width + c128.width + 200, max(qr.height, c128.height) + 100),
                       [(qr, (50, 50)), (c128, (qr.width + 150, 50))])
    r = barcode(bc, {"source_image": src(canvas), "cut_type": "0"})
    assert r["count"] == 2, r
    assert found(r) == sorted([("QR_CODE", QR_TEXT), ("CODE_128", C128_TEXT)]), r


def test_several_codes_default_auto_crop(bc, qr):
    """The same white canvas with the default cut_type (on): there is no page on it, so every code
    on the picture must still be reported (the crop must not shrink to one of the codes)."""
    c128 = code_image(C128_TEXT, zxingcpp.Code128, 3)
    canvas = on_canvas((qr.width + c128.width + 200, max(qr.height, c128.height) + 100),
                       [(qr, (50, 50)), (c128, (qr.width + 150, 50))])
    r = barcode(bc, {"source_image": src(canvas)})
    assert r["count"] == 2, r
    assert found(r) == sorted([("QR_CODE", QR_TEXT), ("CODE_128", C128_TEXT)]), r


def test_blank_image_has_no_code(bc):
    for cut in ("1", "0"):
        r = barcode(bc, {"source_image": src(Image.new("L", (640, 480), WHITE)), "cut_type": cut})
        assert r["count"] == 0 and r["barcode"] == [], r
    # a blank JPEG with binarisation
    r = barcode(bc, {"source_image": src(Image.new("RGB", (320, 240), (255, 255, 255)), "jpg"), "binary": "1"})
    assert r["count"] == 0 and r["barcode"] == [], r


def test_inverted_code(bc, qr):
    inverted = on_canvas((500, 400), [(qr, (120, 80))]).point(lambda v: 255 - v)
    for cut in ("1", "0"):
        r = barcode(bc, {"source_image": src(inverted), "cut_type": cut})
        assert found(r) == [("QR_CODE", QR_TEXT)], (cut, r)


def test_photo_like_jpeg(bc, qr):
    """The page scene photographed: scaled down, rotated 6 degrees, noisy, blurred, JPEG 55."""
    scene = page_scene(qr)
    im = scene.resize((int(scene.width * 0.8), int(scene.height * 0.8)), Image.BILINEAR)
    im = im.rotate(6, resample=Image.BICUBIC, expand=True, fillcolor=MAT)
    im = im.filter(ImageFilter.GaussianBlur(0.8))
    rng = np.random.default_rng(42)
    arr = np.asarray(im, dtype=np.int16) + rng.integers(-20, 21, size=(im.height, im.width, 1), dtype=np.int16)
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    data = jpg(im, 55)
    for body in ({}, {"cut_type": "0"}, {"binary": "1"}):
        r = barcode(bc, {"source_image": src(data, "jpg"), **body})
        assert found(r) == [("QR_CODE", QR_TEXT)], (body, r)


def test_binary_flag(bc):
    """A low-contrast code (grey on light grey) is read with and without binarisation."""
    code = code_image(C128_TEXT, zxingcpp.Code128, 3).point(lambda v: 200 if v > 128 else 110)
    canvas = on_canvas((code.width + 200, code.height + 160), [(code, (100, 80))], colour=200)
    for binary in ("0", "1", "yes"):
        r = barcode(bc, {"source_image": src(canvas), "binary": binary})
        assert found(r) == [("CODE_128", C128_TEXT)], (binary, r)


# --------------------------------------------------------------------------- auto-crop and roi


def test_code_on_page_on_dark_mat(bc, qr):
    scene = page_scene(qr)
    for body in ({}, {"cut_type": "1"}, {"cutpage": "1"}, {"cut_type": "0"}, {"cutpage": "0"}, {"binary": "1"}):
        r = barcode(bc, {"source_image": src(scene), **body})
        assert found(r) == [("QR_CODE", QR_TEXT)], (body, r)


def test_roi_applies_inside_the_cropped_page(bc, qr):
    """Page x 100..500 of a 1000 px wide picture, code at x 220..368 (page fractions 0.30..0.67).

    roi left 0.25 / right 0.75 of the page is x 200..400 of the picture: the code is in it. Of the
    whole picture it would be x 250..750, which cuts the code: so with the auto-crop the code is
    found, without it (cut_type 0, roi on the whole picture) it is not.
    """
    assert qr.size == (148, 148), qr.size  # the fractions below assume this size
    scene = page_scene(qr)
    roi = {"top": "0", "left": "0.25", "bottom": "1", "right": "0.75"}
    r = barcode(bc, {"source_image": src(scene), "roi": roi})
    assert found(r) == [("QR_CODE", QR_TEXT)], r
    r = barcode(bc, {"source_image": src(scene), "roi": roi, "cut_type": "0"})
    assert r["count"] == 0, r
    # the code's rows are page fractions 0.30..0.60: a roi below it finds nothing on the page, and
    # the same roi on the whole picture (y 512..800 of the mat) has nothing either.
    r = barcode(bc, {"source_image": src(scene), "roi": {"top": "0.64", "left": "0", "bottom": "1", "right": "1"}})
    assert r["count"] == 0, r


def test_nothing_on_the_page_reads_the_whole_picture(bc, qr):
    """The page is blank; the code lies beside it on the mat (with its own white quiet zone)."""
    scene = page_scene(Image.new("L", (1, 1), 245), at=(300, 400))
    scene.paste(qr.convert("RGB"), (700, 300))
    for body in ({}, {"cut_type": "0"}):
        r = barcode(bc, {"source_image": src(scene), **body})
        assert found(r) == [("QR_CODE", QR_TEXT)], (body, r)


def test_roi_right_half(bc, qr):
    """A code only in the right half of a white picture."""
    canvas = on_canvas((800, 400), [(qr, (560, 130))])
    for cut in ("1", "0"):
        r = barcode(bc, {"source_image": src(canvas), "cut_type": cut,
                         "roi": {"top": "0", "left": "0.5", "bottom": "1", "right": "1"}})
        assert found(r) == [("QR_CODE", QR_TEXT)], (cut, r)
        r = barcode(bc, {"source_image": src(canvas), "cut_type": cut,
                         "roi": {"top": "0", "left": "0", "bottom": "1", "right": "0.4"}})
        assert r["count"] == 0 and r["barcode"] == [], (cut, r)
        # sides left out default to the whole picture
        r = barcode(bc, {"source_image": src(canvas), "cut_type": cut, "roi": {"left": "0.5"}})
        assert found(r) == [("QR_CODE", QR_TEXT)], (cut, r)
        r = barcode(bc, {"source_image": src(canvas), "cut_type": cut, "roi": {"right": "0.4"}})
        assert r["count"] == 0, (cut, r)
    # an empty roi object means no roi
    r = barcode(bc, {"source_image": src(canvas), "roi": {}})
    assert found(r) == [("QR_CODE", QR_TEXT)], r


def test_roi_keeps_only_the_chosen_code(bc, qr):
    c128 = code_image(C128_TEXT, zxingcpp.Code128, 3)
    canvas = on_canvas((1000, 320), [(qr, (40, 90)), (c128, (1000 - c128.width - 20, 60))])
    both = barcode(bc, {"source_image": src(canvas), "cut_type": "0"})
    assert found(both) == sorted([("QR_CODE", QR_TEXT), ("CODE_128", C128_TEXT)]), both
    left = barcode(bc, {"source_image": src(canvas), "cut_type": "0",
                        "roi": {"top": "0", "left": "0", "bottom": "1", "right": "0.3"}})
    assert found(left) == [("QR_CODE", QR_TEXT)], left
    right = barcode(bc, {"source_image": src(canvas), "cut_type": "0",
                         "roi": {"top": "0", "left": "0.3", "bottom": "1", "right": "1"}})
    assert found(right) == [("CODE_128", C128_TEXT)], right


# --------------------------------------------------------------------------- sources


def test_stored_file_and_uuid_sources(bc, qr):
    canvas = on_canvas((400, 300), [(qr, (100, 50))])
    r = api_code(bc, "imagepro=storage_image",
                 {"source_image": src(canvas), "output_image": {"filepath": "D:/barcode/qr.png"}})
    for spelling in ("D:/barcode/qr.png", "D:\\barcode\\qr.png", r["images"][0]["filepath"]):
        got = barcode(bc, {"source_image": {"filepath": spelling}})
        assert found(got) == [("QR_CODE", QR_TEXT)], (spelling, got)
    # a uuid made by imagepro=process (stored as a JPEG)
    p = api_code(bc, "imagepro=process", {"source_image": src(canvas), "make_uuid": "1",
                                          "image_process_info": {"cut_type": "0"}})
    uuid = p["images"][0]["uuid"]
    got = barcode(bc, {"source_image": {"uuid": uuid}})
    assert found(got) == [("QR_CODE", QR_TEXT)], got
    got = barcode(bc, {"source_image": {"filepath": p["images"][0]["filepath"]}, "cut_type": "0"})
    assert found(got) == [("QR_CODE", QR_TEXT)], got


def test_reading_writes_nothing(bc, qr_src):
    root = bc.state_dir / "storage"
    barcode(bc, {"source_image": qr_src})  # whatever a first call may create
    before = tree(root)
    barcode(bc, {"source_image": qr_src})
    barcode(bc, {})
    barcode(bc, {"source_image": {"base64": "%%%", "image_type": "png"}}, "4")
    assert tree(root) == before


@pytest.mark.parametrize("body", [{}, {"source_image": {}}, {"source_image": {}, "cut_type": "0"},
                                  {"binary": "1"}, {"roi": {"left": "0.5"}}],
                         ids=["absent", "empty", "cut0", "binary", "roi"])
def test_camera_frame_without_code(bc, body):
    r = barcode(bc, body)
    assert r["count"] == 0 and r["barcode"] == [], r


def test_camera_path_without_camera(daemon, qr_src):
    d = daemon({}, sim=False)
    r = d.api("imagepro=barcode", {}, timeout=TIMEOUT)
    assert r["code"] != "0", r
    assert r["code"] == "2", f"expected 2 (no such camera), got {r!r:.400}"
    assert r.get("message"), r
    # an image is still read by that daemon
    still_serving(d, qr_src)


# --------------------------------------------------------------------------- bad input


BAD_SOURCES = [
    ("bad-base64", {"base64": "this is not base64!!", "image_type": "png"}, "4"),
    ("not-an-image", {"base64": enc(b"hello, not a picture at all"), "image_type": "png"}, "4"),
    ("unsupported-type", {"base64": enc(png(Image.new("L", (40, 40), WHITE))), "image_type": "xyz"}, "4"),
    ("unknown-uuid", {"uuid": ZERO_UUID}, "8"),
    ("malformed-uuid", {"uuid": "not-a-uuid"}, "4"),
    ("missing-file", {"filepath": "D:/nowhere/missing.png"}, "8"),
    ("escape", {"filepath": "../../etc/passwd"}, "12"),
    ("escape-drive", {"filepath": "D:/tmp/../../etc/passwd"}, "12"),
    ("escape-backslash", {"filepath": "D:\\..\\..\\etc\\passwd"}, "12"),
]


@pytest.mark.parametrize("source,code", [(s, c) for _, s, c in BAD_SOURCES], ids=[i for i, _, _ in BAD_SOURCES])
def test_bad_source(bc, qr_src, source, code):
    barcode(bc, {"source_image": source}, code)
    still_serving(bc, qr_src)


BAD_ROIS = [
    ("not-a-number", {"top": "abc", "left": "0", "bottom": "1", "right": "1"}),
    ("nan", {"top": "0", "left": "NaN", "bottom": "1", "right": "1"}),
    ("inf", {"top": "0", "left": "0", "bottom": "inf", "right": "1"}),
    ("negative", {"top": "-0.1", "left": "0", "bottom": "1", "right": "1"}),
    ("above-one", {"top": "0", "left": "0", "bottom": "1", "right": "1.5"}),
    ("top-after-bottom", {"top": "0.6", "left": "0", "bottom": "0.4", "right": "1"}),
    ("top-equals-bottom", {"top": "0.5", "left": "0", "bottom": "0.5", "right": "1"}),
    ("left-after-right", {"top": "0", "left": "0.7", "bottom": "1", "right": "0.2"}),
]


@pytest.mark.parametrize("roi", [r for _, r in BAD_ROIS], ids=[i for i, _ in BAD_ROIS])
@pytest.mark.parametrize("cut", ["1", "0"])
def test_bad_roi(bc, qr_src, roi, cut):
    barcode(bc, {"source_image": qr_src, "roi": roi, "cut_type": cut}, "4")
    still_serving(bc, qr_src)


def test_bad_roi_on_camera_frame(bc, qr_src):
    barcode(bc, {"roi": {"top": "0.9", "bottom": "0.1"}}, "4")
    still_serving(bc, qr_src)
