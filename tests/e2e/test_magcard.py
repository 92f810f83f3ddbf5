"""card=magcard with a serial magnetic stripe reader: a pseudo-terminal stands in for the reader's
serial port and the test writes what a reader sends for a swipe. (HID keyboard readers are tested
against the kernel's input stack in the QEMU rig: tests/rig/magstripe.sh.)"""

import os
import threading
import time
import tty

import pytest

SWIPE = b"%B6222021234567890^ZHANG/SAN^3012101?;6222021234567890=30121010000?+0123456789?\r"


@pytest.fixture
def pty_reader():
    master, slave = os.openpty()
    tty.setraw(master)
    path = os.ttyname(slave)
    yield master, path
    os.close(master)
    os.close(slave)


def swipe_later(master, data, delay=0.6):
    def run():
        time.sleep(delay)
        os.write(master, data)

    t = threading.Thread(target=run)
    t.start()
    return t


def test_serial_swipe_three_tracks(daemon, pty_reader):
    master, path = pty_reader
    d = daemon({"magcard": {"device": path, "timeout_ms": 5000}})
    t = swipe_later(master, SWIPE)
    r = d.api("card=magcard")
    t.join()
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
    master, path = pty_reader
    d = daemon({"magcard": {"device": path, "timeout_ms": 5000}})
    t = swipe_later(master, b"%E?;6222021234567890=3012?;E?\r\n")
    r = d.api("card=magcard")
    t.join()
    assert r["code"] == "0", r
    assert r["MagCardInfo"] == {"Track1": "", "Track2": "6222021234567890=3012", "Track3": ""}
    assert "1" in r["message"] and "3" in r["message"]


def test_unreadable_swipe_and_timeout(daemon, pty_reader):
    master, path = pty_reader
    d = daemon({"magcard": {"device": path, "timeout_ms": 1500}})
    t = swipe_later(master, b"%E?;E?+E?\r")
    r = d.api("card=magcard")
    t.join()
    assert r["code"] == "3", r
    t0 = time.time()
    r = d.api("card=magcard")
    assert r["code"] == "3" and time.time() - t0 >= 1.4, r


def test_stale_data_before_the_call_is_ignored(daemon, pty_reader):
    master, path = pty_reader
    d = daemon({"magcard": {"device": path, "timeout_ms": 4000}})
    os.write(master, b";1111=2222?\r")
    time.sleep(0.3)
    t = swipe_later(master, b";3333=4444?\r")
    r = d.api("card=magcard")
    t.join()
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
