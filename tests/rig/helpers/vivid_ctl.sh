#!/bin/sh
# Controls of the vivid virtual camera (a wrapper around v4l2-ctl, run inside the guest).
#
# usage: vivid_ctl.sh [-d DEVICE] COMMAND [ARGS]
#   list                  the vivid capture nodes, one /dev/videoN a line (vivid's own order)
#   dev [N]               the Nth vivid capture node (default 0)
#   controls              all controls of DEVICE (v4l2-ctl -l), including vivid's test controls
#   get NAME...           print each control's value, one a line
#   set NAME=VALUE...     set controls (brightness=200 contrast=100 gain_automatic=0 ...)
#   disconnect            simulate an unplug while the device is in use: whoever holds it open
#                         (a streaming reader, the daemon) gets errors (ENODEV); when the last
#                         such file handle is closed, vivid "reconnects" and the node works again.
#                         Note: with nobody else holding the device, it reconnects at once.
#   inject NAME[=VALUE]   set one of vivid's error-injection controls; button controls need no
#                         value: inject_vidioc_streamon_error, inject_vidioc_reqbufs_error,
#                         inject_vidioc_qbuf_error, inject_fatal_streaming_error,
#                         inject_v4l2_buf_flag_error; valued: percentage_of_dropped_buffers=50
#   formats               formats and frame sizes (v4l2-ctl --list-formats-ext)
#
# DEVICE defaults to $VIVID_DEV, else the first vivid capture node. Load vivid first, e.g.
# run-in-vm.sh --module 'vivid n_devs=2 node_types=0x1,0x1' (only capture nodes) or
# --modules vivid:n_devs=2 (vivid's default set of nodes per device).
set -eu

DEV=${VIVID_DEV:-}
if [ "${1:-}" = -d ]; then DEV=$2; shift 2; fi
cmd=${1:-}
[ $# -gt 0 ] && shift

vivid_nodes() {
  for n in /sys/class/video4linux/video*; do
    [ -e "$n/name" ] || continue
    case "$(cat "$n/name")" in
      vivid-*-vid-cap) printf '%s %s\n' "$(cat "$n/name")" "/dev/${n##*/}" ;;
    esac
  done | sort | cut -d' ' -f2
}
need_dev() {
  if [ -z "$DEV" ]; then DEV=$(vivid_nodes | head -n 1); fi
  [ -n "$DEV" ] || { echo "vivid_ctl: no vivid capture device (is vivid loaded?)" >&2; exit 1; }
}

case "$cmd" in
  list) vivid_nodes ;;
  dev)
    n=$(vivid_nodes | sed -n "$(( ${1:-0} + 1 ))p")
    [ -n "$n" ] || { echo "vivid_ctl: no vivid capture device #${1:-0}" >&2; exit 1; }
    echo "$n" ;;
  controls) need_dev; v4l2-ctl -d "$DEV" -l ;;
  get)
    need_dev
    for c in "$@"; do v4l2-ctl -d "$DEV" -C "$c" | sed 's/^[^:]*: *//'; done ;;
  set)
    need_dev
    [ $# -gt 0 ] || { echo "vivid_ctl: set NAME=VALUE..." >&2; exit 2; }
    list=$(printf '%s,' "$@"); v4l2-ctl -d "$DEV" -c "${list%,}" ;;
  inject)
    need_dev
    c=${1:?inject NAME[=VALUE]}
    case "$c" in *=*) ;; *) c=$c=1 ;; esac
    v4l2-ctl -d "$DEV" -c "$c" ;;
  disconnect) need_dev; v4l2-ctl -d "$DEV" -c disconnect=1 ;;
  formats) need_dev; v4l2-ctl -d "$DEV" --list-formats-ext ;;
  ""|-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *) echo "vivid_ctl: unknown command $cmd (see --help)" >&2; exit 2 ;;
esac
