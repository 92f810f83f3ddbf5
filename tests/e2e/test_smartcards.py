"""Smart cards through PC/SC: card=sociaseceritycard and card=iccard (WebSocket read_sociaseceritycard
and read_iccard) against a real pcscd reading simulated cards through vsmartcard's vpcd driver.

The rig (module fixture `rig`; skipped when a pcscd that these tests did not start is running, since
only one pcscd can run per machine: its socket is /run/pcscd/pcscd.comm):

* pcscd runs in the foreground with a private reader.conf directory (`pcscd -f -c DIR`), one vpcd
  entry in the driver's normal server mode (DEVICENAME /dev/null:0xP): vpcd listens on ports P and
  P+1, one per slot; the slots are the readers "Virtual PCD 00 00" and "Virtual PCD 00 01". vpcd
  binds these ports on all interfaces (INADDR_ANY; the driver cannot be told otherwise), but the
  only connections made to them during the tests are devsim's, over loopback.
* `devsim vpcd --connect P --slot0 social --slot1 bank` (binary $DEVSIM_BIN, else next to the daemon
  binary) is the card side of the vpcd protocol, like vsmartcard's vicc: for each slot it connects
  to 127.0.0.1:P (P+1) while the slot holds a card. Taking a card out, or changing it, makes devsim
  close that connection at vpcd's next message (pcscd asks for the ATR every 400 ms), which is how a
  card leaves a vpcd reader; it connects again with the next card 150 ms later. It takes
  `slot 0|1 social|bank|bank-contactless|none` on stdin (answering `ok`). The sample cards are those
  of firmware/devsim/src/smartcards.rs.
* Server mode because the packaged driver (vsmartcard-vpcd 3.3 = virtualsmartcard 0.8) cannot take a
  card out in reversed mode (DEVICENAME 127.0.0.1:0xQ): on an empty ATR it blocks in recv(fd, NULL,
  0, MSG_WAITALL) holding the slot's lock, and its reconnect calls FD_SET(-1), aborting pcscd (fixed
  upstream in 0.9, commit 76543ea).
* The test process watches pcscd's own view of the readers (card present / absent and its event
  counter, through libpcsclite with ctypes) after every card change, so no test sleeps a fixed time.
* Cards that are slow to answer: devsim's `delay 0|1 MS` makes a slot's card answer each APDU that
  late, so a bank read (dozens of APDUs) takes seconds; a card taken out during such a read leaves
  at the read's next APDU (see bank_read_slow).

Cards are read by a daemon with the default configuration (no [pcsc] patterns: every reader, in
PC/SC order). Expected values are exactly those of the simulated cards; fields a card lacks are "".
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import websocket

from e2e_support import DevSimProcess, free_port, ws_call

PCSCD = shutil.which("pcscd") or "/usr/sbin/pcscd"
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
PCSCD_PIDFILE = Path("/run/pcscd/pcscd.pid")
READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")
STATE_TIMEOUT = 10.0  # seconds for pcscd to see a card change (it polls every 400 ms)

SOCIAL_EP = "/card=sociaseceritycard"
BANK_EP = "/card=iccard"

# --------------------------------------------------------------------------- expected card data

SOCIAL = {
    "SocialSecurityNumber": "110101199003071234",
    "CardNumber": "A12345678",
    "Name": "王小明",
    "Sex": "男",
    "Nation": "汉",
    "Birthday": "19900307",
    "Birthplace": "110101",
    "CardDistinguishCode": "110000D156000005",
    "SocialSecurityCardType": "3",
    "CardNormVer": "3.00",
    "VisaInstitution": "110000000000",
    "ValidStart": "20210601",
    "ValidEnd": "20310601",
}

# "Atc" (the application transaction counter) is checked on its own: GET PROCESSING OPTIONS adds one
# to it on every read. A fresh simulated card holds 0x0011, so its first read reports "18".
BANK = {
    "CardNumber": "6222021234567890123",
    "AccountNumber": "6222021234567890123",
    "Name": "ZHANG/SAN",
    "CertificatesType": "00",
    "CertificatesNo": "110101199003071234",
    "Track1": "123456",
    "Track2": "6222021234567890123D30122201000012345",
    "Track3": "",
    "Balance": "12.34",
    "BalanceLimit": "1000.00",
    "EffectiveDate": "201201",
    "SerialNumber": "01",
    "CurrencyCode": "0156",
    "PinRetryTime": "3",
    "ExpiryDate": "301231",
    "Atc": None,
    "NameExtend": "张三",
    "SingleTradingLimit": "500.00",
    "ResetThreshold": "100.00",
    "TransactionLimitNumber_I_N": "",
    "TransactionLimitNumber_I_C": "",
    "TradingLimitNumber": "",
    "TradingLimitNumber_Double": "",
    "TransactionAmountUpperLimit": "",
    "CurrencyConversionFactor": "",
    "TradingFloor": "",
    "TradingCeiling": "",
    "AppLock": "",
    "IcCardAID": "A000000333010101",
    "AuthorizedAmount": "25.00",
    "OtherAmount": "0.00",
    "TransactionCurrencyCode": "0156",
    "TransactionDate": "261120",
    "TransactionTime": "103000",
    "MerchantNumber": "TEST MERCHANT",
}
FRESH_ATC = 0x11 + 1


def assert_social(reply: dict) -> None:
    assert reply.get("code") == "0", reply
    assert set(reply) == {"code", "message", "SocialCardInfo"}, reply
    info = reply["SocialCardInfo"]
    assert isinstance(info, dict), reply
    assert set(info) == set(SOCIAL), f"keys: missing {set(SOCIAL) - set(info)}, extra {set(info) - set(SOCIAL)}"
    diff = {k: (info[k], v) for k, v in SOCIAL.items() if info[k] != v}
    assert not diff, f"SocialCardInfo fields differ (got, expected): {diff}"


def assert_bank(reply: dict) -> int:
    """Every ICCardInfo field as expected; returns the ATC."""
    assert reply.get("code") == "0", reply
    assert set(reply) == {"code", "message", "ICCardInfo"}, reply
    info = reply["ICCardInfo"]
    assert isinstance(info, dict), reply
    assert set(info) == set(BANK), f"keys: missing {set(BANK) - set(info)}, extra {set(info) - set(BANK)}"
    for k, v in info.items():
        assert isinstance(v, str), f"ICCardInfo.{k} is not a string: {v!r}"
    diff = {k: (info[k], v) for k, v in BANK.items() if v is not None and info[k] != v}
    assert not diff, f"ICCardInfo fields differ (got, expected): {diff}"
    atc = info["Atc"]
    assert atc.isdigit() and atc == str(int(atc)), f"Atc is not a decimal number: {atc!r}"
    return int(atc)


def assert_no_card(reply: dict) -> None:
    assert reply.get("code") == "3", reply
    assert reply.get("message"), reply
    assert "SocialCardInfo" not in reply and "ICCardInfo" not in reply, reply


def assert_cannot_read(reply: dict) -> None:
    """Code 3 with the message for a card that is there but is not the kind asked for."""
    assert_no_card(reply)
    msg = reply["message"]
    assert "卡片无法读取" in msg or "cannot be read" in msg, f"message should say the card cannot be read: {msg!r}"


# --------------------------------------------------------------------------- pcscd's view (ctypes)

SCARD_SCOPE_SYSTEM = 2
SCARD_STATE_EMPTY = 0x10
SCARD_STATE_PRESENT = 0x20
SCARD_STATE_INUSE = 0x100  # a client is connected to the card
SCARD_STATE_MUTE = 0x200


class _ReaderState(ctypes.Structure):  # SCARD_READERSTATE of pcsc-lite (DWORD = unsigned long)
    _fields_ = [
        ("szReader", ctypes.c_char_p),
        ("pvUserData", ctypes.c_void_p),
        ("dwCurrentState", ctypes.c_ulong),
        ("dwEventState", ctypes.c_ulong),
        ("cbAtr", ctypes.c_ulong),
        ("rgbAtr", ctypes.c_ubyte * 33),
    ]


class Pcsc:
    """Reads pcscd's reader states through libpcsclite (the same client library the daemon uses)."""

    def __init__(self):
        lib = ctypes.CDLL("libpcsclite.so.1")
        lib.SCardEstablishContext.argtypes = [ctypes.c_ulong, ctypes.c_void_p, ctypes.c_void_p,
                                              ctypes.POINTER(ctypes.c_long)]
        lib.SCardEstablishContext.restype = ctypes.c_long
        lib.SCardReleaseContext.argtypes = [ctypes.c_long]
        lib.SCardReleaseContext.restype = ctypes.c_long
        lib.SCardListReaders.argtypes = [ctypes.c_long, ctypes.c_char_p, ctypes.c_char_p,
                                         ctypes.POINTER(ctypes.c_ulong)]
        lib.SCardListReaders.restype = ctypes.c_long
        lib.SCardGetStatusChange.argtypes = [ctypes.c_long, ctypes.c_ulong, ctypes.POINTER(_ReaderState),
                                             ctypes.c_ulong]
        lib.SCardGetStatusChange.restype = ctypes.c_long
        self.lib = lib

    def states(self) -> dict[str, tuple[int, int, bytes]]:
        """{reader: (state flags, event counter, ATR)}; {} when pcscd or its readers are not there."""
        lib = self.lib
        ctx = ctypes.c_long()
        if lib.SCardEstablishContext(SCARD_SCOPE_SYSTEM, None, None, ctypes.byref(ctx)) != 0:
            return {}
        try:
            n = ctypes.c_ulong(0)
            if lib.SCardListReaders(ctx, None, None, ctypes.byref(n)) != 0 or n.value == 0:
                return {}
            buf = ctypes.create_string_buffer(n.value)
            if lib.SCardListReaders(ctx, None, buf, ctypes.byref(n)) != 0:
                return {}
            names = [x for x in buf.raw[:n.value].split(b"\0") if x]
            arr = (_ReaderState * len(names))()
            for i, name in enumerate(names):
                arr[i].szReader = name
                arr[i].dwCurrentState = 0  # SCARD_STATE_UNAWARE: answer at once
            if lib.SCardGetStatusChange(ctx, 0, arr, len(names)) != 0:
                return {}
            out = {}
            for i, name in enumerate(names):
                ev = arr[i].dwEventState
                out[name.decode()] = (ev & 0xFFFF, (ev >> 16) & 0xFFFF, bytes(arr[i].rgbAtr[:arr[i].cbAtr]))
            return out
        finally:
            lib.SCardReleaseContext(ctx)


