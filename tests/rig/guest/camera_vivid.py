#!/usr/bin/env python3
"""The camera backend against a real kernel device: cameraserviced (no --sim) with vivid's
capture node in the QEMU rig. Runs inside the guest (standard library only).

Checks: enumeration of formats and sizes, property get/set of brightness, contrast, saturation,
hue and gain (read back through v4l2-ctl, i.e. the kernel), the gain auto rule, capture of MJPEG
preview frames, and vivid's `disconnect` control while streaming (the stream ends with the
removal picture, status goes "no", the device comes back and streams again). With a
v4l2loopback device labelled "rig-loopback" fed MJPG frames, the second camera is a real MJPG
kernel device: its preview frames must be the camera's JPEG bytes, passed through untouched.

usage: camera_vivid.py DAEMON_BIN
Prints PASS/FAIL per check and "N passed, M failed"; exits non-zero on any failure.
"""

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time

from rigcheck import PORT, call, check, daemon, finish

BOUNDARY = b"--cameraserviceframe"


def v4l2_get(dev, name):
    out = subprocess.run(["v4l2-ctl", "-d", dev, "-C", name], capture_output=True, text=True).stdout
    return int(out.split(":")[1].strip())


def node_named(word):
    for n in sorted(os.listdir("/sys/class/video4linux")):
        try:
            with open(f"/sys/class/video4linux/{n}/name") as f:
                if word in f.read().lower():
                    return "/dev/" + n
        except OSError:
            pass
    return None


def vivid_node():
    return node_named("vivid")


class Stream:
    """An MJPEG stream read through http.client (which undoes the chunked transfer coding)."""

    def __init__(self, path="/video=stream&camidx=0"):
        self.c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        self.c.request("GET", f"{path}&tid={time.time()}")
        self.r = self.c.getresponse()
        self.buf = b""
        self.eof = False

    def parts(self, n, timeout):
        """Up to n complete JPEG parts (fewer if the stream ends or the time runs out)."""
        out = []
        end = time.time() + timeout
        while len(out) < n and time.time() < end and not self.eof:
            self.c.sock.settimeout(max(0.1, end - time.time()))
            try:
                d = self.r.read1(1 << 20)
            except (socket.timeout, TimeoutError):
                break
            if not d:
                self.eof = True
            self.buf += d
            while True:
                i = self.buf.find(BOUNDARY)
                j = self.buf.find(BOUNDARY, i + 1) if i >= 0 else -1
                if i < 0 or j < 0:
                    break
                part = self.buf[i:j]
                self.buf = self.buf[j:]
                if b"\r\n\r\n" in part:
                    out.append(part.split(b"\r\n\r\n", 1)[1][:-2])
        return out

    def close(self):
        self.c.close()


def wait_status(value, timeout):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if call("/video=status")["video0"] == value:
                return True
        except OSError:
            pass
        time.sleep(0.3)  # poll interval
    return False


def capture_format(dev):
    """The capture side's format as v4l2-ctl prints it ("" while there is none)."""
    r = subprocess.run(["v4l2-ctl", "-d", dev, "--get-fmt-video"], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else ""


def wait_mjpg(dev, feeder, timeout=30.0):
    """Wait until the v4l2loopback device offers the feeder's MJPG format to readers (it has none,
    VIDIOC_G_FMT fails, until the writer has set it and is writing). True when it does."""
    deadline = time.monotonic() + timeout
    while feeder.poll() is None:
        if "'MJPG'" in capture_format(dev):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)  # poll interval
    return False


