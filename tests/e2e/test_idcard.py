"""ID card reader (card=idcard, card=getsamid, card=init, card=release; WebSocket read_idcard and
get_samid) against a simulated SAM module on a pseudo-terminal.

Each simulated module is a `devsim sam` process (binary $DEVSIM_BIN, else next to the daemon
binary): it prints `PORT /dev/pts/N`, then takes commands on stdin (`card NAME|none`,
`fault ...`, `finger-command on|off`) and answers `ok` to each. The daemon is started with
{"idcard": {"port": <pty>, "timeout_ms": 300}} so that the fault tests stay fast, and the tests
drive the simulator between calls. The expected field values are those of the simulator's sample
cards (firmware/devsim/src/sam.rs).
"""

from __future__ import annotations

import base64
import fcntl
import io
import os
import shutil
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path

import pytest
import websocket

from e2e_support import DevSimProcess, ws_call

TIMEOUT_MS = 300
SAM_ID = "05.01-20103213-0000012345-1234567890"

INFO_KEYS = {
    "name", "sex", "birthday", "address", "cardID", "issueOrgan", "validStart", "validEnd",
    "sexCode", "nationCode", "nation", "appendMsg", "fingerBase64", "photoBase64", "photoWlt",
    "passportId", "signCount", "nameEn", "cardVersion", "admissibleInstitution",
    # the older vocabulary's: pictures of the card's two sides, drawn on the device, and the
    # chip serial from the module's select answer
    "photoBase64_Z", "photoBase64_F", "strIDUID",
}
# The card pictures: ID-1 format at 10 px/mm.
CARD_SIZE = (856, 540)


# --------------------------------------------------------------------------- sample card data


def fake_wlt() -> bytes:
    """The simulator's stand-in for the encrypted photo (sim.rs fake_wlt)."""
    v = bytearray(b"WLT")
    x = 0x12345678
    while len(v) < 1024:
        x = (x * 1_664_525 + 1_013_904_223) & 0xFFFFFFFF
        v.append(x >> 24)
    return bytes(v)


def fake_finger() -> bytes:
    """The simulator's fingerprint templates (sim.rs fake_finger)."""
    v = bytearray((i * 7 % 251) for i in range(1024))
    v[5] = 11
    v[512 + 5] = 16
    return bytes(v)


WLT = fake_wlt()
FINGER = fake_finger()
WLT_B64 = base64.b64encode(WLT).decode()
FINGER_B64 = base64.b64encode(FINGER).decode()

_EMPTY = {k: "" for k in INFO_KEYS}

RESIDENT = {
    **_EMPTY,
    "name": "张三",
    "sex": "男",
    "birthday": "19900101",
    "address": "北京市东城区景山前街4号",
    "cardID": "11010119900101001X",
    "issueOrgan": "北京市公安局东城分局",
    "validStart": "20200101",
    "validEnd": "20400101",
    "sexCode": "1",
    "nationCode": "01",
    "nation": "汉",
    "photoWlt": WLT_B64,
}

RESIDENT_FINGER = {
    **RESIDENT,
    "name": "李四",
    "sex": "女",
    "sexCode": "2",
    "nationCode": "03",
    "nation": "回",
    "validEnd": "长期",
    "cardID": "110101198001010028",
    "birthday": "19800101",
    "fingerBase64": FINGER_B64,
    # the simulated module fills the select answer for this card only
    "strIDUID": "10E4100102030405",
}

PERMIT = {
    **_EMPTY,
    "name": "陈大文",
    "sex": "男",
    "sexCode": "1",
    "birthday": "19850505",
    "address": "香港特别行政区",
    "cardID": "810000198505050011",
    "issueOrgan": "深圳市公安局",
    "validStart": "20190101",
    "validEnd": "20240101",
    "passportId": "H60123456",
    "signCount": "02",
    "photoWlt": WLT_B64,
}

