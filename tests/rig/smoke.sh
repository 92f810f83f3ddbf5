#!/usr/bin/env bash
# Smoke test of the QEMU hardware rig: prepare.sh, then ONE boot that checks vivid (capture,
# controls, formats, disconnect), a uinput pen read back through evdev, a USB NCM gadget pinged
# from its host side, vkms mode setting with a dumb buffer, v4l2loopback with an MJPG writer, and
# (from the host) a --hostfwd port forward into the guest.
# Prints PASS/FAIL per check and ends with "N passed, M failed"; exits non-zero on any failure.
#
# usage: tests/rig/smoke.sh [--no-prepare] [--timeout SECONDS]
set -uo pipefail

RIG=$(cd "$(dirname "$0")" && pwd)
PREPARE=1 TIMEOUT=300
while [ $# -gt 0 ]; do
  case "$1" in
    --no-prepare) PREPARE=0; shift ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "smoke: unknown option $1" >&2; exit 2 ;;
  esac
done

START=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

if [ "$PREPARE" = 1 ]; then
  t=$(date +%s.%N)
  if ! "$RIG/prepare.sh"; then
    echo "FAIL rig.prepare"
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "# prepare took $(elapsed "$t")s"
fi

# a free local port for the forward
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
GUEST_PORT=18765
OUT=$(mktemp -d "${TMPDIR:-/tmp}/rig-smoke.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

# host side of the port-forward check: poll until the guest's server answers or the VM is gone
(
  for _ in $(seq 1 $((TIMEOUT * 2))); do
    [ -e "$OUT/vm-done" ] && break
    got=$(/usr/bin/python3 - "$PORT" 2>/dev/null <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.settimeout(2)
print(s.recv(100).decode().strip())
EOF
)
    if [ "$got" = rig-hostfwd-ok ]; then echo ok > "$OUT/hostfwd"; break; fi
    sleep 0.5
  done
) &
POLLER=$!

t=$(date +%s.%N)
"$RIG/run-in-vm.sh" --timeout "$TIMEOUT" \
  --module 'vivid n_devs=2 node_types=0x1,0x1' \
  --modules uinput,evdev,vkms,dummy_hcd,libcomposite,usb_f_ncm,cdc_ncm \
  --module 'v4l2loopback video_nr=10 card_label=rig-loopback exclusive_caps=0 keep_format=1' \
  --hostfwd "$PORT:$GUEST_PORT" --env SMOKE_HOSTFWD_PORT=$GUEST_PORT \
  -- bash "$RIG/guest/smoke-guest.sh" 2>&1 | tee "$OUT/guest.out"
rc=${PIPESTATUS[0]}
touch "$OUT/vm-done"
wait "$POLLER" 2>/dev/null
echo "# boot + guest suite took $(elapsed "$t")s (run-in-vm.sh exit $rc)"

passed=$(grep -c '^PASS ' "$OUT/guest.out")
failed=$(grep -c '^FAIL ' "$OUT/guest.out")
if [ "$rc" != 0 ]; then
  echo "FAIL rig.vm: run-in-vm.sh exited $rc"
  failed=$((failed + 1))
fi
if [ -e "$OUT/hostfwd" ]; then
  echo "PASS net.hostfwd (host 127.0.0.1:$PORT -> guest :$GUEST_PORT)"
  passed=$((passed + 1))
else
  echo "FAIL net.hostfwd: nothing answered on 127.0.0.1:$PORT"
  failed=$((failed + 1))
fi
echo "# smoke total $(elapsed "$START")s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
