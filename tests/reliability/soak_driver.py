#!/usr/bin/env python3
"""Soak driver (run by scripts/soak.sh): one --sim daemon under a mixed load for SOAK_SECONDS.

Starts the daemon on a free 127.0.0.1 port with its own temporary state directory, then runs a
few workers (SOAK_WORKERS, default 4) that loop over: MJPEG stream churn (open, read a few frames,
close), v1.5 grabs with processing, merge2pdf of stored images, WebSocket sessions (grab_image,
file2base64). Every SOAK_INTERVAL seconds it prints elapsed time, VmRSS, VmHWM, open descriptors,
threads, requests done and errors by code; at the end a summary (first vs last minute) and stops
the daemon (SIGTERM to its pid, SIGKILL to that pid only if it does not exit). Nothing else is
started or stopped. Exit status: 0 when the daemon lived through the run, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

import websocket  # noqa: E402

from e2e_support import LOOPBACK, MjpegStream, check_api_reply, daemon_binary, free_port, http_request, to_toml  # noqa: E402
from reliability_support import proc_status  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "3600"))
INTERVAL = float(os.environ.get("SOAK_INTERVAL", "60"))
WORKERS = int(os.environ.get("SOAK_WORKERS", "4"))
TIMEOUT = 60.0

CONFIG = {
    "storage": {"quota_bytes": 256 * 1024 * 1024},  # merges store documents; retention keeps it bounded
    "camera": {"linger_seconds": 2},
}


def status(pid: int) -> dict:
    """VmRSS, VmHWM, Threads and open descriptors of the daemon."""
    out = proc_status(pid)
    try:
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.done = Counter()  # by operation
        self.codes = Counter()  # "op: outcome" for everything that is not success

    def add(self, op: str, outcome: str) -> None:
        with self.lock:
            self.done[op] += 1
            if outcome != "0":
                self.codes[f"{op}:{outcome}"] += 1

    def snapshot(self) -> tuple[int, dict, dict]:
        with self.lock:
            return sum(self.done.values()), dict(self.done), dict(self.codes)


class Load:
    def __init__(self, port: int, stats: Stats, stop: threading.Event, sources: list[str], stored: str):
        self.port = port
        self.stats = stats
        self.stop = stop
        self.sources = sources
        self.stored = stored

    def api(self, endpoint: str, body) -> dict:
        r = http_request(self.port, "POST", "/" + endpoint, body, content_type="application/json", timeout=TIMEOUT)
        return check_api_reply(r)

    def stream(self) -> str:
        with MjpegStream(self.port, f"/video=stream&camidx=0&tid={random.randrange(10**9)}", timeout=30) as s:
            if not s.is_multipart:
                return f"HTTP {s.status}"
            for _ in range(random.randint(2, 5)):
                s.frame(30)
        return "0"

    def grab(self) -> str:
        r = self.api("video=grabimage", {"camidx": "0", "image_process_info": {
            "cut_type": "1", "rect_correct": "1", "color_type": random.choice(["0", "1", "2"])},
            "image_storage_info": {"jpg_quality": "80"}})
        return r["code"]

    def merge(self) -> str:
        kind = random.choice(["merge2pdf", "merge2pdf", "merge2tif", "merge2ofd"])
        r = self.api(f"imagepro={kind}", [{"filepath": p} for p in random.sample(self.sources, 3)])
        return r["code"]

    def ws(self) -> str:
        conn = websocket.create_connection(f"ws://{LOOPBACK}:{self.port}/", timeout=TIMEOUT)
        try:
            worst = "0"
            for fn, params in (("grab_image", {"camidx": "0", "image_process_info": {"cut_type": "1"}}),
                               ("imagepro=file2base64", {"filepath": self.stored})):
                conn.send(json.dumps({"function": fn, "params": params}))
                for _ in range(50):  # skip pushes
                    msg = json.loads(conn.recv())
                    if msg.get("function") == fn:
                        break
                code = msg.get("code")
                if code != "0":
                    worst = str(code)
            return worst
        finally:
            conn.close()

    def run(self) -> None:
        ops = [("stream", self.stream), ("grab", self.grab), ("merge", self.merge), ("ws", self.ws)]
        weights = [3, 3, 2, 2]
        while not self.stop.is_set():
            name, fn = random.choices(ops, weights)[0]
            try:
                outcome = fn()
            except Exception as e:  # noqa: BLE001 - counted and shown in the report
                outcome = type(e).__name__
                self.stop.wait(0.5)
            self.stats.add(name, outcome)


def main() -> int:
    binary = Path(os.environ.get("CAMERASERVICED_BIN") or daemon_binary())
    if not binary.is_file():
        print(f"soak: daemon binary not found: {binary}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="cameraservice-soak-"))
    state = work / "state"
    state.mkdir()
    (work / "config.toml").write_text(to_toml(CONFIG), encoding="utf-8")
    port = free_port()
    log = open(work / "daemon.log", "wb")
    cmd = [str(binary), "--config", str(work / "config.toml"), "--listen", f"{LOOPBACK}:{port}",
           "--state-dir", str(state), "--sim"]
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    stop = threading.Event()
    interrupted = []

    def on_signal(signum, _frame):
        interrupted.append(signum)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    threads: list[threading.Thread] = []
    ok = False
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {proc.returncode} at start")
            try:
                if check_api_reply(http_request(port, "POST", "/param=get", {"type": "app_version"},
                                                content_type="application/json", timeout=2))["code"] == "0":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("daemon did not answer within 30 s")
            time.sleep(0.1)
        print(f"soak: daemon pid {proc.pid} on {LOOPBACK}:{port}, state {state}, {WORKERS} workers, "
              f"{SECONDS:.0f} s, report every {INTERVAL:.0f} s", flush=True)

        # Material for merges and file2base64: three grabbed pages, stored under client paths
        # (generated images are subject to the storage retention, which the merges' documents
        # trigger over an hour; these are not).
        seed = Load(port, Stats(), stop, [], "")
        sources = []
        for i in range(3):
            r = seed.api("video=grabimage", {"camidx": "0", "image_process_info": {"cut_type": "1"}})
            if r["code"] != "0":
                raise RuntimeError(f"seed grab: {json.dumps(r)[:300]}")
            path = f"/soak/page{i + 1}.jpg"
            r = seed.api("imagepro=storage_image", {"source_image": {"base64": r["images"][0]["base64"]},
                                                    "output_image": {"filepath": path}})
            if r["code"] != "0":
                raise RuntimeError(f"seed store: {json.dumps(r)[:300]}")
            sources.append(path)
        stored = sources[0]

        stats = Stats()
        for _ in range(WORKERS):
            t = threading.Thread(target=Load(port, stats, stop, sources, stored).run, daemon=True)
            t.start()
            threads.append(t)

        t0 = time.monotonic()
        samples = []  # (elapsed, status dict)
        next_report = t0 + INTERVAL
        print(f"{'elapsed':>8} {'VmRSS MiB':>10} {'VmHWM MiB':>10} {'fds':>5} {'threads':>7} {'requests':>9}  errors",
              flush=True)
        while not stop.is_set():
            now = time.monotonic()
            if proc.poll() is not None:
                print(f"soak: DAEMON EXITED with {proc.returncode} after {now - t0:.0f} s", flush=True)
                break
            st = status(proc.pid)
            samples.append((now - t0, st))
            if now >= next_report or now - t0 >= SECONDS:
                total, _, codes = stats.snapshot()
                errs = ", ".join(f"{k} x{v}" for k, v in sorted(codes.items())) or "-"
                print(f"{now - t0:>7.0f}s {st.get('VmRSS', 0) / 1024:>10.1f} {st.get('VmHWM', 0) / 1024:>10.1f} "
                      f"{st.get('fds', -1):>5} {st.get('Threads', -1):>7} {total:>9}  {errs}", flush=True)
                next_report += INTERVAL
            if now - t0 >= SECONDS:
                break
            stop.wait(1.0)
        stop.set()
        for t in threads:
            t.join(TIMEOUT + 5)
        alive = proc.poll() is None

        total, done, codes = stats.snapshot()
        window = min(60.0, max(INTERVAL, SECONDS / 4))
        first = [s for e, s in samples if e <= window] or [samples[0][1]] if samples else []
        last_from = samples[-1][0] - window if samples else 0
        last = [s for e, s in samples if e >= last_from]

        def agg(xs, key, fn=max):
            vals = [x[key] for x in xs if key in x]
            return fn(vals) if vals else -1

        print("\nsoak summary", flush=True)
        print(f"  ran {samples[-1][0] if samples else 0:.0f} s, {total} requests: "
              + ", ".join(f"{k} {v}" for k, v in sorted(done.items())))
        print(f"  not code \"0\": " + (", ".join(f"{k} x{v}" for k, v in sorted(codes.items())) or "none"))
        if samples:
            print(f"  {'':24} {'first ' + str(int(window)) + ' s':>14} {'last ' + str(int(window)) + ' s':>14}")
            print(f"  {'VmRSS max (MiB)':24} {agg(first, 'VmRSS') / 1024:>14.1f} {agg(last, 'VmRSS') / 1024:>14.1f}")
            print(f"  {'VmRSS min (MiB)':24} {agg(first, 'VmRSS', min) / 1024:>14.1f} {agg(last, 'VmRSS', min) / 1024:>14.1f}")
            print(f"  {'open descriptors max':24} {agg(first, 'fds'):>14} {agg(last, 'fds'):>14}")
            print(f"  {'threads max':24} {agg(first, 'Threads'):>14} {agg(last, 'Threads'):>14}")
            print(f"  VmHWM (peak RSS) at the end: {samples[-1][1].get('VmHWM', 0) / 1024:.1f} MiB")
        print(f"  daemon alive at the end: {'yes' if alive else 'NO'}", flush=True)
        ok = alive and not interrupted
        return 0 if alive else 1
    except Exception as e:  # noqa: BLE001
        print(f"soak: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        stop.set()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)  # the daemon this script started, by pid
                rc = proc.wait(5)
            print(f"soak: daemon stopped (exit {rc})", flush=True)
        log.close()
        if ok or os.environ.get("SOAK_KEEP") != "1":
            if not ok:
                tail = (work / "daemon.log").read_text(errors="replace").splitlines()[-30:]
                print("soak: daemon log tail:\n" + "\n".join(tail), file=sys.stderr)
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"soak: kept {work}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
