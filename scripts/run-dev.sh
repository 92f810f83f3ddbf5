#!/usr/bin/env bash
# Run the daemon on a developer's PC with simulated devices: http://127.0.0.1:38088
# Extra arguments are passed to cameraserviced (e.g. --config FILE, --listen 0.0.0.0:38088).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh run
cargo build --release -p cameraserviced
mkdir -p .state
listen=(--listen 127.0.0.1:38088)
for a in "$@"; do [ "$a" = "--listen" ] || [[ "$a" == --listen=* ]] && listen=(); done
exec target/release/cameraserviced --sim --state-dir .state "${listen[@]}" "$@"
