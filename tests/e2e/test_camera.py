"""Camera endpoints against the simulated cameras (--sim): MJPEG streams, open/close counting,
status, properties, capture parameters, bad input, and the legacy WebSocket camera functions.

Most tests share one --sim daemon (`cam`); its teardown checks that the test left every camera idle.
Tests that change camera state (resolution, video type, frame rate, preview size, properties) or
need another configuration start their own daemon.
"""

import base64
import contextlib
import json
import socket
import threading
import time

import pytest
import websocket

from e2e_support import LOOPBACK, MjpegStream, check_api_reply, jpeg_size

SIM_CONFIG = {"camera": {"linger_seconds": 1}}
STATUS_KEYS = ("video0", "video1", "video2", "videoIR1", "videoIR2")
IDLE = {"video0": "ok", "video1": "ok", "video2": "no", "videoIR1": "no", "videoIR2": "no"}
DOC_MJPG_SIZES = "3264x2448|2592x1944|2048x1536|1600x1200|1280x960|640x480"
BOUNDARY = "cameraserviceframe"
FIRST_FRAME_TIMEOUT = 10.0


# --------------------------------------------------------------------------- helpers


def status(d) -> dict:
    obj = d.api("video=status")
    assert obj["code"] == "0", obj
    return obj


def wait_status(d, expected: dict, timeout: float = 5.0) -> dict:
    """Poll video=status until every key in `expected` has its value."""
    deadline = time.monotonic() + timeout
    while True:
        st = status(d)
        if all(st.get(k) == v for k, v in expected.items()):
            return st
        if time.monotonic() > deadline:
            raise AssertionError(f"video=status did not reach {expected} within {timeout}s: {st}")
        time.sleep(0.1)  # poll interval


def api_ok(d, endpoint: str, params=None) -> dict:
    obj = d.api(endpoint, params)
    assert obj["code"] == "0", f"{endpoint} {params}: {obj}"
    return obj


def get_ok(d, target: str) -> dict:
    obj = check_api_reply(d.get(target))
    assert obj["code"] == "0", f"GET {target}: {obj}"
    return obj


def open_stream(d, camidx: str, extra: str = "") -> MjpegStream:
    """GET /video=stream&camidx=N and check it is an MJPEG multipart response."""
    s = MjpegStream(d.port, f"/video=stream&camidx={camidx}{extra}", timeout=FIRST_FRAME_TIMEOUT)
    try:
        if not s.is_multipart:
            raise AssertionError(f"camidx {camidx}: not a multipart stream: {s.read_reply()!r}")
        assert s.status == 200, s.status
        assert s.boundary == BOUNDARY, s.content_type
    except BaseException:
        s.close()
        raise
    return s


def measure_fps(s: MjpegStream, seconds: float) -> float:
    """Frames per second over a window that starts at the next frame (every part checked as JPEG)."""
    start = s.frame(FIRST_FRAME_TIMEOUT).at
    end = start + seconds
    n = 0
    while True:
        p = s.frame(FIRST_FRAME_TIMEOUT)
        if p.at > end:
            break
        n += 1
    return n / seconds


def current_resolution(d, camidx: str) -> str:
    return api_ok(d, "param=get", {"type": "current_resolution", "camidx": camidx})["resolution"]


