#!/usr/bin/env python3
"""Side by side in the QEMU rig (run inside the guest by rig_ustreamer.sh): the daemon's MJPEG
stream against µStreamer's, to 1 and 10 clients, from (1) an 'MJPG' camera — a v4l2loopback
device fed the frames of FRAMES_DIR at 15 fps by tests/rig/helpers/mjpeg_feed.py — passed
through, and (2) vivid's YUYV at 640x480 encoded to JPEG at quality 80 (when vivid is loaded). One
boot; the two servers run one at a time, alternating, several rounds; the result is CPU time of
the server process per delivered frame (all its threads), the frames a second each client
received, and the ratio daemon / µStreamer of the medians.

usage: rig_stream_compare.py DAEMON USTREAMER FRAMES_DIR [--seconds S] [--rounds R] [--fps F]
Standard library only (the guest runs the host's Debian python3).
"""

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import call, free_port, measure_stream, wait_port  # noqa: E402

FEED = os.path.join(HERE, "..", "rig", "helpers", "mjpeg_feed.py")
sys.path.insert(0, os.path.dirname(FEED))
from mjpeg_feed import find_by_label  # noqa: E402
LABEL = "rig-loopback"


def wait_mjpg(dev, feeder, timeout=30.0):
    end = time.monotonic() + timeout
    while feeder.poll() is None and time.monotonic() < end:
        r = subprocess.run(["v4l2-ctl", "-d", dev, "--get-fmt-video"], capture_output=True, text=True)
        if r.returncode == 0 and "'MJPG'" in r.stdout:
            return True
        time.sleep(0.1)
    return False


def start_daemon(binary, sc, fps, tmp):
    port = free_port()
    cfg = os.path.join(tmp, "daemon.toml")
    with open(cfg, "w") as f:
        f.write(f'[camera]\ndocument = "{sc["label"]}"\npreview_fps = {fps}\nwarmup_frames = 0\n'
                'linger_seconds = 1\n[log]\nlevel = "warn"\n')
    p = subprocess.Popen([binary, "--config", cfg, "--state-dir", tmp, "--listen", f"127.0.0.1:{port}"],
                         stderr=subprocess.DEVNULL)
    wait_port(port, p, 30)
    for _ in range(100):  # the camera is found by the first scan
        if call(port, "/video=status", {}).get("video0") in ("ok", "run"):
            break
        time.sleep(0.1)
    r = call(port, "/param=set", {"camidx": "0", "resolution": {"width": "640", "height": "480"}})
    if r.get("code") != "0":
        raise RuntimeError(f"daemon: 640x480 refused: {r}")
    return p, port, "/video=stream&camidx=0", b"--cameraserviceframe"


def start_ustreamer(binary, sc, fps, tmp):
    port = free_port()
    p = subprocess.Popen([binary, "--device", sc["dev"], *sc["ustreamer"],
                          "--resolution", "640x480", "--desired-fps", str(fps), "--persistent",
                          "--host", "127.0.0.1", "--port", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, p, 30)
    return p, port, "/stream", b"--boundarydonotcross"


SERVERS = {"daemon": start_daemon, "µStreamer": start_ustreamer}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("daemon")
    ap.add_argument("ustreamer")
    ap.add_argument("frames")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fps", type=int, default=15)
    a = ap.parse_args()

    dev = find_by_label(LABEL)
    if not dev:
        print("no v4l2loopback device labelled", LABEL)
        return 1
    scenarios = [{"name": "MJPEG passthrough (v4l2loopback 640x480 MJPG)", "label": LABEL, "dev": dev,
                  "ustreamer": ["--format", "MJPEG", "--encoder", "HW"]}]
    vivid = find_by_label("vivid-000-vid-cap", prefix=True)
    if vivid:
        # The daemon's software preview encoder is jpegenc at quality 80: µStreamer's CPU encoder
        # at the same quality. (vivid offers up to 60 fps at 640x480; the daemon captures at the
        # camera's highest rate and encodes the frames its cap lets through; µStreamer asks 15.)
        scenarios.append({"name": "YUYV encoded at quality 80 (vivid 640x480 YUYV)", "label": "vivid",
                          "dev": vivid, "ustreamer": ["--format", "YUYV", "--encoder", "CPU",
                                                      "--quality", "80"]})
    files = sorted(glob.glob(os.path.join(a.frames, "*.jpg")))
    sizes = [os.path.getsize(f) for f in files]
    feeder = subprocess.Popen([sys.executable, FEED, dev, "--files", *files, "--fps", str(a.fps)],
                              stdout=subprocess.DEVNULL)
    try:
        if not wait_mjpg(dev, feeder):
            print("the loopback device never offered MJPG")
            return 1
        bins = {"daemon": a.daemon, "µStreamer": a.ustreamer}
        results = {}  # (scenario, server, clients) -> [(cpu per frame, fps per client)]
        for r in range(a.rounds):
            order = list(SERVERS) if r % 2 == 0 else list(reversed(SERVERS))
            for sc in scenarios:
                for n in (1, 10):
                    for name in order:
                        tmp = tempfile.mkdtemp(prefix="cmp-")
                        p, port, path, boundary = SERVERS[name](bins[name], sc, a.fps, tmp)
                        try:
                            cpf, fps = measure_stream(p.pid, port, path, n, a.seconds, boundary,
                                                      warmup=3.0)
                        finally:
                            p.terminate()
                            p.wait(10)
                        results.setdefault((sc["name"], name, n), []).append((cpf, fps))
                        print(f"round {r + 1} {sc['name']}: {name} {n} clients: {cpf * 1000:.2f} ms "
                              f"CPU/frame, {fps:.2f} fps per client", flush=True)
    finally:
        feeder.terminate()
        feeder.wait()

    print()
    print(f"MJPEG source: {len(files)} frames 640x480, {statistics.mean(sizes) / 1024:.1f} KB on "
          f"average, {a.fps} fps. Cap / desired rate {a.fps} fps. {a.rounds} alternating rounds of "
          f"{a.seconds:.0f} s; medians.")
    print()
    print("| scenario | clients | daemon CPU ms/frame | µStreamer CPU ms/frame | ratio | "
          "daemon fps per client | µStreamer fps per client |")
    print("|---|---|---|---|---|---|---|")
    for sc in scenarios:
        for n in (1, 10):
            d = results[(sc["name"], "daemon", n)]
            u = results[(sc["name"], "µStreamer", n)]
            dc = statistics.median(c for c, _ in d)
            uc = statistics.median(c for c, _ in u)
            df = statistics.median(f for _, f in d)
            uf = statistics.median(f for _, f in u)
            print(f"| {sc['name']} | {n} | {dc * 1000:.2f} | {uc * 1000:.2f} | {dc / uc:.2f}x | "
                  f"{df:.2f} | {uf:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
