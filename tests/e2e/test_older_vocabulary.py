"""The older vocabulary integrator pages still call (README "Older vocabulary"): device=isconnect/
getresolution/setresolution/getequipmenttype, camera=state, pdf=addimage/save/clear, barcode=get,
and the older names not built yet, which answer "9".

Requests are sent the way those pages send them: POST, a JSON object of string values, sometimes
no body at all, sometimes the JSON followed by `:""` under Content-Type
application/x-www-form-urlencoded (a jQuery habit).

Daemons (all --sim): `old` is shared by the read-only tests and the PDF tests (its document camera
shows a blank page image, its `[device] device_type` is "TEST-MODEL"); `codes` shows a page with a
QR code and an EAN-13 for barcode=get; tests that change the capture format or size start their
own daemon. The PDF queue is kept per client address, so every PDF test starts with pdf=clear.
"""

import io
import json
import time

import numpy as np
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from e2e_support import MjpegStream, api_code, b64, check_api_reply, enc, jpeg_size, store_image, wait_for

DEVICE_TYPE = "TEST-MODEL"
SIM_CONFIG = {"camera": {"linger_seconds": 1, "warmup_frames": 0}}
DOC_MJPG = "3264*2448|2592*1944|2048*1536|1600*1200|1280*960|640*480"
DOC_YUY2 = "1280*960|640*480"
FORM = "application/x-www-form-urlencoded"
TIMEOUT = 60.0

QR_TEXT = "CameraService older barcode=get 测试 42"
EAN_TEXT = "6901234567892"  # 690123456789 + check digit 2


# --------------------------------------------------------------------------- pictures and helpers


def jpeg(size, colour, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def code_image(text: str, fmt, scale: int) -> Image.Image:
    bc = zxingcpp.create_barcode(text, fmt)
    return Image.fromarray(np.asarray(bc.to_image(scale=scale))).convert("L")


def call(d, endpoint: str, body=None, code: str = "0", timeout: float = TIMEOUT) -> dict:
    """POST `body` (a dict as JSON; None = no body at all) and require `code`; a failure carries a
    message."""
    if body is None:
        r = check_api_reply(d.post_raw("/" + endpoint, b"", None, timeout=timeout))
    else:
        r = check_api_reply(d.post("/" + endpoint, body, timeout=timeout))
    assert r["code"] == code, f"{endpoint} {json.dumps(body, ensure_ascii=False)[:300]}: {r!r:.600}"
    if code != "0":
        assert isinstance(r.get("message"), str) and r["message"], r
    return r


def form_call(d, endpoint: str, body: dict) -> dict:
    """POST the JSON followed by `:""`, as application/x-www-form-urlencoded."""
    raw = json.dumps(body, ensure_ascii=False).encode() + b':""'
    return check_api_reply(d.post_raw("/" + endpoint, raw, FORM))


def param(d, kind: str, camidx: str = "0") -> dict:
    return call(d, "param=get", {"type": kind, "camidx": camidx})


def current_resolution(d, camidx: str = "0") -> str:
    return param(d, "current_resolution", camidx)["resolution"]


def video_type(d, camidx: str = "0") -> str:
    return param(d, "video_type", camidx)["video_type"]


def areas_descending(listing: str) -> bool:
    sizes = [tuple(int(x) for x in s.split("*")) for s in listing.split("|")]
    areas = [w * h for w, h in sizes]
    return areas == sorted(areas, reverse=True)


def camera_states(d) -> list[str]:
    r = call(d, "camera=state", {})
    assert "data" not in r, f"camera=state must not carry data: {r}"
    assert isinstance(r.get("state"), str), r
    states = r["state"].split(",")
    assert len(states) == 5 and set(states) <= {"opened", "closed"}, r
    return states


def pdf_pages(data: bytes) -> list[tuple[float, float]]:
    """(width, height) of every page, read by pypdf (strict)."""
    reader = PdfReader(io.BytesIO(data), strict=True)
    return [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages]


def page_colours(data: bytes) -> list[tuple[int, int, int]]:
    """The mean RGB of the (one) image on each page."""
    out = []
    for page in PdfReader(io.BytesIO(data)).pages:
        imgs = list(page.images)
        assert len(imgs) == 1, f"page has {len(imgs)} images"
        im = imgs[0].image.convert("RGB")
        arr = np.asarray(im, dtype=np.float64)
        out.append(tuple(int(round(v)) for v in arr.reshape(-1, 3).mean(axis=0)))
    return out


def close_to(colour, want, tol: int = 12) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(colour, want))


