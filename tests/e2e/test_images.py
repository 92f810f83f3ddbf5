"""Still capture (video=grabimage v1.5 and v1.0, WebSocket grab_image), image processing
(imagepro=process, merge_images) and the storage sandbox (storage_image, file2base64, copyfile,
GET /storage/..., quota retention) against --sim daemons.

Most tests share one --sim daemon (`img`) whose document camera captures 1280x960. Its simulated
document camera shows a light A4 page on a dark mat with the page corners at (fractions of the
frame) TL (0.300,0.135) TR (0.700,0.110) BR (0.725,0.860) BL (0.322,0.885), i.e. at 1280x960 a
page of about 514x720 px (edges 512.6/516.4 x 720.6/720.7) inside a bounding box of 544x744 px,
with a blue header bar at the top. The simulated picture is static, so two grabs with the same
options give the same pixels.

Images are decoded with Pillow (pip install pillow); the JPEG headers (size, component count,
JFIF density, quantisation tables) are parsed by e2e_support.jpeg_info.
"""

import io
import json
import random
import re
import threading
import urllib.parse

import pytest
import websocket
from PIL import Image, ImageChops, ImageDraw, ImageStat

import e2e_support
from e2e_support import b64, check_api_reply, enc, jpeg_info
from e2e_support import decode_image as decode
from e2e_support import file_tree as tree
from e2e_support import storage_root as root_of

SIM_CONFIG = {"camera": {"linger_seconds": 1, "warmup_frames": 0}}
FRAME = (1280, 960)  # document camera capture size set by the `img` fixture
PORTRAIT_FRAME = (1280, 720)  # portrait camera default capture
GRAB_TIMEOUT = 60.0
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
ZERO_UUID = "00000000-0000-0000-0000-000000000000"

# The page in the 1280x960 frame: rectified size and bounding box (see the module docstring).
PAGE_RECT = (514, 720)
PAGE_BBOX = (544, 744)


# --------------------------------------------------------------------------- image helpers


def api_code(d, endpoint: str, body, code: str) -> dict:
    return e2e_support.api_code(d, endpoint, body, code, GRAB_TIMEOUT)


def store(d, data: bytes, path: str | None, image_type: str = "jpg", code: str = "0") -> dict:
    return e2e_support.store_image(d, data, path, image_type, code, GRAB_TIMEOUT)


def jpeg_b64(text: str):
    """(bytes, JpegInfo, PIL image) of a base64 JPEG."""
    data = b64(text)
    info = jpeg_info(data)
    im = decode(data)
    assert im.format == "JPEG" and im.size == info.size, (im.format, im.size, info)
    return data, info, im


def mean_diff(a: Image.Image, b: Image.Image, size: tuple[int, int] | None = None) -> float:
    """Mean absolute grey-level difference (after scaling both to `size`, default a's size)."""
    size = size or a.size
    a = a.convert("L").resize(size, Image.BILINEAR)
    b = b.convert("L").resize(size, Image.BILINEAR)
    return ImageStat.Stat(ImageChops.difference(a, b)).mean[0]


def changed_box(a: Image.Image, b: Image.Image, threshold: int = 40):
    """Bounding box and count of pixels where some colour channel differs by more than threshold."""
    assert a.size == b.size, (a.size, b.size)
    r, g, bl = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).split()
    d = ImageChops.lighter(ImageChops.lighter(r, g), bl).point(lambda v: 255 if v > threshold else 0)
    count = sum(d.histogram()[255:])
    return d.getbbox(), count


def mean_grey(im: Image.Image, box=None) -> float:
    g = im.convert("L")
    if box:
        g = g.crop(box)
    return ImageStat.Stat(g).mean[0]


def blue_fraction(im: Image.Image, box) -> float:
    """Fraction of pixels in box that are clearly blue (the page's header bar)."""
    raw = im.convert("RGB").crop(box).tobytes()
    n = len(raw) // 3
    blue = sum(1 for k in range(0, 3 * n, 3)
               if raw[k + 2] > 100 and raw[k + 2] > raw[k] + 50 and raw[k + 2] > raw[k + 1] + 20)
    return blue / max(1, n)