FOREIGN = {
    **_EMPTY,
    "nameEn": "SMITH, JOHN",
    "name": "史密斯",
    "sex": "男",
    "sexCode": "1",
    "cardID": "USA110090010117",
    "nationCode": "USA",
    "validStart": "20200101",
    "validEnd": "20300101",
    "birthday": "19900101",
    "cardVersion": "01",
    "admissibleInstitution": "1500",
    "photoWlt": WLT_B64,
}

SAMPLES = {
    "resident": ("B", RESIDENT),
    "resident-finger": ("C", RESIDENT_FINGER),
    "permit": ("J", PERMIT),
    "foreign": ("I", FOREIGN),
}


# --------------------------------------------------------------------------- the simulator


class DevSim(DevSimProcess):
    """One `devsim sam` process: a simulated SAM module on a pseudo-terminal."""

    def __init__(self, args: list[str], log_path: Path):
        super().__init__("sam", args, log_path)
        first = self.banner
        assert first.startswith("PORT "), f"devsim's first line: {first!r}"
        self.port = first[5:].strip()
        assert self.port.startswith("/dev/"), first

    def card(self, name: str) -> None:
        self.cmd(f"card {name}")

    def fault(self, what: str) -> None:
        self.cmd(f"fault {what}")

    def reset(self, card: str = "resident") -> None:
        self.fault("none")
        self.cmd("finger-command on")
        self.card(card)


class SimFactory:
    def __init__(self, tmp_path_factory):
        self._tmp = tmp_path_factory
        self.sims: list[DevSim] = []

    def __call__(self, card: str | None = "resident", *extra: str) -> DevSim:
        args = ["--card", card if card is not None else "none", *extra]
        s = DevSim(args, self._tmp.mktemp("devsim") / "devsim.log")
        self.sims.append(s)
        return s

    def close(self) -> None:
        for s in self.sims:
            s.close()
        self.sims.clear()


@pytest.fixture
def sam(tmp_path_factory):
    """Factory: sam(card_name_or_None, *devsim_args) -> DevSim (killed at teardown)."""
    f = SimFactory(tmp_path_factory)
    yield f
    f.close()


@pytest.fixture(scope="module")
def module_sam(tmp_path_factory):
    f = SimFactory(tmp_path_factory)
    yield f
    f.close()


def wait_input_queued(port: str, what: str, timeout: float = 20.0) -> None:
    """Wait until bytes the simulator wrote wait, unread, in the input queue of the reader's port
    (the pseudo-terminal's slave side, watched through a descriptor of our own: TIOCINQ)."""
    fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        deadline = time.monotonic() + timeout
        while struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0] == 0:
            assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
            time.sleep(0.01)  # poll interval
    finally:
        os.close(fd)


def idcard_config(port: str, **extra) -> dict:
    return {"idcard": {"port": port, "timeout_ms": TIMEOUT_MS, **extra}}


class Rig:
    """A simulated module and a daemon reading it."""

    def __init__(self, sim: DevSim, d):
        self.sim = sim
        self.d = d

    def idcard(self) -> dict:
        return self.d.api("/card=idcard")

    def samid(self) -> dict:
        return self.d.api("/card=getsamid")


@pytest.fixture(scope="module")
def shared(module_sam, module_daemon) -> Rig:
    sim = module_sam("resident")
    d = module_daemon(idcard_config(sim.port))
    return Rig(sim, d)


@pytest.fixture
def rig(shared) -> Rig:
    """The shared module + daemon, the module reset to the `resident` card without faults."""
    shared.sim.reset("resident")
    yield shared
    assert shared.d.alive(), f"daemon died; log:\n{shared.d.log_tail()}"


