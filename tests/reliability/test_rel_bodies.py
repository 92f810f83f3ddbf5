"""Rows 2 and 12 of issue 13: request bodies a page can send.

2. A ~47 MiB JSON body (under the 48 MiB body limit) of 24 million values, {"a":[0,0,...]}, to
   several endpoints and [[],[],...] to imagepro=merge2pdf, four at once: code "10" (more than
   100000 values) or "1", and the daemon's RSS stays bounded (no tree is built).
12. A hostile corpus on every endpoint of tests/e2e/endpoints.txt, GET and POST: huge, negative,
   NaN-like and 1e308 numbers for every numeric key the vendor uses, deep JSON (depth 10000), wide
   JSON, 1 MB strings, bad base64, non-image base64, images whose header claims billions of pixels,
   nulls, arrays where objects are expected, path escapes aimed at the canary files: every reply
   is JSON with a string code (HTTP 200/4xx; video=stream may answer a multipart stream), and
   the daemon stays alive.
"""

import concurrent.futures
import http.client
import json
import random
import struct
import time
import urllib.parse
from collections import Counter, defaultdict

from e2e_support import LOOPBACK, STREAM_ENDPOINTS, load_endpoints
from reliability_support import (
    MIB,
    api_json,
    b64s,
    codes_of,
    hwm_mib,
    png_bytes,
    png_header_only,
    post_streaming,
    rss_mib,
    run_threads,
    uniform_grey_jpeg,
)

# --------------------------------------------------------------------------- row 2

BODY_BYTES = 47 * MIB


def flat_numbers(size: int) -> bytes:
    n = (size - len(b'{"a":[0]}')) // 2
    return b'{"a":[' + b"0," * n + b"0]}"


def empty_arrays(size: int) -> bytes:
    n = (size - 4) // 3
    return b"[" + b"[]," * n + b"[]]"


def test_row02_json_bodies_of_millions_of_values(start):
    d, g = start()
    flat = flat_numbers(BODY_BYTES)
    nested = empty_arrays(BODY_BYTES)
    assert len(flat) <= BODY_BYTES and len(nested) <= BODY_BYTES

    def send(target, body):
        def run():
            t0 = time.monotonic()
            status, _, data, how = post_streaming(d.port, target, body, timeout=120)
            secs = time.monotonic() - t0
            if status is None:
                return f"no reply ({how})", secs
            try:
                code = json.loads(data)["code"]
            except (ValueError, KeyError, TypeError):
                return f"HTTP {status} not JSON: {data[:80]!r}", secs
            return f"HTTP {status} code {code}", secs
        return run

    rounds = [
        ("flat 47 MiB {\"a\":[0,...]}", [send(f"/{e}", flat) for e in
                                         ("param=set", "imagepro=process", "video=grabimage", "imagepro=storage_image")]),
        ("flat 47 MiB {\"a\":[0,...]}", [send(f"/{e}", flat) for e in
                                         ("imagepro=merge_images", "imagepro=barcode", "card=idcard", "param=get")]),
        ("47 MiB [[],[],...] to merge2pdf", [send("/imagepro=merge2pdf", nested)] * 4),
    ]
    bad = []
    for label, fns in rounds:
        t0 = time.monotonic()
        results = run_threads(fns, 180)
        wall = time.monotonic() - t0
        outcomes = [r[0] if isinstance(r, tuple) else repr(r) for r in results]
        g.note(f"{label}, 4 at once: {dict(Counter(outcomes))} in {wall:.1f}s; RSS now "
               f"{rss_mib(g.pid):.0f} MiB, peak so far {hwm_mib(g.pid):.0f} MiB")
        bad += [o for o in outcomes if o not in ("HTTP 200 code 10", "HTTP 200 code 1")]
        assert d.alive(), f"daemon died during: {label}"
    assert not bad, f"expected HTTP 200 code \"10\" (or \"1\"): {dict(Counter(bad))}"
    g.finish()


# --------------------------------------------------------------------------- row 12: the corpus

ENDPOINTS = load_endpoints()
ARRAY_ENDPOINTS = {"imagepro=merge2pdf", "imagepro=merge2tif", "imagepro=merge2ofd"}

NUM_KEYS = [
    "camidx", "width", "height", "rotate", "fixed_width", "fixed_height", "xdpi", "ydpi", "jpg_quality",
    "jquality", "quality", "max_file_size", "margin", "fontsize", "transparency", "pos", "cut_type",
    "color_type", "merge_type", "align", "framerate", "index", "value", "left", "top", "right", "bottom",
    "angle", "x", "y", "min", "max", "ColorMode", "colormode", "cutpage", "deskew", "deskewval",
    "make_uuid", "split_page", "multi_object", "rect_correct", "reduce_shadow", "remove_black_edge",
    "correct_idcard_direction", "binary", "is_auto", "screen_pos", "thumbnail", "delete_source_file",
    "cover_target_file", "timeout", "count", "dpi", "fps", "size",
]
STR_KEYS = ["type", "key", "filepath", "image_type", "content", "color", "property", "source_file",
            "target_file", "uuid", "video_type", "function", "document_type", "data"]
