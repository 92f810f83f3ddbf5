"""Rows 1, 3 and 11 of issue 13: image sizes and file names a page can ask for.

1. imagepro=process with cut_type 1 and a fixed width/height whose other side would blow past the
   pixel ceiling (4x2000 PNG, fixed_width 6000; 2000x4, fixed_height 6000): the fixed size is
   ignored (vendor rule for over-limit sizes), code "0", the output is not scaled up.
3. A 16000x16000 JPEG (1 MB on disk, 256 Mpixel decoded) to process and barcode: "10" at once;
   merge2pdf (and tif/ofd, merge_images) of one big stored JPEG listed 100 times: "10" at once;
   six process calls at once: each "10" (or "15" busy).
11. storage_image to a file name of 250/255 bytes: "0", stored; 256/300 bytes: "4", nothing left.
"""

import time
import urllib.parse

from e2e_support import b64, jpeg_size
from reliability_support import (
    api_json,
    b64s,
    codes_of,
    png_bytes,
    run_threads,
    uniform_grey_jpeg,
)

MAX_PIXELS = 40_000_000  # limits.max_pixels default
QUICK = 5.0  # "at once": seconds a refusal may take (debug build on a busy 2-core machine)


def test_row01_fixed_size_beyond_pixel_ceiling(start):
    d, g = start()
    cases = [((4, 2000), {"cut_type": "1", "fixed_width": "6000"}),
             ((2000, 4), {"cut_type": "1", "fixed_height": "6000"}),
             ((4, 2000), {"cut_type": "1", "fixed_width": 6000, "fixed_height": "0"}),
             ((2000, 4), {"cut_type": "1", "fixed_width": "0", "fixed_height": 6000})]
    for (w, h), ipi in cases:
        src = png_bytes(w, h, seed=w + h)
        r, secs = api_json(d, "imagepro=process",
                           {"source_image": {"base64": b64s(src), "image_type": "png"},
                            "image_process_info": ipi}, timeout=120)
        assert r["code"] == "0", f"{w}x{h} {ipi}: {r!r:.400}"
        assert d.alive(), "daemon died"
        assert r.get("image_count", len(r.get("images", []))) >= 1, r
        for item in r["images"]:
            ow, oh = jpeg_size(b64(item["base64"]))
            g.note(f"{w}x{h} {ipi} -> {ow}x{oh} in {secs:.2f}s")
            assert ow * oh <= MAX_PIXELS, f"output {ow}x{oh} beyond the pixel ceiling"
            assert ow <= w and oh <= h, f"output {ow}x{oh} scaled up from {w}x{h} (fixed size not ignored)"
    g.finish()


BIG_SIDE = 16000


def test_row03_huge_jpeg_refused_before_decoding(start):
    d, g = start()
    big = uniform_grey_jpeg(BIG_SIDE, BIG_SIDE)
    src = {"base64": b64s(big), "image_type": "jpg"}

    for endpoint, body in (("imagepro=process", {"source_image": src}),
                           ("imagepro=process", {"source_image": src, "image_process_info": {"cut_type": "1"}}),
                           ("imagepro=barcode", {"source_image": src})):
        r, secs = api_json(d, endpoint, body, timeout=120)
        g.note(f"{endpoint} {BIG_SIDE}x{BIG_SIDE} JPEG ({len(big) // 1024} KiB): code {r['code']} in {secs:.2f}s")
        assert r["code"] == "10", f"{endpoint}: {r!r:.300}"
        assert secs < QUICK, f"{endpoint}: refusal took {secs:.1f}s"

    # storing is exempt (no decode); documents of it listed 100 times are refused at once
    r, _ = api_json(d, "imagepro=storage_image",
                    {"source_image": src, "output_image": {"filepath": "/big/big.jpg"}}, timeout=60)
    assert r["code"] == "0", r
    listed = [{"filepath": "/big/big.jpg"}] * 100
    for endpoint, body in (("imagepro=merge2pdf", listed),
                           ("imagepro=merge2tif", listed),
                           ("imagepro=merge2ofd", listed),
                           ("imagepro=merge_images", {"source_images": listed[:3]})):
        r, secs = api_json(d, endpoint, body, timeout=120)
        g.note(f"{endpoint} of the big JPEG x{len(body) if isinstance(body, list) else 3}: "
               f"code {r['code']} in {secs:.2f}s")
        assert r["code"] == "10", f"{endpoint}: {r!r:.300}"
        assert secs < QUICK, f"{endpoint}: refusal took {secs:.1f}s"
    docs = [p.name for p in g.root.rglob("*") if p.suffix in (".pdf", ".tif", ".ofd")]
    assert not docs, f"refused documents left files behind: {docs}"

    # six at once
    def one():
        r, secs = api_json(d, "imagepro=process", {"source_image": src}, timeout=120)
        return r["code"], secs

    t0 = time.monotonic()
    results = run_threads([one] * 6, 150)
    wall = time.monotonic() - t0
    codes = [x[0] if isinstance(x, tuple) else x for x in results]
    g.note(f"6 process calls at once: {codes_of(codes)} in {wall:.2f}s")
    assert all(c in ("10", "15") for c in codes), f"six at once: {codes_of(codes)}"
    assert wall < 3 * QUICK, f"six refusals took {wall:.1f}s"
    g.finish()


def test_row11_long_file_names(start):
    d, g = start()
    data = png_bytes(20, 10, seed=11)
    cases = [("a" * 246 + ".png", "0"),
             ("b" * 251 + ".png", "0"),  # 255 bytes: the longest name a Linux file system takes
             ("图" * 82 + ".png", "0"),  # 250 bytes of UTF-8
             ("c" * 252 + ".png", "4"),  # 256 bytes
             ("d" * 296 + ".png", "4"),  # 300 bytes
             ("图" * 98 + ".png", "4")]  # 298 bytes of UTF-8
    for name, code in cases:
        n = len(name.encode())
        r, secs = api_json(d, "imagepro=storage_image",
                           {"source_image": {"base64": b64s(data), "image_type": "png"},
                            "output_image": {"filepath": f"/names/{name}"}}, timeout=30)
        g.note(f"file name of {n} bytes: code {r['code']}")
        assert r["code"] == code, f"name of {n} bytes: {r!r:.300}"
        p = g.root / "names" / name
        if code == "0":
            assert p.read_bytes() == data, f"name of {n} bytes not stored as sent"
            got = d.get("/storage/names/" + urllib.parse.quote(name), timeout=10)
            assert got.status == 200 and got.body == data, f"download of the {n}-byte name: {got!r}"
        else:
            assert r.get("message"), r
    left = sorted(p.name for p in (g.root / "names").iterdir())
    expected = sorted(name for name, code in cases if code == "0")
    assert left == expected, f"leftovers in names/: {set(left) - set(expected)}"
    g.finish()