def assert_card(reply: dict, card_type: str, info: dict, *, decoder: bool = False) -> None:
    assert reply["code"] == "0", reply
    assert reply.get("cardType") == card_type, {k: v for k, v in reply.items() if k != "IDCardInfo"}
    got = reply.get("IDCardInfo")
    assert isinstance(got, dict), reply
    assert set(got) == INFO_KEYS, f"IDCardInfo keys: missing {INFO_KEYS - set(got)}, extra {set(got) - INFO_KEYS}"
    for k, v in got.items():
        assert isinstance(v, str), f"IDCardInfo.{k} is not a string: {v!r}"
    expected = dict(info)
    if decoder:
        expected["photoBase64"] = got["photoBase64"]
    # The pictures are checked by card_pictures(); here only that both are there.
    for k in ("photoBase64_Z", "photoBase64_F"):
        assert got[k], f"IDCardInfo.{k} is empty"
        expected[k] = got[k]
    diff = {k: (got[k], expected[k]) for k in INFO_KEYS if got[k] != expected[k]}
    assert not diff, f"fields differ (got, expected): {diff}"
    if not decoder:
        msg = reply.get("message", "")
        assert "wlt_decoder" in msg and "photoWlt" in msg, f"message should say the decoder is missing: {msg!r}"


# --------------------------------------------------------------------------- sample cards


@pytest.mark.parametrize("name", list(SAMPLES))
def test_sample_card_every_field(rig, name):
    rig.sim.card(name)
    card_type, info = SAMPLES[name]
    assert_card(rig.idcard(), card_type, info)


def test_reply_shape_and_raw_blobs(rig):
    rig.sim.card("resident-finger")
    r = rig.idcard()
    assert list(r)[:2] == ["code", "message"], list(r)
    info = r["IDCardInfo"]
    assert base64.b64decode(info["photoWlt"], validate=True) == WLT
    finger = base64.b64decode(info["fingerBase64"], validate=True)
    assert len(finger) == 1024 and finger == FINGER
    assert info["photoBase64"] == ""
    rig.sim.card("resident")
    assert rig.idcard()["IDCardInfo"]["fingerBase64"] == ""


def card_pictures(info: dict):
    """The two card pictures as RGB images, after checking they are JPEGs of the card's size."""
    from PIL import Image

    out = []
    for k in ("photoBase64_Z", "photoBase64_F"):
        jpeg = base64.b64decode(info[k], validate=True)
        img = Image.open(io.BytesIO(jpeg))
        assert img.format == "JPEG" and img.size == CARD_SIZE, (k, img.format, img.size)
        out.append(img.convert("RGB"))
    return out


def dark_pixels(img, box) -> int:
    """Pixels of text (darker than the card's paper) in a box."""
    region = img.crop(box).convert("L")
    return sum(region.histogram()[:120])


def test_card_pictures(rig):
    """photoBase64_Z (portrait side) and photoBase64_F (the other side) show the card's data
    where the printed card has it: text in the name, number and validity areas, an empty photo
    frame without a decoder, white outside the rounded corners; different cards differ."""
    seen = {}
    for name in ["resident", "resident-finger", "permit", "foreign"]:
        rig.sim.card(name)
        info = rig.idcard()["IDCardInfo"]
        front, back = card_pictures(info)
        assert front.getpixel((0, 0)) == (255, 255, 255) or min(front.getpixel((0, 0))) > 245
        assert dark_pixels(front, (140, 50, 540, 110)) > 100, f"{name}: no name on the front"
        assert dark_pixels(front, (230, 430, 760, 500)) > 300, f"{name}: no number on the front"
        # Without a decoder the photo frame is empty inside.
        assert dark_pixels(front, (580, 90, 800, 360)) == 0, f"{name}: something in the photo frame"
        assert dark_pixels(back, (100, 60, 760, 240)) > 300, f"{name}: no title on the back"
        assert dark_pixels(back, (270, 370, 760, 430)) > 100, f"{name}: no validity on the back"
        seen[name] = (info["photoBase64_Z"], info["photoBase64_F"])
        # The same card reads to the same pictures.
        assert rig.idcard()["IDCardInfo"]["photoBase64_Z"] == info["photoBase64_Z"]
    fronts = {z for z, _ in seen.values()}
    assert len(fronts) == len(seen), "two cards gave the same front picture"
    # Two resident cards of the same authority and start date, different validity: backs differ.
    assert seen["resident"][1] != seen["resident-finger"][1]


