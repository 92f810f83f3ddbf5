"""The device's own pages and the endpoints behind them: the demo page at `/` (only when the
request names no endpoint), the files under `/ui/`, the OpenAPI document at `/openapi.json`,
diagnostics (`diag=status`, `diag=log`) and the image editor's session (`imagepro=start_editor`,
`editor=session`, `editor=save`, `imagepro=get_editor_images`). The pages themselves are driven
in a real browser by tests/browser."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from e2e_support import check_api_reply

UI_FILES = ["index.html", "editor.html", "style.css", "api.js", "demo.js", "editor.js", "openapi.json"]


@pytest.fixture(scope="module")
def d(module_daemon):
    return module_daemon({}, args=["--sim"])


def png_b64(size=(40, 30), color=(200, 30, 30)) -> str:
    b = io.BytesIO()
    Image.new("RGB", size, color).save(b, "PNG")
    return base64.b64encode(b.getvalue()).decode()


def jpeg_data_url(size=(20, 10), color=(0, 200, 0)) -> str:
    b = io.BytesIO()
    Image.new("RGB", size, color).save(b, "JPEG", quality=95)
    return "data:image/jpeg;base64," + base64.b64encode(b.getvalue()).decode()


# --------------------------------------------------------------------------- pages


def test_root_is_the_demo_page(d):
    r = d.get("/")
    assert r.status == 200
    assert r.content_type.startswith("text/html"), r.content_type
    assert b"<html" in r.body.lower() or b"<!doctype html" in r.body.lower()
    csp = r.header("content-security-policy") or ""
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, csp
    assert r.header("x-content-type-options") == "nosniff"


def test_query_form_still_answers_json_at_root(d):
    obj = check_api_reply(d.get("/?video=status"))
    assert obj["code"] == "0" and "video0" in obj
    # A first parameter that is no group is still an unknown endpoint, not the page.
    r = d.get("/?vidoe=status")
    assert r.status == 404 and r.json()["code"] == "8"


@pytest.mark.parametrize("name", UI_FILES)
def test_ui_files(d, name):
    r = d.get("/ui/" + name)
    assert r.status == 200, r
    assert r.body.strip(), f"{name} is empty"
    ext = name.rsplit(".", 1)[1]
    want = {"html": "text/html", "css": "text/css", "js": "text/javascript", "json": "application/json"}[ext]
    assert r.content_type.startswith(want), r.content_type


@pytest.mark.parametrize("path", ["/ui/nope.html", "/ui/../main.rs", "/ui/%2e%2e/Cargo.toml", "/ui/", "/ui/index.html/x"])
def test_ui_unknown_files(d, path):
    r = d.get(path)
    assert r.status == 404, r
    assert r.json()["code"] == "8"


def test_openapi_document(d):
    r = d.get("/openapi.json")
    assert r.status == 200 and r.content_type.startswith("application/json")
    doc = json.loads(r.body)
    assert doc["openapi"].startswith("3.1")
    assert r.body == d.get("/ui/openapi.json").body


def test_pages_from_another_origin(d):
    """CORS: a page on the host PC may fetch the pages and the API."""
    r = d.get("/", headers={"Origin": "http://127.0.0.1:8080"})
    assert r.status == 200
    assert r.header("access-control-allow-origin") in ("*", "http://127.0.0.1:8080")


# --------------------------------------------------------------------------- diagnostics


def test_diag_status(d):
    r = d.api("/diag=status")
    assert r["code"] == "0", r
    assert r["version"] and isinstance(r["uptime_seconds"], int)
    classes = {c["class"]: c for c in r["classes"]}
    for c in ("cameras", "idcard", "smartcards", "magcard", "signpad"):
        assert classes[c]["backend"] == "sim" and classes[c]["state"] == "configured", classes[c]
    assert classes["idphoto"]["state"] == "disabled"
    for c in ("fingerprint", "recording", "ocr"):
        assert classes[c]["state"] == "not built", classes[c]
    cams = {c["name"]: c for c in r["cameras"]}
    assert cams["video0"]["camidx"] == "0" and cams["video0"]["state"] in ("ready", "streaming")
    assert cams["videoIR1"]["state"] == "absent"
    assert r["update"]["state"] == "idle" and r["update"]["progress"] == 0


def test_diag_status_without_devices(daemon):
    x = daemon({"camera": {"backend": "none"}, "pcsc": {"backend": "none"}})
    r = x.api("/diag=status")
    classes = {c["class"]: c for c in r["classes"]}
    assert classes["cameras"]["backend"] == "none" and classes["cameras"]["state"] == "disabled"
    assert classes["idcard"]["backend"] == "none" and "idcard.port" in classes["idcard"]["detail"]
    assert all(c["state"] == "absent" for c in r["cameras"])


def test_diag_log(d):
    d.api("/diag=log")
    r = d.api("/diag=log", {"lines": 5})
    assert r["code"] == "0" and 1 <= len(r["lines"]) <= 5, r
    for line in r["lines"]:
        assert set(line) == {"time", "level", "target", "message"}
        assert line["level"] in ("ERROR", "WARN", "INFO", "DEBUG", "TRACE")
    full = d.api("/diag=log", {"lines": 100000})  # clamped to what is kept
    assert full["code"] == "0" and len(full["lines"]) <= 500
    assert any("listening" in l["message"] for l in d.api("/diag=log", {"lines": 500})["lines"])
    assert d.api("/diag=log", {"lines": "many"})["code"] == "4"


# --------------------------------------------------------------------------- image editor


def test_editor_round_trip(d):
    g = d.api("/video=grabimage", {"camidx": "0", "filepath": "D:/edit/page one.jpg"})
    assert g["code"] == "0", g
    s = d.api("/imagepro=start_editor", {"sources_images": [
        {"filepath": "D:/edit/page one.jpg"},
        {"base64": png_b64(), "image_type": "png"},
    ]})
    assert s["code"] == "0", s
    assert s["image_count"] == 2 and s["editor_url"] == f"/ui/editor.html?session={s['session']}"
    assert d.api("/imagepro=get_editor_images") == {"code": "0", "message": "", "image_count": 0, "images": []}

    info = d.api("/editor=session", {"session": s["session"]})
    assert info["code"] == "0" and len(info["images"]) == 2
    first, second = info["images"]
    assert first["filepath"] == "D:/edit/page one.jpg" and first["saved"] == ""
    assert first["url"] == "/storage/D%3A/edit/page%20one.jpg"
    assert second["filepath"].endswith("source-1.png")
    for im in info["images"]:  # the editor page loads them from these addresses
        r = d.get(im["url"])
        assert r.status == 200 and r.content_type.startswith("image/"), (im, r)

    saved = d.api("/editor=save", {"session": s["session"], "index": 0, "base64": jpeg_data_url()})
    assert saved == {"code": "0", "message": "", "filepath": "D:/edit/page one_edited.jpg"}
    # Saving again replaces the same edit; the source is untouched.
    again = d.api("/editor=save", {"session": s["session"], "index": 0, "base64": jpeg_data_url((30, 12))})
    assert again["filepath"] == saved["filepath"]
    out = Image.open(io.BytesIO(d.get("/storage/D%3A/edit/page%20one_edited.jpg").body))
    assert out.size == (30, 12)
    src = Image.open(io.BytesIO(d.get(first["url"]).body))
    assert src.size != (30, 12)

    got = d.api("/imagepro=get_editor_images")
    assert got == {"code": "0", "message": "", "image_count": 1,
                   "images": [{"index": 0, "filepath": "D:/edit/page one_edited.jpg"}]}
    assert d.api("/editor=session", {"session": s["session"]})["images"][0]["saved"] == saved["filepath"]


def test_editor_never_overwrites_other_files(d):
    d.api("/imagepro=storage_image", {"source_image": {"base64": png_b64()}, "output_image": {"filepath": "/e2/a.png"}})
    # Somebody's own file has the name an edit would take.
    d.api("/imagepro=storage_image", {"source_image": {"base64": png_b64(color=(1, 2, 3))},
                                      "output_image": {"filepath": "/e2/a_edited.jpg"}})
    before = d.get("/storage/e2/a_edited.jpg").body
    s = d.api("/imagepro=start_editor", {"source_images": [{"filepath": "/e2/a.png"}]})
    assert s["code"] == "0", s
    r = d.api("/editor=save", {"session": s["session"], "index": 0, "base64": jpeg_data_url()})
    assert r["code"] == "0" and r["filepath"] == "/e2/a_edited2.jpg", r
    assert d.get("/storage/e2/a_edited.jpg").body == before


def test_editor_new_session_replaces_the_old(d):
    s1 = d.api("/imagepro=start_editor", {"sources_images": [{"base64": png_b64()}]})
    s2 = d.api("/imagepro=start_editor", {"sources_images": [{"base64": png_b64()}]})
    assert s1["session"] != s2["session"]
    r = d.api("/editor=session", {"session": s1["session"]})
    assert r["code"] == "8", r
    r = d.api("/editor=save", {"session": s1["session"], "index": 0, "base64": jpeg_data_url()})
    assert r["code"] == "8", r
    assert d.api("/imagepro=get_editor_images")["image_count"] == 0


@pytest.mark.parametrize("body,code", [
    ({}, "4"),
    ({"sources_images": []}, "4"),
    ({"sources_images": "x"}, "4"),
    ({"sources_images": [1]}, "4"),
    ({"sources_images": [{}]}, "4"),
    ({"sources_images": [{"filepath": "/nope/none.jpg"}]}, "8"),
    ({"sources_images": [{"filepath": "../../etc/passwd"}]}, "12"),
    ({"sources_images": [{"base64": base64.b64encode(b"not an image").decode()}]}, None),
    ({"sources_images": [{"base64": png_b64()}] * 51}, "4"),
])
def test_start_editor_bad_input(d, body, code):
    r = d.api("/imagepro=start_editor", body)
    assert r["code"] != "0" and r["message"], r
    if code:
        assert r["code"] == code, r


def test_editor_save_bad_input(d):
    s = d.api("/imagepro=start_editor", {"sources_images": [{"base64": png_b64()}]})
    sid = s["session"]
    for body, code in [
        ({"index": 0, "base64": jpeg_data_url()}, "4"),
        ({"session": sid, "base64": jpeg_data_url()}, "4"),
        ({"session": sid, "index": 0}, "4"),
        ({"session": sid, "index": 1, "base64": jpeg_data_url()}, "4"),
        ({"session": sid, "index": -1, "base64": jpeg_data_url()}, "4"),
        ({"session": sid, "index": 0, "base64": "!!!"}, None),
        ({"session": sid, "index": 0, "base64": base64.b64encode(b"GIF89a" + b"\0" * 40).decode()}, None),
    ]:
        r = d.api("/editor=save", body)
        assert r["code"] != "0" and r["message"], (body, r)
        if code:
            assert r["code"] == code, (body, r)
    assert d.api("/imagepro=get_editor_images")["image_count"] == 0
    assert d.alive()
