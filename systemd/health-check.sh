#!/bin/sh
# Is the booted system healthy enough to keep? Run by rauc-mark-good.service before it marks the
# booted slot good. Healthy means:
#   - cameraservice.service has been active for HEALTH_STABLE_SECONDS (default 120, the unit's
#     start-limit window) without a single restart since boot (waits for that),
#   - the API answers (cameraserviced --health-check),
#   - where the board has a USB device controller, the gadget is bound and its bridge holds the
#     device's address: a slot that cannot be reached from the PC cannot be updated again.
# Exit status 0 = healthy.
set -u
STABLE=${HEALTH_STABLE_SECONDS:-120}
API=${HEALTH_API:-127.0.0.1:38088}
fail() { echo "health-check: $*" >&2; exit 1; }
prop() { systemctl show -p "$1" --value cameraservice.service; }

while :; do
  state=$(prop ActiveState)
  [ "$state" = active ] || fail "cameraservice.service is $state"
  restarts=$(prop NRestarts)
  [ "$restarts" = 0 ] || fail "cameraservice.service restarted $restarts times since boot"
  since=$(prop ActiveEnterTimestampMonotonic)
  up=$(awk -v s="$since" '{ printf "%d", $1 - s / 1e6 }' /proc/uptime)
  [ "$up" -ge "$STABLE" ] && break
  sleep $((STABLE - up))
done
/usr/bin/cameraserviced --health-check "$API" || fail "the API does not answer on $API"
if [ -n "$(ls /sys/class/udc 2>/dev/null)" ]; then
  [ -s /sys/kernel/config/usb_gadget/cameraservice/UDC ] || fail "the USB gadget is not bound"
  ip -4 -o addr show dev usbgadget0 2>/dev/null | grep -q ' inet ' || fail "usbgadget0 has no address"
fi
echo "health-check: healthy (daemon up ${up}s, API answers)"