def frame_of_size(s: MjpegStream, size: tuple[int, int], timeout: float = 10.0):
    """Read frames until one has `size`; returns it."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        p = s.frame(FIRST_FRAME_TIMEOUT)
        wh = jpeg_size(p.body)
        if wh == size:
            return p
        seen.append(wh)
    raise AssertionError(f"no {size} frame within {timeout}s; saw {seen[-10:]}")


def getprop(d, key: str, camidx: str = "0") -> dict:
    return api_ok(d, "video=getproperty", {"camidx": camidx, "key": key})


def setprop_raw(d, body: str) -> dict:
    """setproperty with a literal JSON body (so key order is exactly as written)."""
    return check_api_reply(d.post("/video=setproperty", body.encode()))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sim(module_daemon):
    return module_daemon(SIM_CONFIG, sim=True)


@pytest.fixture
def cam(sim):
    """The shared --sim daemon, idle before the test; the teardown checks the test left it idle."""
    st = status(sim)
    if any(st.get(k) != v for k, v in IDLE.items()):
        st = wait_status(sim, IDLE, timeout=5.0)  # fails: an earlier test left a camera running
    yield sim
    assert sim.alive(), f"daemon died; log:\n{sim.log_tail()}"
    wait_status(sim, IDLE, timeout=5.0)


@pytest.fixture
def fresh(daemon):
    """A --sim daemon of its own, for tests that change camera state."""
    return daemon(SIM_CONFIG, sim=True)


# --------------------------------------------------------------------------- streams


def test_stream_shape_and_cache_busters(cam):
    with open_stream(cam, "0", f"&tid={time.time_ns()}&_={time.time_ns()}") as s:
        assert "multipart/x-mixed-replace" in s.content_type.lower()
        sizes = {s.frame(FIRST_FRAME_TIMEOUT).assert_jpeg() for _ in range(3)}
        assert sizes == {(640, 480)}, sizes  # 3264x2448 capture -> 640 wide, 4:3
        assert status(cam)["video0"] == "run"
    with open_stream(cam, "0", "&tid=abc&random=0.123&x=") as s:
        s.frame(FIRST_FRAME_TIMEOUT)


def test_two_cameras_streaming_at_once(cam):
    with open_stream(cam, "0") as s0, open_stream(cam, "1") as s1:
        n0 = n1 = 0
        end = time.monotonic() + 2.0
        while time.monotonic() < end or n0 < 3 or n1 < 3:
            assert time.monotonic() < end + 10, f"too few frames: camidx0 {n0}, camidx1 {n1}"
            assert s0.frame(FIRST_FRAME_TIMEOUT).assert_jpeg() == (640, 480)
            assert s1.frame(FIRST_FRAME_TIMEOUT).assert_jpeg() == (640, 360)  # 1280x720 -> 16:9
            n0 += 1
            n1 += 1
        st = status(cam)
        assert st["video0"] == "run" and st["video1"] == "run", st


def test_twenty_clients_on_one_camera(cam):
    n_clients, want = 20, 3
    results: dict[int, object] = {}
    with contextlib.ExitStack() as stack:
        streams = [stack.enter_context(open_stream(cam, "1", f"&tid={i}")) for i in range(n_clients)]

        def reader(i, s):
            try:
                results[i] = [s.frame(15.0).assert_jpeg() for _ in range(want)]
            except BaseException as e:  # reported below
                results[i] = e

        threads = [threading.Thread(target=reader, args=(i, s), daemon=True) for i, s in enumerate(streams)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        failed = {i: r for i, r in results.items() if not isinstance(r, list)}
        assert len(results) == n_clients and not failed, f"clients without frames: {failed or 'hung'}"
        assert all(r == [(640, 360)] * want for r in results.values())
        assert status(cam)["video1"] == "run"


def test_client_that_never_reads_stalls_nobody(daemon):
    # Full-size previews (3264x2448 MJPG passed through, ~0.9 MB a frame at 10 fps) fill the
    # stalled connection's socket buffers (a few MB at most) within a second, so the daemon's
    # writes to it really block while the other client is measured.
    d = daemon({"camera": {"linger_seconds": 1, "preview_width": 3264}}, sim=True)
    with open_stream(d, "0", "&tid=reader") as good:
        assert good.frame(FIRST_FRAME_TIMEOUT).assert_jpeg() == (3264, 2448)
        baseline = measure_fps(good, 1.5)
        stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tiny receive window
            stalled.settimeout(5)
            stalled.connect((LOOPBACK, d.port))
            stalled.sendall(b"GET /video=stream&camidx=0&tid=stalled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            # it never calls recv; keep reading the good stream meanwhile so it does not back up
            good.count_for(1.5)
            during = measure_fps(good, 3.0)
            # the daemon keeps answering other requests
            assert status(d)["video0"] == "run"
            assert api_ok(d, "param=get", {"type": "app_version"})["app_version"]
            with open_stream(d, "0", "&tid=late") as late:
                late.frame(5.0)
                late.frame(5.0)
            with open_stream(d, "1", "&tid=other") as other:
                other.frame(FIRST_FRAME_TIMEOUT)
            after = measure_fps(good, 1.5)
        finally:
            stalled.close()
        # once the stalled client is gone the camera keeps running for the reader
        good.frame(5.0)
    assert baseline >= 2, f"baseline rate only {baseline:.1f} fps"
    assert during >= max(2.0, 0.5 * baseline), \
        f"reader slowed down by the stalled client: {baseline:.1f} fps before, {during:.1f} during"
    assert after >= max(2.0, 0.5 * baseline), f"{after:.1f} fps after (baseline {baseline:.1f})"
    wait_status(d, {"video0": "ok", "video1": "ok"}, timeout=5.0)  # the stalled connection was released too


def test_disconnected_client_is_released(cam):
    with open_stream(cam, "0") as s:
        s.frame(FIRST_FRAME_TIMEOUT)
        assert status(cam)["video0"] == "run"
    t0 = time.monotonic()
    wait_status(cam, {"video0": "ok"}, timeout=5.0)
    released_after = time.monotonic() - t0
    # a raw client that reads the head and one chunk, then closes abruptly
    with socket.create_connection((LOOPBACK, cam.port), timeout=10) as raw:
        raw.sendall(b"GET /video=stream&camidx=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert raw.recv(4096).startswith(b"HTTP/1.1 200")
        raw.recv(65536)
        wait_status(cam, {"video1": "run"}, timeout=5.0)
    wait_status(cam, {"video1": "ok"}, timeout=5.0)
    assert released_after < 5.0


# --------------------------------------------------------------------------- open / close


def test_open_close_counting(cam):
    closes_needed = 0
    try:
        get_ok(cam, "/video=open&camidx=0")
        closes_needed += 1
        assert status(cam)["video0"] == "run"
        api_ok(cam, "video=open", {"camidx": "0"})  # POST form
        closes_needed += 1
        get_ok(cam, "/video=close&camidx=0")
        closes_needed -= 1
        time.sleep(0.5)  # deliberate: nothing may happen in this while (a close at 0 stops at once)
        assert status(cam)["video0"] == "run", "closed at count 1"
        api_ok(cam, "video=close", {"camidx": "0"})
        closes_needed -= 1
        wait_status(cam, {"video0": "ok"}, timeout=3.0)
        assert status(cam)["video1"] == "ok"
        # a stream watcher leaving while the count is above 0 does not stop the camera
        get_ok(cam, "/video=open&camidx=0")
        closes_needed += 1
        with open_stream(cam, "0") as s:
            s.frame(FIRST_FRAME_TIMEOUT)
        # deliberate: nothing may happen in this while (a wrong stop would come as soon as the
        # daemon notices that the watcher left, at its next frame)
        time.sleep(1.0)
        assert status(cam)["video0"] == "run", "stopped although the open count is 1"
        get_ok(cam, "/video=close&camidx=0")
        closes_needed -= 1
        wait_status(cam, {"video0": "ok"}, timeout=3.0)
        # a close at count 0 does not drive the count below 0
        assert check_api_reply(cam.get("/video=close&camidx=0"))["code"] in ("0", "2")
        get_ok(cam, "/video=open&camidx=0")
        closes_needed += 1
        assert status(cam)["video0"] == "run", "open after a surplus close left the camera stopped"
        get_ok(cam, "/video=close&camidx=0")
        closes_needed -= 1
        wait_status(cam, {"video0": "ok"}, timeout=3.0)
    finally:
        for _ in range(closes_needed):
            cam.get("/video=close&camidx=0")


def test_close_to_zero_ends_streams_with_final_picture(cam):
    get_ok(cam, "/video=open&camidx=0")
    opened = True
    try:
        with open_stream(cam, "0", "&tid=a") as a, open_stream(cam, "0", "&tid=b") as b, \
                open_stream(cam, "1") as other:
            frames = [a.frame(FIRST_FRAME_TIMEOUT).body for _ in range(3)]
            b.frame(FIRST_FRAME_TIMEOUT)
            other.frame(FIRST_FRAME_TIMEOUT)
            get_ok(cam, "/video=close&camidx=0")
            opened = False
            for s in (a, b):
                tail = []
                while (p := s.next_part(10.0)) is not None:
                    p.assert_jpeg()
                    tail.append(p.body)
                    assert len(tail) < 100, "stream did not end after video=close"
                assert s.eof, "closing boundary without EOF"
                assert s.clean_end, "response cut off instead of ending cleanly (chunked terminator missing)"
                assert tail, "no final picture after video=close"
                if len(set(frames)) == 1:  # the simulated picture is static: the last part must differ
                    assert tail[-1] != frames[0], "last part is a camera frame, not the closed picture"
            wait_status(cam, {"video0": "ok"}, timeout=3.0)
            # the other camera is not affected
            other.frame(5.0)
            other.frame(5.0)
            assert status(cam)["video1"] == "run"
        # a new stream request works again
        with open_stream(cam, "0") as again:
            again.frame(FIRST_FRAME_TIMEOUT)
            again.frame(5.0)
            assert status(cam)["video0"] == "run"
    finally:
        if opened:
            cam.get("/video=close&camidx=0")


# --------------------------------------------------------------------------- status


def test_status_default_sim(cam):
    st = status(cam)
    assert {k: st.get(k) for k in STATUS_KEYS} == IDLE, st


def test_status_with_sim_all_roles(daemon):
    d = daemon({"camera": {"linger_seconds": 1, "sim_all_roles": True}}, sim=True)
    st = status(d)
    assert {k: st.get(k) for k in STATUS_KEYS} == dict.fromkeys(STATUS_KEYS, "ok"), st
    with open_stream(d, "2") as s:
        s.frame(FIRST_FRAME_TIMEOUT)
        st = status(d)
        assert st["video2"] == "run" and st["video0"] == "ok" and st["video1"] == "ok", st
    wait_status(d, {"video2": "ok"}, timeout=5.0)


# --------------------------------------------------------------------------- capture parameters


def test_resolution_list_and_change_while_streaming(fresh):
    d = fresh
    got = api_ok(d, "param=get", {"type": "resolution", "camidx": "0"})
    assert got["resolution"] == DOC_MJPG_SIZES, got
    assert current_resolution(d, "0") == "3264x2448"
    got = api_ok(d, "param=get", {"type": "resolution", "camidx": "1"})
    assert got["resolution"] == "1280x720|640x480", got
    assert current_resolution(d, "1") == "1280x720"
    with open_stream(d, "0") as s0, open_stream(d, "1") as s1:
        assert s0.frame(FIRST_FRAME_TIMEOUT).assert_jpeg() == (640, 480)
        assert s1.frame(FIRST_FRAME_TIMEOUT).assert_jpeg() == (640, 360)
        r = api_ok(d, "param=set", {"resolution": {"width": "1280", "height": "960"}, "camidx": "0"})
        assert r["resolution"] == "1280x960", r
        assert current_resolution(d, "0") == "1280x960"
        for _ in range(3):  # the stream continues after the renegotiation
            assert s0.frame(FIRST_FRAME_TIMEOUT).assert_jpeg() == (640, 480)
        # portrait camera: 1280x720 -> 640x480 changes the preview height 360 -> 480
        r = api_ok(d, "param=set", {"resolution": {"width": "640", "height": "480"}, "camidx": "1"})
        assert r["resolution"] == "640x480", r
        frame_of_size(s1, (640, 480))
        for _ in range(3):
            assert s1.frame(FIRST_FRAME_TIMEOUT).assert_jpeg() == (640, 480)
        assert current_resolution(d, "1") == "640x480"
        assert status(d)["video0"] == "run" and status(d)["video1"] == "run"


def test_video_type_change_while_streaming(fresh):
    d = fresh
    assert api_ok(d, "param=get", {"type": "available_video_type", "camidx": "0"})["available_video_type"] \
        == ["MJPG", "YUY2"]
    assert api_ok(d, "param=get", {"type": "video_type", "camidx": "0"})["video_type"] == "MJPG"
    with open_stream(d, "0") as s:
        s.frame(FIRST_FRAME_TIMEOUT)
        api_ok(d, "param=set", {"video_type": "YUY2", "camidx": "0"})
        assert api_ok(d, "param=get", {"type": "video_type", "camidx": "0"})["video_type"] == "YUY2"
        # 3264x2448 is not offered in YUY2 -> 1280x960
        assert current_resolution(d, "0") == "1280x960"
        got = api_ok(d, "param=get", {"type": "resolution", "camidx": "0"})
        assert got["resolution"] == "1280x960|640x480", got
        for _ in range(3):  # YUY2 1280x960 runs at 5 fps
            assert s.frame(FIRST_FRAME_TIMEOUT).assert_jpeg() == (640, 480)
        api_ok(d, "param=set", {"video_type": "MJPG", "camidx": "0"})
        assert api_ok(d, "param=get", {"type": "video_type", "camidx": "0"})["video_type"] == "MJPG"
        for _ in range(3):
            s.frame(FIRST_FRAME_TIMEOUT)
        assert status(d)["video0"] == "run"


def test_video_type_change_while_streaming_portrait(fresh):
    d = fresh
    # the portrait camera offers YUY2 only at 640x480
    with open_stream(d, "1") as s1:
        assert s1.frame(FIRST_FRAME_TIMEOUT).assert_jpeg() == (640, 360)
        api_ok(d, "param=set", {"video_type": "YUY2", "camidx": "1"})
        assert current_resolution(d, "1") == "640x480"
        frame_of_size(s1, (640, 480))
        s1.frame(FIRST_FRAME_TIMEOUT)


def test_preview_resolution(fresh):
    d = fresh
    got = api_ok(d, "param=get", {"type": "preview_resolution", "camidx": "0"})
    assert got["preview_resolution"] == {"width": "640", "height": "480"}, got
    r = api_ok(d, "param=set", {"preview_resolution": {"width": "320", "height": "240"}, "camidx": "0"})
    assert r["preview_resolution"] == {"width": "320", "height": "240"}, r
    with open_stream(d, "0") as s:
        frame_of_size(s, (320, 240))
        # a height that breaks the capture aspect: the aspect of the capture is kept
        r = api_ok(d, "param=set", {"preview_resolution": {"width": "640", "height": "240"}, "camidx": "0"})
        assert r["preview_resolution"] == {"width": "640", "height": "480"}, r
        frame_of_size(s, (640, 480))
    got = api_ok(d, "param=get", {"type": "preview_resolution", "camidx": "0"})
    assert got["preview_resolution"] == {"width": "640", "height": "480"}, got


def test_framerate_cap(fresh):
    d = fresh
    api_ok(d, "param=set", {"framerate": "5", "camidx": "1"})
    with open_stream(d, "1") as s:
        fps = measure_fps(s, 2.5)
    assert 1.0 <= fps <= 8.0, f"{fps:.1f} fps with framerate 5"


# --------------------------------------------------------------------------- properties

ABSENT_PROPERTIES = ["pan", "tilt", "roll", "iris"]
# key: (min, max, default, is_auto by default)
SIM_CONTROLS = {
    "brightness": ("0", "255", "128", "0"),
    "contrast": ("0", "255", "128", "0"),
    "saturation": ("0", "255", "128", "0"),
    "hue": ("-180", "180", "0", "0"),
    "sharpness": ("0", "7", "3", "0"),
    "gamma": ("100", "300", "100", "0"),
    "whitebalance": ("2800", "6500", "4600", "1"),
    "backlightcompensation": ("0", "2", "1", "0"),
    "gain": ("0", "255", "0", "1"),
    "exposure": ("1", "5000", "156", "1"),
    "focus": ("0", "1023", "0", "1"),
    "zoom": ("100", "500", "100", "0"),
}


@pytest.mark.parametrize("key", sorted(SIM_CONTROLS))
def test_getproperty_defaults(cam, key):
    mn, mx, default, is_auto = SIM_CONTROLS[key]
    p = getprop(cam, key)
    for f in ("settable", "min", "max", "step", "default", "current", "is_auto"):
        assert isinstance(p.get(f), str), (f, p)
    assert p["settable"] == "0", p
    assert (p["min"], p["max"], p["default"], p["current"], p["is_auto"]) == (mn, mx, default, default, is_auto), p


def test_getproperty_colorenable(cam):
    p = getprop(cam, "colorenable")
    assert (p["settable"], p["min"], p["max"]) == ("0", "0", "1"), p
    assert p["is_auto"] == "0" and p["current"] == p["default"], p


@pytest.mark.parametrize("key", ABSENT_PROPERTIES)
def test_getproperty_absent(cam, key):
    p = getprop(cam, key)
    assert p["settable"] == "1", p
    assert not set(p) - {"code", "message", "settable"}, p


def test_setproperty_in_range(fresh):
    d = fresh
    assert setprop_raw(d, '{"camidx":"0","brightness":"200"}')["code"] == "0"
    p = getprop(d, "brightness")
    assert p["current"] == "200" and p["is_auto"] == "0", p
    # on a control with auto mode an in-range value switches auto off
    assert setprop_raw(d, '{"camidx":"0","exposure":"300"}')["code"] == "0"
    p = getprop(d, "exposure")
    assert (p["current"], p["is_auto"]) == ("300", "0"), p
    assert setprop_raw(d, '{"camidx":"0","whitebalance":"5000"}')["code"] == "0"
    p = getprop(d, "whitebalance")
    assert (p["current"], p["is_auto"]) == ("5000", "0"), p
    # the other camera is independent
    assert getprop(d, "brightness", camidx="1")["current"] == "128"
    assert setprop_raw(d, '{"camidx":"1","brightness":"10"}')["code"] == "0"
    assert getprop(d, "brightness", camidx="1")["current"] == "10"
    assert getprop(d, "brightness")["current"] == "200"


def test_setproperty_out_of_range(fresh):
    d = fresh
    # with auto mode: out of range -> auto
    assert setprop_raw(d, '{"camidx":"0","exposure":"300"}')["code"] == "0"
    assert getprop(d, "exposure")["is_auto"] == "0"
    assert setprop_raw(d, '{"camidx":"0","exposure":"999999"}')["code"] == "0"
    assert getprop(d, "exposure")["is_auto"] == "1"
    assert setprop_raw(d, '{"camidx":"0","focus":"-5"}')["code"] == "0"
    assert getprop(d, "focus")["is_auto"] == "1"
    # without auto mode: out of range -> default
    assert setprop_raw(d, '{"camidx":"0","contrast":"10"}')["code"] == "0"
    assert getprop(d, "contrast")["current"] == "10"
    assert setprop_raw(d, '{"camidx":"0","contrast":"999"}')["code"] == "0"
    p = getprop(d, "contrast")
    assert (p["current"], p["is_auto"]) == ("128", "0"), p
    assert setprop_raw(d, '{"camidx":"0","sharpness":"8"}')["code"] == "0"
    assert getprop(d, "sharpness")["current"] == "3"


def test_setproperty_absent_and_bad(fresh):
    d = fresh
    r = setprop_raw(d, '{"camidx":"0","pan":"1"}')
    assert r["code"] == "9", r
    r = setprop_raw(d, '{"camidx":"0","brightness":"abc"}')
    assert r["code"] == "4", r
    r = setprop_raw(d, '{"camidx":"0"}')
    assert r["code"] == "4", r
    assert getprop(d, "brightness")["current"] == "128"


def test_setproperty_only_first_property_counts(fresh):
    d = fresh
    assert setprop_raw(d, '{"camidx":"0","saturation":"50","hue":"20"}')["code"] == "0"
    assert getprop(d, "saturation")["current"] == "50"
    assert getprop(d, "hue")["current"] == "0"
    # camidx is not a property: the first property after it counts
    assert setprop_raw(d, '{"hue":"30","camidx":"0","saturation":"60"}')["code"] == "0"
    assert getprop(d, "hue")["current"] == "30"
    assert getprop(d, "saturation")["current"] == "50"


# --------------------------------------------------------------------------- bad input

BAD_REQUESTS = [
    # (id, endpoint, params, expected code, word the message must contain)
    ("open-unknown-camidx", "video=open", {"camidx": "7"}, "4", "camidx"),
    ("open-absent", "video=open", {"camidx": "2"}, "2", None),
    ("close-unknown-camidx", "video=close", {"camidx": "abc"}, "4", "camidx"),
    ("getproperty-unknown-camidx", "video=getproperty", {"camidx": "7", "key": "brightness"}, "4", "camidx"),
    ("getproperty-absent-camera", "video=getproperty", {"camidx": "2", "key": "brightness"}, "2", None),
    ("getproperty-no-key", "video=getproperty", {"camidx": "0"}, "4", "key"),
    ("getproperty-unknown-key", "video=getproperty", {"camidx": "0", "key": "nosuch"}, "4", "key"),
    ("setproperty-unknown-camidx", "video=setproperty", {"camidx": "7", "brightness": "1"}, "4", "camidx"),
    ("setproperty-no-property", "video=setproperty", {"camidx": "0"}, "4", None),
    ("setproperty-not-a-number", "video=setproperty", {"camidx": "0", "brightness": "x1"}, "4", None),
    ("resolution-unknown-camidx", "param=get", {"type": "resolution", "camidx": "7"}, "4", "camidx"),
    ("resolution-absent-camera", "param=get", {"type": "current_resolution", "camidx": "2"}, "2", None),
    ("resolution-invalid", "param=set", {"resolution": {"width": "1234", "height": "567"}, "camidx": "0"},
     "4", "resolution"),
    ("resolution-not-a-number", "param=set", {"resolution": {"width": "wide", "height": "480"}, "camidx": "0"},
     "4", "width"),
    ("video-type-bad", "param=set", {"video_type": "H264", "camidx": "0"}, "4", "video_type"),
    ("framerate-text", "param=set", {"framerate": "fast", "camidx": "0"}, "4", "framerate"),
]


@pytest.mark.parametrize("endpoint,params,code,word", [b[1:] for b in BAD_REQUESTS],
                         ids=[b[0] for b in BAD_REQUESTS])
def test_bad_input(cam, endpoint, params, code, word):
    r = cam.api(endpoint, params)
    assert r["code"] == code, r
    assert r.get("message"), r
    if word:
        assert word in r["message"], r
    # nothing changed and the daemon keeps serving
    assert current_resolution(cam, "0") == "3264x2448"
    assert api_ok(cam, "param=get", {"type": "video_type", "camidx": "0"})["video_type"] == "MJPG"
    assert getprop(cam, "brightness")["current"] == "128"


@pytest.mark.parametrize("asked", ["0", "61", "1000", "-3", "7.6"])
def test_framerate_out_of_range_is_clamped(cam, asked):
    """A frame rate only tunes the output: out of range it is clamped (1-60), not refused."""
    assert cam.api("param=set", {"framerate": asked, "camidx": "0"})["code"] == "0"


def test_invalid_resolution_lists_valid_ones(cam):
    r = cam.api("param=set", {"resolution": {"width": "1234", "height": "567"}, "camidx": "0"})
    assert r["code"] == "4", r
    for size in DOC_MJPG_SIZES.split("|"):
        assert size in r["message"], r


@pytest.mark.parametrize("camidx,code", [("7", "4"), ("abc", "4"), ("2", "2")])
def test_stream_bad_camidx_is_json_error(cam, camidx, code):
    s = MjpegStream(cam.port, f"/video=stream&camidx={camidx}&tid=1", timeout=10)
    try:
        assert not s.is_multipart, f"camidx {camidx!r} gave a stream"
        r = check_api_reply(s.read_reply())
    finally:
        s.close()
    assert r["code"] == code, r
    assert r.get("message"), r
    with open_stream(cam, "0") as ok:  # still serving streams
        ok.frame(FIRST_FRAME_TIMEOUT)


# --------------------------------------------------------------------------- WebSocket (legacy)


class Ws:
    def __init__(self, d):
        self.conn = websocket.create_connection(d.ws_url("/"), timeout=10)
        self.frames: list[dict] = []  # image pushes seen while waiting for replies

    def send(self, payload: dict) -> None:
        self.conn.send(json.dumps(payload, ensure_ascii=False))

    def recv(self, timeout: float = 10.0) -> dict:
        self.conn.settimeout(timeout)
        msg = json.loads(self.conn.recv())
        assert isinstance(msg, dict), msg
        return msg

    def reply(self, function: str, timeout: float = 10.0) -> dict:
        """The next non-image message with this function (image pushes are kept in .frames)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.recv(max(0.1, deadline - time.monotonic()))
            if "image_base64" in msg:
                self.frames.append(msg)
            elif msg.get("function") == function:
                assert isinstance(msg.get("code"), str), msg
                return msg
        raise AssertionError(f"no {function} reply")

    def call(self, payload: dict) -> dict:
        self.send(payload)
        return self.reply(payload["function"])

    def close(self) -> None:
        self.conn.close()