OBJ_KEYS = ["source_image", "image_process_info", "image_storage_info", "output_image", "watermark",
            "roi", "custom_rect", "resolution", "preview_resolution"]
PARAM_TYPES = ["app_version", "serial_number", "device_info", "framerate", "resolution", "current_resolution",
               "available_video_type", "video_type", "preview_resolution", "set_cache_data", "get_cache_data",
               "get_all_cache_data", "clean_cache_data"]

# Raw JSON text, so values Python would not write (1e400, out-of-range integers) go out as is.
HOSTILE_NUMBERS = [
    "1e308", "-1e308", "1e400", "-1e400", "-1", "-2147483649", "4294967297", "18446744073709551617",
    "-99999999999999999999999999999", "0.000001", "-0.0", "65536", "2147483647",
    '"NaN"', '"Infinity"', '"-Infinity"', '"1e308"', '"-1"', '"99999999999999999999"', '"0x7fffffff"',
    '" 12 "', '"1.5"', "true", "[]", "{}",
]

SMALL_PNG = png_bytes(64, 48, seed=12)
SMALL_SRC = {"base64": b64s(SMALL_PNG), "image_type": "png"}
V = "@@HOSTILE@@"


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small valid JPEG whose SOF is patched to claim width x height (the data is then short)."""
    data = bytearray(uniform_grey_jpeg(64, 64))
    i = data.index(b"\xff\xc0")
    data[i + 5:i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def numeric_payloads(endpoint: str) -> list[str]:
    """One payload per hostile number: every numeric key at every level set to it."""
    out = []
    for n, raw in enumerate(HOSTILE_NUMBERS):
        nums = {k: V for k in NUM_KEYS}
        rect = {k: V for k in ("left", "top", "right", "bottom", "angle", "x", "y", "width", "height")}
        for camidx in (V, "0"):
            body = dict(nums)
            body.update({
                "camidx": camidx,
                "key": "brightness" if endpoint.startswith("video=") else "k",
                "source_image": {**SMALL_SRC, **nums},
                "source_images": [{**SMALL_SRC, **nums}, dict(SMALL_SRC)],
                "image_process_info": {**nums, "custom_rect": rect, "cut_type": V},
                "image_storage_info": {**nums, "make_uuid": "0"},
                "watermark": {"content": "x", "pos": V, "transparency": V, "fontsize": V, "color": "red"},
                "roi": {k: V for k in ("left", "top", "right", "bottom")},
                "resolution": {"width": V, "height": V},
                "preview_resolution": {"width": V, "height": V},
                "custom_rect": rect,
            })
            if endpoint in ARRAY_ENDPOINTS:
                body = [{**SMALL_SRC, **nums}, {"source_image": {**SMALL_SRC, **nums}}]
            out.append(json.dumps(body).replace(json.dumps(V), raw))
            if not endpoint.startswith(("video=", "imagepro=barcode")) or n % 3:
                break  # camidx "0" matters only where a camera is used (a third of the numbers)
    if endpoint in ("param=get", "param=set"):
        for t in PARAM_TYPES:
            for raw in HOSTILE_NUMBERS[::3]:
                body = {"type": t, "camidx": V, "value": V, "framerate": V, "key": "k", "width": V, "height": V,
                        "resolution": {"width": V, "height": V}, "video_type": V}
                out.append(json.dumps(body).replace(json.dumps(V), raw))
    return out


def path_payloads(g) -> list[str]:
    canary = str(g.d.state_dir / "canary-outside-storage.txt")
    paths = ["../canary-outside-storage.txt", "../../outside/canary.txt", "/../../state/canary-outside-storage.txt",
             canary, "..\\..\\outside\\canary.txt", "C:\\..\\..\\canary-outside-storage.txt",
             "../storage-sibling/secret.jpg", "D:/../storage-sibling/secret.jpg", "/proc/self/environ",
             "/dev/zero", "a\u0000b.jpg", "", ".", "/", "....//....//canary-outside-storage.txt",
             "%2e%2e/%2e%2e/canary-outside-storage.txt"]
    out = []
    for p in paths:
        out.append(json.dumps({
            "filepath": p, "source_file": p, "target_file": p, "delete_source_file": "1",
            "cover_target_file": "1", "source_image": {"filepath": p}, "output_image": {"filepath": p},
            "source_images": [{"filepath": p}], "type": "get_cache_data", "key": p}))
        out.append(json.dumps({
            "source_file": "../storage-sibling/secret.jpg", "target_file": p, "delete_source_file": "1",
            "cover_target_file": "1", "source_image": {**SMALL_SRC}, "output_image": {"filepath": p}}))
    return out


def structural_payloads() -> list[str]:
    deep_arr = "[" * 10000 + "]" * 10000
    deep_obj = '{"a":' * 10000 + "1" + "}" * 10000
    s1 = "A" * MIB
    s2 = "图" * (MIB // 3)
    junk = [
        deep_arr, deep_obj,
        '{"source_image":' + deep_obj + "}",
        '{"image_process_info":' + deep_arr + "}",
        "{" + ",".join(f'"k{i}":{i}' for i in range(150_000)) + "}",  # wide object
        "[" + ",".join("0" for _ in range(200_000)) + "]",  # wide array
        json.dumps({"a": [{"b": [1, 2, {"c": None}]}] * 10_000}),  # many small nested values
        # strings of 1 MB where the vendor has strings
        json.dumps({"source_image": {"base64": s1, "image_type": "png"}, "source_images": [{"base64": s1}]}),
        json.dumps({"filepath": s1, "output_image": {"filepath": s1}}),
        json.dumps({"type": s1}),
        json.dumps({"type": "get_cache_data", "key": s2}, ensure_ascii=False),
        json.dumps({"type": "set_cache_data", "key": "k", "value": s1}),
        json.dumps({"source_image": SMALL_SRC, "watermark": {"content": s2, "color": "red"},
                    "image_process_info": {"cut_type": "0"}}, ensure_ascii=False),
        json.dumps([{"base64": s1, "image_type": "jpg"}]),
    ]
    images = [  # bad base64 and non-images
        *[json.dumps({"source_image": {"base64": b, "image_type": "jpg"}, "source_images": [{"base64": b}],
                      "image_process_info": {"cut_type": "1"}})
          for b in ("!!!!", "@@@@====", "A", "====", "data:image/png;base64,%%%%", "\u0000\u0001",
                    b64s(b"hello world"), b64s(bytes(range(256)) * 8), b64s(png_header_only(100_000, 100_000)),
                    b64s(png_header_only(65_535, 65_535)), b64s(jpeg_claiming(65_500, 65_500)),
                    b64s(jpeg_claiming(16_000, 16_000)), b64s(b"\xff\xd8\xff" + bytes(3000)),
                    b64s(b"\x89PNG\r\n\x1a\n" + bytes(100)), b64s(b"GIF89a" + b"\xff" * 20),
                    b64s(b"BM" + b"\xff" * 60), b64s(b"II*\x00" + b"\xff" * 60), b64s(b"RIFF\xff\xff\xff\xffWEBPVP8 "))],
        json.dumps([{"base64": b64s(jpeg_claiming(65_500, 65_500)), "image_type": "jpg"}] * 4),
        json.dumps([{"base64": b64s(png_header_only(100_000, 100_000)), "image_type": "png"}] * 4),
    ]
    junk += [
        # nulls, wrong types
        json.dumps({k: None for k in NUM_KEYS + STR_KEYS + OBJ_KEYS + ["source_images"]}),
        json.dumps({"source_image": [1, 2], "image_process_info": [], "image_storage_info": [[]],
                    "output_image": [], "watermark": [], "roi": "x", "resolution": [], "custom_rect": [],
                    "source_images": {"a": 1}, "preview_resolution": 5}),
        json.dumps({k: [] for k in OBJ_KEYS} | {k: {} for k in STR_KEYS}),
        json.dumps({k: {"nested": [1, {"x": None}]} for k in NUM_KEYS}),
        "[]", "[1,2,3]", '"just a string"', "5", "true", "null", "{}", '[null]', '[[]]', '[{}]', '[[{}]]',
        '"{\\"camidx\\":\\"1e308\\"}"',  # double-encoded
        '{"a":1', '{"a":}', "\ufeff{}", "{\"a\":\"\\ud800\"}", '{"a":"\\u0000"}', "{" + "\"\":0," * 1000 + "\"\":0}",
    ]
    return junk, images


def classify(port: int, endpoint: str, method: str, target: str, body: bytes | None) -> tuple[str, float]:
    """Send one request; ("ok <code>" | "stream" | a failure description, seconds)."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        ctype = (resp.getheader("Content-Type") or "").replace(" ", "").lower()
        if ctype.startswith("multipart/x-mixed-replace"):
            ok = endpoint in STREAM_ENDPOINTS and resp.status == 200
            return ("stream" if ok else f"unexpected multipart HTTP {resp.status}"), time.monotonic() - t0
        data = resp.read()
        secs = time.monotonic() - t0
        if not (resp.status == 200 or 400 <= resp.status < 500):
            return f"HTTP {resp.status}", secs
        if ctype != "application/json;charset=utf-8":
            return f"HTTP {resp.status} Content-Type {ctype!r}", secs
        try:
            obj = json.loads(data)
        except ValueError:
            return f"HTTP {resp.status} body not JSON {data[:60]!r}", secs
        if not isinstance(obj, dict) or not isinstance(obj.get("code"), str):
            return f"HTTP {resp.status} no string code: {data[:80]!r}", secs
        return f"ok {obj['code']}", secs
    except (OSError, http.client.HTTPException) as e:
        return f"no reply: {type(e).__name__} {e}"[:120], time.monotonic() - t0
    finally:
        conn.close()


