"""Support code for the reliability tier (issue 13: nothing a page sends can take the device down).

Reuses the e2e harness (tests/e2e/e2e_support.py: Daemon, HTTP helpers, TOML writer) and adds:

- `Daemons`: starts daemons like e2e's DaemonFactory (free 127.0.0.1 port, fresh state directory,
  --sim, SIGTERM at teardown) and can also set resource limits in the child (RLIMIT_NOFILE for the
  connection flood); every daemon gets a memory guard thread that samples its RSS and SIGKILLs it
  (its own pid, nothing else) past RSS_KILL_MIB, so a daemon without the hardening cannot take the
  test machine down with it.
- `Guard`: what every row checks after its class of abuse: (a) the daemon is alive and
  `param=get type=app_version` answers "0", (b) nothing outside the storage root changed (canary
  files and a snapshot of the daemon's directory apart from its storage root, log and cache file),
  (c) the files stored before the abuse are still intact (on disk and through GET /storage/), (d)
  peak RSS (VmHWM) under PEAK_LIMIT_MIB; the figures go to RESULTS, printed at the end of the run.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Callable

import pytest

REL_DIR = Path(__file__).resolve().parent
E2E_DIR = REL_DIR.parent / "e2e"
if str(E2E_DIR) not in sys.path:
    sys.path.insert(0, str(E2E_DIR))

import e2e_support  # noqa: E402
from e2e_support import LOOPBACK, Daemon, DaemonFactory, check_api_reply  # noqa: E402

MIB = 1024 * 1024
PEAK_LIMIT_MIB = 512  # (d): VmHWM of the daemon must stay under this
RSS_KILL_MIB = int(os.environ.get("RELIABILITY_RSS_KILL_MIB", "2048"))  # memory guard: kill past this

# A configuration for fast tests (issue 13 contract keys). Tests override per row.
BASE_CONFIG: dict = {
    "server": {
        "header_timeout_seconds": 2,
        "body_timeout_seconds": 2,
        "send_timeout_seconds": 3,
    },
    "limits": {
        "busy_wait_ms": 1000,
        "work_memory_mb": 256,
    },
    "camera": {"linger_seconds": 1, "warmup_frames": 0},
    "magcard": {"timeout_ms": 300},
    "idcard": {"timeout_ms": 300},
}

# Every row's figures: dicts with test, idle/peak/settle RSS (MiB), threads, fds, note.
RESULTS: list[dict] = []


def merge_config(base: dict, over: dict | None) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k].update(v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# --------------------------------------------------------------------------- /proc


def proc_status(pid: int) -> dict:
    """VmRSS, VmHWM (KiB) and Threads from /proc/PID/status ({} when the process is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
    except OSError:
        return {}
    return out


def rss_mib(pid: int) -> float:
    return proc_status(pid).get("VmRSS", 0) / 1024


def hwm_mib(pid: int) -> float:
    return proc_status(pid).get("VmHWM", 0) / 1024


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
              6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}


def server_side_state(server_port: int, client_port: int) -> str | None:
    """TCP state of the daemon's end of the loopback connection to client_port (from /proc/net/tcp),
    None when that end no longer exists."""
    want_local = f"0100007F:{server_port:04X}"
    want_remote = f"0100007F:{client_port:04X}"
    try:
        with open("/proc/net/tcp", encoding="ascii") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1] == want_local and parts[2] == want_remote:
                    return TCP_STATES.get(int(parts[3], 16), parts[3])
    except OSError:
        return None
    return None


