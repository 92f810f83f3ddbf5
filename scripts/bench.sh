#!/usr/bin/env bash
# Benchmarks (ratios against a baseline measured in the same run; not part of the test suite).
#   scripts/bench.sh [USTREAMER_SOURCE_DIR]
# USTREAMER_SOURCE_DIR: a checkout of µStreamer's public source (6.x) for the side-by-side streaming
# comparison in the QEMU rig (tests/bench/rig_ustreamer.sh); without it Debian's ustreamer 4.9 is
# used, labelled as a fallback.
set -euo pipefail
cd "$(dirname "$0")/.."
USTREAMER_SRC=${1:-}
# µStreamer's build needs these; Debian's ustreamer is the fallback when no source is given.
extra="libevent-dev libjpeg-dev libbsd-dev"
[ -n "$USTREAMER_SRC" ] || extra="$extra ustreamer"
EXTRA_APT_PACKAGES="$extra" bash scripts/install-deps.sh
cargo build --release --quiet -p cameraserviced --bins --examples
python3 tests/bench/camera_fanout.py target/release/cameraserviced target/release/examples/mjpeg_floor
bash tests/bench/rig_ustreamer.sh "$USTREAMER_SRC" target/release/cameraserviced
cargo build --release --quiet -p imaging --examples
python3 tests/bench/grab_bench.py target/release/cameraserviced target/release/examples/jpeg_roundtrip
cargo run --release --quiet -p imaging --example autocrop_quality
cargo build --release --quiet -p documents -p barcode --examples
python3 tests/bench/merge_bench.py target/release/cameraserviced target/release/examples/merge_files
python3 tests/bench/barcode_bench.py target/release/examples/barcode_read
python3 tests/bench/memory_return.py target/release/cameraserviced
cargo build --release --quiet -p pdfview --bins
python3 tests/bench/pdf_bench.py --bin target/release/pdfview-render --rounds 5