def saved_pdf(r: dict) -> bytes:
    data = b64(r.get("data"))
    assert data.startswith(b"%PDF-"), data[:20]
    assert isinstance(r.get("filepath"), str) and r["filepath"].startswith("/"), r.get("filepath")
    assert r["filepath"].lower().endswith(".pdf"), r["filepath"]
    return data


def download(d, path: str) -> bytes:
    got = d.get("/storage/" + path.lstrip("/"))
    assert got.status == 200, f"GET /storage/{path.lstrip('/')}: {got!r}"
    return got.body


RED, BLUE, GREEN = (220, 30, 30), (30, 40, 210), (30, 180, 60)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def blank_page(tmp_path_factory):
    p = tmp_path_factory.mktemp("older") / "blank.png"
    p.write_bytes(png(Image.new("RGB", (1280, 960), (250, 250, 248))))
    return p


@pytest.fixture(scope="module")
def old(module_daemon, blank_page):
    cfg = {
        "camera": dict(SIM_CONFIG["camera"], sim_document_image=str(blank_page)),
        "device": {"device_type": DEVICE_TYPE},
    }
    d = module_daemon(cfg, sim=True)
    r = d.api("param=set", {"resolution": {"width": "1280", "height": "960"}, "camidx": "0"})
    assert r["code"] == "0", r
    return d


@pytest.fixture(scope="module")
def codes(module_daemon, tmp_path_factory):
    canvas = Image.new("L", (1280, 960), 255)
    canvas.paste(code_image(QR_TEXT, zxingcpp.QRCode, 6), (120, 240))
    canvas.paste(code_image(EAN_TEXT, zxingcpp.EAN13, 4), (680, 400))
    p = tmp_path_factory.mktemp("older-codes") / "codes.png"
    p.write_bytes(png(canvas))
    cfg = {"camera": dict(SIM_CONFIG["camera"], sim_document_image=str(p))}
    d = module_daemon(cfg, sim=True)
    r = d.api("param=set", {"resolution": {"width": "1280", "height": "960"}, "camidx": "0"})
    assert r["code"] == "0", r
    return d


@pytest.fixture
def fresh(daemon):
    """A --sim daemon of its own (for tests that change the capture format or size)."""
    return daemon(SIM_CONFIG, sim=True)


@pytest.fixture
def pdf(old):
    """`old` with this client's PDF queue empty, and emptied again afterwards."""
    call(old, "pdf=clear", {})
    yield old
    call(old, "pdf=clear", {})


# --------------------------------------------------------------------------- device=isconnect


@pytest.mark.parametrize("how", ["no-body", "empty-body-form", "empty-object", "form-trailer"])
def test_isconnect(old, how):
    if how == "no-body":
        r = check_api_reply(old.post_raw("/device=isconnect", b"", None))
    elif how == "empty-body-form":
        r = check_api_reply(old.post_raw("/device=isconnect", b"", FORM))
    elif how == "empty-object":
        r = check_api_reply(old.post("/device=isconnect", {}))
    else:
        r = form_call(old, "device=isconnect", {})
    assert r["code"] == "0", r
    assert r.get("data") == "2", f"data must be the string \"2\" (two --sim cameras): {r}"


# --------------------------------------------------------------------------- device=getresolution


def test_getresolution_mjpg(old):
    r = call(old, "device=getresolution", {"camidx": "0", "mode": "1"})
    data = r.get("data")
    assert isinstance(data, str), r
    assert "3264*2448" in data.split("|") and "640*480" in data.split("|"), r
    assert data.split("|")[0] == "3264*2448", r
    assert areas_descending(data), r
    assert data == DOC_MJPG, r


def test_getresolution_yuy2(old):
    r = call(old, "device=getresolution", {"camidx": "0", "mode": "0"})
    assert r.get("data") == DOC_YUY2, r