def test_switching_cards_between_calls(rig):
    for name in ["permit", "resident-finger", "foreign", "resident", "permit"]:
        rig.sim.card(name)
        card_type, info = SAMPLES[name]
        assert_card(rig.idcard(), card_type, info)


def test_module_without_finger_command(rig):
    rig.sim.cmd("finger-command off")
    rig.sim.card("resident-finger")
    r = rig.idcard()
    assert_card(r, "B", {**RESIDENT_FINGER, "fingerBase64": ""})
    # The other cards read as before through the older command.
    rig.sim.card("permit")
    assert_card(rig.idcard(), "J", PERMIT)
    rig.sim.cmd("finger-command on")
    rig.sim.card("resident-finger")
    assert_card(rig.idcard(), "C", RESIDENT_FINGER)


def test_module_started_without_finger_command(sam, daemon):
    sim = sam("resident-finger", "--no-finger-command")
    d = daemon(idcard_config(sim.port))
    assert_card(d.api("/card=idcard"), "B", {**RESIDENT_FINGER, "fingerBase64": ""})


def test_getsamid(rig):
    r = rig.samid()
    assert r["code"] == "0", r
    assert r["samID"] == SAM_ID, r
    # The SAM ID does not need a card.
    rig.sim.card("none")
    assert rig.samid()["samID"] == SAM_ID


def test_init_and_release(rig):
    assert rig.d.api("/card=init")["code"] == "0"
    assert_card(rig.idcard(), "B", RESIDENT)
    assert rig.d.api("/card=release")["code"] == "0"
    assert rig.d.api("/card=release")["code"] == "0"  # twice is fine
    # After release the next call opens the reader again.
    assert_card(rig.idcard(), "B", RESIDENT)
    assert rig.d.api("/card=release")["code"] == "0"
    assert rig.samid()["samID"] == SAM_ID
    assert rig.d.api("/card=init")["code"] == "0"
    assert rig.d.api("/card=init")["code"] == "0"


def test_get_requests_answer_too(rig):
    """The vendor's pages also use GET without a body; the same handlers answer."""
    r = rig.d.get("/card=getsamid")
    assert r.status == 200, r
    assert r.json()["samID"] == SAM_ID


# --------------------------------------------------------------------------- WebSocket


def test_websocket_read_idcard_and_get_samid(rig):
    conn = websocket.create_connection(rig.d.ws_url("/"), timeout=10)
    try:
        rig.sim.card("resident-finger")
        msg = ws_call(conn, "read_idcard")
        assert msg["function"] == "read_idcard"
        assert_card(msg, "C", RESIDENT_FINGER)
        http = rig.idcard()
        assert {k: v for k, v in msg.items() if k != "function"} == http

        rig.sim.card("foreign")
        assert_card(ws_call(conn, "read_idcard"), "I", FOREIGN)

        msg = ws_call(conn, "get_samid")
        assert msg["function"] == "get_samid" and msg["code"] == "0", msg
        assert msg["samID"] == SAM_ID

        rig.sim.card("none")
        msg = ws_call(conn, "read_idcard")
        assert msg["function"] == "read_idcard" and msg["code"] == "3", msg
        assert msg.get("message"), msg

        # The group=action spelling works over WebSocket as well.
        rig.sim.card("permit")
        assert_card(ws_call(conn, "card=idcard"), "J", PERMIT)
    finally:
        conn.close()


# --------------------------------------------------------------------------- errors and faults


def test_no_card(rig):
    rig.sim.card("none")
    r = rig.idcard()
    assert r["code"] == "3", r
    assert r.get("message"), r
    assert "IDCardInfo" not in r and "cardType" not in r, r
    # Put a card on the reader: the next call reads it.
    rig.sim.card("permit")
    assert_card(rig.idcard(), "J", PERMIT)


