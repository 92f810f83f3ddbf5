#!/usr/bin/env python3
"""Barcode benchmark (documents issue): decode rate and time per image on the labelled samples
(../shared/testdata/barcodes, or $BARCODE_SAMPLES) for the device's reader (zxing-cpp 3.1 linked into the firmware, through
firmware/barcode/examples/barcode_read.rs) and for the zxing-cpp Python package, in one run.
Only the reading is timed on both sides (file decoding is not). falsepositives-* images count as
read correctly when nothing is found. Targets: decode rate >= zxing-cpp's, time <= 2x.

usage: barcode_bench.py READER_BIN [--limit N] [--details]
"""

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "testdata", "barcodes"))


def matches(codes, rec, root):
    if rec["set"].startswith("falsepositives"):
        return not codes
    if "expected_text" in rec:
        want = rec["expected_text"]
        return any(c == want for c in codes)
    with open(os.path.join(root, "samples", rec["expected_bin_file"]), "rb") as f:
        want = f.read()
    for c in codes:
        for enc in ("latin-1", "utf-8"):
            try:
                if c.encode(enc) == want:
                    return True
            except UnicodeEncodeError:
                pass
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reader")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--details", action="store_true")
    a = ap.parse_args()
    root = os.environ.get("BARCODE_SAMPLES", DEFAULT_SAMPLES)
    with open(os.path.join(root, "labels.json")) as f:
        recs = json.load(f)
    # Images without an expected result (some multi-code and MaxiCode samples) cannot be scored.
    unlabelled = [r for r in recs if not r["set"].startswith("falsepositives")
                  and "expected_text" not in r and "expected_bin_file" not in r]
    recs = [r for r in recs if r not in unlabelled]
    if a.limit:
        recs = recs[: a.limit]
    paths = [os.path.join(root, "samples", r["image"]) for r in recs]

    import zxingcpp
    from PIL import Image

    # zxing-cpp, defaults (all formats, try harder, rotate, invert, downscale; text mode HRI),
    # and the same with text mode Plain, the device's setting (ZXing's output conventions).
    z_ok, z_ms, zp_ok = {}, [], {}
    for r, p in zip(recs, paths):
        im = Image.open(p).convert("L")
        im.load()
        t = time.perf_counter()
        res = zxingcpp.read_barcodes(im)
        z_ms.append((time.perf_counter() - t) * 1000)
        z_ok[r["image"]] = matches([x.text for x in res], r, root)
        res = zxingcpp.read_barcodes(im, text_mode=zxingcpp.TextMode.Plain)
        zp_ok[r["image"]] = matches([x.text for x in res], r, root)

    out = subprocess.run([a.reader], input="\n".join(paths) + "\n", capture_output=True, text=True, check=True)
    ours = {}
    for line in out.stdout.splitlines():
        j = json.loads(line)
        ours[j["image"]] = j
    o_ok, o_ms = {}, []
    for r, p in zip(recs, paths):
        j = ours[p]
        if "error" in j:
            o_ok[r["image"]] = False
            continue
        o_ms.append(j["ms"])
        o_ok[r["image"]] = matches([c["code"] for c in j["codes"]], r, root)

    by_set = collections.defaultdict(lambda: [0, 0, 0, 0])
    for r in recs:
        fam = r["set"].rsplit("-", 1)[0]
        by_set[fam][0] += 1
        by_set[fam][1] += o_ok[r["image"]]
        by_set[fam][2] += z_ok[r["image"]]
        by_set[fam][3] += zp_ok[r["image"]]
    n = len(recs)
    ro, rz, rzp = sum(o_ok.values()) / n, sum(z_ok.values()) / n, sum(zp_ok.values()) / n
    mo, mz = statistics.mean(o_ms), statistics.mean(z_ms)
    print("| symbology family | images | device | zxing-cpp (Python), defaults | zxing-cpp (Python), text mode Plain |")
    print("|---|---:|---:|---:|---:|")
    for fam in sorted(by_set):
        t, o, z, zp = by_set[fam]
        print(f"| {fam} | {t} | {o} | {z} | {zp} |")
    print(f"| **all** | {n} | **{ro * 100:.1f} %** | **{rz * 100:.1f} %** | **{rzp * 100:.1f} %** |")
    print()
    print(f"time per image (reading only): device {mo:.1f} ms mean / {statistics.median(o_ms):.1f} median, "
          f"zxing-cpp {mz:.1f} ms mean / {statistics.median(z_ms):.1f} median; ratio of means {mo / mz:.2f} (target <= 2)")
    print(f"({len(unlabelled)} sample images without an expected result were left out)")
    print(f"decode rate: device {ro * 100:.1f} %, zxing-cpp {rz * 100:.1f} % with its defaults, "
          f"{rzp * 100:.1f} % in text mode Plain (target: device >= zxing-cpp)")
    if a.details:
        for r in recs:
            if o_ok[r["image"]] != zp_ok[r["image"]]:
                print(f"  {r['image']}: device {'ok' if o_ok[r['image']] else 'MISS'}, zxing-cpp Plain {'ok' if zp_ok[r['image']] else 'MISS'}")


if __name__ == "__main__":
    sys.exit(main())