class MemoryGuard(threading.Thread):
    """Samples a daemon's VmRSS every 50 ms; SIGKILLs that pid past RSS_KILL_MIB."""

    def __init__(self, proc: subprocess.Popen, limit_mib: float = RSS_KILL_MIB):
        super().__init__(daemon=True)
        self.proc = proc
        self.limit = limit_mib
        self.max_sampled = 0.0
        self.killed_at: float | None = None
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set() and self.proc.poll() is None:
            r = rss_mib(self.proc.pid)
            self.max_sampled = max(self.max_sampled, r)
            if r > self.limit and self.proc.poll() is None:
                self.killed_at = r
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGKILL)  # the daemon this test started, by pid
                print(f"[reliability] memory guard: daemon pid {self.proc.pid} at {r:.0f} MiB "
                      f"(> {self.limit} MiB) killed", flush=True)
                return
            self._stop.wait(0.05)

    def stop(self) -> None:
        self._stop.set()


# --------------------------------------------------------------------------- daemons


class Daemons:
    """Starts daemons through e2e_support.DaemonFactory with the tier's base configuration and a
    memory guard, and stops every one at close(): SIGTERM, SIGKILL of that pid only if it hangs."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory):
        self._factory = DaemonFactory(tmp_path_factory)
        self.daemons: list[Daemon] = []

    def __call__(self, config: dict | None = None, *, sim: bool = True, env: dict | None = None,
                 preexec: Callable[[], None] | None = None, base: dict | None = None) -> Daemon:
        cfg = merge_config(BASE_CONFIG if base is None else base, config)
        # The memory guard watches from the start, before the daemon is ready.
        d = self._factory(cfg, sim=sim, env=env, preexec=preexec, wait=False)
        d.config = cfg
        d.guard = MemoryGuard(d.proc)
        d.guard.start()
        self.daemons.append(d)
        d.wait_ready()
        return d

    def close(self) -> None:
        for d in self.daemons:
            d.guard.stop()
            rc = d.terminate()
            if rc not in (0, None) and d.guard.killed_at is None:
                print(f"[reliability] daemon on port {d.port} stopped with {rc!r}; log tail:\n{d.log_tail(30)}")
        self.daemons.clear()
        self._factory.daemons.clear()


# --------------------------------------------------------------------------- images


def png_bytes(width: int, height: int, seed: int = 1) -> bytes:
    """A small RGB PNG with a little structure (no Pillow needed)."""
    rnd = random.Random(seed)
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            v = (x * 7 + y * 3 + rnd.randrange(16)) & 0xFF
            row += bytes((v, 255 - v, (v * 3) & 0xFF))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)
    return _png(width, height, raw)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height and whose data is a few bytes (truncated)."""
    return _png(width, height, zlib.compress(b"\x00" * 64))


