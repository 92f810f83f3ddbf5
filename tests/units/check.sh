#!/usr/bin/env bash
# Static checks of the systemd files in systemd/: `systemd-analyze verify` of the units (with
# ExecStart pointed at the built daemon, since the image's /usr/bin is not this machine's), the
# offline security exposure of the daemon's unit (at most 3.0), and the sysusers file applied to an
# empty root (the daemon's user exists, in the device groups its unit names).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${CAMERASERVICED_BIN:-$REPO/target/debug/cameraserviced}
[ -x "$BIN" ] || { echo "units: daemon not built: $BIN" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for unit in "$REPO"/systemd/*.service "$REPO"/systemd/*.path "$REPO"/systemd/*.timer; do
  name=$(basename "$unit")
  sed -e "s|^ExecStart=/usr/bin/cameraserviced|ExecStart=$BIN|" \
    -e "s|=/usr/lib/cameraservice/usb-gadget|=$REPO/systemd/usb-gadget.sh|" \
    -e "s|=/usr/lib/cameraservice/health-check|=$REPO/systemd/health-check.sh|" "$unit" > "$tmp/$name"
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
root="$tmp/root"
mkdir -p "$root/etc"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nvideo:x:44:\ninput:x:105:\ndialout:x:20:\n' > "$root/etc/group"
groups=$(sed -n 's/^SupplementaryGroups=//p' "$REPO/systemd/cameraservice.service")
members_ok() {
  grep -q '^cameraservice:' "$root/etc/passwd" || return 1
  for g in $groups; do grep -q "^$g:.*cameraservice" "$root/etc/group" || return 1; done
}
if systemd-sysusers --root="$root" "$REPO/systemd/cameraservice.sysusers" >/dev/null 2>&1 && members_ok; then
  echo "PASS sysusers: user cameraservice in $groups"
else
  echo "FAIL sysusers: user cameraservice or its groups ($groups) missing"; fail=1
fi
exit $fail