def ws_image(msg: dict, camidx: str) -> tuple[int, int]:
    assert msg.get("function") == "video_stream" and msg.get("camidx") == camidx, \
        {k: v for k, v in msg.items() if k != "image_base64"}
    data = base64.b64decode(msg["image_base64"], validate=True)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    return jpeg_size(data)


def ws_count_images(ws: Ws, camidx: str, seconds: float) -> int:
    """Image pushes for camidx during `seconds` (starting after the next one)."""
    while True:
        msg = ws.recv()
        if "image_base64" in msg:
            break
    end = time.monotonic() + seconds
    n = 0
    while True:
        msg = ws.recv(10.0)
        if time.monotonic() > end:
            return n
        if "image_base64" in msg:
            ws_image(msg, camidx)
            n += 1


@pytest.fixture
def ws(cam):
    conn = Ws(cam)
    yield conn
    conn.close()


def test_ws_open_close_camera(cam, ws):
    assert ws.call({"function": "open_camera", "camidx": "0"})["code"] == "0"
    try:
        assert status(cam)["video0"] == "run"
        assert ws.call({"function": "open_camera", "camidx": "0"})["code"] == "0"
        assert ws.call({"function": "close_camera", "camidx": "0"})["code"] == "0"
        time.sleep(0.3)  # deliberate: nothing may happen in this while (a close at 0 stops at once)
        assert status(cam)["video0"] == "run", "closed at count 1"
        # HTTP and WebSocket share one count
        get_ok(cam, "/video=close&camidx=0")
    except BaseException:
        cam.get("/video=close&camidx=0")
        cam.get("/video=close&camidx=0")
        raise
    wait_status(cam, {"video0": "ok"}, timeout=3.0)
    assert ws.call({"function": "open_camera", "camidx": "2"})["code"] == "2"
    assert ws.call({"function": "open_camera", "camidx": "9"})["code"] == "4"