def test_card_removed_between_find_and_select(rig):
    assert_card(rig.idcard(), "B", RESIDENT)
    rig.sim.fault("removed-after-find")
    r = rig.idcard()
    assert r["code"] == "3", r
    rig.sim.reset("resident")
    assert_card(rig.idcard(), "B", RESIDENT)


def test_read_fails(rig):
    rig.sim.fault("read-fails")
    r = rig.idcard()
    assert r["code"] == "3", r
    assert "41" in r.get("message", ""), f"message should name SW3 41: {r}"
    # The SAM ID is still readable.
    assert rig.samid()["code"] == "0"
    rig.sim.fault("none")
    assert_card(rig.idcard(), "B", RESIDENT)


def test_silent_module(rig):
    assert_card(rig.idcard(), "B", RESIDENT)  # the reader is open
    rig.sim.fault("silent")
    t0 = time.monotonic()
    r = rig.idcard()
    took = time.monotonic() - t0
    assert r["code"] == "2", r
    assert r.get("message"), r
    assert took < 5.0, f"a silent module took {took:.1f}s to report (time-out {TIMEOUT_MS} ms)"
    # Still silent, and the reader has been dropped: the re-open fails the same way.
    assert rig.idcard()["code"] == "2"
    assert rig.samid()["code"] == "2"
    assert rig.d.api("/card=init")["code"] == "2"
    # Cleared: the daemon opens the reader again.
    rig.sim.fault("none")
    assert_card(rig.idcard(), "B", RESIDENT)
    assert rig.samid()["samID"] == SAM_ID


def test_garbled_answers(rig):
    assert_card(rig.idcard(), "B", RESIDENT)
    rig.sim.fault("garble")
    r = rig.idcard()
    assert r["code"] == "2", r
    assert r.get("message"), r
    assert rig.samid()["code"] == "2"
    assert rig.idcard()["code"] == "2"
    rig.sim.fault("none")
    assert_card(rig.idcard(), "B", RESIDENT)


def test_checksum_error_retried(rig):
    assert_card(rig.idcard(), "B", RESIDENT)  # the reader is open
    rig.sim.fault("checksum-once")
    assert_card(rig.idcard(), "B", RESIDENT)
    rig.sim.fault("checksum-once")
    r = rig.samid()
    assert r["code"] == "0" and r["samID"] == SAM_ID, r
    # And with the reader closed (the first frame after opening gets the error).
    assert rig.d.api("/card=release")["code"] == "0"
    rig.sim.fault("checksum-once")
    rig.sim.card("foreign")
    assert_card(rig.idcard(), "I", FOREIGN)


def test_slow_answers_within_time_out(rig):
    rig.sim.fault("slow 120")
    rig.sim.card("resident-finger")
    assert_card(rig.idcard(), "C", RESIDENT_FINGER)
    assert rig.samid()["samID"] == SAM_ID
    # Also when the reader has to be opened first.
    assert rig.d.api("/card=release")["code"] == "0"
    assert_card(rig.idcard(), "C", RESIDENT_FINGER)


def test_slow_answers_beyond_time_out(rig):
    assert_card(rig.idcard(), "B", RESIDENT)
    rig.sim.fault(f"slow {TIMEOUT_MS * 2}")
    r = rig.idcard()
    assert r["code"] == "2", r
    rig.sim.fault("none")
    # The module answers the timed-out command late; the next read must not take that answer for
    # its own. Make sure it is there, stale, before the next read starts.
    wait_input_queued(rig.sim.port, "the module's late answer on the port")
    assert_card(rig.idcard(), "B", RESIDENT)
    assert_card(rig.idcard(), "B", RESIDENT)


def test_other_endpoints_after_faults(rig):
    for fault in ["silent", "garble", "read-fails"]:
        rig.sim.fault(fault)
        assert rig.idcard()["code"] in ("2", "3")
        r = rig.d.api("/param=get", {"type": "app_version"})
        assert r["code"] == "0" and r["app_version"], r
    rig.sim.fault("none")
    assert_card(rig.idcard(), "B", RESIDENT)