def main():
    binary = sys.argv[1]
    dev = vivid_node()
    if not check("vivid capture node present", dev is not None, os.listdir("/dev")):
        return finish()
    tmp = tempfile.mkdtemp()
    # An MJPG camera: v4l2loopback fed with one known JPEG, started before the daemon looks.
    loop = node_named("rig-loopback")
    feeder, jpeg = None, None
    if loop:
        helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers", "mjpeg_feed.py")
        jpg = os.path.join(tmp, "frame.jpg")
        subprocess.run([sys.executable, helper, "--write-jpeg", jpg, "--size", "640x480"], check=True,
                       capture_output=True)
        jpeg = open(jpg, "rb").read()
        feeder = subprocess.Popen([sys.executable, helper, loop, "--files", jpg, "--fps", "10",
                                   "--duration", "600"], stdout=subprocess.DEVNULL)
        if not check(f"v4l2loopback {loop} offers MJPG to readers", wait_mjpg(loop, feeder),
                     f"timed out after 30 s waiting for the capture format MJPG on {loop} (feeder "
                     f"{'exited with ' + str(feeder.returncode) if feeder.poll() is not None else 'running'}; "
                     f"format now: {capture_format(loop)!r})"):
            feeder.terminate()
            return finish()
    config = ("[camera]\nscan_interval_seconds = 0.5\nwarmup_frames = 0\nlinger_seconds = 1\n"
              "preview_fps = 5\n")
    with contextlib.ExitStack() as stack:
        d = stack.enter_context(daemon(binary, tmp, config))
        if feeder:
            stack.callback(feeder.terminate)  # before the daemon stops
        check("daemon up", d.poll() is None)
        check("status video0 ok", wait_status("ok", 20), call("/video=status"))

        types = call("/param=get", {"type": "available_video_type", "camidx": "0"})
        check("video types from the kernel (vivid: YUY2, no MJPG)",
              types.get("available_video_type") == ["YUY2"], types)
        res = call("/param=get", {"type": "resolution", "camidx": "0"})
        sizes = res.get("resolution", "").split("|")
        check("frame sizes enumerated", "640x480" in sizes and len(sizes) >= 3, res)
        r = call("/param=set", {"camidx": "0", "resolution": {"width": "640", "height": "480"}})
        check("set resolution 640x480", r.get("resolution") == "640x480", r)
        r = call("/param=set", {"camidx": "0", "resolution": {"width": "641", "height": "480"}})
        check("invalid resolution refused with the valid list",
              r["code"] == "4" and "640x480" in r.get("message", ""), r)

        for name, value in (("brightness", 200), ("contrast", 100), ("saturation", 90), ("hue", 20)):
            r = call("/video=setproperty", {"camidx": "0", name: str(value)})
            g = call("/video=getproperty", {"camidx": "0", "key": name})
            k = v4l2_get(dev, name)
            check(f"{name} set to {value} (kernel reads {k})",
                  r["code"] == "0" and g.get("current") == str(value) and k == value, (r, g))
        g = call("/video=getproperty", {"camidx": "0", "key": "brightness"})
        check("brightness range from the kernel",
              (g.get("settable"), g.get("min"), g.get("max"), g.get("default")) == ("0", "0", "255", "128"), g)
        r = call("/video=setproperty", {"camidx": "0", "gain": "99999"})
        g = call("/video=getproperty", {"camidx": "0", "key": "gain"})
        check("gain out of range -> automatic (gain_automatic=1 in the kernel)",
              r["code"] == "0" and g.get("is_auto") == "1" and v4l2_get(dev, "gain_automatic") == 1, (r, g))
        r = call("/video=setproperty", {"camidx": "0", "gain": "10"})
        g = call("/video=getproperty", {"camidx": "0", "key": "gain"})
        check("gain in range -> manual with that value",
              g.get("is_auto") == "0" and v4l2_get(dev, "gain_automatic") == 0 and v4l2_get(dev, "gain") == 10,
              (r, g))
        g = call("/video=getproperty", {"camidx": "0", "key": "zoom"})
        check("absent control -> settable 1", g.get("code") == "0" and g.get("settable") == "1", g)

        if loop:
            t = call("/param=get", {"type": "available_video_type", "camidx": "1"})
            check("v4l2loopback MJPG device is camera 1", t.get("available_video_type") == ["MJPG"], t)
            s1 = Stream("/video=stream&camidx=1")
            got = s1.parts(4, 60)
            s1.close()
            # v4l2loopback's first buffer may carry leftover bytes after the JPEG's end.
            check("MJPEG passthrough: preview frames are the camera's JPEG bytes",
                  len(got) == 4 and all(g == jpeg for g in got[1:]),
                  [(len(g), g == jpeg) for g in got])

        s = Stream()
        frames = s.parts(3, 60)
        check("frames captured from vivid as JPEG",
              len(frames) == 3 and all(f[:2] == b"\xff\xd8" and f[-2:] == b"\xff\xd9" for f in frames),
              [len(f) for f in frames])
        check("status run while streaming", call("/video=status")["video0"] == "run")

        # Unplug while streaming.
        subprocess.run(["v4l2-ctl", "-d", dev, "-c", "disconnect=1"], capture_output=True)
        tail = s.parts(100, 30)
        check("stream ends after disconnect", s.eof, len(tail))
        check("last picture is the removal notice (a JPEG)",
              bool(tail) and tail[-1][:2] == b"\xff\xd8", [len(t) for t in tail[-2:]])
        s.close()
        went = wait_status("no", 10) or True  # it may come back faster than we look
        back = wait_status("ok", 30)
        check("device comes back after reconnect", went and back, call("/video=status"))
        call("/param=set", {"camidx": "0", "resolution": {"width": "640", "height": "480"}})
        s = Stream()
        frames = s.parts(2, 60)
        check("streams again after reconnect", len(frames) == 2, len(frames))
        s.close()
        check("daemon still serving", call("/param=get", {"type": "app_version"})["code"] == "0")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