SLOW = 10.0  # a reply slower than this is reported (not a failure by itself)
CAMERA_WORK = {"video=grabimage", "imagepro=barcode", "barcode=get"}


def barcode_page(path) -> str:
    """A white page with a QR code, for the simulated document camera: barcode=get reads document
    frames until it finds a code (up to its `time`, 20 s by default), so a page with one keeps
    each of its calls short."""
    import numpy as np
    import zxingcpp
    from PIL import Image
    qr = zxingcpp.create_barcode("reliability", zxingcpp.QRCode).to_image(scale=8)
    page = Image.new("L", (1600, 1200), 255)
    page.paste(Image.fromarray(np.asarray(qr)).convert("L"), (600, 400))
    page.convert("RGB").save(path)
    return str(path)


def test_row12_hostile_corpus_on_every_endpoint(start, tmp_path):
    d, g = start({"camera": {"sim_document_image": barcode_page(tmp_path / "page.png")}})
    # a small capture size keeps the grabs the corpus makes quick (full-size grabs in a debug build
    # cost a second or two each)
    r, _ = api_json(d, "param=set", {"camidx": "0", "resolution": {"width": "640", "height": "480"}})
    assert r["code"] == "0", r
    structural, images = structural_payloads()
    paths = path_payloads(g)
    jobs = []
    for e in ENDPOINTS:
        numeric = numeric_payloads(e)
        if e in CAMERA_WORK:
            # Each of these grabs and crops a camera frame when the payload lets it (0.6 s of CPU in
            # a debug build): structural and path payloads go by POST only, a third of the paths,
            # and grabimage (which takes no source image) skips the image payloads.
            payloads = numeric + structural + (images if e != "video=grabimage" else []) + paths[::3]
        else:
            payloads = numeric + structural + images + paths
        for text in payloads:
            raw = text.encode("utf-8", "surrogatepass")
            post_target = "/?ocr" if e == "ocr" else f"/{e}"
            jobs.append((e, "POST", post_target, raw))
            if e in CAMERA_WORK and text not in numeric:
                continue
            if len(raw) <= 16 * 1024:
                jobs.append((e, "GET", f"/?{e}&data=" + urllib.parse.quote(raw, safe=""), None))
            elif len(raw) <= 256 * 1024:
                jobs.append((e, "GET", post_target, raw))  # a GET with a body (deep JSON)
    random.Random(12).shuffle(jobs)  # camera work spread among the rest
    g.note(f"{len(jobs)} requests over {len(ENDPOINTS)} endpoints")

    results = defaultdict(Counter)
    spent = Counter()
    failures = []
    slow = []
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futs = {pool.submit(classify, d.port, *job): job for job in jobs}
        for f in concurrent.futures.as_completed(futs):
            e, method, target, body = futs[f]
            outcome, secs = f.result()
            results[e][outcome] += 1
            spent[e] += secs
            if not outcome.startswith(("ok ", "stream")):
                failures.append((e, method, (body or target.encode())[:100], outcome))
            if secs > SLOW:
                slow.append((e, method, round(secs, 1), (body or target.encode())[:60]))
            if not d.alive():
                break
    wall = time.monotonic() - t0
    g.note(f"corpus done in {wall:.1f}s; daemon alive: {d.alive()}")
    internal = {e: c["ok 13"] for e, c in results.items() if c.get("ok 13")}
    if internal:
        g.note(f"code \"13\" (internal error) answers: {internal}")
    if slow:
        g.note(f"{len(slow)} replies over {SLOW}s, e.g. {slow[:5]}")
    for e in ENDPOINTS:
        print(f"  {e}: {dict(results[e])} ({spent[e]:.1f}s of requests)")
    assert d.alive(), f"daemon died during the corpus; last failures {failures[-5:]}; log:\n{d.log_tail(30)}"
    assert not failures, f"{len(failures)} bad replies, e.g. {failures[:8]}; by kind " \
                         f"{codes_of([f[3][:40] for f in failures])}"
    g.finish()
