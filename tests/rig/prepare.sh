#!/usr/bin/env bash
# Prepares the QEMU hardware test rig. Idempotent; everything is cached outside the repository in
# ${RIG_CACHE:-$HOME/.cache/cameraservice-rig}. A second run only checks and takes a few seconds.
#
#   1. host packages (Debian): qemu-system-x86, busybox-static, kmod, v4l-utils, libdrm-tests, ...
#   2. a Debian kernel (linux-image-<abi>-amd64) and its modules, unpacked with dpkg -x (nothing is
#      installed into the host's /boot or /lib/modules), plus the vmlinux extracted from its bzImage
#   3. vkms (from linux-source-6.1) and v4l2loopback (from v4l2loopback-dkms) built against the
#      matching linux-headers, also unpacked into the cache, installed into the cached module tree
#   4. depmod, the busybox initramfs, and one test boot that picks vmlinux (PVH entry, faster) or
#      the bzImage.
#
# Environment:
#   RIG_CACHE    cache directory (default $HOME/.cache/cameraservice-rig)
#   RIG_KERNEL   kernel ABI to use, e.g. 6.1.0-56-amd64 (default: the one already in the cache,
#                else the one Debian's linux-image-amd64 depends on now)
# Options:
#   --refresh    forget the kernel recorded in the cache and take the current Debian one
#   -q           quieter
set -euo pipefail

# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

QUIET=0 REFRESH=0
for a in "$@"; do
  case "$a" in
    -q) QUIET=1 ;;
    --refresh) REFRESH=1 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) rig_die "unknown option $a" ;;
  esac
done

say() { [ "$QUIET" = 1 ] || printf 'prepare: %s\n' "$*"; }
T0=$(date +%s.%N)
step() {
  local now; now=$(date +%s.%N)
  [ "$QUIET" = 1 ] || printf 'prepare: [%5.1fs] %s\n' "$(echo "$now - $T0" | awk '{print $1 - $3}')" "$*"
}

[ "$(id -u)" = 0 ] || rig_die "prepare.sh must run as root (it installs Debian packages)"
mkdir -p "$RIG_CACHE"
exec 8>"$RIG_CACHE/.prepare.lock"
flock 8

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600 -o APT::Sandbox::User=root -q)

# ---------------------------------------------------------------------------------------------
# 1. host packages
HOST_PACKAGES=(
  qemu-system-x86   # the emulator (TCG)
  busybox-static    # the initramfs
  kmod              # modprobe/depmod for the cached module tree
  cpio gzip xz-utils zstd
  gcc-12 make binutils  # building vkms and v4l2loopback against the Debian headers
  python3           # /usr/bin/python3 for the helpers and the vmlinux extractor
  v4l-utils         # v4l2-ctl
  libdrm-tests      # modetest
  iproute2 iputils-ping evtest
)
apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    "${APT[@]}" update -qq
    apt_updated=1
  fi
}
missing=()
for p in "${HOST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_update_once
  say "installing host packages: ${missing[*]}"
  "${APT[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
step "host packages present"

# ---------------------------------------------------------------------------------------------
# 2. which kernel
KVER=
if [ -n "${RIG_KERNEL:-}" ]; then
  KVER=$RIG_KERNEL
elif [ "$REFRESH" = 0 ] && [ -f "$RIG_ENV_FILE" ]; then
  KVER=$(sed -n 's/^RIG_KVER=//p' "$RIG_ENV_FILE")
fi
if [ -z "$KVER" ]; then
  [ "$REFRESH" = 0 ] || apt_update_once
  dep() { apt-cache depends "$1" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1; }
  img=$(dep linux-image-amd64)
  if [ -z "$img" ]; then apt_update_once; img=$(dep linux-image-amd64); fi
  [ -n "$img" ] || rig_die "apt-cache does not know linux-image-amd64"
  KVER=${img#linux-image-}
  say "kernel: Debian's current linux-image-amd64 is $img"
fi
case "$KVER" in *-amd64) ;; *) rig_die "RIG_KERNEL must look like 6.1.0-56-amd64, got '$KVER'" ;; esac
KDIR=$RIG_CACHE/kernel/$KVER
KROOT=$KDIR/root
MODDIR=$KROOT/lib/modules
DEBS=$RIG_CACHE/debs
mkdir -p "$KDIR" "$DEBS"