def make_image(size=(400, 300), fmt="JPEG", colour=(200, 60, 40), noise=False, quality=90) -> bytes:
    if noise:
        im = Image.frombytes("RGB", size, random.Random(size[0] * 7919 + size[1]).randbytes(size[0] * size[1] * 3))
    else:
        im = Image.new("RGB", size, colour)
        ImageDraw.Draw(im).rectangle((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2), fill=(20, 20, 200))
    out = io.BytesIO()
    im.save(out, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return out.getvalue()


def page_scene(fmt="PNG") -> bytes:
    """800x600: a light page (corners (200,100) (500,90) (510,520) (210,530)) on a dark mat."""
    im = Image.new("RGB", (800, 600), (50, 55, 60))
    d = ImageDraw.Draw(im)
    d.polygon([(200, 100), (500, 90), (510, 520), (210, 530)], fill=(245, 245, 240))
    for k in range(12):
        y = 160 + 28 * k
        d.line([(240, y), (460, y - 6)], fill=(30, 30, 30), width=6)
    out = io.BytesIO()
    im.save(out, fmt)
    return out.getvalue()


SCENE_RECT = (305, 430)  # rectified page of page_scene(): edges 300.2/300.2 x 430.1/430.1


# --------------------------------------------------------------------------- API helpers


def grab(d, ipi=None, *, camidx="0", code="0", **extra) -> dict:
    """video=grabimage v1.5 (image_process_info present)."""
    body = {"camidx": camidx, "image_process_info": {} if ipi is None else ipi, **extra}
    r = d.api("video=grabimage", body, timeout=GRAB_TIMEOUT)
    assert r["code"] == code, f"grabimage {body}: {r!r:.600}"
    if code != "0":
        assert r.get("message"), r
    return r


def grab10(d, code="0", **body) -> dict:
    """video=grabimage v1.0 (no image_process_info)."""
    body.setdefault("camidx", "0")
    r = d.api("video=grabimage", body, timeout=GRAB_TIMEOUT)
    assert r["code"] == code, f"grabimage v1.0 {body}: {r!r:.600}"
    if code != "0":
        assert r.get("message"), r
    return r


def images_of(r: dict, count: int = 1, make_uuid: bool = False) -> list:
    """Check a v1.5-style reply (grabimage, process) and return [(bytes, JpegInfo, image)] per image."""
    assert r["code"] == "0", r
    assert r.get("message") == "", r
    assert r.get("image_count") == count and isinstance(r["image_count"], int), r
    assert isinstance(r.get("images"), list) and len(r["images"]) == count, r
    out = []
    for i, item in enumerate(r["images"]):
        assert item.get("index") == i and isinstance(item["index"], int), item.keys()
        if make_uuid:
            assert UUID_RE.match(item.get("uuid", "")), item.get("uuid")
            assert item.get("filepath") == f"/images/{item['uuid']}.jpg", item.get("filepath")
        else:
            assert "uuid" not in item and "filepath" not in item, {k: v for k, v in item.items() if k != "base64"}
        out.append(jpeg_b64(item["base64"]))
    return out


def one(r: dict, **kw):
    return images_of(r, 1, **kw)[0]


def process(d, source: dict, ipi=None, code="0", **extra) -> dict:
    body = {"source_image": source, **extra}
    if ipi is not None:
        body["image_process_info"] = ipi
    r = d.api("imagepro=process", body, timeout=GRAB_TIMEOUT)
    assert r["code"] == code, f"process {json.dumps(body)[:300]}: {r!r:.600}"
    if code != "0":
        assert r.get("message"), r
    return r





def download(d, path: str, status: int = 200):
    """GET /storage/<path>; returns the Reply (status checked)."""
    r = d.get("/storage/" + path.lstrip("/"))
    assert r.status == status, f"GET /storage/{path.lstrip('/')}: {r!r}"
    return r



# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def img(module_daemon):
    d = module_daemon(SIM_CONFIG, sim=True)
    r = d.api("param=set", {"resolution": {"width": str(FRAME[0]), "height": str(FRAME[1])}, "camidx": "0"})
    assert r["code"] == "0", r
    return d


@pytest.fixture(scope="module")
def frame(img):
    """The full 1280x960 frame (cut_type 0, jpg_quality 80 like every processed image):
    (bytes, JpegInfo, image)."""
    return one(grab(img, {"cut_type": "0"}, image_storage_info={"jpg_quality": "80"}))


@pytest.fixture(scope="module")
def page(img):
    """The auto-cropped page (cut_type 1): (bytes, JpegInfo, image)."""
    return one(grab(img, {"cut_type": "1"}))


# --------------------------------------------------------------------------- grabimage v1.5


def test_grab_full_frame_defaults(img, frame):
    data, info, im = frame
    assert info.size == FRAME, info
    assert info.components == 3, info
    assert info.jfif == (1, 200, 200), f"JFIF density (units, x, y) {info.jfif}, want dots per inch 200x200"
    # the scene: light page in the middle, dark mat at the edges
    w, h = FRAME
    assert mean_grey(im, (w // 2 - 40, h // 2 - 40, w // 2 + 40, h // 2 + 40)) > 130
    assert mean_grey(im, (0, 0, 100, 100)) < 90


def test_grab_default_capture_size(daemon):
    d = daemon(SIM_CONFIG, sim=True)
    _, info, _ = one(grab(d, {"cut_type": "0"}))
    assert info.size == (3264, 2448), info


def test_grab_empty_string_process_info(img):
    _, info, _ = one(grab(img, ""))
    assert info.components == 3


def test_grab_make_uuid_stores_file(img):
    r = grab(img, {"cut_type": "0"}, make_uuid="1")
    data, info, _ = one(r, make_uuid=True)
    item = r["images"][0]
    on_disk = root_of(img) / "images" / f"{item['uuid']}.jpg"
    assert on_disk.read_bytes() == data
    got = download(img, item["filepath"])
    assert got.content_type.split(";")[0].strip().lower() == "image/jpeg", got
    assert got.body == data
    # file2base64 and process by uuid find it too
    f = api_code(img, "imagepro=file2base64", {"filepath": item["filepath"]}, "0")
    assert b64(f["base64"]) == data
    _, info2, _ = one(process(img, {"uuid": item["uuid"]}, {"cut_type": "0"}))
    assert info2.size == info.size


def test_grab_make_uuid_0_has_no_uuid(img):
    before = set(tree(root_of(img) / "images"))
    one(grab(img, {"cut_type": "0"}, make_uuid="0"), make_uuid=False)
    assert set(tree(root_of(img) / "images")) == before


def test_grab_dpi(img):
    _, info, _ = one(grab(img, {"cut_type": "0"}, image_storage_info={"xdpi": "300", "ydpi": "150"}))
    assert info.jfif == (1, 300, 150), info.jfif


def page_size_ok(size, exact_rect: bool) -> None:
    w, h = size
    if exact_rect:
        assert abs(w - PAGE_RECT[0]) <= 0.08 * PAGE_RECT[0] and abs(h - PAGE_RECT[1]) <= 0.08 * PAGE_RECT[1], \
            f"rectified page {size}, expected about {PAGE_RECT}"
        assert 0.66 <= w / h <= 0.77, f"aspect {w / h:.3f} of {size}, expected about 0.714"
    else:
        assert 0.9 * PAGE_RECT[0] <= w <= 1.1 * PAGE_BBOX[0] and 0.9 * PAGE_RECT[1] <= h <= 1.1 * PAGE_BBOX[1], \
            f"page crop {size}, expected between {PAGE_RECT} and {PAGE_BBOX}"
        assert 0.62 <= w / h <= 0.80, f"aspect {w / h:.3f} of {size}"


def test_grab_cut_page(page):
    _, info, im = page
    page_size_ok(info.size, exact_rect=False)
    assert mean_grey(im) > 150, f"crop is not mostly the light page (mean {mean_grey(im):.0f})"
    w, h = info.size
    # the blue header bar is at the top of the page
    assert blue_fraction(im, (0, 0, w, h // 5)) > 0.03
    assert blue_fraction(im, (0, h // 2, w, h)) < 0.005


def test_grab_rect_correct(img):
    _, info, im = one(grab(img, {"cut_type": "1", "rect_correct": "1"}))
    page_size_ok(info.size, exact_rect=True)
    w, h = info.size
    # perspective-corrected: every corner of the output is paper, not mat
    pw, ph = max(4, w // 30), max(4, h // 30)
    for x, y in [(pw, ph), (w - 2 * pw, ph), (pw, h - 2 * ph), (w - 2 * pw, h - 2 * ph)]:
        g = mean_grey(im, (x, y, x + pw, y + ph))
        assert g > 180, f"corner patch at ({x},{y}) of {info.size} has mean grey {g:.0f} (mat?)"
    assert blue_fraction(im, (0, 0, w, h // 5)) > 0.03


def test_grab_multi_object_one_page(img, page):
    _, info, _ = one(grab(img, {"cut_type": "1", "multi_object": "1"}))
    page_size_ok(info.size, exact_rect=False)


def test_grab_split_page(img, page):
    r = grab(img, {"cut_type": "1", "split_page": "1"})
    (_, a, ima), (_, b, imb) = images_of(r, 2)
    pw, ph = page[1].size
    assert abs(a.width - pw) <= 4 and abs(b.width - pw) <= 4, (a.size, b.size, page[1].size)
    assert abs(a.height + b.height - ph) <= 4 and abs(a.height - b.height) <= 4, (a.size, b.size, page[1].size)
    # index 0 is the top half (with the blue header)
    assert blue_fraction(ima, (0, 0, a.width, a.height // 2)) > 0.02
    assert blue_fraction(imb, (0, 0, b.width, b.height)) < 0.005


def test_grab_split_page_make_uuid(img):
    r = grab(img, {"cut_type": "1", "split_page": "1"}, make_uuid="1")
    halves = images_of(r, 2, make_uuid=True)
    uuids = [item["uuid"] for item in r["images"]]
    assert len(set(uuids)) == 2, uuids
    for item, (data, _, _) in zip(r["images"], halves):
        assert (root_of(img) / "images" / f"{item['uuid']}.jpg").read_bytes() == data


def test_concurrent_grabs(img, frame):
    results = [None] * 6

    def worker(i):
        try:
            results[i] = one(grab(img, {"cut_type": "0"} if i % 2 else {"cut_type": "1"}))
        except BaseException as e:  # reported below
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(GRAB_TIMEOUT)
    errors = [r for r in results if not isinstance(r, tuple)]
    assert not errors, errors
    for i, (_, info, _) in enumerate(results):
        if i % 2:
            assert info.size == FRAME
        else:
            page_size_ok(info.size, exact_rect=False)


def test_grab_vendor_example(img):
    """The request of the vendor document's example (all options at once) -> two page halves."""
    r = grab(img, {"cut_type": "1", "multi_object": "1", "rotate": "0", "fixed_width": "0", "fixed_height": "0",
                   "split_page": "1", "reduce_shadow": "1", "color_type": "0", "remove_black_edge": "1",
                   "rect_correct": "1", "document_type": "1", "correct_idcard_direction": "0"},
             image_storage_info={"xdpi": "200", "ydpi": "200", "jpg_quality": "60"},
             watermark={"pos": "4", "content": "watermark string", "transparency": "128", "fontsize": "80",
                        "color": "red"})
    (_, a, _), (_, b, _) = images_of(r, 2)
    assert abs(a.width - PAGE_RECT[0]) <= 0.1 * PAGE_RECT[0] and abs(a.height - PAGE_RECT[1] / 2) <= 0.1 * PAGE_RECT[1], a


def test_grab_rotate(img, frame):
    _, _, im0 = frame
    _, i90, im90 = one(grab(img, {"cut_type": "0", "rotate": "90"}))
    _, i270, im270 = one(grab(img, {"cut_type": "0", "rotate": "-90"}))
    assert i90.size == (FRAME[1], FRAME[0]) and i270.size == (FRAME[1], FRAME[0]), (i90, i270)
    small = (96, 128)
    ccw = im0.transpose(Image.Transpose.ROTATE_90)  # PIL: counter-clockwise
    cw = im0.transpose(Image.Transpose.ROTATE_270)
    d90 = (mean_diff(im90, cw, small), mean_diff(im90, ccw, small))
    d270 = (mean_diff(im270, cw, small), mean_diff(im270, ccw, small))
    # the two are rotations of the frame, in opposite directions
    assert min(d90) < 6 and min(d270) < 6, (d90, d270)
    assert (d90[0] < d90[1]) != (d270[0] < d270[1]), f"90 and -90 rotate the same way: {d90} {d270}"


@pytest.mark.parametrize("ipi,word", [
    ({"cut_type": "0", "rotate": "45"}, "rotate"),
    ({"cut_type": "7"}, "cut_type"),
    ({"cut_type": "2", "custom_rect": {"left": "10%", "top": "10%", "right": "200%", "bottom": "60%",
                                       "angle": "0"}}, None),
], ids=["rotate-45", "cut_type-7", "custom_rect-outside"])
def test_grab_invalid_processing(img, ipi, word):
    r = grab(img, ipi, code="4")
    if word:
        assert word in r["message"], r


@pytest.mark.parametrize("cut_type", ["3", "4"])
def test_grab_unavailable_cut_types(img, cut_type):
    grab(img, {"cut_type": cut_type}, code="9")


@pytest.mark.parametrize("colour", ["1", "2"])
def test_grab_grey_and_black_white(img, colour):
    _, info, im = one(grab(img, {"cut_type": "0", "color_type": colour}))
    assert info.size == FRAME
    assert info.components == 1, f"color_type {colour}: {info.components} components"
    hist = im.convert("L").histogram()
    mid = sum(hist[40:216]) / sum(hist)
    if colour == "2":
        assert mid < 0.15, f"black-white image has {mid:.0%} mid-grey pixels"
    else:
        assert mid > 0.4, f"grey image has only {mid:.0%} mid-grey pixels (binarised?)"


def test_grab_colour_is_three_components(img, frame):
    _, info, _ = one(grab(img, {"cut_type": "0", "color_type": "0"}))
    assert info.components == 3


def test_grab_fixed_size(img):
    _, info, _ = one(grab(img, {"cut_type": "1", "fixed_width": "800", "fixed_height": "600"}))
    assert info.size == (800, 600), info


def test_grab_custom_rect_percent(img, frame):
    rect = {"left": "10%", "top": "10%", "right": "50%", "bottom": "60%", "angle": "0"}
    _, info, im = one(grab(img, {"cut_type": "2", "custom_rect": rect}))
    w, h = info.size
    assert abs(w - 0.4 * FRAME[0]) <= 2 and abs(h - 0.5 * FRAME[1]) <= 2, info
    want = frame[2].crop((128, 96, 640, 576))
    assert mean_diff(im, want, (128, 120)) < 8, "custom_rect crop does not show that part of the frame"


def test_grab_custom_rect_pixels(img, frame):
    rect = {"left": "100px", "top": "50", "right": "500", "bottom": "350px", "angle": "0"}
    _, info, im = one(grab(img, {"cut_type": "2", "custom_rect": rect}))
    assert abs(info.width - 400) <= 2 and abs(info.height - 300) <= 2, info
    assert mean_diff(im, frame[2].crop((100, 50, 500, 350)), (100, 75)) < 8


def test_grab_max_file_size(img, frame):
    data, info, _ = one(grab(img, {"cut_type": "0"}, image_storage_info={"max_file_size": "30000"}))
    assert len(frame[0]) > 30000, "the uncapped frame is already small; the test proves nothing"
    assert len(data) <= 30000, len(data)
    assert info.width < FRAME[0] and info.height < FRAME[1], info
    assert abs(info.width / info.height - FRAME[0] / FRAME[1]) < 0.03, info


def test_grab_unprocessed_frame_passes_through(img, frame):
    """No processing and no jpg_quality: the camera's JPEG is returned as it is (DPI written in);
    it shows the same picture as a re-encoded one."""
    data, info, im = one(grab(img, {"cut_type": "0"}))
    assert info.size == FRAME and info.jfif == (1, 200, 200), info
    assert info.dqt != frame[1].dqt, "expected the camera's own quantisation tables"
    assert mean_diff(im, frame[2], (128, 96)) < 4, "pass-through picture differs from the frame"


def test_grab_jpg_quality(img, frame):
    default = one(grab(img, {"cut_type": "0", "rotate": "180"}))[1]
    q80, _, _ = one(grab(img, {"cut_type": "0", "rotate": "180"}, image_storage_info={"jpg_quality": "80"}))
    q10, i10, _ = one(grab(img, {"cut_type": "0"}, image_storage_info={"jpg_quality": "10"}))
    q100, i100, _ = one(grab(img, {"cut_type": "0"}, image_storage_info={"jpg_quality": "100"}))
    assert jpeg_info(q80).dqt == default.dqt, "default jpg_quality is not 80"
    assert i10.dqt != default.dqt and i100.dqt != default.dqt
    assert len(q10) < len(q80) < len(q100), (len(q10), len(q80), len(q100))


def test_grab_jpg_quality_not_a_number(img):
    r = grab(img, {"cut_type": "0"}, image_storage_info={"jpg_quality": "abc"}, code="4")
    assert "jpg_quality" in r["message"], r


@pytest.mark.parametrize("quality,like", [("5", "10"), ("3", "10"), ("101", "100"), ("250", "100")])
def test_grab_jpg_quality_out_of_range_is_clamped(img, quality, like):
    """Quality only tunes the output: out of range it is clamped (10-100), and the picture is the
    one the nearest valid quality gives."""
    got, _, _ = one(grab(img, {"cut_type": "0", "rotate": "180"}, image_storage_info={"jpg_quality": quality}))
    want, _, _ = one(grab(img, {"cut_type": "0", "rotate": "180"}, image_storage_info={"jpg_quality": like}))
    assert jpeg_info(got).dqt == jpeg_info(want).dqt


WM = {"content": "TEST 水印", "transparency": "255", "fontsize": "64", "color": "red"}


@pytest.mark.parametrize("pos,region", [
    ("0", "top-left"), ("1", "top-right"), ("2", "bottom-left"), ("3", "bottom-right"), ("4", "centre"),
])
def test_grab_watermark_position(img, frame, pos, region):
    _, info, im = one(grab(img, {"cut_type": "0"}, watermark={**WM, "pos": pos}))
    assert info.size == FRAME
    box, count = changed_box(frame[2], im)
    assert box and count > 100, f"watermark pos {pos}: nothing drawn ({count} changed pixels)"
    w, h = FRAME
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    where = {
        "top-left": x1 <= w / 2 and y1 <= h / 2,
        "top-right": x0 >= w / 2 and y1 <= h / 2,
        "bottom-left": x1 <= w / 2 and y0 >= h / 2,
        "bottom-right": x0 >= w / 2 and y0 >= h / 2,
        "centre": abs(cx - w / 2) < w / 10 and abs(cy - h / 2) < h / 10,
    }[region]
    assert where, f"watermark pos {pos} drawn at {box}, expected {region} of {FRAME}"


def test_grab_watermark_fontsize_too_large_is_ignored(img, frame):
    wm = {"pos": "4", "content": "ABC", "transparency": "255", "color": "red"}
    _, _, plain = one(grab(img, {"cut_type": "0"}, watermark=wm))
    _, _, f32 = one(grab(img, {"cut_type": "0"}, watermark={**wm, "fontsize": "32"}))
    _, _, huge = one(grab(img, {"cut_type": "0"}, watermark={**wm, "fontsize": "999999"}))
    assert changed_box(frame[2], plain)[1] > 20, "no watermark drawn"
    assert changed_box(plain, f32)[1] == 0, "default font size is not 32"
    assert changed_box(plain, huge)[1] == 0, "fontsize 999999 was not ignored"


@pytest.mark.parametrize("content", ["", "水印测试"], ids=["time", "chinese"])
def test_grab_watermark_drawn(img, frame, content):
    _, _, im = one(grab(img, {"cut_type": "0"}, watermark={"pos": "4", "content": content,
                                                            "transparency": "255", "color": "red"}))
    box, count = changed_box(frame[2], im)
    assert count > 20, f"watermark {content!r}: nothing drawn"


@pytest.mark.parametrize("wm,word", [
    ({"pos": "0", "content": "x", "color": "notacolour"}, "color"),
    ({"pos": "9", "content": "x"}, "pos"),
], ids=["colour", "pos"])
def test_grab_watermark_invalid(img, wm, word):
    r = grab(img, {"cut_type": "0"}, watermark=wm, code="4")
    assert word in r["message"], r


@pytest.mark.parametrize("camidx,code", [("2", "2"), ("9", "4"), ("abc", "4")])
def test_grab_bad_camera(img, camidx, code):
    grab(img, {"cut_type": "0"}, camidx=camidx, code=code)


def test_grab_bad_json(img):
    r = check_api_reply(img.post("/video=grabimage", b'{"camidx":"0","image_process_info":{'))
    assert r["code"] == "1", r


def test_grab_portrait_camera(img):
    _, info, _ = one(grab(img, {"cut_type": "0"}, camidx="1"))
    assert info.size == PORTRAIT_FRAME, info


# --------------------------------------------------------------------------- grabimage v1.0


def v10_photo(r: dict):
    data, info, im = jpeg_b64(r["photoBase64"])
    return data, info, im


def test_grab_v10_save_generated(img):
    r = grab10(img, filepath="")
    assert {"code", "message", "uuid", "filepath", "photoBase64", "thumbnail"} <= set(r), set(r)
    assert UUID_RE.match(r["uuid"]), r["uuid"]
    assert r["filepath"] == f"/images/{r['uuid']}.jpg", r["filepath"]
    data, info, _ = v10_photo(r)
    page_size_ok(info.size, exact_rect=False)  # the document camera crops by default
    assert (root_of(img) / "images" / f"{r['uuid']}.jpg").read_bytes() == data
    assert download(img, r["filepath"]).body == data
    _, tinfo, _ = jpeg_b64(r["thumbnail"])
    assert 0 < max(tinfo.size) <= 160, tinfo
    assert abs(tinfo.width / tinfo.height - info.width / info.height) < 0.1, (tinfo, info)


def test_grab_v10_base64_only(img):
    before = tree(root_of(img))
    r = grab10(img, filepath="base64")
    assert set(r) == {"code", "message", "photoBase64"}, set(r)
    v10_photo(r)
    assert tree(root_of(img)) == before, "filepath base64 stored a file"


def test_grab_v10_client_path(img):
    r = grab10(img, filepath="D:/tmp/v10.jpg")
    assert r["uuid"] == "" and r["filepath"] == "D:/tmp/v10.jpg", {k: r[k] for k in ("uuid", "filepath")}
    data, _, _ = v10_photo(r)
    assert (root_of(img) / "tmp" / "v10.jpg").read_bytes() == data
    got = download(img, "tmp/v10.jpg")
    assert got.body == data and got.content_type.split(";")[0].strip().lower() == "image/jpeg", got


def test_grab_v10_no_crop_and_portrait(img):
    _, info, _ = v10_photo(grab10(img, filepath="base64", cutpage="0"))
    assert info.size == FRAME, info
    _, info, _ = v10_photo(grab10(img, filepath="base64", camidx="1", cutpage="1"))
    assert info.size == PORTRAIT_FRAME, "the portrait camera cropped"


def test_grab_v10_width_height_rotate(img):
    _, info, _ = v10_photo(grab10(img, filepath="base64", width="640", height="480"))
    assert info.size == (640, 480), info
    _, info, _ = v10_photo(grab10(img, filepath="base64", cutpage="0", rotate="90"))
    assert info.size == (FRAME[1], FRAME[0]), info


def test_grab_v10_colour_modes(img):
    _, info, _ = v10_photo(grab10(img, filepath="base64", cutpage="0", ColorMode="0"))
    assert info.components == 3
    for mode in ("1", "2"):
        _, info, _ = v10_photo(grab10(img, filepath="base64", cutpage="0", ColorMode=mode))
        assert info.components == 1, f"ColorMode {mode}: {info.components} components"


def test_grab_v10_small_quality_level_still_takes_a_picture(img):
    """jQuery pages send `quality` as a small level number ("3"): clamped to 10, a picture anyway
    (the vendor's service takes one), and trailing text after the body's JSON is ignored."""
    q3 = jpeg_info(b64(grab10(img, filepath="base64", cutpage="0", quality="3")["photoBase64"]))
    q10 = jpeg_info(b64(grab10(img, filepath="base64", cutpage="0", jquality="10")["photoBase64"]))
    assert q3.dqt == q10.dqt
    body = json.dumps({"filepath": "base64", "cutpage": "0", "quality": "3"}) + ':""'
    r = e2e_support.check_api_reply(
        img.post_raw("/video=grabimage", body.encode(), content_type="application/x-www-form-urlencoded"))
    assert r["code"] == "0" and r["photoBase64"], r


def test_grab_v10_quality_and_dpi(img):
    dflt = jpeg_info(b64(grab10(img, filepath="base64", cutpage="0")["photoBase64"]))
    q35 = jpeg_info(b64(grab10(img, filepath="base64", cutpage="0", jquality="35")["photoBase64"]))
    alias = jpeg_info(b64(grab10(img, filepath="base64", cutpage="0", quality="35")["photoBase64"]))
    q90 = jpeg_info(b64(grab10(img, filepath="base64", cutpage="0", jquality="90",
                               xdpi="300", ydpi="300")["photoBase64"]))
    assert dflt.dqt == q35.dqt, "default jquality is not 35"
    assert alias.dqt == q35.dqt, "quality is not an alias of jquality"
    assert q90.dqt != q35.dqt
    assert q90.jfif == (1, 300, 300), q90.jfif


def test_grab_v10_watermark_and_deskew(img):
    _, _, plain = v10_photo(grab10(img, filepath="base64", cutpage="0"))
    _, info, marked = v10_photo(grab10(img, filepath="base64", cutpage="0", deskew="1",
                                       watermark={"pos": "4", "content": "v1.0 水印", "transparency": "255",
                                                  "fontsize": "48", "color": "red"}))
    assert info.size == FRAME
    assert changed_box(plain, marked)[1] > 50, "v1.0 watermark not drawn"
    grab10(img, code="4", filepath="base64", watermark={"pos": "9", "content": "x"})


def test_grab_v10_max_file_size(img):
    data, info, _ = v10_photo(grab10(img, filepath="base64", cutpage="0", jquality="95", max_file_size="30000"))
    assert len(data) <= 30000, len(data)


def test_grab_v10_errors(img):
    grab10(img, code="2", camidx="2", filepath="base64")
    grab10(img, code="4", camidx="9", filepath="base64")
    grab10(img, code="12", filepath="D:/../escape.jpg")
    assert not (img.state_dir / "escape.jpg").exists()


# --------------------------------------------------------------------------- WebSocket grab_image


def ws_call(d, payload: dict, timeout: float = GRAB_TIMEOUT) -> dict:
    conn = websocket.create_connection(d.ws_url("/"), timeout=timeout)
    try:
        conn.send(json.dumps(payload, ensure_ascii=False))
        while True:
            msg = json.loads(conn.recv())
            if msg.get("function") == payload["function"]:
                return msg
    finally:
        conn.close()


def test_ws_grab_image(img):
    r = ws_call(img, {"function": "grab_image",
                      "params": {"camidx": "0", "make_uuid": "1", "image_process_info": {"cut_type": "0"}}})
    assert r["function"] == "grab_image", r.keys()
    data, info, _ = one(r, make_uuid=True)
    assert info.size == FRAME
    assert download(img, r["images"][0]["filepath"]).body == data
    r = ws_call(img, {"function": "grab_image", "params": {"camidx": "9", "image_process_info": {}}})
    assert r["function"] == "grab_image" and r["code"] == "4", r


# --------------------------------------------------------------------------- imagepro=process


def test_process_base64_jpeg_and_png(img):
    src = make_image((400, 300), "JPEG")
    _, info, im = one(process(img, {"base64": enc(src), "image_type": "jpg"}, {"cut_type": "0"}))
    assert info.size == (400, 300)
    assert mean_diff(im, decode(src)) < 4
    png = make_image((400, 300), "PNG")
    _, info, im = one(process(img, {"base64": enc(png), "image_type": "png"}, {"cut_type": "0"}))
    assert info.size == (400, 300)
    assert mean_diff(im, decode(png)) < 4
    # image_type defaults to jpg
    _, info, _ = one(process(img, {"base64": enc(src)}, {"cut_type": "0"}))
    assert info.size == (400, 300)


def test_process_data_url(img):
    png = make_image((120, 80), "PNG")
    _, info, _ = one(process(img, {"base64": "data:image/png;base64," + enc(png), "image_type": "png"},
                             {"cut_type": "0"}))
    assert info.size == (120, 80)


def test_process_options(img):
    src = {"base64": enc(make_image((400, 300), "PNG")), "image_type": "png"}
    _, info, _ = one(process(img, src, {"cut_type": "0", "rotate": "90"}))
    assert info.size == (300, 400)
    _, info, _ = one(process(img, src, {"cut_type": "0", "color_type": "1"}))
    assert info.components == 1
    _, info, _ = one(process(img, src, {"cut_type": "0"}, image_storage_info={"xdpi": "96", "ydpi": "96"}))
    assert info.jfif == (1, 96, 96)
    # no image_process_info at all is fine too
    _, info, _ = one(process(img, src))
    assert info.components == 3


def test_process_detects_page(img):
    src = {"base64": enc(page_scene()), "image_type": "png"}
    _, info, im = one(process(img, src, {"cut_type": "1", "rect_correct": "1"}))
    w, h = info.size
    assert abs(w - SCENE_RECT[0]) <= 0.1 * SCENE_RECT[0] and abs(h - SCENE_RECT[1]) <= 0.1 * SCENE_RECT[1], \
        f"{info.size}, expected about {SCENE_RECT}"
    assert mean_grey(im) > 150


def test_process_make_uuid_and_sources(img):
    src = make_image((200, 100), "PNG")
    r = process(img, {"base64": enc(src), "image_type": "png"}, {"cut_type": "0"}, make_uuid="1")
    data, _, _ = one(r, make_uuid=True)
    item = r["images"][0]
    assert download(img, item["filepath"]).body == data
    # by uuid and by file path (the generated one, and a client path)
    _, info, _ = one(process(img, {"uuid": item["uuid"]}, {"cut_type": "0"}))
    assert info.size == (200, 100)
    _, info, _ = one(process(img, {"filepath": item["filepath"]}, {"cut_type": "0", "rotate": "-90"}))
    assert info.size == (100, 200)
    store(img, src, "D:\\proc\\src.png", "png")
    _, info, _ = one(process(img, {"filepath": "D:/proc/src.png"}, {"cut_type": "0"}))
    assert info.size == (200, 100)


PROCESS_ERRORS = [
    ("no-source", None, "4"),
    ("bad-base64", {"base64": "!!!notbase64", "image_type": "jpg"}, "4"),
    ("not-an-image", {"base64": enc(b"this is plain text, not an image at all"), "image_type": "jpg"}, "4"),
    ("heic", {"base64": "AAAA", "image_type": "heic"}, "4"),
    ("unknown-uuid", {"uuid": ZERO_UUID}, "8"),
    ("malformed-uuid", {"uuid": "not-a-uuid"}, "4"),
    ("missing-file", {"filepath": "D:/nowhere/missing.jpg"}, "8"),
    ("escape", {"filepath": "D:/tmp/../../etc/passwd"}, "12"),
]


@pytest.mark.parametrize("source,code", [e[1:] for e in PROCESS_ERRORS], ids=[e[0] for e in PROCESS_ERRORS])
def test_process_errors(img, source, code):
    body = {"image_process_info": {"cut_type": "0"}}
    if source is not None:
        body["source_image"] = source
    api_code(img, "imagepro=process", body, code)


def test_process_heic_with_real_image_bytes(img):
    api_code(img, "imagepro=process", {"source_image": {"base64": enc(make_image()), "image_type": "heic"}}, "4")


# --------------------------------------------------------------------------- storage_image / paths


def test_storage_image_client_path_forms(img):
    root = root_of(img)
    data = make_image((64, 48), "JPEG")
    for i, path in enumerate(["D:/tmp/a.jpg", "D:\\tmp\\b.jpg", "/tmp/c.jpg", "tmp/d.jpg", "d:/tmp/e.jpg"]):
        payload = data + bytes([i])  # distinct bytes per file (trailing byte after EOI)
        r = store(img, payload, path)
        assert r.get("image_count") == 1 and isinstance(r.get("images"), list) and len(r["images"]) == 1, r
        assert r["images"][0].get("index") == 0 and isinstance(r["images"][0].get("filepath"), str), r
        name = "abcde"[i] + ".jpg"
        assert (root / "tmp" / name).read_bytes() == payload, path
        got = download(img, f"tmp/{name}")
        assert got.body == payload and got.content_type.split(";")[0].strip().lower() == "image/jpeg", got
        # every spelling of the path reads the same file
        for spelling in (f"D:/tmp/{name}", f"D:\\tmp\\{name}", f"/tmp/{name}", f"tmp/{name}"):
            f = api_code(img, "imagepro=file2base64", {"filepath": spelling}, "0")
            assert b64(f["base64"]) == payload, spelling


def test_storage_image_png_and_generated_path(img):
    png = make_image((30, 20), "PNG")
    r = store(img, png, "D:/tmp/p.png", "png")
    got = download(img, "tmp/p.png")
    assert got.body == png and got.content_type.split(";")[0].strip().lower() == "image/png", got
    r = store(img, png, None, "png")
    fp = r["images"][0]["filepath"]
    m = re.fullmatch(r"/images/([0-9a-fA-F-]{36})\.png", fp)
    assert m and UUID_RE.match(m.group(1)), fp
    assert download(img, fp).body == png
    jpg = make_image((30, 20), "JPEG")
    fp = store(img, jpg, None)["images"][0]["filepath"]
    assert re.fullmatch(r"/images/[0-9a-fA-F-]{36}\.jpg", fp), fp
    assert (root_of(img) / fp.lstrip("/")).read_bytes() == jpg


def test_storage_non_ascii_path(img):
    data = make_image((24, 24), "JPEG")
    store(img, data, "D:\\图片\\测试 1.jpg")
    assert (root_of(img) / "图片" / "测试 1.jpg").read_bytes() == data
    got = download(img, urllib.parse.quote("图片/测试 1.jpg"))
    assert got.body == data, got
    assert b64(api_code(img, "imagepro=file2base64", {"filepath": "D:/图片/测试 1.jpg"}, "0")["base64"]) == data


@pytest.mark.parametrize("source", [{"filepath": "D:/tmp/a.jpg"}, {"uuid": ZERO_UUID}], ids=["filepath", "uuid"])
def test_storage_image_only_base64_sources(img, source):
    api_code(img, "imagepro=storage_image", {"source_image": source, "output_image": {"filepath": "D:/tmp/x.jpg"}},
             "4")
    assert not (root_of(img) / "tmp" / "x.jpg").exists()


def test_failed_store_keeps_existing_file(img):
    root = root_of(img)
    data = make_image((50, 50), "JPEG")
    store(img, data, "D:/keep/k.jpg")
    before = tree(root)
    api_code(img, "imagepro=storage_image",
             {"source_image": {"base64": "!!!notbase64", "image_type": "jpg"},
              "output_image": {"filepath": "D:/keep/k.jpg"}}, "4")
    assert (root / "keep" / "k.jpg").read_bytes() == data
    assert tree(root) == before, "a failed call changed or left files"


def test_concurrent_writes_are_atomic(img):
    """Writers replacing one file while readers download it: a reader sees one whole version, never a mix."""
    versions = [make_image((160 + 8 * i, 120), "JPEG", noise=True, quality=90) for i in range(6)]
    store(img, versions[0], "D:/atomic/one.jpg")
    stop = threading.Event()
    seen, bad, errors = [], [], []

    def writer(i):
        try:
            for _ in range(3):
                r = store(img, versions[i], "D:/atomic/one.jpg")
                assert r["code"] == "0", r
        except BaseException as e:
            errors.append(e)

    def reader():
        while not stop.is_set():
            r = img.get("/storage/atomic/one.jpg")
            if r.status != 200 or r.body not in versions:
                bad.append((r.status, len(r.body)))
            else:
                seen.append(versions.index(r.body))
            f = img.api("imagepro=file2base64", {"filepath": "D:/atomic/one.jpg"})
            if f["code"] != "0" or b64(f["base64"]) not in versions:
                bad.append(("file2base64", f["code"]))

    readers = [threading.Thread(target=reader, daemon=True) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(len(versions))]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(GRAB_TIMEOUT)
    stop.set()
    for t in readers:
        t.join(GRAB_TIMEOUT)
    assert not errors, errors
    assert not bad, f"readers saw partial or missing files: {bad[:10]}"
    assert seen, "the readers read nothing"
    assert (root_of(img) / "atomic" / "one.jpg").read_bytes() in versions
    assert sorted(tree(root_of(img) / "atomic")) == ["one.jpg"], "temporary files left behind"


ESCAPES = ["../x.jpg", "D:/../x.jpg", "D:\\..\\x.jpg", "tmp/../../x.jpg", "tmp/../tmp/x.jpg", "/tmp/..\\x.jpg",
           "..", "tmp/.."]


@pytest.mark.parametrize("path", ESCAPES)
def test_dotdot_refused(img, path):
    root = root_of(img)
    store(img, make_image((8, 8), "JPEG"), "D:/tmp/escape-src.jpg")
    before = tree(root)
    api_code(img, "imagepro=storage_image",
             {"source_image": {"base64": enc(make_image((8, 8), "PNG")), "image_type": "png"},
              "output_image": {"filepath": path}}, "12")
    api_code(img, "imagepro=file2base64", {"filepath": path}, "12")
    api_code(img, "imagepro=copyfile", {"source_file": path, "target_file": "D:/tmp/never.jpg",
                                        "delete_source_file": "0", "cover_target_file": "1"}, "12")
    assert tree(root) == before
    before = tree(root)
    api_code(img, "imagepro=copyfile", {"source_file": "D:/tmp/escape-src.jpg", "target_file": path,
                                        "delete_source_file": "1", "cover_target_file": "1"}, "12")
    assert tree(root) == before
    assert not (img.state_dir / "x.jpg").exists() and not (img.state_dir.parent / "x.jpg").exists()


def test_symlink_out_of_root_refused(img):
    root = root_of(img)
    outside = img.state_dir / "outside"
    outside.mkdir(exist_ok=True)
    secret = outside / "secret.jpg"
    secret.write_bytes(make_image((16, 16), "JPEG"))
    root.mkdir(parents=True, exist_ok=True)
    link_dir = root / "linkdir"
    link_file = root / "linkfile.jpg"
    if not link_dir.is_symlink():
        link_dir.symlink_to(outside, target_is_directory=True)
    if not link_file.is_symlink():
        link_file.symlink_to(secret)
    secret_bytes = secret.read_bytes()
    for path in ("D:/linkdir/secret.jpg", "linkfile.jpg"):
        api_code(img, "imagepro=file2base64", {"filepath": path}, "12")
        api_code(img, "imagepro=process", {"source_image": {"filepath": path}}, "12")
        r = img.get("/storage/" + path.removeprefix("D:/"))
        assert r.status == 403, f"GET through a symlink out of the root: {r!r}"
        assert check_api_reply(r, 403)["code"] == "12"
    new = enc(make_image((8, 8), "JPEG", colour=(1, 2, 3)))
    api_code(img, "imagepro=storage_image", {"source_image": {"base64": new, "image_type": "jpg"},
                                             "output_image": {"filepath": "D:/linkdir/new.jpg"}}, "12")
    api_code(img, "imagepro=storage_image", {"source_image": {"base64": new, "image_type": "jpg"},
                                             "output_image": {"filepath": "D:/linkfile.jpg"}}, "12")
    store(img, make_image((8, 8), "JPEG"), "D:/tmp/link-src.jpg")
    api_code(img, "imagepro=copyfile", {"source_file": "D:/tmp/link-src.jpg", "target_file": "D:/linkdir/c.jpg",
                                        "delete_source_file": "0", "cover_target_file": "1"}, "12")
    api_code(img, "imagepro=copyfile", {"source_file": "D:/linkfile.jpg", "target_file": "D:/tmp/stolen.jpg",
                                        "delete_source_file": "1", "cover_target_file": "1"}, "12")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.jpg"], list(outside.iterdir())
    assert secret.read_bytes() == secret_bytes
    assert not (root / "tmp" / "stolen.jpg").exists()


def test_storage_download_errors(img):
    r = img.get("/storage/tmp/does-not-exist.jpg")
    assert r.status == 404, r
    assert check_api_reply(r, 404)["code"] == "8"
    r = img.get(f"/storage/images/{ZERO_UUID}.jpg")
    assert r.status == 404 and check_api_reply(r, 404)["code"] == "8", r
    for target in ("/storage/../config.toml", "/storage/tmp/../../config.toml", "/storage/..%2f..%2fconfig.toml",
                   "/storage/%2e%2e/%2e%2e/config.toml"):
        r = img.get(target)
        assert r.status in (403, 404), f"GET {target}: {r!r}"
        assert check_api_reply(r, r.status)["code"] == ("12" if r.status == 403 else "8"), r
    r = img.get("/storage/../config.toml")
    assert r.status == 403 and check_api_reply(r, 403)["code"] == "12", r


# --------------------------------------------------------------------------- file2base64 / copyfile


def test_file2base64(img):
    payload = make_image((40, 30), "PNG") + b"trailing bytes kept"
    store(img, payload, "D:/f2b/x.png", "png")
    assert b64(api_code(img, "imagepro=file2base64", {"filepath": "D:/f2b/x.png"}, "0")["base64"]) == payload
    api_code(img, "imagepro=file2base64", {"filepath": "D:/f2b/missing.png"}, "8")
    api_code(img, "imagepro=file2base64", {}, "4")
    api_code(img, "imagepro=file2base64", {"filepath": "D:/f2b/../f2b/x.png"}, "12")


def test_copyfile(img):
    root = root_of(img)
    a, b = make_image((20, 20), "JPEG", colour=(250, 0, 0)), make_image((20, 20), "JPEG", colour=(0, 250, 0))
    store(img, a, "D:/cp/a.jpg")
    store(img, b, "D:/cp/b.jpg")
    base = {"delete_source_file": "0", "cover_target_file": "0"}
    # copy to a new file (directories created as needed), source kept
    api_code(img, "imagepro=copyfile", {**base, "source_file": "D:/cp/a.jpg", "target_file": "D:\\cp2\\new.jpg"}, "0")
    assert (root / "cp2" / "new.jpg").read_bytes() == a and (root / "cp" / "a.jpg").read_bytes() == a
    # existing target, no cover: refused, target unchanged
    api_code(img, "imagepro=copyfile", {**base, "source_file": "D:/cp/a.jpg", "target_file": "D:/cp/b.jpg"}, "4")
    assert (root / "cp" / "b.jpg").read_bytes() == b
    # cover
    api_code(img, "imagepro=copyfile", {**base, "source_file": "D:/cp/a.jpg", "target_file": "D:/cp/b.jpg",
                                        "cover_target_file": "1"}, "0")
    assert (root / "cp" / "b.jpg").read_bytes() == a
    # move
    api_code(img, "imagepro=copyfile", {"source_file": "D:/cp/a.jpg", "target_file": "D:/cp/moved.jpg",
                                        "delete_source_file": "1", "cover_target_file": "0"}, "0")
    assert (root / "cp" / "moved.jpg").read_bytes() == a
    assert not (root / "cp" / "a.jpg").exists()
    download(img, "cp/a.jpg", 404)
    assert download(img, "cp/moved.jpg").body == a
    # missing source
    api_code(img, "imagepro=copyfile", {**base, "source_file": "D:/cp/a.jpg", "target_file": "D:/cp/z.jpg"}, "8")
    assert not (root / "cp" / "z.jpg").exists()
    # a generated image can be copied by its /images path
    gen = store(img, b, None)["images"][0]["filepath"]
    api_code(img, "imagepro=copyfile", {**base, "source_file": gen, "target_file": "D:/cp/from-images.jpg"}, "0")
    assert (root / "cp" / "from-images.jpg").read_bytes() == b


# --------------------------------------------------------------------------- merge_images


def colour_png(size, colour) -> dict:
    im = Image.new("RGB", size, colour)
    out = io.BytesIO()
    im.save(out, "PNG")
    return {"base64": enc(out.getvalue()), "image_type": "png"}


RED = (230, 20, 20)
GREEN = (20, 200, 20)


def merged(r: dict, make_uuid: bool = False):
    assert r["code"] == "0", r
    image = r.get("image")
    assert isinstance(image, dict), r
    if make_uuid:
        assert UUID_RE.match(image.get("uuid", "")), image.keys()
        assert image.get("filepath") == f"/images/{image['uuid']}.jpg", image.get("filepath")
    else:
        assert "uuid" not in image and "filepath" not in image, image.keys()
    return jpeg_b64(image["base64"])


def is_green(px) -> bool:
    r, g, b = px[:3]
    return g > 150 and r < 90 and b < 90


def test_merge_images_sizes_and_alignment(img):
    srcs = [colour_png((100, 50), RED), colour_png((60, 30), GREEN)]
    _, info, im = merged(api_code(img, "imagepro=merge_images", {"source_images": srcs}, "0"))
    assert info.size == (100, 85), info  # vertical by default, margin 5
    assert is_green(im.getpixel((50, 70))) and not is_green(im.getpixel((5, 70))), "default align is not centre"
    _, info, _ = merged(api_code(img, "imagepro=merge_images", {"source_images": srcs, "merge_type": "0"}, "0"))
    assert info.size == (165, 50), info
    _, info, _ = merged(api_code(img, "imagepro=merge_images", {"source_images": srcs, "margin": "0"}, "0"))
    assert info.size == (100, 80), info
    _, _, left = merged(api_code(img, "imagepro=merge_images", {"source_images": srcs, "align": "0"}, "0"))
    assert is_green(left.getpixel((5, 70))) and not is_green(left.getpixel((95, 70)))
    _, _, right = merged(api_code(img, "imagepro=merge_images", {"source_images": srcs, "align": "2"}, "0"))
    assert is_green(right.getpixel((95, 70))) and not is_green(right.getpixel((5, 70)))


def test_merge_images_make_uuid_and_options(img):
    srcs = [colour_png((100, 50), RED), colour_png((60, 30), GREEN)]
    r = api_code(img, "imagepro=merge_images",
                 {"source_images": srcs, "make_uuid": "1", "image_storage_info": {"xdpi": "300", "ydpi": "300"}}, "0")
    data, info, _ = merged(r, make_uuid=True)
    assert info.jfif == (1, 300, 300)
    assert download(img, r["image"]["filepath"]).body == data


def test_merge_images_file_and_uuid_sources(img):
    red = colour_png((100, 50), RED)
    stored = store(img, b64(red["base64"]), "D:/merge/red.png", "png")
    assert stored["code"] == "0"
    green = make_image((60, 30), "JPEG", colour=GREEN)
    gen = process(img, {"base64": enc(green), "image_type": "jpg"}, {"cut_type": "0"}, make_uuid="1")
    srcs = [{"filepath": "D:\\merge\\red.png"}, {"uuid": gen["images"][0]["uuid"]}]
    _, info, _ = merged(api_code(img, "imagepro=merge_images", {"source_images": srcs, "merge_type": "0"}, "0"))
    assert info.size == (165, 50), info
    api_code(img, "imagepro=merge_images", {"source_images": [{"uuid": ZERO_UUID}, {"filepath": "D:/merge/red.png"}]},
             "8")
    api_code(img, "imagepro=merge_images", {"source_images": [{"filepath": "D:/../red.png"}]}, "12")


@pytest.mark.parametrize("body", [
    {"source_images": []},
    {"source_images": [colour_png((10, 10), RED)] * 2, "merge_type": "3"},
    {},
    {"source_images": [{"base64": "!!!notbase64", "image_type": "png"}]},
], ids=["empty", "merge_type-3", "missing", "bad-base64"])
def test_merge_images_errors(img, body):
    api_code(img, "imagepro=merge_images", body, "4")


# --------------------------------------------------------------------------- quota / retention / root


def test_quota_retention_and_custom_root(daemon, tmp_path):
    root = tmp_path / "custom-root"
    d = daemon({**SIM_CONFIG, "storage": {"root": str(root), "quota_bytes": 300000}}, sim=True)
    keep = make_image((32, 32), "JPEG")
    store(d, keep, "D:/docs/keep.jpg")
    assert (root / "docs" / "keep.jpg").read_bytes() == keep, "[storage] root not used"
    assert not (d.state_dir / "storage" / "docs").exists()
    noise = {"base64": enc(make_image((320, 260), "JPEG", noise=True, quality=95)), "image_type": "jpg"}
    made = []
    for _ in range(8):
        r = process(d, noise, {"cut_type": "0"}, make_uuid="1",
                    image_storage_info={"jpg_quality": "95"})
        data, _, _ = one(r, make_uuid=True)
        made.append((r["images"][0]["filepath"], len(data)))
    sizes = [n for _, n in made]
    # calibration of the test itself: 2-4 of these fit in the quota
    assert 60000 < min(sizes) and max(sizes) < 145000, f"generated image sizes {sizes} do not suit the quota"
    present = [d.get("/storage" + fp).status for fp, _ in made]
    assert present[-1] == 200 and present[-2] == 200, f"newest images deleted: {present}"
    assert present[0] == 404, f"oldest image kept over the quota: {present}"
    # the oldest go first: once an image is present, every newer one is too
    first = present.index(200)
    assert all(s == 200 for s in present[first:]) and all(s == 404 for s in present[:first]), present
    total = sum(len(v) for v in tree(root).values())
    assert total <= 300000, f"{total} bytes under the root with a quota of 300000"
    # ... and no more than needed: keeping the youngest deleted image as well would exceed the quota
    assert total + sizes[first - 1] > 300000, f"deleted more than needed: {present}, {total} bytes kept"
    # user files are not retention candidates
    assert (root / "docs" / "keep.jpg").read_bytes() == keep
    # a write that cannot fit even after deleting generated images: code 11, nothing left behind
    big = make_image((500, 400), "JPEG", noise=True, quality=100)
    assert len(big) > 300000
    r = store(d, big, "D:/docs/big.jpg", code="11")
    assert not (root / "docs" / "big.jpg").exists()
    assert (root / "docs" / "keep.jpg").read_bytes() == keep
    leftovers = [p for p in tree(root) if not (p == "docs/keep.jpg" or re.fullmatch(r"images/[0-9a-f-]{36}\.jpg", p))]
    assert not leftovers, f"stray files (temporaries?) under the root: {leftovers}"
    # and the daemon keeps working
    one(process(d, noise, {"cut_type": "0"}, make_uuid="1"), make_uuid=True)
