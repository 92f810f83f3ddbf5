#!/usr/bin/env bash
# Static checks of the systemd units in systemd/: `systemd-analyze verify` (with ExecStart pointed
# at the built daemon, since the image's /usr/bin is not this machine's) and the offline security
# exposure of the daemon's unit (at most 3.0).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${CAMERASERVICED_BIN:-$REPO/target/debug/cameraserviced}
[ -x "$BIN" ] || { echo "units: daemon not built: $BIN" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for unit in "$REPO"/systemd/*.service; do
  name=$(basename "$unit")
  sed "s|^ExecStart=/usr/bin/cameraserviced|ExecStart=$BIN|" "$unit" > "$tmp/$name"
  if out=$(systemd-analyze verify "$tmp/$name" 2>&1) && [ -z "$out" ]; then
    echo "PASS verify $name"
  else
    echo "FAIL verify $name"; echo "$out" | sed 's/^/  /'; fail=1
  fi
done
exposure=$(systemd-analyze security --offline=true "$tmp/cameraservice.service" 2>&1 |
  sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 3.0) }'; then
  echo "PASS security exposure of cameraservice.service: $exposure (at most 3.0)"
else
  echo "FAIL security exposure of cameraservice.service: ${exposure:-unknown} (at most 3.0)"; fail=1
fi
exit $fail