def test_ws_video_stream(cam, ws):
    r = ws.call({"function": "video_stream", "camidx": "1"})
    assert r["code"] == "0", r
    try:
        msg = ws.recv()
        while "image_base64" not in msg:
            msg = ws.recv()
        assert ws_image(msg, "1") == (640, 360)
        assert status(cam)["video1"] == "run"
        n = ws_count_images(ws, "1", 3.0)
        assert 1 <= n / 3.0 <= 7.0, f"{n / 3.0:.1f} pushes/s (at most 5/s)"
    finally:
        r = ws.call({"function": "video_stream", "camidx": "1", "action": "stop"})
    assert r["code"] == "0", r
    # no pushes after the stop reply
    ws.conn.settimeout(1.0)
    with pytest.raises(websocket.WebSocketTimeoutException):
        while True:
            msg = json.loads(ws.conn.recv())
            assert "image_base64" not in msg, "image pushed after stop"
    wait_status(cam, {"video1": "ok"}, timeout=5.0)
    assert ws.call({"function": "video=status"})["code"] == "0"  # connection still usable


def test_ws_video_stream_framerate(cam, ws):
    assert ws.call({"function": "video_stream", "camidx": "0", "framerate": "2"})["code"] == "0"
    try:
        n = ws_count_images(ws, "0", 3.0)
    finally:
        ws.call({"function": "video_stream", "camidx": "0", "action": "stop"})
    assert 1 <= n <= 9, f"{n} pushes in 3 s with framerate 2"


