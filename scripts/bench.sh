#!/usr/bin/env bash
# Benchmarks (ratios against a baseline measured in the same run; not part of the test suite).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --quiet -p cameraserviced --bins --examples
python3 tests/bench/camera_fanout.py target/release/cameraserviced target/release/examples/mjpeg_floor
cargo build --release --quiet -p imaging --examples
python3 tests/bench/grab_bench.py target/release/cameraserviced target/release/examples/jpeg_roundtrip
cargo run --release --quiet -p imaging --example autocrop_quality
cargo build --release --quiet -p documents -p barcode --examples
python3 tests/bench/merge_bench.py target/release/cameraserviced target/release/examples/merge_files
python3 tests/bench/barcode_bench.py target/release/examples/barcode_read
python3 tests/bench/memory_return.py target/release/cameraserviced
