#!/usr/bin/env python3
"""Document viewer benchmark (pdfview, hayro) against poppler's pdftoppm, measured in the same run:
the 20-page mixed document of tests/pdfcorpus.py (reportlab, A4) at the signing screen's scale
(1024x768 screen: the page fitted into the area above the 72 px toolbar, less a margin:
(768-72-16)/842 px/pt, 0.807 as the viewer rounds it down, 58.1 dpi) and at 100 dpi.

(a) time to first page: open + render page 1.
    device: `pdfview-render FILE DPI OUT 1 1`, the whole process (with writing a PNG), and the
    in-process open_ms + render_ms of page 1; pdftoppm: `pdftoppm -r DPI -f 1 -l 1`, the whole
    process (writing PPM, which costs next to nothing).
(b) page turn: one page rendered.
    device: the in-process render_ms of pages 2..20 (one process, no PNG writing), median;
    pdftoppm: one process per page (`-f n -l n`, n = 2..20), median; and all 20 pages in one
    process, divided by 20 (the device's whole 20-page process / 20 beside it, PNG writing included).
Each figure is the median over the rounds (the two tools alternate within a round); ratios are
device/pdftoppm (below 1: the device is faster). No timed assertions. The first three pages are
also compared with `compare_document` of tests/e2e/test_pdf_render.py (mean |grey difference|).

For real figures use the release build of pdfview-render (`cargo build --release -p pdfview --bins`;
binary target/release/pdfview-render): `--bin target/release/pdfview-render`. The default is the
debug build, which is many times slower and good only for checking that this script works.

usage: pdf_bench.py [--bin PDFVIEW_RENDER] [--rounds N] [--dpi D ...]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

import pdfcorpus  # noqa: E402

SCREEN_DPI = int((768 - 72 - 16) / 842 * 1000) / 1000 * 72  # fit-page on the 1024x768 screen: 58.1 dpi
PAGES = 20


def run(cmd):
    """Wall milliseconds of a process, and its standard output."""
    t = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return (time.perf_counter() - t) * 1000, out


def device(binary, pdf, dpi, out, first=None, last=None):
    """(wall ms, report) of pdfview-render."""
    cmd = [binary, pdf, f"{dpi:g}", out] + ([str(first), str(last)] if first else [])
    ms, stdout = run(cmd)
    return ms, json.loads(stdout.strip().splitlines()[-1])


def poppler(pdf, dpi, out, first, last):
    ms, _ = run(["pdftoppm", "-r", f"{dpi:g}", "-f", str(first), "-l", str(last), pdf,
                 os.path.join(out, "page")])
    return ms


def measure(binary, pdf, dpi, rounds, tmp):
    """{measure: [value per round]} of one DPI."""
    r = {k: [] for k in ("dev_first_wall", "dev_first_inproc", "pop_first",
                         "dev_turn", "pop_turn", "dev_all20", "pop_all20")}
    out = os.path.join(tmp, "out")
    os.makedirs(out, exist_ok=True)
    device(binary, pdf, dpi, out, 1, 1)  # warm the page cache and fontconfig's
    poppler(pdf, dpi, out, 1, 1)
    for i in range(rounds):
        def dev():
            ms, rep = device(binary, pdf, dpi, out, 1, 1)
            r["dev_first_wall"].append(ms)
            r["dev_first_inproc"].append(rep["open_ms"] + rep["render_ms"][0])
            ms, rep = device(binary, pdf, dpi, out)
            assert rep["pages"] == PAGES, rep
            r["dev_turn"].append(statistics.median(rep["render_ms"][1:]))
            r["dev_all20"].append(ms / PAGES)

        def pop():
            r["pop_first"].append(poppler(pdf, dpi, out, 1, 1))
            r["pop_turn"].append(statistics.median(poppler(pdf, dpi, out, n, n)
                                                   for n in range(2, PAGES + 1)))
            r["pop_all20"].append(poppler(pdf, dpi, out, 1, PAGES) / PAGES)

        for f in ((dev, pop) if i % 2 == 0 else (pop, dev)):
            f()
    return {k: statistics.median(v) for k, v in r.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(REPO / "target" / "debug" / "pdfview-render"),
                    help="pdfview-render (default: the debug build; use target/release/pdfview-render)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dpi", type=float, nargs="+", default=[SCREEN_DPI, 100.0])
    a = ap.parse_args()
    if not os.path.exists(a.bin):
        sys.exit(f"{a.bin} missing: cargo build --release -p pdfview --bins")
    from test_pdf_render import compare_document

    with tempfile.TemporaryDirectory(prefix="pdf-bench-") as tmp:
        pdf = str(pdfcorpus.corpus(tmp, ["twenty"])["twenty"])
        kind = "release" if "/release/" in a.bin else "debug" if "/debug/" in a.bin else "?"
        ver = subprocess.run(["pdftoppm", "-v"], capture_output=True, text=True).stderr.split("\n")[0]
        print(f"twenty.pdf ({PAGES} A4 pages, {os.path.getsize(pdf)} bytes); device: {a.bin} ({kind} build); "
              f"{ver}; median of {a.rounds} rounds")
        print()
        print("| dpi | measure | device ms | pdftoppm ms | device/pdftoppm |")
        print("|---:|---|---:|---:|---:|")
        diffs = []
        for dpi in a.dpi:
            m = measure(a.bin, pdf, dpi, a.rounds, os.path.join(tmp, f"{dpi:g}"))
            rows = [
                ("first page, whole process (open + page 1)", m["dev_first_wall"], m["pop_first"]),
                ("first page, device in process (open_ms + render_ms)", m["dev_first_inproc"], m["pop_first"]),
                ("page turn: device render_ms p2..20 / pdftoppm one process per page", m["dev_turn"], m["pop_turn"]),
                ("page turn: device render_ms p2..20 / pdftoppm 20 pages in one process / 20", m["dev_turn"], m["pop_all20"]),
                ("20 pages in one process / 20 (whole processes)", m["dev_all20"], m["pop_all20"]),
            ]
            for name, d, p in rows:
                print(f"| {dpi:.1f} | {name} | {d:.1f} | {p:.1f} | {d / p:.2f} |")
            cmp = compare_document(pdf, os.path.join(tmp, f"cmp{dpi:g}"), a.bin, dpi, 3)
            diffs.append((dpi, cmp))
        print()
        for dpi, cmp in diffs:
            print(f"mean |grey difference| to pdftoppm at {dpi:.1f} dpi, pages 1-3: "
                  + ", ".join(f"{c['diff']:.2f} (coarse {c['coarse']:.2f})" for c in cmp))


if __name__ == "__main__":
    sys.exit(main())
