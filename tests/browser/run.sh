#!/usr/bin/env bash
# Browser tests of the device's own pages (the demo page at / and the image editor) in Debian's
# headless chromium driven by playwright-core: starts a --sim daemon on a free loopback port,
# runs the *.test.js files with node's test runner, stops the daemon. Screenshots go to
# tests/browser/artifacts/. The daemon binary: $CAMERASERVICED_BIN, else target/debug/cameraserviced.
#   bash tests/browser/run.sh [demo.test.js ...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=tests/browser
if [ ! -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ]; then
  echo "browser tests: chromium is missing (apt-get install chromium; scripts/install-deps.sh does it)" >&2
  exit 1
fi
if [ ! -d "$dir/node_modules/playwright-core" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p "$dir/artifacts"
rm -f "$dir"/artifacts/*.png "$dir"/artifacts/daemon.log
exec node "$dir/harness.js" "$@"
