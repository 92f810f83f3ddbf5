"""param=set/get cache data: round trip, order, clean, persistence across restarts, bounds."""

import os

import pytest

from e2e_support import check_api_reply


def cset(d, key, value, **extra):
    body = {"type": "set_cache_data", "key": key, "value": value, **extra}
    return check_api_reply(d.post("/param=set", body))


def cget(d, key):
    return check_api_reply(d.post("/param=get", {"type": "get_cache_data", "key": key}))


def call(d, action, **body):
    return check_api_reply(d.post(f"/param={action}", body))


def all_items(d):
    obj = call(d, "get", type="get_all_cache_data")
    assert obj["code"] == "0", obj
    items = obj.get("all_cache_data")
    assert isinstance(items, list), obj
    for it in items:
        assert set(it) >= {"key", "value"} and isinstance(it["value"], str), obj
    return [(it["key"], it["value"]) for it in items]


def test_set_get_roundtrip(daemon):
    d = daemon({})
    assert cset(d, "user", "张三")["code"] == "0"
    obj = cget(d, "user")
    assert obj["code"] == "0" and obj["key"] == "user" and obj["value"] == "张三", obj
    assert obj.get("message") == "", obj


def test_unknown_key_is_8(daemon):
    d = daemon({})
    obj = cget(d, "never-set")
    assert obj["code"] == "8", obj
    assert obj.get("message"), obj


def test_missing_key_is_4(daemon):
    d = daemon({})
    obj = call(d, "set", type="set_cache_data", value="v")
    assert obj["code"] == "4", obj
    assert obj.get("message"), obj
    assert all_items(d) == []
    obj = call(d, "get", type="get_cache_data")
    assert obj["code"] != "0", obj


def test_number_value_stored_as_string(daemon):
    d = daemon({})
    assert cset(d, "n", 42)["code"] == "0"
    assert cget(d, "n")["value"] == "42"
    assert all_items(d) == [("n", "42")]


def test_all_in_insertion_order_and_overwrite(daemon):
    d = daemon({})
    keys = ["zeta", "alpha", "mid", "中", "0"]
    for i, k in enumerate(keys):
        assert cset(d, k, f"v{i}")["code"] == "0"
    assert all_items(d) == [(k, f"v{i}") for i, k in enumerate(keys)]
    assert cset(d, "alpha", "new")["code"] == "0"
    items = all_items(d)
    assert sorted(k for k, _ in items) == sorted(keys), f"overwrite duplicated a key: {items}"
    assert dict(items)["alpha"] == "new"
    assert cget(d, "alpha")["value"] == "new"


def test_empty_value_allowed(daemon):
    d = daemon({})
    assert cset(d, "empty", "")["code"] == "0"
    obj = cget(d, "empty")
    assert obj["code"] == "0" and obj["value"] == "", obj


def test_clean(daemon):
    d = daemon({})
    for k in ("a", "b", "c"):
        assert cset(d, k, k)["code"] == "0"
    obj = call(d, "set", type="clean_cache_data")
    assert obj["code"] == "0", obj
    assert all_items(d) == []
    assert cget(d, "a")["code"] == "8"
    # usable afterwards
    assert cset(d, "d", "4")["code"] == "0"
    assert all_items(d) == [("d", "4")]


def test_persists_across_restart(daemon):
    d = daemon({})
    state = d.state_dir
    entries = [("first", "1"), ("plus", "a+b/c=="), ("unicode", "签名 \U0001F600"), ("quote", 'x"y\\z\n')]
    for k, v in entries:
        assert cset(d, k, v)["code"] == "0"
    assert d.terminate() == 0, d.log_tail()

    d2 = daemon({}, state_dir=state)
    assert all_items(d2) == entries
    assert cget(d2, "plus")["value"] == "a+b/c=="

    # clean persists too
    assert call(d2, "set", type="clean_cache_data")["code"] == "0"
    assert d2.terminate() == 0, d2.log_tail()
    d3 = daemon({}, state_dir=state)
    assert all_items(d3) == []


def test_cache_written_to_state_dir(daemon):
    d = daemon({})
    assert cset(d, "k", "v")["code"] == "0"
    assert d.terminate() == 0
    files = [p for p in d.state_dir.rglob("*") if p.is_file()]
    assert files, "cache data not written to the state dir"
    for p in files:
        assert not (os.stat(p).st_mode & 0o002), f"{p} is world-writable"


def test_max_entries(daemon):
    d = daemon({"cache": {"max_entries": 3}})
    for i in range(3):
        assert cset(d, f"k{i}", f"v{i}")["code"] == "0"
    obj = cset(d, "k3", "v3")
    assert obj["code"] == "11", obj
    assert obj.get("message"), obj
    assert all_items(d) == [("k0", "v0"), ("k1", "v1"), ("k2", "v2")]
    assert cget(d, "k3")["code"] == "8"
    # replacing an existing key does not add an entry
    assert cset(d, "k1", "new")["code"] == "0"
    assert cget(d, "k1")["value"] == "new"
    # the bound holds after a restart as well
    state = d.state_dir
    assert d.terminate() == 0
    d2 = daemon({"cache": {"max_entries": 3}}, state_dir=state)
    assert all_items(d2) == [("k0", "v0"), ("k1", "new"), ("k2", "v2")]
    assert cset(d2, "k4", "v4")["code"] == "11"
    # clean frees the space
    assert call(d2, "set", type="clean_cache_data")["code"] == "0"
    assert cset(d2, "k4", "v4")["code"] == "0"


def test_max_bytes(daemon):
    d = daemon({"cache": {"max_entries": 1024, "max_bytes": 200}})
    assert cset(d, "small", "x" * 20)["code"] == "0"
    obj = cset(d, "big", "y" * 500)
    assert obj["code"] == "11", obj
    assert cget(d, "big")["code"] == "8"
    assert cget(d, "small")["value"] == "x" * 20
    # growing an existing value past the bound fails too and keeps the old value
    obj = cset(d, "small", "z" * 500)
    assert obj["code"] == "11", obj
    assert cget(d, "small")["value"] == "x" * 20
    assert all_items(d) == [("small", "x" * 20)]


@pytest.mark.parametrize("n", [50])
def test_many_entries_fast(daemon, n):
    d = daemon({})
    for i in range(n):
        assert cset(d, f"key{i:03d}", str(i))["code"] == "0"
    assert all_items(d) == [(f"key{i:03d}", str(i)) for i in range(n)]


def test_stored_before_reply(daemon):
    """A set that was answered "0" is on disk at once: it survives even SIGKILL (power loss)."""
    d = daemon({})
    assert cset(d, "durable", "yes")["code"] == "0"
    d.kill()
    d2 = daemon({}, state_dir=d.state_dir)
    obj = cget(d2, "durable")
    assert obj["code"] == "0" and obj["value"] == "yes", obj


def test_corrupt_state_does_not_prevent_start(daemon):
    d = daemon({})
    assert cset(d, "k", "v")["code"] == "0"
    assert d.terminate() == 0
    for p in d.state_dir.rglob("*"):
        if p.is_file():
            p.write_bytes(b"\x00garbage{{{")
    d2 = daemon({}, state_dir=d.state_dir)
    obj = check_api_reply(d2.post("/param=get", {"type": "app_version"}))
    assert obj["code"] == "0", obj
    assert isinstance(check_api_reply(d2.post("/param=get", {"type": "get_all_cache_data"}))["code"], str)