def test_ws_video_stream_errors(cam, ws):
    assert ws.call({"function": "video_stream", "camidx": "2"})["code"] == "2"
    assert ws.call({"function": "video_stream", "camidx": "9"})["code"] == "4"
    assert ws.call({"function": "video_stream", "camidx": "abc"})["code"] == "4"
    assert not ws.frames


def test_ws_disconnect_releases_stream(cam):
    conn = Ws(cam)
    try:
        assert conn.call({"function": "video_stream", "camidx": "0"})["code"] == "0"
        while "image_base64" not in conn.recv():
            pass
        assert status(cam)["video0"] == "run"
    finally:
        conn.close()
    wait_status(cam, {"video0": "ok"}, timeout=5.0)


def test_ws_older_resolution_names(cam, ws):
    """The older WebSocket names: get_resolution (param=get type resolution), get_param,
    set_resolution (width/height at the top level of params), set_cutpage (param=set cutpage,
    not built yet)."""
    r = ws.call({"function": "get_resolution", "params": {"camidx": "0"}})
    assert r["code"] == "0" and "3264x2448" in r["resolution"].split("|"), r
    r = ws.call({"function": "set_resolution", "params": {"camidx": "0", "width": "640", "height": "480"}})
    assert r["code"] == "0", r
    try:
        r = ws.call({"function": "get_param", "params": {"type": "current_resolution", "camidx": "0"}})
        assert r["code"] == "0" and r["resolution"] == "640x480", r
        r = ws.call({"function": "set_resolution", "params": {"camidx": "0", "width": "641", "height": "480"}})
        assert r["code"] == "4", r
    finally:
        ws.call({"function": "set_resolution", "params": {"camidx": "0", "resolution": {"width": "3264",
                                                                                     "height": "2448"}}})
    r = ws.call({"function": "set_cutpage", "params": {"cutpage": "true"}})
    assert r["code"] == "9" and r["message"], r