def test_concurrent_reads(rig):
    rig.sim.card("resident-finger")
    n = 8
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i):
        barrier.wait()
        try:
            results[i] = rig.idcard()
        except BaseException as e:  # noqa: BLE001 - reported below
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for r in results:
        assert isinstance(r, dict), r
        assert_card(r, "C", RESIDENT_FINGER)
    assert all(r == results[0] for r in results)


def test_concurrent_mixed_calls(rig):
    rig.sim.card("permit")
    calls = ["/card=idcard", "/card=getsamid", "/card=init", "/card=idcard", "/card=getsamid", "/card=idcard"]
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i):
        barrier.wait()
        try:
            results[i] = rig.d.api(calls[i])
        except BaseException as e:  # noqa: BLE001
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for call, r in zip(calls, results):
        assert isinstance(r, dict), (call, r)
        if call == "/card=idcard":
            assert_card(r, "J", PERMIT)
        elif call == "/card=getsamid":
            assert r["code"] == "0" and r["samID"] == SAM_ID, r
        else:
            assert r["code"] == "0", r


def test_other_endpoints_served_during_a_slow_fault(sam, daemon):
    sim = sam("resident")
    d = daemon(idcard_config(sim.port, timeout_ms=1500))
    assert_card(d.api("/card=idcard"), "B", RESIDENT)
    sim.fault("silent")
    done = {}

    def read():
        done["reply"] = d.api("/card=idcard")
        done["at"] = time.monotonic()

    t = threading.Thread(target=read, daemon=True)
    t0 = time.monotonic()
    t.start()
    # Other calls, one after another, for as long as the ID card read runs: (asked at, answered at,
    # reply) each.
    others = []
    while t.is_alive() and time.monotonic() - t0 < 20:
        asked = time.monotonic()
        r = d.api("/param=get", {"type": "app_version"})
        others.append((asked, time.monotonic(), r))
        time.sleep(0.05)  # pace of the calls (the loop ends with the read)
    t.join(20)
    assert not t.is_alive()
    assert others and all(r["code"] == "0" for _, _, r in others), others
    assert done["reply"]["code"] == "2", done["reply"]
    assert done["at"] - t0 >= 1.4, "the silent module was reported before the time-out"
    # The daemon spends the whole 1.5 s time-out in that read, so a call asked within its last
    # 1.2 s was asked while the read was in progress. Had it waited for the reader, it would have
    # been answered only when the read was over, and no second call could have followed before
    # the read's own answer: at least two such calls were answered before it.
    during = [(a, b) for a, b, _ in others if a >= done["at"] - 1.2 and b < done["at"]]
    assert len(during) >= 2, ("other endpoints waited for the ID card reader: "
                              f"{[(round(a - t0, 2), round(b - t0, 2)) for a, b, _ in others]}, "
                              f"read over at {done['at'] - t0:.2f}s")
    sim.fault("none")
    assert_card(d.api("/card=idcard"), "B", RESIDENT)


# --------------------------------------------------------------------------- configuration


def test_no_port_configured(daemon):
    d = daemon({}, sim=False)
    for ep in ["/card=idcard", "/card=getsamid", "/card=init"]:
        r = d.api(ep)
        assert r["code"] == "2", (ep, r)
        assert "idcard.port" in r.get("message", ""), (ep, r)
    assert d.api("/card=release")["code"] == "0"
    assert d.api("/param=get", {"type": "app_version"})["code"] == "0"


def test_port_that_does_not_exist(daemon, tmp_path):
    missing = str(tmp_path / "no-such-tty")
    d = daemon(idcard_config(missing))
    for ep in ["/card=idcard", "/card=getsamid", "/card=init"]:
        r = d.api(ep)
        assert r["code"] == "2", (ep, r)
        assert missing in r.get("message", ""), (ep, r)
    assert d.api("/param=get", {"type": "app_version"})["code"] == "0"


