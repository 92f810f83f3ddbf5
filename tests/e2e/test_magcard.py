"""card=magcard with a serial magnetic stripe reader: a pseudo-terminal stands in for the reader's
serial port and the test writes what a reader sends for a swipe. (HID keyboard readers are tested
against the kernel's input stack in the QEMU rig: tests/rig/magstripe.sh.)"""

import fcntl
import os
import struct
import termios
import threading
import time
import tty

import pytest

SWIPE = b"%B6222021234567890^ZHANG/SAN^3012101?;6222021234567890=30121010000?+0123456789?\r"


WAIT_TIMEOUT = 20.0  # seconds for the daemon to open the reader / for the tty to move bytes


class PtyReader:
    """The reader's serial port: the daemon opens `path` (the pseudo-terminal's slave side); the
    test writes what the reader sends on `master` and watches the slave's input queue through its
    own descriptor `slave`."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)  # (on a pty master this sets the slave's termios: raw)
        self.path = os.ttyname(self.slave)

    def queued(self) -> int:
        """Bytes waiting in the slave's input queue (TIOCINQ), read by nobody yet."""
        return struct.unpack("i", fcntl.ioctl(self.slave, termios.FIONREAD, b"\0" * 4))[0]

    def wait_queued(self, n: int, what: str) -> None:
        deadline = time.monotonic() + WAIT_TIMEOUT
        while self.queued() < n:
            assert time.monotonic() < deadline, f"timed out after {WAIT_TIMEOUT:.0f}s waiting for {what}"
            time.sleep(0.01)  # poll interval

    def swipe_when_reading(self, data: bytes) -> threading.Thread:
        """Send `data` once the daemon reads the port: the daemon discards pending input when it
        opens the port (Port::open flushes), so a swipe sent before that would be lost. A marker
        byte (a lone CR, which the daemon skips) is queued first; once it is gone from the queue
        the daemon has opened and flushed the port, and whatever comes next is read. Call it
        before the card=magcard call (the marker must be queued before the daemon opens the port)."""
        before = self.queued()
        os.write(self.master, b"\r")
        self.wait_queued(before + 1, "the marker byte in the slave's input queue")
        failed = []

        def run():
            deadline = time.monotonic() + WAIT_TIMEOUT
            while self.queued():
                if time.monotonic() > deadline:
                    failed.append(f"timed out after {WAIT_TIMEOUT:.0f}s waiting for the daemon to open "
                                  f"{self.path} (nobody flushed the marker byte)")
                    return
                time.sleep(0.01)  # poll interval
            os.write(self.master, data)

        t = threading.Thread(target=run)
        t.failed = failed
        t.start()
        return t

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def pty_reader():
    p = PtyReader()
    yield p
    p.close()


def join(t: threading.Thread) -> None:
    t.join()
    assert not t.failed, t.failed[0]


def test_serial_swipe_three_tracks(daemon, pty_reader):
    d = daemon({"magcard": {"device": pty_reader.path, "timeout_ms": 5000}})
    t = pty_reader.swipe_when_reading(SWIPE)
    r = d.api("card=magcard")
    join(t)
    assert r["code"] == "0", r
    assert r["message"] == ""
    assert r["MagCardInfo"] == {
        "Track1": "B6222021234567890^ZHANG/SAN^3012101",
        "Track2": "6222021234567890=30121010000",
        "Track3": "0123456789",
    }
    # WebSocket name of the same function reaches the same handler (no reader data this time:
    # it times out like the HTTP call would), and the daemon keeps serving.
    assert d.api("param=get", {"type": "app_version"})["code"] == "0"


def test_bad_track_and_line_endings(daemon, pty_reader):
    d = daemon({"magcard": {"device": pty_reader.path, "timeout_ms": 5000}})
    t = pty_reader.swipe_when_reading(b"%E?;6222021234567890=3012?;E?\r\n")
    r = d.api("card=magcard")
    join(t)
    assert r["code"] == "0", r
    assert r["MagCardInfo"] == {"Track1": "", "Track2": "6222021234567890=3012", "Track3": ""}
    assert "1" in r["message"] and "3" in r["message"]


def test_unreadable_swipe_and_timeout(daemon, pty_reader):
    d = daemon({"magcard": {"device": pty_reader.path, "timeout_ms": 1500}})
    t = pty_reader.swipe_when_reading(b"%E?;E?+E?\r")
    r = d.api("card=magcard")
    join(t)
    assert r["code"] == "3", r
    t0 = time.time()
    r = d.api("card=magcard")
    assert r["code"] == "3" and time.time() - t0 >= 1.4, r


def test_stale_data_before_the_call_is_ignored(daemon, pty_reader):
    d = daemon({"magcard": {"device": pty_reader.path, "timeout_ms": 4000}})
    stale = b";1111=2222?\r"
    os.write(pty_reader.master, stale)
    pty_reader.wait_queued(len(stale), "the stale swipe in the slave's input queue")
    t = pty_reader.swipe_when_reading(b";3333=4444?\r")
    r = d.api("card=magcard")
    join(t)
    assert r["code"] == "0" and r["MagCardInfo"]["Track2"] == "3333=4444", r


def test_no_reader_configured_or_absent(daemon, tmp_path):
    d = daemon({})
    r = d.api("card=magcard")
    assert r["code"] == "2" and "magcard.device" in r["message"], r
    d = daemon({"magcard": {"device": str(tmp_path / "ttyUSB9")}})
    r = d.api("card=magcard")
    assert r["code"] == "2", r
    d = daemon({"magcard": {"device": "no-such-reader-name"}})
    r = d.api("card=magcard")
    assert r["code"] == "2" and "no-such-reader-name" in r["message"], r
