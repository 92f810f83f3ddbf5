#!/usr/bin/env python3
"""merge2pdf benchmark (documents issue): the device's PDF writer against img2pdf (PyPI) on 50
camera JPEGs (2592x1944 frames of the simulated document camera, grabbed through the API) in one
run: time ratio (files read and document built, median of RUNS), whether every JPEG stream is
embedded byte-identically in both, size ratio. Also the whole merge2pdf call over HTTP (sources
by uuid, document written to storage with fsync, base64 reply). Target: faster than img2pdf.

usage: merge_bench.py DAEMON_BIN MERGE_FILES_BIN [--runs N] [--count N]
"""

import argparse
import base64
import os
import statistics
import subprocess
import sys
import time

from benchlib import call, sim_daemon


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("daemon")
    ap.add_argument("merge_files")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--count", type=int, default=50)
    a = ap.parse_args()
    import img2pdf

    with sim_daemon(a.daemon, '[camera]\nwarmup_frames = 0\nlinger_seconds = 60\n[log]\nlevel = "warn"\n',
                    "merge-") as (port, tmp):
        assert call(port, "/param=set", {"camidx": "0", "resolution": {"width": "2592", "height": "1944"}})["code"] == "0"
        uuids, paths = [], []
        for i in range(a.count):
            r = call(port, "/video=grabimage", {"camidx": "0", "image_process_info": {}, "make_uuid": "1"})
            assert r["code"] == "0", r
            im = r["images"][0]
            uuids.append(im["uuid"])
            p = os.path.join(tmp, f"frame{i:02}.jpg")
            with open(p, "wb") as f:
                f.write(base64.b64decode(im["base64"]))
            paths.append(p)
        jpegs = [open(p, "rb").read() for p in paths]

        ours_pdf = os.path.join(tmp, "ours.pdf")
        t_ours = float(subprocess.check_output([a.merge_files, "pdf", ours_pdf, str(a.runs), *paths]).decode())
        times = []
        for _ in range(a.runs):
            t = time.perf_counter()
            ref = img2pdf.convert(paths)
            times.append((time.perf_counter() - t) * 1000)
        t_ref = statistics.median(times)

        times = []
        body = [{"uuid": u} for u in uuids]
        for _ in range(a.runs):
            t = time.perf_counter()
            r = call(port, "/imagepro=merge2pdf", body)
            times.append((time.perf_counter() - t) * 1000)
            assert r["code"] == "0", r
        t_http = statistics.median(times)
        http_pdf = base64.b64decode(r["base64"])
    ours = open(ours_pdf, "rb").read()
    same_ours = sum(1 for j in jpegs if j in ours)
    same_ref = sum(1 for j in jpegs if j in ref)
    same_http = sum(1 for j in jpegs if j in http_pdf)
    mb = sum(len(j) for j in jpegs) / 1e6
    print(f"| merge2pdf, {a.count} camera JPEGs 2592x1944 ({mb:.1f} MB) | median ms | ratio to img2pdf | JPEG streams byte-identical | PDF size | size ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| img2pdf {img2pdf.__version__} (Python, in process) | {t_ref:.1f} | 1.00 | {same_ref}/{a.count} | {len(ref)} | 1.0000 |")
    print(f"| device PDF writer (documents::pdf) | {t_ours:.1f} | {t_ours / t_ref:.2f} | {same_ours}/{a.count} | {len(ours)} | {len(ours) / len(ref):.4f} |")
    print(f"| whole merge2pdf call over HTTP (uuids in; stored with fsync; base64 out) | {t_http:.1f} | {t_http / t_ref:.2f} | {same_http}/{a.count} | {len(http_pdf)} | {len(http_pdf) / len(ref):.4f} |")
    print("target: faster than img2pdf:", "met" if t_ours < t_ref else "NOT met")


if __name__ == "__main__":
    sys.exit(main())