def test_getresolution_current_format(old):
    assert video_type(old) == "MJPG"
    r = call(old, "device=getresolution", {"camidx": "0"})
    assert r.get("data") == DOC_MJPG, r
    r = call(old, "device=getresolution", {"camidx": "0", "mode": ""})
    assert r.get("data") == DOC_MJPG, r


def test_getresolution_portrait_camera(old):
    r = call(old, "device=getresolution", {"camidx": "1", "mode": "1"})
    assert isinstance(r.get("data"), str) and r["data"], r
    assert all(s.count("*") == 1 for s in r["data"].split("|")), r
    assert areas_descending(r["data"]), r


def test_getresolution_bad_mode(old):
    r = call(old, "device=getresolution", {"camidx": "0", "mode": "7"}, code="4")
    assert "mode" in r["message"], r


@pytest.mark.parametrize("camidx", ["2", "3", "4"])
def test_getresolution_absent_camera(old, camidx):
    call(old, "device=getresolution", {"camidx": camidx, "mode": "1"}, code="2")


def test_getresolution_unknown_camidx(old):
    r = call(old, "device=getresolution", {"camidx": "9", "mode": "1"}, code="4")
    assert "camidx" in r["message"], r


def test_getresolution_form_trailer(old):
    r = form_call(old, "device=getresolution", {"camidx": "0", "mode": "0"})
    assert r["code"] == "0", r
    assert r.get("data") == DOC_YUY2, r


# --------------------------------------------------------------------------- device=setresolution


def test_setresolution_mjpg(fresh):
    d = fresh
    assert current_resolution(d) == "3264x2448"
    r = call(d, "device=setresolution", {"camidx": "0", "mode": "1", "width": "640", "height": "480"})
    assert r.get("data") == "640*480", r
    assert current_resolution(d) == "640x480"
    assert video_type(d) == "MJPG"
    # and back
    r = call(d, "device=setresolution", {"camidx": "0", "mode": "1", "width": "3264", "height": "2448"})
    assert r.get("data") == "3264*2448", r
    assert current_resolution(d) == "3264x2448"


def test_setresolution_yuy2_switches_format(fresh):
    d = fresh
    r = call(d, "device=setresolution", {"camidx": "0", "mode": "0", "width": "640", "height": "480"})
    assert r.get("data") == "640*480", r
    assert video_type(d) == "YUY2"
    assert current_resolution(d) == "640x480"
    # mode absent now means the format in use
    assert call(d, "device=getresolution", {"camidx": "0"}).get("data") == DOC_YUY2
    r = call(d, "device=setresolution", {"camidx": "0", "mode": "1", "width": "1280", "height": "960"})
    assert r.get("data") == "1280*960", r
    assert video_type(d) == "MJPG"
    assert current_resolution(d) == "1280x960"


def test_setresolution_form_trailer(fresh):
    d = fresh
    r = form_call(d, "device=setresolution", {"camidx": "0", "mode": "1", "width": "1600", "height": "1200"})
    assert r["code"] == "0", r
    assert r.get("data") == "1600*1200", r
    assert current_resolution(d) == "1600x1200"


@pytest.mark.parametrize("body,word", [
    ({"camidx": "0", "mode": "0", "width": "3264", "height": "2448"}, None),  # YUY2 lacks it
    ({"camidx": "0", "mode": "1", "width": "1234", "height": "567"}, None),  # MJPG lacks it
    ({"camidx": "0", "mode": "1", "height": "480"}, "width"),
    ({"camidx": "0", "mode": "1", "width": "640"}, "height"),
    ({"camidx": "0", "mode": "1", "width": "wide", "height": "480"}, "width"),
    ({"camidx": "0", "mode": "1", "width": "0", "height": "480"}, "width"),
    ({"camidx": "0", "mode": "5", "width": "640", "height": "480"}, "mode"),
], ids=["yuy2-lacks-size", "mjpg-lacks-size", "no-width", "no-height", "width-text", "width-zero",
        "bad-mode"])
def test_setresolution_refused_changes_nothing(fresh, body, word):
    d = fresh
    r = call(d, "device=setresolution", body, code="4")
    if word:
        assert word in r["message"], r
    assert video_type(d) == "MJPG", f"a refused setresolution {body} changed the format"
    assert current_resolution(d) == "3264x2448", f"a refused setresolution {body} changed the size"


