#!/usr/bin/env bash
# The daemon's MJPEG streaming side by side with µStreamer 6.x in the QEMU rig (one boot,
# alternating runs, 1 and 10 clients; MJPEG passthrough from v4l2loopback, YUYV from vivid):
# tests/bench/rig_stream_compare.py inside the guest.
#
#   tests/bench/rig_ustreamer.sh USTREAMER_SOURCE_DIR [DAEMON_BIN]
#
# USTREAMER_SOURCE_DIR is a checkout of µStreamer's public source (github.com/pikvm/ustreamer);
# it is copied and built here (libevent-dev, libjpeg-dev, libbsd-dev), never kept in the project.
# Without it, Debian's `ustreamer` package (4.9) is used if installed, and the table says so.
# DAEMON_BIN defaults to the release build. Needs root (the rig). Prints a markdown table.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SRC=${1:-}
DAEMON=$(realpath "${2:-$REPO/target/release/cameraserviced}")
[ -x "$DAEMON" ] || { echo "rig_ustreamer: daemon not built: $DAEMON" >&2; exit 2; }
WORK=$(mktemp -d /tmp/ustreamer-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if [ -n "$SRC" ]; then
  cp -a "$SRC" "$WORK/src"
  make -C "$WORK/src" -j"$(nproc)" >"$WORK/build.log" 2>&1 ||
    { tail -20 "$WORK/build.log"; echo "rig_ustreamer: µStreamer did not build" >&2; exit 1; }
  USTREAMER="$WORK/src/ustreamer"
elif command -v ustreamer >/dev/null; then
  USTREAMER=$(command -v ustreamer)
  echo "rig_ustreamer: no µStreamer source given; FALLBACK to Debian's ustreamer (not 6.x)"
else
  echo "rig_ustreamer: give µStreamer's source folder (or install Debian's ustreamer)" >&2
  exit 2
fi
echo "µStreamer $("$USTREAMER" --version)"

python3 "$REPO/tests/bench/natural_frames.py" "$WORK/frames" --count 30 --size 640x480 --target-kb 32
"$REPO/tests/rig/prepare.sh" >/dev/null
read -r -a extra_args <<<"${RIG_BENCH_ARGS:-}"  # e.g. "--seconds 6 --rounds 1"
"$REPO/tests/rig/run-in-vm.sh" --module 'vivid n_devs=1 node_types=0x1' \
  --module 'v4l2loopback video_nr=10 card_label=rig-loopback exclusive_caps=0 keep_format=1' \
  --timeout "${RIG_BENCH_TIMEOUT:-1200}" --cwd "$REPO" -- \
  /usr/bin/python3 tests/bench/rig_stream_compare.py "$DAEMON" "$USTREAMER" "$WORK/frames" \
  "${extra_args[@]}"
