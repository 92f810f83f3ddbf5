#!/usr/bin/env bash
# Runs one command inside a throw-away QEMU guest (Debian kernel, TCG) that sees the host's file
# system read-only at the same paths (9p + a tmpfs overlay, so writes stay in the guest), and
# returns the command's stdout, stderr and exit status. Kernel messages are kept out of both.
#
# usage: run-in-vm.sh [OPTIONS] -- COMMAND [ARGS...]
#
#   --modules LIST      comma-separated kernel modules to load before the command, in order;
#                       parameters follow the name after colons:
#                         --modules vivid:n_devs=2,uinput,dummy_hcd:num=1,libcomposite
#   --module 'NAME [PARAM=VALUE ...]'
#                       one module, parameters separated by spaces (use this for values that
#                       contain commas, e.g. --module 'vivid n_devs=2 node_types=0x1,0x1'); repeatable
#   --timeout SECONDS   hard limit for the whole boot (default 600); qemu is killed and the exit
#                       status is 124
#   --mem MB            guest memory (default 1024)
#   --smp N             guest CPUs (default 1; 1 keeps the dummy_hcd USB gadget link reliable)
#   --net               user-mode networking (virtio-net, guest 10.0.2.15/24, gateway 10.0.2.2);
#                       restricted: the guest cannot open connections out, --hostfwd still works
#   --net-unrestricted  like --net but the guest may connect to the host (10.0.2.2) and beyond
#   --hostfwd [tcp:|udp:]HOSTPORT:GUESTPORT
#                       forward 127.0.0.1:HOSTPORT on the host to the guest; repeatable; implies --net
#   --env K=V           set K in the command's environment; --env K copies the caller's value;
#                       repeatable
#   --cwd DIR           working directory in the guest (default: the caller's)
#   --rw DIR            share host directory DIR read-write at the same path (writes reach the
#                       host); repeatable. Everything else is read-only with a tmpfs overlay.
#   --console           show the kernel console (boot messages, dmesg) on stderr after the run
#   --keep              keep the run directory (job script, console log) and print its path
#   -h, --help
#
# Exit status: the command's; 124 on timeout; 125 when the rig itself failed (guest did not boot,
# a module did not load, the working directory does not exist, ...), with a reason on stderr.
#
# The command runs as root in a chroot of the overlay, with stdin from /dev/null and this
# environment: PATH (system directories first, then the caller's PATH), HOME (the caller's), USER,
# LOGNAME, TERM=dumb, LANG=C.UTF-8, RIG_GUEST=1, RIG_DIR (this directory), RIG_KVER, plus --env.
# To run several commands in one boot, pass a script: run-in-vm.sh -- bash my-suite.sh
#
# Environment: RIG_CACHE (see prepare.sh), RIG_QEMU (default qemu-system-x86_64),
# RIG_KERNEL_IMAGE (override the kernel image prepare.sh chose).
set -uo pipefail

# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
fail() { printf 'run-in-vm: %s\n' "$*" >&2; exit 125; }

MODSPECS=() HOSTFWD=() ENVS=() RWDIRS=()
TIMEOUT=600 MEM=1024 SMP=1 NET=0 CONSOLE=0 KEEP=0 CWD=$PWD
while [ $# -gt 0 ]; do
  case "$1" in
    --modules) [ $# -ge 2 ] || fail "--modules needs a value"
      IFS=, read -r -a _m <<< "$2"
      for x in "${_m[@]}"; do [ -n "$x" ] && MODSPECS+=("${x//:/ }"); done
      shift 2 ;;
    --modules=*) IFS=, read -r -a _m <<< "${1#*=}"
      for x in "${_m[@]}"; do [ -n "$x" ] && MODSPECS+=("${x//:/ }"); done
      shift ;;
    --module) [ $# -ge 2 ] || fail "--module needs a value"; MODSPECS+=("$2"); shift 2 ;;
    --module=*) MODSPECS+=("${1#*=}"); shift ;;
    --timeout) TIMEOUT=${2:-}; shift 2 ;;
    --timeout=*) TIMEOUT=${1#*=}; shift ;;
    --mem) MEM=${2:-}; shift 2 ;;
    --mem=*) MEM=${1#*=}; shift ;;
    --smp) SMP=${2:-}; shift 2 ;;
    --smp=*) SMP=${1#*=}; shift ;;
    --net) NET=1; shift ;;
    --net-unrestricted) NET=2; shift ;;
    --hostfwd) [ $# -ge 2 ] || fail "--hostfwd needs a value"; HOSTFWD+=("$2"); [ $NET = 0 ] && NET=1; shift 2 ;;
    --hostfwd=*) HOSTFWD+=("${1#*=}"); [ $NET = 0 ] && NET=1; shift ;;
    --env) [ $# -ge 2 ] || fail "--env needs a value"; ENVS+=("$2"); shift 2 ;;
    --env=*) ENVS+=("${1#*=}"); shift ;;
    --cwd) CWD=${2:-}; shift 2 ;;
    --cwd=*) CWD=${1#*=}; shift ;;
    --rw) [ $# -ge 2 ] || fail "--rw needs a value"; RWDIRS+=("$2"); shift 2 ;;
    --rw=*) RWDIRS+=("${1#*=}"); shift ;;
    --console) CONSOLE=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) fail "unknown option '$1' (the command goes after --; see --help)" ;;
  esac