# --------------------------------------------------------------------------- processes and ports


def pcscd_pids() -> list[int]:
    p = subprocess.run(["pgrep", "-x", "pcscd"], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split()]


def pcsc_socket_answers() -> bool:
    """True when something accepts connections on pcscd's socket (a running or socket-activated pcscd)."""
    if not PCSCD_SOCKET.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(PCSCD_SOCKET))
            return True
        except OSError:
            return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("", port))
            return True
        except OSError:
            return False


def free_port_pair() -> int:
    """P such that P and P+1 are both free on every address (vpcd's server mode binds host "")."""
    for _ in range(200):
        p = free_port()
        if p < 65535 and _port_free(p) and _port_free(p + 1):
            return p
    raise RuntimeError("no free port pair")


class VpcdSim(DevSimProcess):
    """`devsim vpcd --connect P`: the two card slots, connecting to vpcd on 127.0.0.1:P and P+1."""

    def __init__(self, vpcd_port: int, slot0: str, slot1: str, log_path: Path):
        super().__init__("vpcd", ["--connect", str(vpcd_port), "--slot0", slot0, "--slot1", slot1], log_path)
        self.port = vpcd_port
        want = f"CONNECTING 127.0.0.1:{vpcd_port} 127.0.0.1:{vpcd_port + 1}"
        assert self.banner == want, f"devsim's first line: {self.banner!r} (expected {want!r})"

    def slot(self, n: int, card: str) -> None:
        self.cmd(f"slot {n} {card}")

    def delay(self, n: int, ms: int) -> None:
        """Slot n's card answers each APDU `ms` late (0: at once)."""
        self.cmd(f"delay {n} {ms}")


