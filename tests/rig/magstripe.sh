#!/usr/bin/env bash
# HID magnetic stripe readers in the QEMU rig: one boot running tests/rig/guest/magstripe.py with
# the built daemon (target/debug/cameraserviced unless CAMERASERVICED_BIN is set) and a uinput
# keyboard. Prints PASS/FAIL per check and "N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
RIG=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$RIG/../.." && pwd)
BIN=${CAMERASERVICED_BIN:-$REPO/target/debug/cameraserviced}
[ -x "$BIN" ] || { echo "magstripe: daemon not built: $BIN" >&2; exit 2; }
"$RIG/prepare.sh" >/dev/null || { echo "FAIL rig.prepare"; echo "0 passed, 1 failed"; exit 1; }
exec "$RIG/run-in-vm.sh" --modules uinput,evdev --timeout "${RIG_MAGSTRIPE_TIMEOUT:-300}" \
  --cwd "$REPO" -- /usr/bin/python3 tests/rig/guest/magstripe.py "$BIN"