def _png(width: int, height: int, idat: bytes) -> bytes:
    """An RGB PNG of `width` x `height` with the given compressed image data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def uniform_grey_jpeg(width: int, height: int) -> bytes:
    """A valid baseline greyscale JPEG of width x height, every pixel mid-grey, written directly.

    Each 8x8 block is coded as DC difference 0 + end-of-block, with one-symbol Huffman tables (one
    1-bit code each), so a block costs 2 bits: 16000x16000 is 1 MB on disk but 256 Mpixel decoded.
    width and height must be multiples of 8 (and the block count a multiple of 4).
    """
    assert width % 8 == 0 and height % 8 == 0
    blocks = (width // 8) * (height // 8)
    assert blocks % 4 == 0, "block count must fill whole bytes"

    def seg(marker: int, payload: bytes) -> bytes:
        return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload

    out = bytearray(b"\xff\xd8")
    out += seg(0xE0, b"JFIF\x00\x01\x01\x01\x00\xc8\x00\xc8\x00\x00")  # 200 dpi
    out += seg(0xDB, b"\x00" + bytes([1] * 64))  # quantisation table 0: all ones
    out += seg(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    one_code = bytes([1] + [0] * 15)  # one code of length 1
    out += seg(0xC4, b"\x00" + one_code + b"\x00")  # DC table 0: symbol 0 (difference 0)
    out += seg(0xC4, b"\x10" + one_code + b"\x00")  # AC table 0: symbol 0x00 (end of block)
    out += seg(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    out += bytes(blocks // 4)  # "00" per block: DC 0, EOB
    out += b"\xff\xd9"
    return bytes(out)


def b64s(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------- the four checks


def _tree_digest(root: Path, skip: Callable[[Path], bool]) -> dict:
    """{relative path: (kind, size, sha256)} of everything under root, skipping what skip() says."""
    out = {}
    for dirpath, dirs, files in os.walk(root, followlinks=False):
        d = Path(dirpath)
        dirs[:] = [x for x in dirs if not skip(d / x)]
        for name in dirs:
            out[(d / name).relative_to(root).as_posix() + "/"] = ("dir",)
        for name in files:
            p = d / name
            if skip(p):
                continue
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_file():
                data = p.read_bytes()
                out[rel] = ("file", len(data), hashlib.sha256(data).hexdigest())
            else:
                out[rel] = ("other",)
    return out


class Guard:
    """Set up before a row's abuse, checked after it (see the module docstring)."""

    def __init__(self, d: Daemon, name: str):
        self.d = d
        self.name = name
        self.pid = d.proc.pid
        self.root = d.state_dir / "storage"
        # canaries outside the storage root: next to it in the state directory, and beside the
        # state directory
        self.canaries = {
            d.state_dir / "canary-outside-storage.txt": os.urandom(64).hex().encode(),
            d.workdir / "outside" / "canary.txt": os.urandom(64).hex().encode(),
            d.state_dir / "storage-sibling" / "secret.jpg": b"\xff\xd8\xff\xe0" + os.urandom(500),
        }
        for p, data in self.canaries.items():
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        # files stored before the abuse, through the API
        self.stored: dict[str, bytes] = {}
        for path, data, kind in (
            ("/keep/a.png", png_bytes(120, 80, 3), "png"),
            ("keep/sub/b.jpg", uniform_grey_jpeg(64, 48), "jpg"),
            ("D:/keep/c.png", png_bytes(31, 17, 5), "png"),
        ):
            r = e2e_support.api_code(d, "imagepro=storage_image",
                                     {"source_image": {"base64": b64s(data), "image_type": kind},
                                      "output_image": {"filepath": path}}, "0", 30.0)
            rel = path.split(":", 1)[-1].lstrip("/")
            assert (self.root / rel).read_bytes() == data, f"{path} not stored as sent: {r}"
            self.stored[rel] = data
        self.snapshot = self._snapshot()
        time.sleep(0.3)
        self.idle_rss = rss_mib(self.pid)
        self.idle_threads = proc_status(self.pid).get("Threads", 0)
        self.idle_fds = fd_count(self.pid)
        self.notes: list[str] = []

    def _skip(self, p: Path) -> bool:
        d = self.d
        if p == self.root or p == d.log_path:
            return True
        if p.name.startswith("cache-data.json") or ".cache-data.json" in p.name:
            return True  # the daemon's own cache store (param=set set_cache_data may change it)
        if p == d.state_dir / "update":
            return True  # the update API's spool (its own state)
        return False

    def _snapshot(self) -> dict:
        return _tree_digest(self.d.workdir, self._skip)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"[{self.name}] {text}", flush=True)

    def app_version(self, timeout: float = 10.0) -> dict:
        return check_api_reply(self.d.post("/param=get", {"type": "app_version"}, timeout=timeout))

    def check_alive(self, wait: float = 10.0) -> None:
        """(a): alive, app_version "0" (polled for up to `wait` seconds)."""
        d = self.d
        deadline = time.monotonic() + wait
        last: Any = None
        while True:
            if d.guard.killed_at is not None:
                pytest.fail(f"daemon killed by the test's memory guard at {d.guard.killed_at:.0f} MiB "
                            f"(ceiling {PEAK_LIMIT_MIB} MiB)")
            assert d.alive(), (f"daemon died (exit {d.proc.returncode}); log tail:\n{d.log_tail(40)}")
            try:
                last = self.app_version()
                if last["code"] == "0":
                    return
            except (OSError, AssertionError) as e:
                last = e
            if time.monotonic() > deadline:
                raise AssertionError(f"app_version did not answer code \"0\" within {wait}s: {last!r}")
            time.sleep(0.2)

    def check_outside_unchanged(self) -> None:
        """(b)."""
        for p, data in self.canaries.items():
            assert p.is_file() and p.read_bytes() == data, f"canary {p} changed or removed"
        now = self._snapshot()
        if now != self.snapshot:
            added = sorted(set(now) - set(self.snapshot))
            removed = sorted(set(self.snapshot) - set(now))
            changed = sorted(k for k in set(now) & set(self.snapshot) if now[k] != self.snapshot[k])
            raise AssertionError(f"outside the storage root: added {added[:20]}, removed {removed[:20]}, "
                                 f"changed {changed[:20]}")

    def check_stored_intact(self) -> None:
        """(c): on disk and through GET /storage/."""
        for rel, data in self.stored.items():
            p = self.root / rel
            assert p.is_file(), f"stored file {rel} is gone"
            assert p.read_bytes() == data, f"stored file {rel} changed"
            r = self.d.get("/storage/" + rel, timeout=10)
            assert r.status == 200 and r.body == data, f"GET /storage/{rel}: {r!r}"

    def settle(self, below_mib: float | None = None, timeout: float = 5.0) -> float:
        """VmRSS after the abuse: polled until under `below_mib` (or for `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        r = rss_mib(self.pid)
        while time.monotonic() < deadline:
            r = rss_mib(self.pid)
            if below_mib is not None and r < below_mib:
                break
            time.sleep(0.25)
        return r

    def finish(self, settle_below: float | None = None, settle_timeout: float = 1.5,
               alive_wait: float = 10.0) -> dict:
        """All four checks; records and prints the RSS figures (also when a check fails)."""
        row = {"test": self.name, "idle": self.idle_rss, "peak": None, "settle": None,
               "threads": None, "fds": None, "note": "; ".join(self.notes)}
        RESULTS.append(row)
        try:
            self.check_alive(alive_wait)
            settle = self.settle(settle_below, settle_timeout)
            st = proc_status(self.pid)
            row.update(peak=st.get("VmHWM", 0) / 1024, settle=settle, threads=st.get("Threads"),
                       fds=fd_count(self.pid))
            print(f"[{self.name}] RSS idle {self.idle_rss:.1f} MiB, peak (VmHWM) {row['peak']:.1f} MiB, "
                  f"settle {settle:.1f} MiB; threads {self.idle_threads} -> {row['threads']}, "
                  f"fds {self.idle_fds} -> {row['fds']}", flush=True)
            self.check_outside_unchanged()
            self.check_stored_intact()
            assert row["peak"] < PEAK_LIMIT_MIB, f"peak RSS {row['peak']:.0f} MiB >= {PEAK_LIMIT_MIB} MiB"
            if settle_below is not None:
                assert settle < settle_below, (f"RSS {settle:.0f} MiB did not fall under {settle_below:.0f} MiB "
                                               f"within {settle_timeout}s")
        except BaseException:
            if row["peak"] is None:
                row["peak"] = max(self.d.guard.max_sampled, hwm_mib(self.pid))
                row["note"] = (row["note"] + "; " if row["note"] else "") + (
                    "daemon gone" if not self.d.alive() else "failed")
            raise
        return row


def format_results() -> str:
    if not RESULTS:
        return ""
    lines = ["| test | idle RSS MiB | peak (VmHWM) MiB | settle RSS MiB | threads | fds |",
             "|---|---:|---:|---:|---:|---:|"]

    def f(v):
        return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))

    rows = sorted(RESULTS, key=lambda r: r["test"])
    for r in rows:
        lines.append(f"| {r['test']} | {f(r['idle'])} | {f(r['peak'])} | {f(r['settle'])} | "
                     f"{f(r['threads'])} | {f(r['fds'])} |")
    lines.append("")
    for r in rows:
        if r["note"]:
            lines.append(f"{r['test']}: {r['note']}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- raw sockets


def wait_closed(sock: socket.socket, deadline: float, trickle: Callable[[], bytes | None] | None = None,
                trickle_every: float = 1.0) -> tuple[str, bytes]:
    """Wait until the server ends the connection: ("eof"|"reset", bytes received) or
    ("open", bytes) at `deadline`. `trickle()` is called every `trickle_every` s for bytes to send."""
    import select

    got = bytearray()
    next_send = time.monotonic() + trickle_every if trickle else None
    while True:
        now = time.monotonic()
        if now >= deadline:
            return "open", bytes(got)
        wait = deadline - now
        if next_send is not None:
            wait = max(0.0, min(wait, next_send - now))
        r, _, _ = select.select([sock], [], [], wait)
        if r:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, ConnectionAbortedError):
                return "reset", bytes(got)
            if not chunk:
                return "eof", bytes(got)
            got += chunk
        if next_send is not None and time.monotonic() >= next_send:
            data = trickle()
            if data:
                try:
                    sock.sendall(data)
                except (BrokenPipeError, ConnectionResetError):
                    return "reset", bytes(got)
            next_send += trickle_every


def run_threads(fns: list[Callable[[], Any]], deadline_s: float) -> list[Any]:
    """Run each fn on its own thread, all started together; results (or the exception) in order.
    Threads still running at the deadline leave a TimeoutError in their slot."""
    results: list[Any] = [TimeoutError("did not finish in time")] * len(fns)
    start = threading.Barrier(len(fns) + 1)

    def wrap(i, fn):
        try:
            start.wait(30)
        except threading.BrokenBarrierError:
            pass
        try:
            results[i] = fn()
        except BaseException as e:  # noqa: BLE001 - reported to the caller
            results[i] = e

    threads = [threading.Thread(target=wrap, args=(i, fn), daemon=True) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    start.wait(30)
    end = time.monotonic() + deadline_s
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    return results


def api_json(d: Daemon, target: str, body: Any, timeout: float = 30.0, method: str = "POST") -> tuple[dict, float]:
    """POST (or GET) and return (checked reply object, seconds)."""
    t0 = time.monotonic()
    r = d.request(method, target if target.startswith("/") else "/" + target, body,
                  content_type="application/json" if body is not None else None, timeout=timeout)
    return check_api_reply(r), time.monotonic() - t0


def codes_of(results: list[Any]) -> dict:
    out: dict[str, int] = {}
    for r in results:
        k = r if isinstance(r, str) else type(r).__name__ + (f": {r}"[:80] if isinstance(r, BaseException) else "")
        out[k] = out.get(k, 0) + 1
    return out



def post_streaming(port: int, target: str, body: bytes, timeout: float = 60.0,
                   content_type: str = "application/json") -> tuple[int | None, dict, bytes, str]:
    """POST a large body from a sender thread while reading the answer on the same socket, so a
    server that answers (and closes) before taking the whole body is seen answering.

    Returns (status or None, headers, body, how the connection ended: "complete"|"eof"|"reset"|"timeout").
    """
    head = (f"POST {target} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    s = socket.create_connection((LOOPBACK, port), timeout=timeout)
    s.settimeout(timeout)

    def send():
        with contextlib.suppress(OSError):
            s.sendall(head)
            view = memoryview(body)
            for i in range(0, len(body), 1 << 20):
                s.sendall(view[i:i + (1 << 20)])

    t = threading.Thread(target=send, daemon=True)
    t.start()
    buf = bytearray()
    how = "eof"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                how = "timeout"
                break
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                how = "timeout"
                break
            except (ConnectionResetError, ConnectionAbortedError):
                how = "reset"
                break
            if not chunk:
                break
            buf += chunk
            if e2e_support.response_complete(bytes(buf)):
                how = "complete"
                break
    finally:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()
        t.join(5)
    if b"\r\n\r\n" not in buf:
        return None, {}, bytes(buf), how
    status, headers, data = e2e_support.parse_raw_response(bytes(buf))
    return status, headers, data, how
