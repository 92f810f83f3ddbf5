#!/usr/bin/env bash
# The camera backend against vivid in the QEMU rig: one boot running tests/rig/guest/camera_vivid.py
# with the built daemon (target/debug/cameraserviced unless CAMERASERVICED_BIN is set).
# Prints PASS/FAIL per check and "N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
RIG=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$RIG/../.." && pwd)
BIN=${CAMERASERVICED_BIN:-$REPO/target/debug/cameraserviced}
[ -x "$BIN" ] || { echo "camera-vivid: daemon not built: $BIN" >&2; exit 2; }
"$RIG/prepare.sh" >/dev/null || { echo "FAIL rig.prepare"; echo "0 passed, 1 failed"; exit 1; }
exec "$RIG/run-in-vm.sh" --module 'vivid n_devs=1 node_types=0x1' \
  --module 'v4l2loopback video_nr=10 card_label=rig-loopback exclusive_caps=0 keep_format=1' --timeout "${RIG_CAMERA_TIMEOUT:-480}" \
  --cwd "$REPO" -- /usr/bin/python3 tests/rig/guest/camera_vivid.py "$BIN"
