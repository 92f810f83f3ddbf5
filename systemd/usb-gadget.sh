#!/bin/sh
# The appliance's USB device side: one configfs gadget that the PC sees as a network adapter.
#
#   configuration 1  RNDIS, with Microsoft OS descriptors (compatible ID "RNDIS", sub-compatible
#                    "5162001"): Windows binds its built-in RNDIS driver without an .inf file
#   configuration 2  CDC NCM: Linux (it passes over an RNDIS first configuration when another one
#                    exists) and macOS 10.15 or later
#   configuration 3  CDC ECM: older macOS and other hosts that speak only ECM
#
# The host picks one configuration; the three device-side interfaces all join one bridge
# (systemd-networkd: 50-usb-gadget.*), which holds the device's address and the DHCP server, so
# whichever configuration is active the PC gets an address and reaches port 38088.
#
# MAC addresses are locally administered and derived from the board's serial number: stable across
# boots and updates, different between devices.
#
# usage: usb-gadget start | stop | status
# Environment (optional, e.g. from /etc/default/cameraservice-gadget):
#   GADGET_UDC          device controller name (default: the first in /sys/class/udc)
#   GADGET_VENDOR_ID    USB vendor id (default 0x1d6b)   GADGET_PRODUCT_ID (default 0x0104)
#   GADGET_MANUFACTURER, GADGET_PRODUCT   strings the PC shows
#   GADGET_SERIAL       serial number (default: the board's, see board_serial)
set -eu

NAME=cameraservice
CFG=/sys/kernel/config
G=$CFG/usb_gadget/$NAME
FUNCS="rndis.usb0 ncm.usb1 ecm.usb2"

say() { echo "usb-gadget: $*" >&2; }
die() { say "$*"; exit 1; }

# The board's serial: the Raspberry Pi's device tree, else the DMI serial, else the machine id.
board_serial() {
  s=
  for f in /proc/device-tree/serial-number /sys/firmware/devicetree/base/serial-number \
           /sys/class/dmi/id/product_serial /sys/class/dmi/id/product_uuid /etc/machine-id; do
    [ -r "$f" ] || continue
    s=$(tr -d '\000\n ' < "$f" 2>/dev/null) || s=
    [ -n "$s" ] && break
  done
  [ -n "$s" ] || s=unknown
  printf '%s' "$s"
}

# mac INDEX SIDE: 02:h1:h2:h3:h4:NN with h = sha256(serial); NN = 2*INDEX + SIDE (0 device, 1 host)
# (MAC_BASE is computed once: every process costs time at boot on a small board)
mac() {
  printf '%s:%02x\n' "$MAC_BASE" $(($1 * 2 + $2))
}

start() {
  modprobe libcomposite 2>/dev/null || true
  grep -q " $CFG configfs" /proc/mounts || mount -t configfs none "$CFG" || die "cannot mount configfs"
  [ -d "$CFG/usb_gadget" ] || die "no $CFG/usb_gadget (kernel without USB_CONFIGFS / libcomposite)"
  [ -d "$G" ] && stop
  udc=${GADGET_UDC:-}
  # the controller's driver may probe late: wait up to 10 s for it
  i=0
  while [ -z "$udc" ] && [ $i -lt 100 ]; do
    for u in /sys/class/udc/*; do [ -e "$u" ] && { udc=${u##*/}; break; }; done
    [ -n "$udc" ] || sleep 0.1
    i=$((i + 1))
  done
  [ -n "$udc" ] || die "no USB device controller (on a Raspberry Pi: dtoverlay=dwc2,dr_mode=peripheral)"
  SERIAL=${GADGET_SERIAL:-$(board_serial)}
  MAC_BASE=$(printf '%s' "$SERIAL" | sha256sum | sed 's/^\(..\)\(..\)\(..\)\(..\).*/02:\1:\2:\3:\4/')

  mkdir "$G"
  echo "${GADGET_VENDOR_ID:-0x1d6b}" > "$G/idVendor"
  echo "${GADGET_PRODUCT_ID:-0x0104}" > "$G/idProduct"
  echo 0x0100 > "$G/bcdDevice"
  echo 0x0200 > "$G/bcdUSB"
  # composite device with interface association descriptors (Windows needs this for RNDIS)
  echo 0xEF > "$G/bDeviceClass"
  echo 0x02 > "$G/bDeviceSubClass"
  echo 0x01 > "$G/bDeviceProtocol"
  mkdir "$G/strings/0x409"
  printf '%s\n' "$SERIAL" > "$G/strings/0x409/serialnumber"
  printf '%s\n' "${GADGET_MANUFACTURER:-CameraService}" > "$G/strings/0x409/manufacturer"
  printf '%s\n' "${GADGET_PRODUCT:-Document camera}" > "$G/strings/0x409/product"

  i=0
  for f in $FUNCS; do
    mkdir "$G/functions/$f"
    mac "$i" 0 > "$G/functions/$f/dev_addr"
    mac "$i" 1 > "$G/functions/$f/host_addr"
    c=$G/configs/c.$((i + 1))
    mkdir "$c" "$c/strings/0x409"
    echo "${f%%.*}" > "$c/strings/0x409/configuration"
    echo 250 > "$c/MaxPower"
    ln -s "$G/functions/$f" "$c/"
    i=$((i + 1))
  done

  # Microsoft OS descriptors on the RNDIS configuration
  echo 1 > "$G/os_desc/use"
  echo 0xcd > "$G/os_desc/b_vendor_code"
  echo MSFT100 > "$G/os_desc/qw_sign"
  echo RNDIS > "$G/functions/rndis.usb0/os_desc/interface.rndis/compatible_id"
  echo 5162001 > "$G/functions/rndis.usb0/os_desc/interface.rndis/sub_compatible_id"
  ln -s "$G/configs/c.1" "$G/os_desc/"

  echo "$udc" > "$G/UDC"
  # The bridge answers for the device's address: give it a stable MAC as well (otherwise networkd
  # derives one from the machine id, which is new at every boot on the read-only root).
  mkdir -p /run/systemd/network/50-usb-gadget.netdev.d
  printf '[NetDev]\nMACAddress=%s\n' "$(mac 3 0)" > /run/systemd/network/50-usb-gadget.netdev.d/mac.conf
  say "bound to $udc (serial $SERIAL, MAC addresses $MAC_BASE:xx)"
}

stop() {
  [ -d "$G" ] || return 0
  echo "" > "$G/UDC" 2>/dev/null || true
  rm -f "$G/os_desc/c.1"
  for c in "$G"/configs/c.*; do
    [ -d "$c" ] || continue
    for l in "$c"/*.usb*; do [ -L "$l" ] && rm "$l"; done
    rmdir "$c/strings/0x409" "$c"
  done
  for f in "$G"/functions/*; do [ -d "$f" ] && rmdir "$f"; done
  rmdir "$G/strings/0x409" "$G"
}

status() {
  [ -d "$G" ] || { echo "no gadget"; return 3; }
  echo "UDC: $(cat "$G/UDC")"
  for f in "$G"/functions/*; do
    echo "${f##*/}: $(cat "$f/ifname") device $(cat "$f/dev_addr") host $(cat "$f/host_addr")"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: usb-gadget start|stop|status" >&2; exit 2 ;;
esac