def test_setresolution_absent_camera(old):
    call(old, "device=setresolution", {"camidx": "2", "mode": "1", "width": "640", "height": "480"}, code="2")


# --------------------------------------------------------------------------- device=getequipmenttype


@pytest.mark.parametrize("body", [None, {}])
def test_getequipmenttype(old, body):
    r = call(old, "device=getequipmenttype", body)
    assert r.get("data") == DEVICE_TYPE, r


def test_getequipmenttype_default_is_a_string(default_daemon):
    r = call(default_daemon, "device=getequipmenttype", {})
    assert isinstance(r.get("data"), str), r


# --------------------------------------------------------------------------- camera=state


def test_camera_state_open_close(old):
    wait_for(lambda: camera_states(old) == ["closed"] * 5, timeout=5.0, what="every camera closed")
    opened = False
    try:
        call(old, "video=open", {"camidx": "0"})
        opened = True
        states = camera_states(old)
        assert states[0] == "opened", states
        assert states[1:] == ["closed"] * 4, states
        call(old, "video=close", {"camidx": "0"})
        opened = False
        wait_for(lambda: camera_states(old)[0] == "closed", timeout=3.0, what="camera 0 closed")
        assert camera_states(old) == ["closed"] * 5
    finally:
        if opened:
            old.post("/video=close", {"camidx": "0"})


def test_camera_state_no_body(old):
    r = check_api_reply(old.post_raw("/camera=state", b"", None))
    assert r["code"] == "0", r
    assert "data" not in r, r
    assert len(r["state"].split(",")) == 5, r


# --------------------------------------------------------------------------- pdf=addimage/save/clear


def test_pdf_two_base64_images(pdf):
    d = pdf
    r = call(d, "pdf=addimage", {"ImageBase64": enc(jpeg((400, 300), RED))})
    assert r.get("data") == "1", r
    r = call(d, "pdf=addimage", {"ImageBase64": enc(jpeg((300, 400), BLUE))})
    assert r.get("data") == "2", r
    r = call(d, "pdf=save", {"PdfPath": "D://123.pdf"})
    data = saved_pdf(r)
    pages = pdf_pages(data)
    assert len(pages) == 2, pages
    assert pages[0][0] > pages[0][1] and pages[1][0] < pages[1][1], f"page order/orientation: {pages}"
    colours = page_colours(data)
    assert close_to(colours[0], RED) and close_to(colours[1], BLUE), colours
    # a PC path means nothing here: a generated name in the storage root, downloadable
    assert "123" not in r["filepath"] and ":" not in r["filepath"], r["filepath"]
    assert download(d, r["filepath"]) == data
    # the queue stays until pdf=clear
    r2 = call(d, "pdf=save", {})
    assert len(pdf_pages(saved_pdf(r2))) == 2
    assert r2["filepath"] != r["filepath"], "two saves without a path share a name"


def test_pdf_save_at_storage_path(pdf):
    d = pdf
    call(d, "pdf=addimage", {"ImageBase64": enc(jpeg((320, 240), GREEN))})
    r = call(d, "pdf=save", {"PdfPath": "/docs/mine.pdf"})
    data = saved_pdf(r)
    assert r["filepath"] == "/docs/mine.pdf", r["filepath"]
    assert download(d, "/docs/mine.pdf") == data
    assert len(pdf_pages(data)) == 1
    # saving again at the same path replaces the file
    call(d, "pdf=addimage", {"ImageBase64": enc(jpeg((240, 320), RED))})
    data2 = saved_pdf(call(d, "pdf=save", {"PdfPath": "/docs/mine.pdf"}))
    assert len(pdf_pages(data2)) == 2
    assert download(d, "/docs/mine.pdf") == data2