def test_port_that_is_not_a_module(daemon, tmp_path):
    """A regular file as the port: nothing answers, the call fails with code 2 and does not hang."""
    f = tmp_path / "not-a-tty"
    f.write_bytes(b"")
    d = daemon(idcard_config(str(f)))
    t0 = time.monotonic()
    r = d.api("/card=idcard")
    assert r["code"] == "2", r
    assert time.monotonic() - t0 < 10


def test_builtin_simulated_module(daemon):
    d = daemon({}, sim=True)
    r = d.api("/card=idcard")
    assert_card(r, "C", RESIDENT_FINGER)
    r = d.api("/card=getsamid")
    assert r["code"] == "0" and r["samID"] == SAM_ID, r


def test_module_appears_after_start(sam, daemon, tmp_path):
    """The port is opened on first use, not at start: a module that is absent at first is found
    once its port exists."""
    link = tmp_path / "ttyIDCARD"
    d = daemon(idcard_config(str(link)))
    assert d.api("/card=idcard")["code"] == "2"
    sim = sam("foreign")
    link.symlink_to(sim.port)
    assert_card(d.api("/card=idcard"), "I", FOREIGN)


def test_module_unplugged_and_replugged(sam, daemon, tmp_path):
    """The module goes away while the daemon holds its port open (the simulator process ends):
    code 2, promptly, and the daemon keeps serving; a module on the same path is used again."""
    link = tmp_path / "ttyIDCARD"
    first = sam("resident")
    link.symlink_to(first.port)
    d = daemon(idcard_config(str(link)))
    assert_card(d.api("/card=idcard"), "B", RESIDENT)
    first.close()
    for ep in ["/card=idcard", "/card=getsamid", "/card=idcard"]:
        t0 = time.monotonic()
        r = d.api(ep)
        assert r["code"] == "2", (ep, r)
        assert time.monotonic() - t0 < 5, ep
    assert d.api("/param=get", {"type": "app_version"})["code"] == "0"
    second = sam("foreign")
    link.unlink()
    link.symlink_to(second.port)
    assert_card(d.api("/card=idcard"), "I", FOREIGN)
    assert d.alive()


def test_second_baud_rate(sam, daemon):
    """Bauds are tried in order; a list naming only 9600 works against the (speed-agnostic) pty."""
    sim = sam("permit")
    d = daemon(idcard_config(sim.port, bauds=[9600]))
    assert_card(d.api("/card=idcard"), "J", PERMIT)


# --------------------------------------------------------------------------- WLT photo decoder

FAKE_DECODER_C = r"""
#include <string.h>

static void put16(unsigned char *p, unsigned v) { p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; }
static void put32(unsigned char *p, unsigned v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }

/* A stand-in for a licensed decoder: a 102x126 24-bit BMP. The top half is (R, G, B) =
   (0x40, 255 - wlt[3], wlt[3]); the bottom half is white. */
int unpack(char *wlt, char *bmp, int save)
{
    const unsigned char *w = (const unsigned char *)wlt;
    unsigned char *b = (unsigned char *)bmp;
    const int W = 102, H = 126, ROW = 308, SIZE = 54 + 308 * 126;
    int x, y;
    (void)save;
    if (w[0] != 'W' || w[1] != 'L' || w[2] != 'T')
        return -2;
    memset(b, 0, SIZE);
    b[0] = 'B';
    b[1] = 'M';
    put32(b + 2, SIZE);
    put32(b + 10, 54);
    put32(b + 14, 40);
    put32(b + 18, W);
    put32(b + 22, H);
    put16(b + 26, 1);
    put16(b + 28, 24);
    put32(b + 30, 0);
    put32(b + 34, ROW * H);
    put32(b + 38, 2835);
    put32(b + 42, 2835);
    for (y = 0; y < H; y++) {          /* bottom-up: file row 0 is the bottom of the image */
        unsigned char *row = b + 54 + y * ROW;
        for (x = 0; x < W; x++) {
            unsigned char *p = row + 3 * x;
            if (y >= H / 2) {          /* top half */
                p[0] = w[3];
                p[1] = 255 - w[3];
                p[2] = 0x40;
            } else {
                p[0] = p[1] = p[2] = 255;
            }
        }
    }
    return 1;
}
"""