# --------------------------------------------------------------------------- the rig


class Rig:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.pcsc = Pcsc()
        self.sim: VpcdSim | None = None
        self.pcscd: subprocess.Popen | None = None
        self.pcscd_started = 0.0
        self.pcscd_log = tmp / "pcscd.log"
        self.d = None
        self.cards = ["social", "bank"]
        self.timings: list[tuple[str, float]] = []  # (what, seconds until pcscd saw it)

    # -- set-up / tear-down
    def start(self) -> None:
        vpcd_port = free_port_pair()
        conf = self.tmp / "reader.conf.d"
        conf.mkdir()
        (conf / "vpcd").write_text(
            'FRIENDLYNAME "Virtual PCD"\n'
            f"DEVICENAME   /dev/null:0x{vpcd_port:X}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    0x{vpcd_port:X}\n")
        # devsim first: it connects as soon as vpcd listens.
        self.sim = VpcdSim(vpcd_port, *self.cards, self.tmp / "devsim.log")
        self.pcscd_started = time.time()
        with open(self.pcscd_log, "wb") as log:
            self.pcscd = subprocess.Popen([PCSCD, "-f", "-i", "-c", str(conf)], stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        self.wait_states(self.cards)
        self.timings.append(("pcscd start -> both cards seen", time.monotonic() - t0))

    def stop(self) -> None:
        if self.pcscd is not None:
            # pcscd before devsim: the readers go with pcscd, not as cards taken out under it.
            if self.pcscd.poll() is None:
                self.pcscd.send_signal(signal.SIGTERM)
                try:
                    self.pcscd.wait(5)
                except subprocess.TimeoutExpired:
                    self.pcscd.kill()  # its own pid only
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.pcscd.wait(5)
            if not pcscd_pids():
                # Files our pcscd left behind (it was killed): made after it started, and no pcscd runs.
                for f in (PCSCD_SOCKET, PCSCD_PIDFILE):
                    with contextlib.suppress(FileNotFoundError):
                        if f.stat().st_mtime >= self.pcscd_started - 1:
                            f.unlink()
        if self.sim is not None:
            self.sim.close()
        if self.timings:
            print("[smartcards] pcscd reaction times:",
                  ", ".join(f"{w}: {s:.2f}s" for w, s in self.timings))

    def pcscd_log_tail(self, n: int = 60) -> str:
        try:
            lines = self.pcscd_log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join([x for x in lines if "RFWaitForReaderInit" not in x][-n:])

    def check_alive(self) -> None:
        assert self.pcscd.poll() is None, f"pcscd exited ({self.pcscd.returncode}); log:\n{self.pcscd_log_tail()}"
        assert self.sim.proc.poll() is None, f"devsim exited; stderr: {self.sim.stderr()}"

    # -- cards
    def wait_states(self, cards: list[str], since: dict | None = None, events: dict | None = None) -> dict:
        """Wait until pcscd shows a card in each slot that has one and none in the others; with
        `since` ({reader: earlier event counter}), the counter must also have gone up by
        `events[reader]` (cards taken out and put in)."""
        deadline = time.monotonic() + STATE_TIMEOUT
        states: dict = {}
        while True:
            self.check_alive()
            states = self.pcsc.states()
            ok = True
            for reader, card in zip(READERS, cards):
                st = states.get(reader)
                if st is None:
                    ok = False
                    break
                flags, counter, _atr = st
                if card == "none":
                    ok &= bool(flags & SCARD_STATE_EMPTY)
                else:
                    ok &= bool(flags & SCARD_STATE_PRESENT) and not flags & SCARD_STATE_MUTE
                if since and reader in since:
                    ok &= (counter - since[reader]) % 0x10000 >= events[reader]
            if ok:
                return states
            if time.monotonic() > deadline:
                raise AssertionError(f"pcscd does not show the cards {cards} after {STATE_TIMEOUT}s: {states}; "
                                     f"pcscd log:\n{self.pcscd_log_tail()}")
            time.sleep(0.02)

    def load(self, slot0: str, slot1: str, fresh: bool = False) -> None:
        """Put these cards in the slots (a fresh card where it changes, or everywhere with fresh=True)
        and wait until pcscd has seen the change."""
        cards = [slot0, slot1]
        old = self.cards
        changed = [i for i in range(2) if (fresh or cards[i] != old[i]) and (cards[i], old[i]) != ("none", "none")]
        if not changed:
            return
        before = self.pcsc.states()
        for i in changed:
            self.sim.slot(i, cards[i])
        self.cards = cards
        t0 = time.monotonic()
        # pcscd counts each card taken out and each card put in.
        events = {READERS[i]: (old[i] != "none") + (cards[i] != "none") for i in changed}
        self.wait_states(cards, since={r: before[r][1] for r in events if r in before}, events=events)
        self.timings.append((f"{'/'.join(old)} -> {'/'.join(cards)}", time.monotonic() - t0))

    # -- calls
    def social(self, d=None) -> dict:
        return (d or self.d).api(SOCIAL_EP)

    def bank(self, d=None) -> dict:
        return (d or self.d).api(BANK_EP)

    def app_version(self, d=None) -> dict:
        r = (d or self.d).api("/param=get", {"type": "app_version"})
        assert r["code"] == "0" and r.get("app_version"), r
        return r


def rig_skip_reason() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "pcscd has to run as root (it creates /run/pcscd)"
    if not Path(PCSCD).is_file():
        return f"pcscd is not installed ({PCSCD}; Debian package pcscd)"
    if not VPCD_DRIVER.is_file():
        return f"the vpcd driver is not installed ({VPCD_DRIVER}; Debian package vsmartcard-vpcd)"
    try:
        ctypes.CDLL("libpcsclite.so.1")
    except OSError:
        return "libpcsclite.so.1 is not installed"
    pids = pcscd_pids()
    if pids:
        return (f"a pcscd not started by these tests is running (pid {', '.join(map(str, pids))}); only one "
                f"pcscd can run per machine ({PCSCD_SOCKET}), and it is not ours to stop")
    if pcsc_socket_answers():
        return f"something answers on {PCSCD_SOCKET} (a socket-activated pcscd?)"
    return None


@pytest.fixture(scope="module")
def rig(module_daemon, tmp_path_factory) -> Rig:
    reason = rig_skip_reason()
    if reason:
        pytest.skip(reason)
    r = Rig(tmp_path_factory.mktemp("pcsc"))
    try:
        r.start()
        r.d = module_daemon({})
        # The daemon talks to pcscd from the start: wait until it reads both cards.
        deadline = time.monotonic() + STATE_TIMEOUT
        while True:
            s, b = r.social(), r.bank()
            if s["code"] == "0" and b["code"] == "0":
                break
            assert time.monotonic() < deadline, f"the daemon does not read the cards: {s}, {b}"
            time.sleep(0.1)
        yield r
    finally:
        r.stop()


@pytest.fixture
def cards(rig) -> Rig:
    """The rig with the social security card in slot 0 and the bank card in slot 1."""
    rig.load("social", "bank")
    yield rig
    rig.check_alive()
    assert rig.d.alive(), f"daemon died; log:\n{rig.d.log_tail()}"


# --------------------------------------------------------------------------- without pcscd
# (first in the file: it must run before the module's pcscd is started)


def test_no_pcsc_service(daemon):
    pids = pcscd_pids()
    if pids:
        pytest.skip(f"a pcscd is running (pid {', '.join(map(str, pids))})")
    if pcsc_socket_answers():
        pytest.skip(f"something answers on {PCSCD_SOCKET} (a socket-activated pcscd?)")
    d = daemon({})
    for ep in (SOCIAL_EP, BANK_EP, SOCIAL_EP):
        t0 = time.monotonic()
        r = d.api(ep)
        assert r["code"] == "2", (ep, r)
        assert "PC/SC" in r.get("message", ""), (ep, r)
        assert set(r) == {"code", "message"}, (ep, r)
        assert time.monotonic() - t0 < 5, ep
    assert d.api("/param=get", {"type": "app_version"})["code"] == "0"


# --------------------------------------------------------------------------- reading the cards


def test_social_security_card_every_field(cards):
    assert_social(cards.social())
    # Reading does not change the card.
    assert_social(cards.social())


def test_bank_card_every_field(cards):
    assert_bank(cards.bank())


def test_atc_counts_reads(cards):
    cards.load("social", "bank", fresh=True)
    atcs = [assert_bank(cards.bank()) for _ in range(3)]
    assert atcs == [FRESH_ATC, FRESH_ATC + 1, FRESH_ATC + 2], atcs
    # Social card reads do not touch the bank card (the daemon does not send it GPO).
    assert_social(cards.social())
    assert assert_bank(cards.bank()) == FRESH_ATC + 3


def test_cards_in_either_slot(cards):
    cards.load("bank", "social")
    assert_social(cards.social())
    assert_bank(cards.bank())
    cards.load("social", "bank")
    assert_bank(cards.bank())
    assert_social(cards.social())


def test_two_bank_cards(cards):
    cards.load("bank", "bank", fresh=True)
    assert assert_bank(cards.bank()) == FRESH_ATC  # the first reader's card
    assert assert_bank(cards.bank()) == FRESH_ATC + 1
    r = cards.social()
    assert_cannot_read(r)


@pytest.mark.parametrize("layout", [("social", "bank-contactless"), ("bank-contactless", "social")])
def test_contactless_bank_card(cards, layout):
    """The card answers PPSE (2PAY.SYS.DDF01) instead of PSE: the same data."""
    cards.load(*layout, fresh=True)
    assert assert_bank(cards.bank()) == FRESH_ATC
    assert_social(cards.social())
    assert assert_bank(cards.bank()) == FRESH_ATC + 1


# --------------------------------------------------------------------------- missing and wrong cards


def test_no_card_in_any_reader(cards):
    cards.load("none", "none")
    for ep in (SOCIAL_EP, BANK_EP):
        r = cards.d.api(ep)
        assert_no_card(r)
    cards.app_version()
    # A card put in is read at once.
    cards.load("none", "bank", fresh=True)
    assert assert_bank(cards.bank()) == FRESH_ATC
    assert_no_card(cards.social())
    cards.load("social", "none")
    assert_social(cards.social())
    assert_no_card(cards.bank())


@pytest.mark.parametrize("layout", [("bank", "none"), ("none", "bank"), ("bank", "bank-contactless")])
def test_social_read_with_only_bank_cards(cards, layout):
    cards.load(*layout)
    assert_cannot_read(cards.social())
    assert_bank(cards.bank())  # they are there and readable


@pytest.mark.parametrize("layout", [("social", "none"), ("none", "social"), ("social", "social")])
def test_bank_read_with_only_a_social_card(cards, layout):
    cards.load(*layout)
    r = cards.bank()
    assert_cannot_read(r)
    assert_social(cards.social())


def test_card_taken_out_and_put_back(cards):
    assert_social(cards.social())
    cards.load("none", "bank")
    assert_no_card(cards.social())
    cards.load("social", "bank")
    assert_social(cards.social())
    assert_bank(cards.bank())


# --------------------------------------------------------------------------- configuration


def test_reader_patterns_choose_the_reader(cards, daemon):
    d = daemon({"pcsc": {"social_reader": "00 00", "bank_reader": "00 01"}})
    assert_social(cards.social(d))
    assert_bank(cards.bank(d))
    # Swapped, each pattern's reader holds the other kind of card: the daemon does not look elsewhere.
    cards.load("bank", "social")
    assert_cannot_read(cards.social(d))
    assert_cannot_read(cards.bank(d))
    assert_social(cards.social())  # the default daemon finds them
    assert_bank(cards.bank())
    # Only the configured reader is tried: an empty one is "no card" even though the other has one.
    cards.load("none", "bank")
    assert_no_card(cards.social(d))
    assert_bank(cards.bank(d))


def test_reader_pattern_is_case_insensitive(cards, daemon):
    cards.load("bank", "bank", fresh=True)
    d = daemon({"pcsc": {"bank_reader": "virtual PCD 00 01"}})
    # The first reader's card is left alone: slot 1's card starts at the fresh ATC.
    assert assert_bank(cards.bank(d)) == FRESH_ATC
    assert assert_bank(cards.bank(d)) == FRESH_ATC + 1
    assert assert_bank(cards.bank()) == FRESH_ATC  # slot 0's card, through the default daemon


def test_reader_pattern_matching_no_reader(cards, daemon):
    social_pattern, bank_pattern = "No Such Reader", "Contactless XYZ"
    d = daemon({"pcsc": {"social_reader": social_pattern, "bank_reader": bank_pattern}})
    for ep, pattern in ((SOCIAL_EP, social_pattern), (BANK_EP, bank_pattern)):
        r = d.api(ep)
        assert r["code"] == "2", (ep, r)
        assert pattern in r.get("message", ""), f"message should name the pattern {pattern!r}: {r}"
        assert set(r) == {"code", "message"}, r
    cards.app_version(d)


# --------------------------------------------------------------------------- WebSocket


def test_websocket_reads(cards):
    cards.load("social", "bank", fresh=True)
    conn = websocket.create_connection(cards.d.ws_url("/"), timeout=15)
    try:
        msg = ws_call(conn, "read_sociaseceritycard")
        assert msg["function"] == "read_sociaseceritycard", msg
        body = {k: v for k, v in msg.items() if k != "function"}
        assert_social(body)
        assert body == cards.social()

        msg = ws_call(conn, "read_iccard")
        assert msg["function"] == "read_iccard", msg
        body = {k: v for k, v in msg.items() if k != "function"}
        assert assert_bank(body) == FRESH_ATC
        http = cards.bank()
        assert assert_bank(http) == FRESH_ATC + 1
        strip = lambda r: {**r, "ICCardInfo": {k: v for k, v in r["ICCardInfo"].items() if k != "Atc"}}  # noqa: E731
        assert strip(body) == strip(http)

        # The group=action spelling works too.
        msg = ws_call(conn, "card=sociaseceritycard")
        assert_social({k: v for k, v in msg.items() if k != "function"})

        # Errors come back the same way.
        cards.load("none", "bank")
        msg = ws_call(conn, "read_sociaseceritycard")
        assert msg["function"] == "read_sociaseceritycard"
        assert_no_card({k: v for k, v in msg.items() if k != "function"})
    finally:
        conn.close()


# --------------------------------------------------------------------------- concurrency


def test_concurrent_mixed_reads(cards):
    cards.load("social", "bank", fresh=True)
    calls = [SOCIAL_EP, BANK_EP, SOCIAL_EP, BANK_EP, BANK_EP, SOCIAL_EP]
    barrier = threading.Barrier(len(calls) + 1)
    results: list = [None] * len(calls)
    others: list = []

    def worker(i):
        barrier.wait()
        try:
            results[i] = cards.d.api(calls[i])
        except BaseException as e:  # noqa: BLE001 - reported below
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    barrier.wait()
    # Other endpoints answer while the card reads run.
    for _ in range(3):
        others.append(cards.app_version())
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "card reads still running after 60 s"
    atcs = []
    for call, r in zip(calls, results):
        assert isinstance(r, dict), (call, r)
        if call == SOCIAL_EP:
            assert_social(r)
        else:
            atcs.append(assert_bank(r))
    # One read at a time: each bank read saw its own GET PROCESSING OPTIONS.
    assert sorted(atcs) == [FRESH_ATC, FRESH_ATC + 1, FRESH_ATC + 2], atcs
    assert len(others) == 3


@contextlib.contextmanager
def bank_read_slow(rig: Rig, delay_ms: int = 150, into_slot1: bool = False):
    """A bank read by the default daemon (in a thread) while slot 1's card answers each APDU
    `delay_ms` late (a bank read is dozens of APDUs, so it takes seconds). With `into_slot1`, the
    block starts once pcscd shows slot 1's reader in use by the read. Yields a dict that gets
    "reply" and "at" when the read is over; afterwards the card answers at once again."""
    done: dict = {}

    def read():
        done["reply"] = rig.bank()
        done["at"] = time.monotonic()

    t = threading.Thread(target=read, daemon=True)
    rig.sim.delay(1, delay_ms)
    try:
        t.start()
        if into_slot1:
            deadline = time.monotonic() + STATE_TIMEOUT
            while not rig.pcsc.states().get(READERS[1], (0,))[0] & SCARD_STATE_INUSE:
                assert "reply" not in done, f"the read was over before it reached {READERS[1]}: {done['reply']}"
                assert time.monotonic() < deadline, f"the read does not get to {READERS[1]}"
                time.sleep(0.02)
        yield done
    finally:
        rig.sim.delay(1, 0)
        t.join(60)
    assert not t.is_alive(), "the card read still runs 60 s after the card answers at once again"


def test_other_endpoints_answer_during_a_slow_read(cards):
    cards.load("social", "bank", fresh=True)
    t0 = time.monotonic()
    # (into_slot1: the block starts once pcscd shows the read using slot 1's reader)
    with bank_read_slow(cards, into_slot1=True) as done:
        assert "reply" not in done, "the slow read was over at once"
        for _ in range(3):
            cards.app_version()
        others_at = time.monotonic()
    assert assert_bank(done["reply"]) == FRESH_ATC
    assert others_at < done["at"], (f"other endpoints waited for the card read (read took {done['at'] - t0:.2f}s, "
                                   f"the others were done after {others_at - t0:.2f}s)")


def test_card_taken_out_during_a_read(cards):
    """The card leaves in the middle of a read: the read fails (code 2 or 3 with a message) and the
    next card is read normally."""
    cards.load("social", "bank", fresh=True)
    with bank_read_slow(cards, into_slot1=True) as done:
        assert "reply" not in done, "the slow read was over at once"
        counter = cards.pcsc.states()[READERS[1]][1]
        # The card leaves: devsim closes slot 1's connection at the read's next APDU.
        cards.sim.slot(1, "none")
        cards.cards = ["social", "none"]
    r = done["reply"]
    assert r["code"] in ("2", "3"), r
    assert r.get("message") and "ICCardInfo" not in r, r
    # Wait for pcscd's own removal event: the failed read alone (its reset on disconnect fails) marks
    # the reader empty without one, and a card back before pcscd's next poll would then go unseen.
    cards.wait_states(["social", "none"], since={READERS[1]: counter}, events={READERS[1]: 1})
    assert_no_card(cards.bank())
    cards.load("social", "bank", fresh=True)
    assert assert_bank(cards.bank()) == FRESH_ATC
    assert_social(cards.social())


def test_other_endpoints_between_reads(cards):
    cards.app_version()
    assert_bank(cards.bank())
    cards.app_version()
    cards.load("none", "none")
    assert_no_card(cards.bank())
    cards.app_version()
    assert_no_card(cards.social())
    cards.app_version()
    assert cards.d.alive()