def test_pdf_image_path(pdf):
    d = pdf
    named = store_image(d, jpeg((500, 350), BLUE), "/pics/older-page.jpg")["images"][0]["filepath"]
    generated = store_image(d, jpeg((350, 500), GREEN), None)["images"][0]["filepath"]
    r = call(d, "pdf=addimage", {"ImagePath": named})
    assert r.get("data") == "1", r
    r = call(d, "pdf=addimage", {"ImagePath": generated})
    assert r.get("data") == "2", r
    call(d, "pdf=addimage", {"ImageBase64": enc(jpeg((350, 500), RED))})
    data = saved_pdf(call(d, "pdf=save", {"PdfPath": "/docs/from-path.pdf"}))
    pages = pdf_pages(data)
    assert len(pages) == 3, pages
    assert pages[0][0] > pages[0][1] and pages[1][0] < pages[1][1], pages
    colours = page_colours(data)
    assert [close_to(c, w) for c, w in zip(colours, (BLUE, GREEN, RED))] == [True] * 3, colours


def test_pdf_image_path_missing_file(pdf):
    d = pdf
    r = check_api_reply(d.post("/pdf=addimage", {"ImagePath": "/pics/no-such-file.jpg"}))
    assert r["code"] != "0" and r.get("message"), r
    call(d, "pdf=save", {}, code="4")  # nothing was queued


def test_pdf_clear_then_save_is_empty(pdf):
    d = pdf
    call(d, "pdf=addimage", {"ImageBase64": enc(jpeg((200, 200), RED))})
    call(d, "pdf=clear", None)
    r = call(d, "pdf=save", {"PdfPath": "/docs/empty.pdf"}, code="4")
    assert d.get("/storage/docs/empty.pdf").status == 404, "an empty queue stored a file"
    r = call(d, "pdf=save", None, code="4")
    assert "pdf=addimage" in r["message"] or "PDF" in r["message"], r


@pytest.mark.parametrize("body", [{}, {"ImageBase64": "", "ImagePath": ""}, {"PdfPath": "/x.pdf"}],
                         ids=["empty", "empty-strings", "other-key"])
def test_pdf_addimage_without_image(pdf, body):
    call(pdf, "pdf=addimage", body, code="4")
    call(pdf, "pdf=save", {}, code="4")


def test_pdf_addimage_not_an_image_keeps_queue(pdf):
    d = pdf
    call(d, "pdf=addimage", {"ImageBase64": enc(jpeg((400, 300), RED))})
    call(d, "pdf=addimage", {"ImageBase64": enc(jpeg((300, 400), GREEN))})
    for junk in (b"this is not a picture at all, just some text bytes" * 4, b"%PDF-1.4\n%junk\n",
                 b"\xff\xd8\xff\xe0 truncated"):
        r = check_api_reply(d.post("/pdf=addimage", {"ImageBase64": enc(junk)}))
        assert r["code"] != "0", f"non-image bytes {junk[:20]!r} were queued: {r}"
        assert r.get("message"), r
    r = check_api_reply(d.post("/pdf=addimage", {"ImageBase64": "not base64 !!!"}))
    assert r["code"] != "0", r
    data = saved_pdf(call(d, "pdf=save", {}))
    assert len(pdf_pages(data)) == 2
    colours = page_colours(data)
    assert close_to(colours[0], RED) and close_to(colours[1], GREEN), colours
    # the count goes on from the earlier pages
    assert call(d, "pdf=addimage", {"ImageBase64": enc(jpeg((64, 64), BLUE))}).get("data") == "3"


def test_pdf_form_trailer(pdf):
    d = pdf
    r = form_call(d, "pdf=addimage", {"ImageBase64": enc(jpeg((200, 150), RED))})
    assert r["code"] == "0" and r.get("data") == "1", r
    r = form_call(d, "pdf=save", {"PdfPath": "D://123.pdf"})
    assert r["code"] == "0", r
    assert len(pdf_pages(saved_pdf(r))) == 1


# --------------------------------------------------------------------------- barcode=get


def test_barcode_get_reads_camera(codes):
    t0 = time.monotonic()
    r = call(codes, "barcode=get", {"time": "3"})
    assert time.monotonic() - t0 < 15.0
    data = r.get("data")
    assert isinstance(data, list) and data, r
    for item in data:
        assert isinstance(item, dict) and set(item) == {"barcodedata"}, r
        assert isinstance(item["barcodedata"], str), r
    assert sorted(item["barcodedata"] for item in data) == sorted([QR_TEXT, EAN_TEXT]), r


