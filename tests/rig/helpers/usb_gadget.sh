#!/bin/sh
# A USB network gadget inside the guest: dummy_hcd connects a configfs gadget (the appliance's
# side, "device") to the same kernel's USB host stack (the PC's side, "host"), so both ends of the
# USB link exist in one guest. One end is moved into a network namespace; without that, the
# kernel would deliver packets between the two local addresses without touching the link.
#
# usage: usb_gadget.sh up [OPTIONS]      create, bind, wait for the host side, configure addresses
#        usb_gadget.sh down [--name G] [--netns NS]
#        usb_gadget.sh status [--name G]
# options for up:
#   --function ncm|ecm|rndis   the gadget function (default ncm; host drivers: cdc_ncm, cdc_ether,
#                              rndis_host). Repeat for a composite gadget (first one is addressed).
#   --name G                   configfs gadget name (default rig)
#   --device-ip ADDR/LEN       device side address (default 192.168.7.2/24)
#   --host-ip ADDR/LEN         host side address (default 192.168.7.1/24)
#   --netns NS                 namespace for the moved end (default usbhost)
#   --netns-side host|device   which end moves into NS (default host: the device side, where the
#                              daemon under test runs, stays in the initial namespace; reach it
#                              from the PC side with: ip netns exec usbhost CMD)
#   --timeout S                wait this long for the host side to enumerate (default 20)
# On success "up" prints shell assignments to eval:
#   DEVICE_IF=usb0 HOST_IF=usb1 NETNS=usbhost NETNS_SIDE=host DEVICE_IP=192.168.7.2 HOST_IP=192.168.7.1
#
# These addresses exist only inside the guest (no route leaves it). Needs root, configfs, modprobe;
# the modules are loaded here if run-in-vm.sh --modules did not already.
set -eu

CMD=${1:-}
[ $# -gt 0 ] && shift
NAME=rig FUNCS= DEVICE_IP=192.168.7.2/24 HOST_IP=192.168.7.1/24 NETNS=usbhost SIDE=host TIMEOUT=20
while [ $# -gt 0 ]; do
  case "$1" in
    --function) FUNCS="${FUNCS:+$FUNCS }$2"; shift 2 ;;
    --name) NAME=$2; shift 2 ;;
    --device-ip) DEVICE_IP=$2; shift 2 ;;
    --host-ip) HOST_IP=$2; shift 2 ;;
    --netns) NETNS=$2; shift 2 ;;
    --netns-side) SIDE=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    *) echo "usb_gadget: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$FUNCS" ] || FUNCS=ncm
CFG=/sys/kernel/config
G=$CFG/usb_gadget/$NAME

say() { echo "usb_gadget: $*" >&2; }
die() { say "$*"; exit 1; }

host_driver() {
  case "$1" in
    ncm) echo cdc_ncm ;;
    ecm) echo cdc_ether ;;
    rndis) echo rndis_host ;;
    *) die "unsupported function $1 (ncm, ecm, rndis)" ;;
  esac
}

