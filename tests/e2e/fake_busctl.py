#!/usr/bin/env python3
"""A stand-in for `busctl` that emulates the RAUC D-Bus service, for the update API tests.

Only the calls cameraserviced makes are understood (anything else exits 1):

    busctl --system --json=short get-property de.pengutronix.rauc / de.pengutronix.rauc.Installer PROP...
    busctl --system call de.pengutronix.rauc / de.pengutronix.rauc.Installer InstallBundle 'sa{sv}' PATH 0

State lives in $FAKE_RAUC_DIR:
    unavailable      (test-made) every call fails like busctl without a system bus
    busy             (test-made) Operation reads "installing" (another client is installing)
    refuse           (test-made) InstallBundle fails (RAUC refuses to start the install)
    install.json     the running / last install: path, start time, sha256 and size of the bundle
    installs.jsonl   every InstallBundle call, one JSON object a line
    calls.log        every command line

An install "runs" for INSTALL_SECONDS after InstallBundle, stepping the progress 0 -> 20 -> 40 -> 80
and ending idle with (100, "Installing done.") and LastError "", or, for a bundle whose first bytes are
b"BAD", with (40, "Installing failed.") and LastError "signature verification failed".
This is a mock below the black-box tests; the real RAUC is exercised by the QEMU image tests.
"""

import hashlib
import json
import os
import sys
import time

SERVICE = ["de.pengutronix.rauc", "/", "de.pengutronix.rauc.Installer"]
INSTALL_SECONDS = 1.5
STEPS = [  # (from elapsed seconds, percent, message, depth)
    (0.0, 0, "Installing", 1),
    (0.3, 20, "Determining slot states", 2),
    (0.6, 40, "Checking bundle", 2),
    (1.0, 80, "Copying image to rootfs.1", 2),
]
BAD_ERROR = "signature verification failed"


def state_dir() -> str:
    d = os.environ.get("FAKE_RAUC_DIR")
    if not d:
        sys.stderr.write("fake busctl: FAKE_RAUC_DIR is not set\n")
        sys.exit(2)
    os.makedirs(d, exist_ok=True)
    return d


def fail(msg: str, rc: int = 1) -> None:
    sys.stderr.write(msg + "\n")
    sys.exit(rc)


def load_install(d: str):
    try:
        with open(os.path.join(d, "install.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json_atomic(path: str, obj) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def current(d: str):
    """(operation, (percent, message, depth), last_error) at this moment."""
    inst = load_install(d)
    if inst is None:
        op, progress, last_error = "idle", (0, "", 0), ""
    else:
        elapsed = time.time() - inst["started"]
        if elapsed < INSTALL_SECONDS:
            op = "installing"
            step = [s for s in STEPS if elapsed >= s[0]][-1]
            if inst["bad"] and step[1] > 40:
                step = STEPS[2]
            progress, last_error = step[1:], ""
        elif inst["bad"]:
            op, progress, last_error = "idle", (40, "Installing failed.", 1), BAD_ERROR
        else:
            op, progress, last_error = "idle", (100, "Installing done.", 1), ""
    if os.path.exists(os.path.join(d, "busy")):
        op = "installing"
    return op, progress, last_error


def get_property(d: str, names: list[str]) -> None:
    op, progress, last_error = current(d)
    values = {
        "Operation": {"type": "s", "data": op},
        "Progress": {"type": "(isi)", "data": list(progress)},
        "LastError": {"type": "s", "data": last_error},
        "BootSlot": {"type": "s", "data": "A"},
        "Compatible": {"type": "s", "data": "cameraservice-test"},
    }
    if not names:
        fail("Missing property name.")
    out = []
    for n in names:
        if n not in values:
            fail(f"Failed to get property {n} on interface {SERVICE[2]}: Unknown property")
        out.append(json.dumps(values[n], separators=(",", ":")))
    sys.stdout.write("\n".join(out) + "\n")


def install_bundle(d: str, args: list[str]) -> None:
    if len(args) != 3 or args[0] != "sa{sv}" or args[2] != "0":
        fail(f"fake busctl: unexpected InstallBundle arguments {args!r}")
    path = args[1]
    op, _, _ = current(d)
    if os.path.exists(os.path.join(d, "refuse")):
        fail("Call failed: Already processing a different method")
    if op != "idle":
        fail("Call failed: Already processing a different method")
    h = hashlib.sha256()
    size = 0
    head = b""
    try:
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                if size == 0:
                    head = chunk[:3]
                h.update(chunk)
                size += len(chunk)
    except OSError as e:
        fail(f"Call failed: {e}")
    inst = {"path": path, "started": time.time(), "sha256": h.hexdigest(), "size": size,
            "bad": head == b"BAD"}
    write_json_atomic(os.path.join(d, "install.json"), inst)
    with open(os.path.join(d, "installs.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(inst) + "\n")


def main(argv: list[str]) -> None:
    d = state_dir()
    with open(os.path.join(d, "calls.log"), "a", encoding="utf-8") as f:
        f.write(json.dumps(argv) + "\n")
    if os.path.exists(os.path.join(d, "unavailable")):
        fail("Failed to connect to bus: No such file or directory")
    args = list(argv)
    if "--system" not in args:
        fail(f"fake busctl: expected --system in {argv!r}")
    args.remove("--system")
    json_out = "--json=short" in args
    if json_out:
        args.remove("--json=short")
    if len(args) < 4 or args[1:4] != SERVICE:
        fail(f"fake busctl: unexpected call {argv!r}")
    verb, rest = args[0], args[4:]
    if verb == "get-property" and json_out:
        get_property(d, rest)
    elif verb == "call" and rest[:1] == ["InstallBundle"]:
        install_bundle(d, rest[1:])
    else:
        fail(f"fake busctl: unsupported call {argv!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