def test_barcode_get_form_trailer(codes):
    r = form_call(codes, "barcode=get", {"time": "3"})
    assert r["code"] == "0", r
    assert {item["barcodedata"] for item in r["data"]} == {QR_TEXT, EAN_TEXT}, r


def test_barcode_get_nothing_in_time(old):
    t0 = time.monotonic()
    r = call(old, "barcode=get", {"time": "1"}, code="3")
    took = time.monotonic() - t0
    assert took < 5.0, f"barcode=get time 1 took {took:.1f}s"
    assert "data" not in r or not r["data"], r


def test_barcode_get_bad_time(old):
    r = check_api_reply(old.post("/barcode=get", {"time": "soon"}))
    assert r["code"] == "4", r
    assert "time" in r.get("message", ""), r


# --------------------------------------------------------------------------- tolerance


def test_param_get_with_form_trailer(old):
    r = form_call(old, "param=get", {"camidx": "0", "type": "resolution"})
    assert r["code"] == "0", r
    assert "resolution" in r, r


# --------------------------------------------------------------------------- video=rotate


def preview_frame_size(d, camidx: str = "0") -> tuple[int, int]:
    """The size of a preview frame delivered after the rotation took effect."""
    with MjpegStream(d.port, f"/video=stream&camidx={camidx}&tid={time.time()}", timeout=20) as s:
        for _ in range(3):  # frames from before a restart may still be on their way
            size = jpeg_size(s.frame(20).body)
        return size


def test_rotate_turns_the_preview_and_accumulates(fresh):
    d = fresh
    assert preview_frame_size(d) == (640, 480)
    r = call(d, "video=rotate", {"camidx": "0", "rotate": "90"})  # the pages' "rotate left"
    assert r["data"] == "90", r
    assert param(d, "preview_resolution")["preview_resolution"] == {"width": "480", "height": "640"}
    assert preview_frame_size(d) == (480, 640)
    assert call(d, "video=rotate", {"camidx": "0", "rotate": "90"})["data"] == "180"
    assert preview_frame_size(d) == (640, 480)
    assert call(d, "video=rotate", {"camidx": "0", "rotate": "-90"})["data"] == "90"
    assert call(d, "video=rotate", {"camidx": "0", "rotate": "270"})["data"] == "0"  # "rotate right"
    assert preview_frame_size(d) == (640, 480)
    # A grab is the camera's frame, not the preview's rotation.
    g = call(d, "video=grabimage", {"camidx": "0", "image_process_info": {"cut_type": "0"}})
    assert g["code"] == "0"


def test_rotate_while_streaming_keeps_the_stream(fresh):
    d = fresh
    with MjpegStream(d.port, f"/video=stream&camidx=0&tid={time.time()}", timeout=20) as s:
        assert jpeg_size(s.frame(20).body) == (640, 480)
        call(d, "video=rotate", {"camidx": "0", "rotate": "-90"})
        sizes = [jpeg_size(s.frame(20).body) for _ in range(20)]
        assert sizes[-1] == (480, 640), sizes
    call(d, "video=rotate", {"camidx": "0", "rotate": "90"})


@pytest.mark.parametrize("body,code,word", [
    ({"camidx": "0", "rotate": "45"}, "4", "rotate"),
    ({"camidx": "0"}, "4", "rotate"),
    ({"camidx": "0", "rotate": "left"}, "4", "rotate"),
    ({"camidx": "2", "rotate": "90"}, "2", None),
    ({"camidx": "9", "rotate": "90"}, "4", "camidx"),
])
def test_rotate_refused(old, body, code, word):
    r = call(old, "video=rotate", body, code=code)
    if word:
        assert word in r["message"], r
    assert param(old, "preview_resolution")["preview_resolution"] == {"width": "640", "height": "480"}


# --------------------------------------------------------------------------- not built yet


@pytest.mark.parametrize("endpoint", [
    "video=autoflat", "video=ocr", "biokey=get", "comparison=imgdata",
    "faceLive=start", "device=a3a4switch", "serialport=initserialport",
])
def test_not_built_yet(old, endpoint):
    for body in ({"camidx": "0"}, None):
        r = call(old, endpoint, body, code="9")
        assert r["message"].strip(), r