up() {
  mods="dummy_hcd libcomposite"
  for f in $FUNCS; do mods="$mods usb_f_$f $(host_driver "$f")"; done
  # shellcheck disable=SC2086
  modprobe -a $mods || die "modprobe $mods failed"
  grep -q " $CFG configfs" /proc/mounts || mount -t configfs configfs $CFG || die "cannot mount configfs"
  [ -d "$CFG/usb_gadget" ] || die "$CFG/usb_gadget missing (libcomposite not loaded?)"
  [ ! -e "$G" ] || die "gadget $NAME exists already (usb_gadget.sh down --name $NAME)"

  mkdir "$G"
  echo 0x1d6b > "$G/idVendor"      # Linux Foundation
  echo 0x0104 > "$G/idProduct"     # Multifunction Composite Gadget
  echo 0x0100 > "$G/bcdDevice"
  echo 0x0200 > "$G/bcdUSB"
  mkdir "$G/strings/0x409"
  echo "rig-0001" > "$G/strings/0x409/serialnumber"
  echo "cameraservice test rig" > "$G/strings/0x409/manufacturer"
  echo "document camera (emulated)" > "$G/strings/0x409/product"
  mkdir "$G/configs/c.1"
  mkdir "$G/configs/c.1/strings/0x409"
  echo "network" > "$G/configs/c.1/strings/0x409/configuration"
  echo 250 > "$G/configs/c.1/MaxPower"
  n=0
  for f in $FUNCS; do
    n=$((n + 1))
    mkdir "$G/functions/$f.usb$((n - 1))"
    # fixed, locally administered MAC addresses: stable interface addresses in tests
    echo "02:00:5e:00:0$n:02" > "$G/functions/$f.usb$((n - 1))/dev_addr"
    echo "02:00:5e:00:0$n:01" > "$G/functions/$f.usb$((n - 1))/host_addr"
    ln -s "$G/functions/$f.usb$((n - 1))" "$G/configs/c.1/"
  done
  udc=$(ls /sys/class/udc | head -n 1)
  [ -n "$udc" ] || die "no UDC (dummy_hcd not loaded?)"
  echo "$udc" > "$G/UDC"

  first=${FUNCS%% *}
  dev_if=$(cat "$G/functions/$first.usb0/ifname")
  drv=$(host_driver "$first")
  host_if=
  i=0
  while [ $i -lt $((TIMEOUT * 20)) ]; do
    for d in /sys/bus/usb/drivers/"$drv"/*/net/*; do
      [ -e "$d" ] && host_if=${d##*/}
    done
    [ -n "$host_if" ] && break
    sleep 0.05
    i=$((i + 1))
  done
  [ -n "$host_if" ] || die "the host side ($drv) did not appear within ${TIMEOUT}s"

  ip netns add "$NETNS" 2>/dev/null || [ -e "/run/netns/$NETNS" ] || die "ip netns add $NETNS failed"
  ip -n "$NETNS" link set lo up
  if [ "$SIDE" = host ]; then
    moved=$host_if moved_ip=$HOST_IP stay=$dev_if stay_ip=$DEVICE_IP
  else
    moved=$dev_if moved_ip=$DEVICE_IP stay=$host_if stay_ip=$HOST_IP
  fi
  ip link set "$moved" netns "$NETNS"
  ip -n "$NETNS" addr add "$moved_ip" dev "$moved"
  ip -n "$NETNS" link set "$moved" up
  ip addr add "$stay_ip" dev "$stay"
  ip link set "$stay" up
  echo "DEVICE_IF=$dev_if HOST_IF=$host_if NETNS=$NETNS NETNS_SIDE=$SIDE DEVICE_IP=${DEVICE_IP%/*} HOST_IP=${HOST_IP%/*}"
}

down() {
  if [ -d "$G" ]; then
    echo "" > "$G/UDC" 2>/dev/null || true
    for l in "$G"/configs/c.1/*.usb*; do [ -L "$l" ] && rm "$l"; done
    rmdir "$G"/configs/c.1/strings/0x409 "$G"/configs/c.1 2>/dev/null || true
    for f in "$G"/functions/*; do [ -d "$f" ] && rmdir "$f"; done
    rmdir "$G/strings/0x409" "$G" 2>/dev/null || true
  fi
  ip netns del "$NETNS" 2>/dev/null || true
}

status() {
  [ -d "$G" ] || { echo "no gadget $NAME"; return 1; }
  echo "gadget $NAME bound to UDC: $(cat "$G/UDC")"
  for f in "$G"/functions/*; do echo "function ${f##*/}: ifname $(cat "$f/ifname" 2>/dev/null)"; done
  ip -br addr
  for ns in $(ip netns list | cut -d' ' -f1); do echo "netns $ns:"; ip -n "$ns" -br addr; done
}

case "$CMD" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; [ -z "$CMD" ] || exit 2 ;;
esac
