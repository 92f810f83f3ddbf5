#!/usr/bin/env bash
# Soak test: one --sim daemon on a free 127.0.0.1 port with its own temporary state directory,
# under a mixed load (MJPEG stream churn, v1.5 grabs with processing, merges, WebSocket grab_image
# and file2base64) from tests/reliability/soak_driver.py with a few workers.
#   SOAK_SECONDS   how long (default 3600)
#   SOAK_INTERVAL  seconds between report lines: elapsed, VmRSS, VmHWM, descriptors, threads,
#                  requests done, errors by code (default 60)
#   SOAK_WORKERS   concurrent clients (default 4)
#   SOAK_KEEP=1    keep the temporary directory (daemon log) when the run fails
# Ends with a summary (first vs last minute) and stops the daemon it started; exit 1 if the daemon
# died during the run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p cameraserviced
exec python3 tests/reliability/soak_driver.py
