#!/usr/bin/env bash
# The guest side of smoke.sh: runs inside the rig's VM (run-in-vm.sh -- bash guest/smoke-guest.sh)
# and prints one "PASS name" or "FAIL name: reason" line per check; smoke.sh counts them.
# Expects these modules loaded (smoke.sh passes them): vivid n_devs=2 node_types=0x1,0x1, uinput,
# evdev, vkms, dummy_hcd, libcomposite, usb_f_ncm, cdc_ncm,
# v4l2loopback video_nr=10 card_label=rig-loopback exclusive_caps=0 keep_format=1.
# SMOKE_HOSTFWD_PORT (optional): serve "rig-hostfwd-ok" on this guest TCP port for the host's check.
set -u

H=$RIG_DIR/helpers
PY=/usr/bin/python3
W=$(mktemp -d /tmp/smoke.XXXXXX)
T0=$(cut -d' ' -f1 /proc/uptime)

uptime_s() { cut -d' ' -f1 /proc/uptime; }
# wait_for WHAT SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds; after SECONDS
# without success, says what it waited for and fails. (No fixed pauses: wait for the condition.)
wait_for() {
  local what=$1 end=$((SECONDS + $2))
  shift 2
  until "$@"; do
    if [ "$SECONDS" -ge "$end" ]; then
      echo "timed out waiting for $what"
      return 1
    fi
    sleep 0.1  # poll interval
  done
}
# gone PID: the process has ended
gone() { ! kill -0 "$1" 2>/dev/null; }
# check NAME COMMAND...: runs COMMAND with its output in a log; PASS if it exits 0
check() {
  local name=$1 t rc log
  shift
  t=$(uptime_s)
  log=$W/${name//[^A-Za-z0-9_.-]/_}.log
  "$@" >"$log" 2>&1
  rc=$?
  t=$(awk -v a="$t" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')
  if [ $rc = 0 ]; then
    echo "PASS $name (${t}s)"
  else
    echo "FAIL $name: exit $rc (${t}s); last output:"
    tail -n 15 "$log" | sed 's/^/    | /'
  fi
}

# --- host port forwarding: a tiny TCP server the host connects to through --hostfwd -------------
if [ -n "${SMOKE_HOSTFWD_PORT:-}" ]; then
  $PY - "$SMOKE_HOSTFWD_PORT" "$W/hostfwd-served" <<'EOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(4)
while True:
    c, _ = s.accept()
    c.sendall(b"rig-hostfwd-ok\n")
    c.close()
    open(sys.argv[2], "w").close()
EOF
  HOSTFWD_PID=$!
fi

# --- vivid ----------------------------------------------------------------------------------
vivid_two_devices() {
  local n
  n=$("$H/vivid_ctl.sh" list | tee /dev/stderr | wc -l)
  [ "$n" = 2 ] || { echo "expected 2 vivid capture nodes, got $n"; return 1; }
}
check vivid.devices vivid_two_devices
CAM0=$("$H/vivid_ctl.sh" dev 0 2>/dev/null)
CAM1=$("$H/vivid_ctl.sh" dev 1 2>/dev/null)

vivid_formats() {
  local out
  out=$(v4l2-ctl -d "$CAM0" --list-formats-ext) || return 1
  echo "$out" | head -n 40
  for want in "'YUYV'" "'RGB3'" "Size: Discrete 640x480" "Size: Discrete 1920x1080" \
              "Size: Discrete 320x180" "Size: Discrete 3840x2160"; do
    grep -qF "$want" <<< "$out" || { echo "missing in --list-formats-ext: $want"; return 1; }
  done
}
check vivid.formats-and-sizes vivid_formats

vivid_controls() {
  "$H/vivid_ctl.sh" -d "$CAM0" set brightness=200 contrast=100 saturation=50 hue=-20 gain_automatic=0 || return 1
  "$H/vivid_ctl.sh" -d "$CAM0" set gain=77 || return 1
  local got
  got=$("$H/vivid_ctl.sh" -d "$CAM0" get brightness contrast saturation hue gain_automatic gain | tr '\n' ' ')
  echo "got: $got"
  [ "$got" = "200 100 50 -20 0 77 " ] || { echo "expected: 200 100 50 -20 0 77"; return 1; }
  # out-of-range values are clamped to the control's range
  "$H/vivid_ctl.sh" -d "$CAM0" set brightness=999 || return 1
  got=$("$H/vivid_ctl.sh" -d "$CAM0" get brightness)
  echo "brightness=999 reads back as $got"
  [ "$got" = 255 ]
}
check vivid.controls vivid_controls

vivid_capture() {
  local dev=$1 w=$2 h=$3 n=$4 f=$W/cap-${1##*/}.yuyv size
  v4l2-ctl -d "$dev" --set-fmt-video=width=$w,height=$h,pixelformat=YUYV || return 1
  v4l2-ctl -d "$dev" --get-fmt-video
  v4l2-ctl -d "$dev" --stream-mmap --stream-count="$n" --stream-to="$f" || return 1
  size=$(stat -c %s "$f")
  echo "captured $size bytes, expected $((w * h * 2 * n))"
  [ "$size" = $((w * h * 2 * n)) ]
}
check vivid.capture-640x480 vivid_capture "$CAM0" 640 480 10
check vivid.capture-second-device vivid_capture "$CAM1" 320 180 5

first_frame_or_gone() { grep -q '<' "$1" || gone "$2"; }
vivid_disconnect() {
  # vivid's "disconnect" control: users holding the device open get errors (a streaming reader
  # stops); once the last of them closes it, vivid reconnects the device.
  local reader log=$W/disconnect-reader.log
  # v4l2-ctl prints one '<' per captured frame
  v4l2-ctl -d "$CAM1" --stream-mmap --stream-count=1000 --stream-to=/dev/null >"$log" 2>&1 &
  reader=$!
  if ! wait_for "the reader's first frame (a '<' from v4l2-ctl)" 30 first_frame_or_gone "$log" $reader ||
     gone $reader; then
    echo "the reader did not start streaming; its output:"; cat "$log"
    kill $reader 2>/dev/null; wait $reader; return 1
  fi
  "$H/vivid_ctl.sh" -d "$CAM1" disconnect || { kill $reader; return 1; }
  if ! wait_for "the streaming reader to stop after the disconnect" 30 gone $reader; then
    kill $reader; wait $reader; return 1
  fi
  wait $reader; echo "reader stopped with exit $?"
  dmesg | grep -E 'vivid-001: (disconnect|reconnect)' || { echo "no disconnect/reconnect in dmesg"; return 1; }
  # back after the last close
  v4l2-ctl -d "$CAM1" --stream-mmap --stream-count=1 --stream-to="$W/after-reconnect" || return 1
  [ -s "$W/after-reconnect" ]
}
check vivid.disconnect vivid_disconnect

# --- uinput pen -> evdev ----------------------------------------------------------------------
pen_events() {
  rm -f "$W/pen-ready"
  # the pen keeps its device until it is told to go (--hold -1): after the reader has read it all
  $PY "$H/uinput_pen.py" --name rig-pen --wait-file "$W/pen-ready" \
      --stroke 1000,2000:20000,15000 --points 12 --max-pressure 4095 --hold -1 &
  local pen=$! rc
  $PY "$H/evdev_read.py" --name rig-pen --ready-file "$W/pen-ready" --no-syn --timeout 20 \
      --expect BTN_TOOL_PEN=1 --expect BTN_TOUCH=1 --expect 'ABS_PRESSURE>1000' \
      --expect ABS_X=1000 --expect ABS_Y=2000 --expect ABS_X=20000 --expect ABS_Y=15000 \
      --expect ABS_PRESSURE=0 --expect BTN_TOUCH=0 --expect BTN_TOOL_PEN=0
  rc=$?
  kill $pen 2>/dev/null  # SIGTERM: the pen removes its device and exits 0
  wait $pen || rc=1
  return $rc
}
check uinput.pen-events pen_events

device_or_gone() { grep -q '^device' "$1" 2>/dev/null || gone "$2"; }
pen_capabilities() {
  local ev
  $PY "$H/uinput_pen.py" --name rig-pen-caps --hold -1 > "$W/pen-caps.out" &
  local pen=$!
  wait_for "uinput_pen.py to print its device node" 20 device_or_gone "$W/pen-caps.out" $pen
  ev=$(sed -n 's/^device //p' "$W/pen-caps.out")
  [ -n "$ev" ] || { kill $pen; echo "no device"; return 1; }
  local sys=/sys/class/input/${ev##*/}/device/capabilities
  echo "$ev abs=$(cat $sys/abs) key=$(cat $sys/key | tr ' ' '_')"
  # ABS_X|ABS_Y|ABS_PRESSURE = 0x1000003; BTN_TOOL_PEN (0x140), BTN_TOUCH (0x14a), BTN_STYLUS (0x14b)
  [ "$(cat $sys/abs)" = 1000003 ] || { kill $pen; return 1; }
  kill $pen; wait $pen 2>/dev/null
  return 0
}
check uinput.pen-capabilities pen_capabilities

# --- USB gadget (NCM over dummy_hcd) ----------------------------------------------------------
gadget_ncm() {
  local vars
  vars=$("$H/usb_gadget.sh" up --function ncm) || return 1
  echo "$vars"
  eval "$vars"
  ip -br addr show "$DEVICE_IF"
  ip -n "$NETNS" -br addr show "$HOST_IF"
  local drv
  drv=$(ip netns exec "$NETNS" readlink "/sys/class/net/$HOST_IF/device/driver")
  echo "host side driver: ${drv##*/}"
  [ "${drv##*/}" = cdc_ncm ] || return 1
  ping -c 3 -i 0.2 -W 3 "$HOST_IP" || return 1
  ip netns exec "$NETNS" ping -c 3 -i 0.2 -W 3 "$DEVICE_IP" || return 1
  # a TCP exchange across the link: the PC side fetches from a server on the device side
  $PY -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 38088)); s.listen(1)
c, a = s.accept(); c.sendall(b"hello over ncm from " + sys.argv[1].encode() + b"\n"); c.close()
' "$DEVICE_IP" &
  local srv=$! got
  # the client retries until the server (a python3 that has to start first) listens
  got=$(ip netns exec "$NETNS" $PY -c '
import socket, sys, time
deadline = time.monotonic() + 30
while True:
    try:
        s = socket.create_connection((sys.argv[1], 38088), timeout=5)
        break
    except OSError as e:
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for the server on {sys.argv[1]}:38088 to listen: {e}")
        time.sleep(0.1)  # poll interval
print(s.recv(100).decode().strip())
' "$DEVICE_IP")
  kill $srv 2>/dev/null  # (gone already when the client got its answer)
  wait $srv
  echo "tcp: $got"
  [ "$got" = "hello over ncm from $DEVICE_IP" ]
}
check usb.ncm-gadget-ping gadget_ncm

# --- vkms -------------------------------------------------------------------------------------
check drm.vkms-modeset-dumb-buffer $PY "$H/drm_dumb.py" --driver vkms --mode 1024x768 --hold 0.5

modetest_vkms() {
  local out
  out=$(timeout 20 modetest -M vkms -c) || { echo "$out"; return 1; }
  echo "$out" | head -n 8
  grep -qE '^[0-9]+[[:space:]]+[0-9]+[[:space:]]+connected[[:space:]]+Virtual-1' <<< "$out" ||
    { echo "no connected Virtual-1 connector"; return 1; }
  # modetest sets the mode with a dumb buffer, then waits for a key (stdin is /dev/null: exits)
  local conn
  conn=$(awk '$3 == "connected" && $4 == "Virtual-1" { print $1; exit }' <<< "$out")
  timeout 20 modetest -M vkms -s "$conn:1280x720" < /dev/null 2>&1 | tee "$W/modetest-s.out"
  # ("failed to set gamma" is expected: vkms has no gamma table)
  grep -q 'setting mode 1280x720' "$W/modetest-s.out" && ! grep -qi 'failed to set mode' "$W/modetest-s.out"
}
check drm.modetest-vkms modetest_vkms

# --- v4l2loopback with an MJPG writer ---------------------------------------------------------
mjpg_or_gone() { v4l2-ctl -d "$1" --get-fmt-video 2>/dev/null | grep -q "'MJPG'" || gone "$2"; }
loopback_mjpg() {
  local dev=/dev/video10 f=$W/loop.mjpg
  [ -e $dev ] || { echo "no $dev (v4l2loopback not loaded?)"; return 1; }
  # (the writer runs until it is stopped below; --duration only bounds it if this script dies)
  $PY "$H/mjpeg_feed.py" $dev --size 640x480 --fps 10 --duration 300 &
  local feed=$!
  # the capture side has a format only once the writer has set it and is writing: until then
  # VIDIOC_G_FMT fails (EINVAL)
  wait_for "$dev to report the writer's MJPG capture format" 30 mjpg_or_gone $dev $feed
  gone $feed && { echo "mjpeg_feed.py ended early"; wait $feed; return 1; }
  v4l2-ctl -d $dev --get-fmt-video | tee "$W/loop-fmt"
  grep -q "'MJPG'" "$W/loop-fmt" || { kill $feed; return 1; }
  timeout 60 v4l2-ctl -d $dev --stream-mmap --stream-count=5 --stream-to="$f" || { kill $feed; return 1; }
  kill $feed 2>/dev/null; wait $feed 2>/dev/null
  $PY - "$f" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
n = d.count(b"\xff\xd8\xff\xe0")  # SOI + JFIF APP0, one per frame
print(f"{len(d)} bytes, {n} JPEG frames")
sys.exit(0 if n >= 5 and d.startswith(b"\xff\xd8") else 1)
EOF
}
check v4l2loopback.mjpg-feed loopback_mjpg

# --- wait for the host's port-forward check (smoke.sh reports it), then stop the server -------
if [ -n "${HOSTFWD_PID:-}" ]; then
  wait_for "the host's connection through the port forward" 30 test -e "$W/hostfwd-served" >&2
  kill "$HOSTFWD_PID" 2>/dev/null
  wait "$HOSTFWD_PID" 2>/dev/null
fi
echo "# guest suite took $(awk -v a="$T0" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')s (guest uptime $(uptime_s)s)"
