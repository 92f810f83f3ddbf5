#!/usr/bin/env bash
# The signing screen on real kernel devices in the QEMU rig: one boot running
# tests/rig/guest/signpad.py with the built daemon (target/debug/cameraserviced unless
# CAMERASERVICED_BIN is set) on vkms (DRM/KMS, 60 Hz) and a uinput pen tablet. Prints PASS/FAIL
# per check, the ink latency and geometry figures, and "N passed, M failed"; exits non-zero on any
# failure.
set -uo pipefail
RIG=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$RIG/../.." && pwd)
BIN=${CAMERASERVICED_BIN:-$REPO/target/debug/cameraserviced}
[ -x "$BIN" ] || { echo "signpad: daemon not built: $BIN" >&2; exit 2; }
"$RIG/prepare.sh" >/dev/null || { echo "FAIL rig.prepare"; echo "0 passed, 1 failed"; exit 1; }
exec "$RIG/run-in-vm.sh" --modules uinput,evdev,vkms --mem 2048 --timeout "${RIG_SIGNPAD_TIMEOUT:-600}" \
  --cwd "$REPO" -- /usr/bin/python3 tests/rig/guest/signpad.py "$BIN"