# Package versions are recorded once (the first time) so that later runs need no apt index.
PKGS_FILE=$KDIR/packages
if [ ! -s "$PKGS_FILE" ]; then
  cand() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '^(none)$' | head -n1; }
  kv=$(cand "linux-image-$KVER")
  if [ -z "$kv" ]; then apt_update_once; kv=$(cand "linux-image-$KVER"); fi
  [ -n "$kv" ] || rig_die "no Debian package linux-image-$KVER"
  hdr_deps=$(apt-cache show "linux-headers-$KVER=$kv" | sed -n 's/^Depends: //p' | head -n1)
  common=$(printf '%s\n' "$hdr_deps" | tr ',' '\n' | sed -n 's/^ *\(linux-headers-[^ ]*-common\) .*/\1/p' | head -n1)
  kbuild=$(printf '%s\n' "$hdr_deps" | tr ',' '\n' | sed -n 's/^ *\(linux-kbuild-[0-9.]*\)\b.*/\1/p' | head -n1)
  [ -n "$common" ] && [ -n "$kbuild" ] || rig_die "cannot parse the dependencies of linux-headers-$KVER: $hdr_deps"
  series=${kbuild#linux-kbuild-}
  # the source of the same Debian version if it is still offered, else the newest of the series
  srcv=$(apt-cache madison "linux-source-$series" | awk -v v="$kv" '$3 == v { print $3; exit }')
  [ -n "$srcv" ] || srcv=$(cand "linux-source-$series")
  [ -n "$srcv" ] || rig_die "no Debian package linux-source-$series"
  {
    echo "linux-image-$KVER=$kv"
    echo "linux-headers-$KVER=$kv"
    echo "$common=$kv"
    echo "$kbuild=$(cand "$kbuild")"
    echo "linux-source-$series=$srcv"
    echo "v4l2loopback-dkms=$(cand v4l2loopback-dkms)"
  } > "$PKGS_FILE.tmp"
  mv "$PKGS_FILE.tmp" "$PKGS_FILE"
fi
mapfile -t PKGS < "$PKGS_FILE"
say "kernel $KVER; packages: ${PKGS[*]}"

deb_of() { # NAME=VERSION -> path of the downloaded .deb (downloads it if needed)
  local name=${1%%=*} ver=${1#*=} f
  f=$(ls "$DEBS/${name}_${ver#*:}_"*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$f" ]; then
    say "downloading $name $ver" >&2
    (cd "$DEBS" && "${APT[@]}" download "$name=$ver" >/dev/null) || {
      apt_update_once
      (cd "$DEBS" && "${APT[@]}" download "$name=$ver" >/dev/null)
    }
    f=$(ls "$DEBS/${name}_${ver#*:}_"*.deb | head -n1)
  fi
  printf '%s\n' "$f"
}

# ---------------------------------------------------------------------------------------------
# 3. kernel, modules, headers unpacked into $KROOT
if [ ! -f "$KDIR/.unpacked" ]; then
  rm -rf "$KROOT"
  mkdir -p "$KROOT"
  for p in "${PKGS[@]:0:4}"; do
    f=$(deb_of "$p")
    say "unpacking $(basename "$f")"
    dpkg -x "$f" "$KROOT"
  done
  # The headers' Makefile includes the -common one by absolute path: point it into the cache.
  sed -i "s|^include /usr/src/|include $KROOT/usr/src/|" "$KROOT/usr/src/linux-headers-$KVER/Makefile"
  touch "$KDIR/.unpacked"
  step "kernel unpacked"
fi
HEADERS=$KROOT/usr/src/linux-headers-$KVER
[ -f "$KROOT/boot/vmlinuz-$KVER" ] || rig_die "$KROOT/boot/vmlinuz-$KVER missing; remove $KDIR and retry"

if [ ! -s "$KDIR/vmlinux" ]; then
  say "extracting vmlinux from vmlinuz-$KVER"
  /usr/bin/python3 "$RIG_DIR/lib/extract-vmlinux.py" "$KROOT/boot/vmlinuz-$KVER" "$KDIR/vmlinux"
  step "vmlinux extracted"
fi

# ---------------------------------------------------------------------------------------------
# 4. out-of-tree modules
EXTRA=$MODDIR/$KVER/extra
mkdir -p "$EXTRA" "$KDIR/build"
kbuild_module() { # NAME SRCDIR [make args...]
  local name=$1 src=$2; shift 2
  say "building $name.ko against linux-headers-$KVER"
  make -s -C "$HEADERS" M="$src" "$@" modules >"$src/build.log" 2>&1 || {
    tail -n 30 "$src/build.log" >&2; rig_die "building $name failed (log: $src/build.log)"; }
  strip --strip-debug "$src/$name.ko"
  cp "$src/$name.ko" "$EXTRA/$name.ko"
  step "$name.ko built and installed into the cached module tree"
}

if [ ! -f "$EXTRA/vkms.ko" ]; then
  srcpkg=$(printf '%s\n' "${PKGS[@]}" | grep '^linux-source-')
  series=${srcpkg%%=*}; series=${series#linux-source-}
  f=$(deb_of "$srcpkg")
  say "extracting drivers/gpu/drm/vkms from $(basename "$f")"
  rm -rf "$KDIR/build/vkms" "$KDIR/build/src"
  mkdir -p "$KDIR/build/src"
  dpkg-deb --fsys-tarfile "$f" | tar -xO "./usr/src/linux-source-$series.tar.xz" |
    tar -xJ -C "$KDIR/build/src" --wildcards "linux-source-$series/drivers/gpu/drm/vkms/*"
  mv "$KDIR/build/src/linux-source-$series/drivers/gpu/drm/vkms" "$KDIR/build/vkms"
  rm -rf "$KDIR/build/src"
  kbuild_module vkms "$KDIR/build/vkms" CONFIG_DRM_VKMS=m
  rm -f "$f"  # the 140 MB source package is needed for nothing else
fi

if [ ! -f "$EXTRA/v4l2loopback.ko" ]; then
  f=$(deb_of "$(printf '%s\n' "${PKGS[@]}" | grep '^v4l2loopback-dkms=')")
  rm -rf "$KDIR/build/v4l2loopback-deb" "$KDIR/build/v4l2loopback"
  dpkg -x "$f" "$KDIR/build/v4l2loopback-deb"
  src=$(ls -d "$KDIR"/build/v4l2loopback-deb/usr/src/v4l2loopback-* | head -n1)
  mv "$src" "$KDIR/build/v4l2loopback"
  rm -rf "$KDIR/build/v4l2loopback-deb"
  kbuild_module v4l2loopback "$KDIR/build/v4l2loopback"
fi

if [ ! -f "$MODDIR/$KVER/modules.dep" ] || [ -n "$(find "$EXTRA" -newer "$MODDIR/$KVER/modules.dep" -name '*.ko')" ]; then
  say "depmod $KVER"
  depmod -b "$KROOT" "$KVER"
  step "depmod done"
fi

# ---------------------------------------------------------------------------------------------
# 5. initramfs
INITRD=$KDIR/initramfs.cpio.gz
h=$(rig_initramfs_inputs_hash)
if [ ! -s "$INITRD" ] || [ "$(cat "$INITRD.hash" 2>/dev/null)" != "$h" ]; then
  say "building the initramfs (busybox + guest/init + boot modules)"
  rig_build_initramfs "$KROOT" "$KVER" "$INITRD"
  echo "$h" > "$INITRD.hash"
  step "initramfs built"
fi

# ---------------------------------------------------------------------------------------------
# 6. rig.env, then one boot to pick the kernel image
write_env() { # IMAGE
  {
    echo "RIG_KVER=$KVER"
    echo "RIG_KROOT=$KROOT"
    echo "RIG_MODDIR=$MODDIR"
    echo "RIG_KERNEL_IMAGE=$1"
    echo "RIG_INITRD=$INITRD"
  } > "$RIG_ENV_FILE.tmp"
  mv "$RIG_ENV_FILE.tmp" "$RIG_ENV_FILE"
}
cur=$(sed -n 's/^RIG_KERNEL_IMAGE=//p' "$RIG_ENV_FILE" 2>/dev/null || true)
if [ ! -f "$KDIR/.boot-checked" ] || [ "$(sed -n 's/^RIG_KVER=//p' "$RIG_ENV_FILE" 2>/dev/null)" != "$KVER" ] ||
   [ ! -f "$cur" ]; then
  chosen=
  for img in "$KDIR/vmlinux" "$KROOT/boot/vmlinuz-$KVER"; do
    [ -s "$img" ] || continue
    write_env "$img"
    say "test boot with $(basename "$img")"
    t=$(date +%s.%N)
    if out=$(RIG_LOCK_HELD=1 "$RIG_DIR/run-in-vm.sh" --timeout 90 -- /bin/echo rig-boot-ok 2>&1) && [ "$out" = rig-boot-ok ]; then
      say "$(basename "$img") boots: $(echo "$(date +%s.%N) - $t" | awk '{printf "%.1f", $1 - $3}') s for a whole boot"
      chosen=$img
      break
    fi
    say "$(basename "$img") did not boot: $out"
  done
  [ -n "$chosen" ] || rig_die "the guest does not boot with either kernel image"
  touch "$KDIR/.boot-checked"
  step "boot checked"
else
  write_env "$cur"
fi

# run directories left behind by runners that were killed hard (they remove their own otherwise)
find "$RIG_CACHE/runs" -mindepth 1 -maxdepth 1 -mmin +720 -exec rm -rf {} + 2>/dev/null || true

say "ready: kernel $KVER, image $(basename "$(sed -n 's/^RIG_KERNEL_IMAGE=//p' "$RIG_ENV_FILE")"), cache $RIG_CACHE"
step "done"