FAILING_DECODER_C = r"""
int unpack(char *wlt, char *bmp, int save) { (void)wlt; (void)bmp; (void)save; return 0; }
"""


def build_lib(tmp_path: Path, name: str, source: str) -> Path:
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (cc) to build a fake WLT decoder")
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    lib = tmp_path / f"lib{name}.so"
    p = subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return lib


def test_wlt_decoder_plugin(sam, daemon, tmp_path):
    from PIL import Image

    lib = build_lib(tmp_path, "fakewlt", FAKE_DECODER_C)
    sim = sam("resident-finger")
    d = daemon(idcard_config(sim.port, wlt_decoder=str(lib)))
    r = d.api("/card=idcard")
    assert_card(r, "C", RESIDENT_FINGER, decoder=True)
    assert r["message"] == "", r["message"]
    jpeg = base64.b64decode(r["IDCardInfo"]["photoBase64"], validate=True)
    assert jpeg[:2] == b"\xff\xd8", jpeg[:16]
    img = Image.open(io.BytesIO(jpeg))
    assert img.format == "JPEG"
    assert img.size == (102, 126), img.size
    img = img.convert("RGB")
    # The decoded photo is in the front picture's photo frame (560,64 255x315).
    front, _ = card_pictures(r["IDCardInfo"])
    inside = front.getpixel((560 + 127, 64 + 40))
    top = (0x40, 255 - WLT[3], WLT[3])
    assert all(abs(a - b) <= 24 for a, b in zip(inside, top)), f"photo frame: {inside}, expected about {top}"
    for xy, want in [((51, 20), top), ((10, 40), top), ((51, 105), (255, 255, 255)), ((90, 120), (255, 255, 255))]:
        got = img.getpixel(xy)
        assert all(abs(a - b) <= 16 for a, b in zip(got, want)), f"pixel {xy}: {got}, expected about {want}"
    # Every card kind gets its photo decoded.
    sim.card("permit")
    r = d.api("/card=idcard")
    assert_card(r, "J", PERMIT, decoder=True)
    assert r["message"] == "" and r["IDCardInfo"]["photoBase64"], r["message"]
    # And over WebSocket.
    conn = websocket.create_connection(d.ws_url("/"), timeout=10)
    try:
        msg = ws_call(conn, "read_idcard")
    finally:
        conn.close()
    assert_card(msg, "J", PERMIT, decoder=True)
    assert msg["IDCardInfo"]["photoBase64"] == r["IDCardInfo"]["photoBase64"]


def test_wlt_decoder_that_fails(sam, daemon, tmp_path):
    lib = build_lib(tmp_path, "failwlt", FAILING_DECODER_C)
    sim = sam("resident")
    d = daemon(idcard_config(sim.port, wlt_decoder=str(lib)))
    r = d.api("/card=idcard")
    assert_card(r, "B", RESIDENT, decoder=True)
    assert r["IDCardInfo"]["photoBase64"] == ""
    assert "photoWlt" in r["message"], r["message"]


def test_wlt_decoder_missing(sam, daemon, tmp_path):
    sim = sam("resident")
    d = daemon(idcard_config(sim.port, wlt_decoder=str(tmp_path / "libnosuch.so")))
    assert_card(d.api("/card=idcard"), "B", RESIDENT)  # no photo, message says why
    assert d.api("/card=getsamid")["samID"] == SAM_ID


def test_wlt_decoder_without_unpack(sam, daemon, tmp_path):
    lib = build_lib(tmp_path, "nounpack", "int something_else(void) { return 1; }\n")
    sim = sam("permit")
    d = daemon(idcard_config(sim.port, wlt_decoder=str(lib)))
    assert_card(d.api("/card=idcard"), "J", PERMIT)
