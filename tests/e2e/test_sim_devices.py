"""`--sim` covers every hardware class, each through its class's backend chosen per configuration
section (`backend = "..."`): the simulated ID card module, smart cards (a social security card and
a PBOC bank card in their own readers, in-process) and a magnetic stripe reader; "none" disables
a class; an unknown backend stops the daemon at start with a clear message. The card data are
devsim's sample cards (firmware/devsim/src/smartcards.rs, stripe.rs)."""

import websocket

from e2e_support import ws_call


def test_every_card_class_answers_under_sim(daemon):
    d = daemon({}, sim=True)
    r = d.api("/card=sociaseceritycard")
    assert r["code"] == "0", r
    assert r["SocialCardInfo"]["Name"] == "王小明"
    assert r["SocialCardInfo"]["SocialSecurityNumber"] == "110101199003071234"
    r = d.api("/card=iccard")
    assert r["code"] == "0", r
    assert r["ICCardInfo"]["CardNumber"] == "6222021234567890123"
    assert r["ICCardInfo"]["Balance"] == "12.34"
    r = d.api("/card=magcard")
    assert r["code"] == "0", r
    assert r["MagCardInfo"]["Track2"] == "6222021234567890=30121010000"
    assert r["MagCardInfo"]["Track1"].startswith("B6222021234567890^ZHANG/SAN^")
    r = d.api("/card=idcard")
    assert r["code"] == "0", r
    assert r["IDCardInfo"]["name"]


def test_reader_patterns_pick_the_simulated_readers(daemon):
    d = daemon({"pcsc": {"social_reader": "bank"}}, sim=True)
    # The social security card is not in the bank card reader.
    assert d.api("/card=sociaseceritycard")["code"] != "0"
    d2 = daemon({"pcsc": {"social_reader": "social security"}}, sim=True)
    assert d2.api("/card=sociaseceritycard")["code"] == "0"


def test_websocket_reads_under_sim(daemon):
    d = daemon({}, sim=True)
    conn = websocket.create_connection(d.ws_url("/"), timeout=15)
    try:
        for fn, key in [("read_sociaseceritycard", "SocialCardInfo"), ("read_iccard", "ICCardInfo"),
                        ("read_magcard", "MagCardInfo")]:
            msg = ws_call(conn, fn)
            assert msg["code"] == "0" and key in msg, msg
    finally:
        conn.close()


def test_backend_none_disables_a_class(daemon):
    d = daemon({"pcsc": {"backend": "none"}, "magcard": {"backend": "none"},
                "idcard": {"backend": "none"}}, sim=True)
    for ep, words in [("/card=sociaseceritycard", "pcsc.backend"), ("/card=magcard", "magcard.device"),
                      ("/card=idcard", "idcard.port")]:
        r = d.api(ep)
        assert r["code"] == "2", (ep, r)
        assert words in r["message"], (ep, r)
    # The other classes are unaffected.
    assert d.api("/param=get", {"type": "app_version"})["code"] == "0"


def test_named_device_wins_over_sim(daemon, tmp_path):
    # A section that names its device uses it even with --sim: here a port that does not exist.
    d = daemon({"idcard": {"port": str(tmp_path / "no-such-tty")}}, sim=True)
    r = d.api("/card=idcard")
    assert r["code"] == "2", r


def test_unknown_backend_stops_the_daemon(daemon):
    d = daemon({"magcard": {"backend": "usb"}}, sim=True, wait=False)
    rc = d.proc.wait(timeout=20)
    assert rc != 0
    log = d.log()
    assert "magcard.backend" in log and "usb" in log, log[-2000:]