done
[ $# -gt 0 ] || fail "no command given (usage: run-in-vm.sh [OPTIONS] -- COMMAND [ARGS...])"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] && [ "$TIMEOUT" -gt 0 ] || fail "--timeout must be a positive number of seconds"
[[ "$MEM" =~ ^[0-9]+$ ]] || fail "--mem must be a number of MiB"
[[ "$SMP" =~ ^[0-9]+$ ]] || fail "--smp must be a number"

[ -f "$RIG_ENV_FILE" ] || fail "the rig is not prepared: run tests/rig/prepare.sh first (cache: $RIG_CACHE)"
_image_override=${RIG_KERNEL_IMAGE:-}
# shellcheck disable=SC1090
. "$RIG_ENV_FILE"
RIG_KERNEL_IMAGE=${_image_override:-$RIG_KERNEL_IMAGE}
[ -f "$RIG_KERNEL_IMAGE" ] && [ -f "$RIG_INITRD" ] && [ -d "$RIG_MODDIR" ] ||
  fail "the rig's cache is incomplete: run tests/rig/prepare.sh"
QEMU=${RIG_QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || fail "$QEMU not found: run tests/rig/prepare.sh"

# The initramfs carries guest/init: rebuild it (a second or so) when the rig's files changed.
h=$(rig_initramfs_inputs_hash)
if [ "$(cat "$RIG_INITRD.hash" 2>/dev/null)" != "$h" ]; then
  (
    # (prepare.sh holds this lock while it runs its test boot)
    [ -n "${RIG_LOCK_HELD:-}" ] || { exec 8>"$RIG_CACHE/.prepare.lock"; flock 8; }
    if [ "$(cat "$RIG_INITRD.hash" 2>/dev/null)" != "$h" ]; then
      rig_say "guest/init changed: rebuilding the initramfs"
      rig_build_initramfs "$RIG_KROOT" "$RIG_KVER" "$RIG_INITRD" && echo "$h" > "$RIG_INITRD.hash"
    fi
  ) || fail "rebuilding the initramfs failed"
fi

case "$CWD" in /*) ;; *) CWD=$(cd "$CWD" 2>/dev/null && pwd) || fail "--cwd: no such directory" ;; esac

mkdir -p "$RIG_CACHE/runs"
RUN=$(mktemp -d "$RIG_CACHE/runs/run.XXXXXX") || fail "cannot create a run directory"
case "$RUN$RIG_MODDIR" in *[[:space:]]*) fail "the cache path must not contain white space: $RIG_CACHE" ;; esac

TPID= CAT_PIDS=()
cleanup() {
  [ -n "$TPID" ] && kill -TERM "$TPID" 2>/dev/null
  for f in "$RUN"/stdout.out "$RUN"/stderr.out "$RUN"/console.out; do
    [ -p "$f" ] && { exec 7<>"$f"; exec 7>&-; }
  done
  for p in "${CAT_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [ "$KEEP" = 1 ]; then rig_say "run directory kept: $RUN"; else rm -rf "$RUN"; fi
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap 'cleanup; exit 129' HUP

# ---------------------------------------------------------------------------------------------
# the job script the guest runs (with the host's /bin/sh, inside the chroot)
q() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
guest_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
IFS=: read -r -a _p <<< "${PATH:-}"
for d in "${_p[@]}"; do
  case ":$guest_path:" in *":$d:"*) ;; *) [ -n "$d" ] && guest_path=$guest_path:$d ;; esac
done
{
  echo "# generated by run-in-vm.sh"
  echo "rig_fail() { echo \"run-in-vm (guest): \$*\" >&2; exit 125; }"
  echo "export PATH=$(q "$guest_path")"
  names=()
  if [ ${#MODSPECS[@]} -gt 0 ] || [ "$NET" != 0 ] || [ ${#RWDIRS[@]} -gt 0 ]; then
    echo "{ :"
    for s in "${MODSPECS[@]}"; do
      read -r -a w <<< "$s"
      names+=("${w[0]}")
      [ ${#w[@]} -gt 1 ] && echo "echo $(q "options ${w[*]}")"
    done
    echo "} > /etc/modprobe.d/zz-rig-run.conf || rig_fail 'cannot write /etc/modprobe.d'"
    [ "$NET" != 0 ] && names+=(virtio_net)
    if [ ${#names[@]} -gt 0 ]; then
      printf 'modprobe -a'; for n in "${names[@]}"; do printf ' %s' "$(q "$n")"; done
      printf " || rig_fail %s\n" "$(q "modprobe failed for: ${names[*]}")"
    fi
  fi
  i=0
  for d in "${RWDIRS[@]}"; do
    echo "mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none rw$i $(q "$d") || rig_fail $(q "cannot mount --rw $d")"
    i=$((i + 1))
  done
  if [ "$NET" != 0 ]; then
    cat <<'EOF'
IF=
for d in /sys/bus/virtio/drivers/virtio_net/virtio*/net/*; do [ -e "$d" ] && IF=${d##*/}; done
[ -n "$IF" ] || rig_fail "no virtio-net interface"
printf 'link set %s up\naddr add 10.0.2.15/24 dev %s\nroute add default via 10.0.2.2\n' "$IF" "$IF" | ip -b - ||
  rig_fail "network setup failed"
EOF
    # DNS: the host's resolv.conf names servers the guest cannot reach, and a lookup would wait for
    # its time-out; unrestricted mode gets slirp's forwarder, restricted mode a fast refusal.
    if [ "$NET" = 2 ]; then ns=10.0.2.3; else ns=127.0.0.1; fi
    echo "printf 'nameserver $ns\n' > /etc/resolv.conf 2>/dev/null"
  fi
  echo "cd $(q "$CWD") 2>/dev/null || rig_fail $(q "working directory $CWD does not exist in the guest")"
  printf 'export HOME=%s USER=root LOGNAME=root TERM=dumb LANG=C.UTF-8 RIG_GUEST=1 RIG_DIR=%s RIG_KVER=%s\n' \
    "$(q "${HOME:-/root}")" "$(q "$RIG_DIR")" "$(q "$RIG_KVER")"
  for e in "${ENVS[@]}"; do
    k=${e%%=*}
    [[ "$k" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || fail "--env: bad variable name in '$e'"
    if [[ "$e" == *=* ]]; then v=${e#*=}; else v=${!k-}; fi
    echo "export $k=$(q "$v")"
  done
  printf 'exec'; for a in "$@"; do printf ' %s' "$(q "$a")"; done; echo
} > "$RUN/job.sh"

# ---------------------------------------------------------------------------------------------
# qemu
mkfifo "$RUN/stdout.in" "$RUN/stdout.out" "$RUN/stderr.in" "$RUN/stderr.out" || fail "mkfifo failed"
: > "$RUN/status"
APPEND="console=ttyS0 panic=-1 rig.job=$RUN/job.sh rig.moddir=$RIG_MODDIR"
if [ "$CONSOLE" = 1 ]; then APPEND="$APPEND loglevel=7"; else APPEND="$APPEND quiet loglevel=3"; fi
ARGS=(
  -nodefaults -no-user-config -display none -no-reboot
  -accel tcg,thread=multi -cpu max -smp "$SMP" -m "$MEM"
  -kernel "$RIG_KERNEL_IMAGE" -initrd "$RIG_INITRD" -append "$APPEND"
  -serial "file:$RUN/console.log"
  -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
  -device virtio-serial-pci
  -chardev "pipe,id=out,path=$RUN/stdout" -device virtserialport,chardev=out,name=rig.stdout
  -chardev "pipe,id=err,path=$RUN/stderr" -device virtserialport,chardev=err,name=rig.stderr
  -chardev "file,id=status,path=$RUN/status" -device virtserialport,chardev=status,name=rig.status
)
i=0
for d in "${RWDIRS[@]}"; do
  d=$(cd "$d" 2>/dev/null && pwd) || fail "--rw: no such directory"
  case "$d" in *,*) fail "--rw: the path must not contain a comma: $d" ;; esac
  ARGS+=(-fsdev "local,id=rw$i,path=$d,security_model=none,multidevs=remap" -device "virtio-9p-pci,fsdev=rw$i,mount_tag=rw$i")
  i=$((i + 1))
done
if [ "$NET" != 0 ]; then
  nd=user,id=net0
  [ "$NET" = 1 ] && nd=$nd,restrict=on
  for f in "${HOSTFWD[@]}"; do
    proto=tcp spec=$f
    case "$f" in tcp:*|udp:*) proto=${f%%:*}; spec=${f#*:} ;; esac
    [[ "$spec" =~ ^([0-9]+):([0-9]+)$ ]] || fail "--hostfwd wants [tcp:|udp:]HOSTPORT:GUESTPORT, got '$f'"
    nd=$nd,hostfwd=$proto:127.0.0.1:${BASH_REMATCH[1]}-:${BASH_REMATCH[2]}
  done
  ARGS+=(-netdev "$nd" -device virtio-net-pci,netdev=net0)
fi

cat "$RUN/stdout.out" & CAT_PIDS+=($!)
cat "$RUN/stderr.out" >&2 & CAT_PIDS+=($!)

timeout -k 5 "$TIMEOUT" "$QEMU" "${ARGS[@]}" </dev/null >"$RUN/qemu.log" 2>&1 &
TPID=$!
wait "$TPID"
qrc=$?
TPID=
# let the output readers finish (they see end-of-file now that qemu is gone; the open/close
# releases a reader still waiting in open() if qemu never opened the pipe)
for f in "$RUN"/stdout.out "$RUN"/stderr.out; do [ -p "$f" ] && { exec 7<>"$f"; exec 7>&-; }; done
for p in "${CAT_PIDS[@]}"; do wait "$p" 2>/dev/null; done
CAT_PIDS=()

status=$(cat "$RUN/status" 2>/dev/null)
show_console() {
  if [ -s "$RUN/console.log" ]; then
    echo "----- guest console (last ${1} lines) -----"
    tail -n "$1" "$RUN/console.log"
    echo "-----"
  fi
  [ -s "$RUN/qemu.log" ] && { echo "----- qemu -----"; cat "$RUN/qemu.log"; }
} >&2
if [ "$CONSOLE" = 1 ]; then
  echo "----- guest console -----" >&2; cat "$RUN/console.log" >&2; echo "-----" >&2
fi

rc=
case "$status" in
  "exit "[0-9]*) rc=${status#exit }; rc=${rc%%[!0-9]*} ;;
esac
if [ "$qrc" = 124 ] || { [ "$qrc" = 137 ] && [ -z "$rc" ]; }; then
  printf 'run-in-vm: timed out after %ss, qemu killed\n' "$TIMEOUT" >&2
  [ "$CONSOLE" = 1 ] || show_console 30
  rc=124
elif [ -z "$rc" ]; then
  printf 'run-in-vm: the guest did not report an exit status (qemu exit %s%s)\n' "$qrc" \
    "${status:+, guest said: ${status#rig-error }}" >&2
  [ "$CONSOLE" = 1 ] || show_console 40
  rc=125
fi
trap - INT TERM HUP
if [ "$KEEP" = 1 ]; then rig_say "run directory kept: $RUN"; else rm -rf "$RUN"; fi
exit "$rc"
