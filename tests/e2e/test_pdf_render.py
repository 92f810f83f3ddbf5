"""Rendering correctness of the device's PDF renderer (pdfview, hayro) against poppler's pdftoppm.

Every document of the independent corpus (tests/pdfcorpus.py: reportlab, img2pdf) is rendered,
at most its first MAX_PAGES pages, at DPI by `pdfview-render` and by `pdftoppm -r DPI -png`; both
pictures are cropped to their common size (hayro truncates the page size where pdftoppm rounds
up: 826x1169 against 827x1170 for A4 at 100 dpi), made grey, and compared by the mean absolute
pixel difference (0..255), and by the same of 8x8-pixel block means. Run with -s to see the
table (about 5 s in all). No daemon is needed.

Binary: $CAMERASERVICED_PDFVIEW_RENDER, else <repo>/target/debug/pdfview-render
(`cargo build -p pdfview --bins`); the test is skipped when it or pdftoppm is missing.

The reference needs poppler's data and fonts: the package poppler-data (CMaps of the non-embedded
CID fonts; without it pdftoppm draws no Chinese in zh_text_cid) and metric-compatible substitutes
of the standard fonts (fonts-urw-base35: Nimbus Sans/Roman for Helvetica/Times; without them
poppler draws DejaVu, squeezed, and the standard-font documents differ much more: see
THRESHOLDS_NO_URW). `compare_document` is shared with tests/bench/pdf_bench.py.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests"))

import pdfcorpus  # noqa: E402

DPI = 100
MAX_PAGES = 3

# Two measures per page, both of grey pictures (0..255) over the common area:
#   diff    the mean absolute pixel difference;
#   coarse  the same of the 8x8-pixel block means: blind to anti-aliasing and glyph outlines, it
#           still sees text, lines or pictures that are missing, moved or of another weight.
# Measured (largest page of each document; hayro 0.9, poppler 22.12 with poppler-data and
# fonts-urw-base35), and the difference of poppler's page against a white page for scale:
#   document          diff  coarse  white
#   en_text           9.73   2.84   19.3
#   zh_text_embedded  5.57   1.12    9.4
#   zh_text_cid       3.64   0.72    6.7
#   form              2.35   0.70    8.3
#   scan              1.87   0.80   73.0
#   vector            2.96   1.42   34.4
#   twenty            7.55   2.11   15.7
# Thresholds (diff, coarse): about 1.35x the measured diff and 1.6x the measured coarse.
THRESHOLDS = {
    "en_text": (13.0, 4.5),           # small text: anti-aliasing and hinting of the outlines
    "zh_text_embedded": (7.5, 2.0),   # the same embedded font in both: rasterisation only
    "zh_text_cid": (5.0, 1.5),        # both substitute WenQuanYi Zen Hei (hayro: the device's font)
    "form": (3.5, 1.25),              # field appearance streams (values, check marks) drawn by both
    "scan": (3.0, 1.5),               # image resampling only
    "vector": (4.5, 2.5),             # anti-aliasing of strokes and curves
    "twenty": (10.5, 3.5),            # text pages and a drawing
    # imagepro=merge2pdf's pages of sharp bars: hayro places the picture one pixel row off
    # poppler (measured diff 3.66 / coarse 3.50 on page 1; 1.79 with the rows shifted by one).
    "merge2pdf (device)": (5.0, 4.5),
}
# Where poppler has no metric-compatible Helvetica/Times (fc-match gives DejaVu, which poppler
# squeezes to the standard widths): measured (diff/coarse) en_text 14.09/4.64,
# twenty 11.38/3.80; form 2.63/0.83 and vector 3.04/1.47 (Helvetica labels) stay within their limits.
THRESHOLDS_NO_URW = {"en_text": (17.0, 6.5), "twenty": (14.0, 5.5)}
STANDARD_FONT_DOCS = ("en_text", "twenty")
BLOCK = 8


def render_binary() -> Path:
    env = os.environ.get("CAMERASERVICED_PDFVIEW_RENDER")
    if env:
        return Path(env)
    return REPO_ROOT / "target" / "debug" / "pdfview-render"


def render_device(binary, pdf, dpi, outdir, first=1, last=MAX_PAGES) -> tuple[dict, list[Path]]:
    """`pdfview-render` of pages first..last (clamped to the document): its JSON report and the
    PNG paths, in page order."""
    outdir = Path(outdir)
    out = subprocess.run([str(binary), str(pdf), str(dpi), str(outdir), str(first), str(last)],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    rep = json.loads(out.strip().splitlines()[-1])
    last = min(last, rep["pages"])
    return rep, [outdir / f"page-{n}.png" for n in range(first, last + 1)]


def render_poppler(pdf, dpi, outdir, first=1, last=MAX_PAGES) -> list[Path]:
    """`pdftoppm -r DPI -png` of pages first..last; the PNG paths in page order (pdftoppm pads
    the page number to the width of the page count)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-f", str(first), "-l", str(last),
                    str(pdf), str(outdir / "page")], check=True, capture_output=True, timeout=120)
    return sorted(outdir.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def mean_abs_diff(a_png, b_png, block=BLOCK) -> dict:
    """Two pictures compared in grey (0..255) over their common top-left area: {diff: mean
    absolute pixel difference, coarse: the same of the block x block means, white: the second
    picture's mean difference from white, sizes: (a's (w, h), b's)}."""
    import numpy as np
    from PIL import Image
    with Image.open(a_png) as a, Image.open(b_png) as b:
        w, h = min(a.width, b.width), min(a.height, b.height)
        x = np.asarray(a.convert("L").crop((0, 0, w, h)), dtype=np.float32)
        y = np.asarray(b.convert("L").crop((0, 0, w, h)), dtype=np.float32)
        sizes = (a.size, b.size)

    def blocks(z):
        hh, ww = h // block * block, w // block * block
        return z[:hh, :ww].reshape(hh // block, block, ww // block, block).mean(axis=(1, 3))

    return {"diff": float(np.abs(x - y).mean()),
            "coarse": float(np.abs(blocks(x) - blocks(y)).mean()),
            "white": float((255 - y).mean()), "sizes": sizes}


def compare_document(pdf, workdir, binary=None, dpi=DPI, max_pages=MAX_PAGES) -> list[dict]:
    """Render the first `max_pages` pages of `pdf` with both renderers into `workdir`; one record
    per page: page, diff, coarse, white (see `mean_abs_diff`), device_size, poppler_size,
    device_png, poppler_png."""
    binary = binary or render_binary()
    workdir = Path(workdir)
    _, dev = render_device(binary, pdf, dpi, workdir / "device", 1, max_pages)
    pop = render_poppler(pdf, dpi, workdir / "poppler", 1, max_pages)
    assert len(dev) == len(pop), f"{pdf}: {len(dev)} pages from pdfview-render, {len(pop)} from pdftoppm"
    rows = []
    for i, (a, b) in enumerate(zip(dev, pop)):
        m = mean_abs_diff(a, b)
        sa, sb = m.pop("sizes")
        rows.append({"page": i + 1, **m, "device_size": sa, "poppler_size": sb,
                     "device_png": a, "poppler_png": b})
    return rows


@functools.cache
def poppler_has_urw_fonts() -> bool:
    """Whether fontconfig gives poppler a metric-compatible Helvetica (URW Nimbus Sans, or
    Liberation Sans / Arial)."""
    try:
        out = subprocess.run(["fc-match", "Helvetica"], capture_output=True, text=True,
                             timeout=10).stdout
    except OSError:
        return False
    return any(n in out for n in ("Nimbus Sans", "Liberation Sans", "Arial"))


def poppler_has_cmaps() -> bool:
    return any(Path(d, "cMap", "Adobe-GB1").is_dir() for d in ("/usr/share/poppler",
                                                             "/usr/local/share/poppler"))


def thresholds(name: str) -> tuple[float, float]:
    """(diff, coarse) limits of a corpus document."""
    if name in STANDARD_FONT_DOCS and not poppler_has_urw_fonts():
        return THRESHOLDS_NO_URW[name]
    return THRESHOLDS[name]


# ------------------------------------------------------------------------------------------ tests

_results: dict[str, list[dict]] = {}


@pytest.fixture(scope="module")
def tools():
    binary = render_binary()
    if not binary.exists():
        pytest.skip(f"{binary} missing: build it with `cargo build -p pdfview --bins` "
                    "or set CAMERASERVICED_PDFVIEW_RENDER")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) missing")
    return binary


@pytest.fixture(scope="module")
def docs(tmp_path_factory, tools):
    pytest.importorskip("reportlab", reason="reportlab (PyPI) missing: pip install reportlab")
    pytest.importorskip("img2pdf", reason="img2pdf (PyPI) missing")
    return pdfcorpus.corpus(tmp_path_factory.mktemp("pdfcorpus"))


@pytest.fixture(scope="module", autouse=True)
def _table():
    yield
    if _results:
        print(f"\n\nhayro (pdfview-render) vs pdftoppm at {DPI} dpi, grey, per page (worst page: limit)")
        print(f"{'document':<18} {'pages':>5} {'diff':>6} {'limit':>6} {'coarse':>6} {'limit':>6} "
              f"{'white':>6}  diff per page")
        for name, rows in _results.items():
            lim = thresholds(name)
            per = " ".join(f"{r['diff']:.2f}" for r in rows)
            print(f"{name:<18} {len(rows):>5} {max(r['diff'] for r in rows):>6.2f} {lim[0]:>6.2f} "
                  f"{max(r['coarse'] for r in rows):>6.2f} {lim[1]:>6.2f} "
                  f"{min(r['white'] for r in rows):>6.1f}  {per}")
        if not poppler_has_urw_fonts():
            print("(no metric-compatible Helvetica/Times for poppler: install fonts-urw-base35)")


@pytest.mark.parametrize("name", list(pdfcorpus.DOCUMENTS))
def test_render_matches_poppler(name, docs, tools, tmp_path):
    if name == "zh_text_cid" and not poppler_has_cmaps():
        pytest.skip("poppler-data missing: pdftoppm cannot draw the non-embedded CID font")
    rows = compare_document(docs[name], tmp_path, tools)
    _results[name] = rows
    assert rows, f"{name}: no page rendered"
    for r in rows:
        (wa, ha), (wb, hb) = r["device_size"], r["poppler_size"]
        assert abs(wa - wb) <= 1 and abs(ha - hb) <= 1, \
            f"{name} page {r['page']}: size {wa}x{ha} (hayro) vs {wb}x{hb} (pdftoppm)"
        # The limits must be able to tell a page from a blank one.
        assert r["white"] > thresholds(name)[0], f"{name}: limit too loose for this page"
        for key in ("diff", "coarse"):
            limit = thresholds(name)[("diff", "coarse").index(key)]
            assert r[key] < limit, \
                (f"{name} page {r['page']}: {key} {r[key]:.2f} >= {limit} "
                 f"({r['device_png']} vs {r['poppler_png']})")


def test_a_document_written_by_the_device(default_daemon, tools, tmp_path):
    """imagepro=merge2pdf's output (two camera-like pages) renders as poppler renders it."""
    import base64
    import io

    from PIL import Image, ImageDraw

    pics = []
    for i, color in enumerate(((235, 232, 220), (250, 250, 250))):
        img = Image.new("RGB", (1200, 1600), color)
        dr = ImageDraw.Draw(img)
        for k in range(12):
            dr.rectangle((100, 120 + k * 110, 1100 - 40 * (k % 4), 150 + k * 110), fill=(40, 40, 40))
        dr.ellipse((800, 1300, 1100, 1550), outline=(180, 20, 20), width=12)
        b = io.BytesIO()
        img.save(b, "JPEG", quality=85)
        pics.append({"base64": base64.b64encode(b.getvalue()).decode(), "image_type": "jpg"})
    r = default_daemon.api("/imagepro=merge2pdf", pics)
    assert r["code"] == "0", r
    pdf = tmp_path / "merged.pdf"
    pdf.write_bytes(base64.b64decode(r["base64"]))
    rows = compare_document(pdf, tmp_path, tools)
    _results["merge2pdf (device)"] = rows
    assert len(rows) == 2
    for row in rows:
        (wa, ha), (wb, hb) = row["device_size"], row["poppler_size"]
        assert abs(wa - wb) <= 1 and abs(ha - hb) <= 1
        limit = THRESHOLDS["merge2pdf (device)"]
        assert row["diff"] < limit[0] and row["coarse"] < limit[1], row
