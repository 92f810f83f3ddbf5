#!/usr/bin/env bash
# Builds the test image of the firmware from Debian packages: what Buildroot would put on the
# device (systemd, udev, D-Bus, systemd-networkd/resolved, RAUC, the daemon, the units in systemd/,
# the board overlay), assembled into one virtio disk with the A/B layout of the x86 test target:
#
#   p1  1 MiB   boot loader environment (BOOT_ORDER / BOOT_x_LEFT, text; see vm.py)
#   p2          rootfs A (ext4, read-only at run time)
#   p3          rootfs B (empty until the first update)
#   p4 384 MiB  data (ext4, label "data": /data, the daemon's state and RAUC's)
#
# It boots the rig's Debian kernel (tests/rig/prepare.sh) with a small initramfs (guest/init).
# Test-only additions, not part of the product: a command agent on a virtio serial port
# (guest/test-agent) and the dummy_hcd module loaded at boot (the USB device controller of the VM).
#
# usage: build.sh [--daemon PATH] [--out DIR]
#   --daemon   the daemon binary (default target/debug/cameraserviced)
#   --out      output directory (default $RIG_CACHE/image/out): disk.img, rootfs.ext4, initrd.img,
#              keys/ (the test signing key and a second, untrusted one), image.env
# The Debian part (mmdebstrap, about 120 packages) is cached in $RIG_CACHE/image by its package
# list; later builds take ~30 s.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../rig/lib/common.sh
. "$ROOT/tests/rig/lib/common.sh"

DAEMON=$ROOT/target/debug/cameraserviced
TEST_ADMIN_TOKEN=test-image-admin-token-0123456789
OUT=
while [ $# -gt 0 ]; do
  case "$1" in
    --daemon) DAEMON=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
say() { printf 'image: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap, file ownership in the image)"
[ -x "$DAEMON" ] || die "no daemon binary at $DAEMON (cargo build -p cameraserviced)"
[ -f "$RIG_ENV_FILE" ] || "$ROOT/tests/rig/prepare.sh" -q
# shellcheck disable=SC1090
. "$RIG_ENV_FILE"
CACHE=$RIG_CACHE/image
OUT=${OUT:-$CACHE/out}
mkdir -p "$CACHE" "$OUT"
exec 9>"$CACHE/.lock"
flock 9

need=()
for t in mmdebstrap:mmdebstrap mkfs.ext4:e2fsprogs debugfs:e2fsprogs sfdisk:fdisk rauc:rauc \
         mksquashfs:squashfs-tools openssl:openssl cpio:cpio; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q install -y -qq \
    --no-install-recommends "${need[@]}" >/dev/null
fi

# ---------------------------------------------------------------------------------------------
# 1. the Debian root (cached)
PKGS=(systemd systemd-sysv udev dbus systemd-resolved rauc rauc-service kmod iproute2 busybox e2fsprogs
      python3-minimal gstreamer1.0-plugins-base)
# the shared libraries the daemon links, by package
while read -r lib; do
  p=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null) || die "no package owns $lib"
  PKGS+=("${p%%:*}")
done < <(ldd "$DAEMON" | awk '$3 ~ /^\// { print $3 }')
mapfile -t PKGS < <(printf '%s\n' "${PKGS[@]}" | sort -u)
. /etc/os-release
SUITE=${VERSION_CODENAME:?}
SOURCES=/etc/apt/sources.list.d/debian.sources
[ -f "$SOURCES" ] || SOURCES=/etc/apt/sources.list
key=$(printf '%s\n' "$SUITE" "${PKGS[@]}" | sha256sum | cut -c1-16)
BASE=$CACHE/base-$key.tar
if [ ! -f "$BASE" ]; then
  say "mmdebstrap $SUITE (${#PKGS[@]} packages and their dependencies)"
  rm -f "$CACHE"/base-*.tar
  mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --include="$(IFS=,; echo "${PKGS[*]}")" \
    "$SUITE" "$BASE.tmp" "$SOURCES" || die "mmdebstrap failed"
  mv "$BASE.tmp" "$BASE"
fi

# ---------------------------------------------------------------------------------------------
# 2. the rootfs: the product's files, as the Buildroot package and overlays install them
STAGE=$(mktemp -d "$CACHE/stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
R=$STAGE/root
mkdir "$R"
tar -C "$R" -xf "$BASE"

install -D -m 755 "$DAEMON" "$R/usr/bin/cameraserviced"
objcopy --strip-debug "$R/usr/bin/cameraserviced"
for u in "$ROOT"/systemd/*.service "$ROOT"/systemd/*.path "$ROOT"/systemd/*.timer; do install -D -m 644 "$u" "$R/usr/lib/systemd/system/${u##*/}"; done
install -D -m 644 "$ROOT/systemd/cameraservice.sysusers" "$R/usr/lib/sysusers.d/cameraservice.conf"
for f in "$ROOT"/systemd/*.sh; do n=${f##*/}; install -D -m 755 "$f" "$R/usr/lib/cameraservice/${n%.sh}"; done
for f in "$ROOT"/systemd/network/*; do install -D -m 644 "$f" "$R/usr/lib/systemd/network/${f##*/}"; done
for f in "$ROOT"/systemd/resolved.conf.d/*; do
  install -D -m 644 "$f" "$R/usr/lib/systemd/resolved.conf.d/${f##*/}"
done
cp -a "$ROOT/board/rootfs-overlay/." "$R/"
[ -d "$ROOT/board/qemu_x86_64/rootfs-overlay" ] && cp -a "$ROOT/board/qemu_x86_64/rootfs-overlay/." "$R/"
systemd-sysusers --root="$R" >/dev/null

# kernel modules the image needs (the rig's Debian kernel)
MODS=(virtio_pci virtio_blk virtio_net virtio_console ext4 squashfs loop dm_verity bridge
      dummy_hcd libcomposite usb_f_ncm usb_f_rndis usb_f_ecm cdc_ncm cdc_ether rndis_host)
for m in "${MODS[@]}"; do
  modprobe -d "$RIG_KROOT" -S "$RIG_KVER" --show-depends "$m" || die "module $m not in the rig kernel"
done | awk '$1 == "insmod" { print $2 }' | sort -u | while read -r f; do
  install -D -m 644 "$f" "$R${f#"$RIG_KROOT"}"
done
cp "$RIG_MODDIR/$RIG_KVER"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$RIG_KVER/" 2>/dev/null || true
depmod -b "$R" "$RIG_KVER"

# system settings of the appliance
echo cameraservice > "$R/etc/hostname"
: > "$R/etc/machine-id"
ln -sf /etc/machine-id "$R/var/lib/dbus/machine-id"
ln -sf ../run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf"
mkdir -p "$R/data" "$R/var/lib/cameraservice"
# the board's fstab (overlay above); Buildroot's image keeps all of /var on a tmpfs, Debian's
# does not: only the parts written at run time get one here
cat >> "$R/etc/fstab" <<'EOF'
tmpfs                  /var/tmp                 tmpfs  mode=1777,nosuid,nodev                     0      0
tmpfs                  /var/log                 tmpfs  mode=0755,nosuid,nodev                     0      0
tmpfs                  /var/lib/systemd         tmpfs  mode=0755,nosuid,nodev                     0      0
EOF
# enabled as on the device: the units the preset file lists
install -D -m 644 "$ROOT/systemd/50-cameraservice.preset" "$R/usr/lib/systemd/system-preset/50-cameraservice.preset"
# shellcheck disable=SC2046
systemctl --root="$R" preset $(sed -n 's/^\(enable\|disable\) //p' "$ROOT/systemd/50-cameraservice.preset") 2>/dev/null

# test-only: the command agent and the VM's USB device controller
install -D -m 755 "$HERE/guest/test-agent" "$R/usr/local/sbin/test-agent"
cat > "$R/etc/systemd/system/test-agent.service" <<'EOF'
[Unit]
Description=test image command agent (virtio serial port "agent")
DefaultDependencies=no
After=systemd-udevd.service
[Service]
ExecStartPre=/bin/sh -c 'modprobe virtio_console; i=0; while [ ! -e /dev/virtio-ports/agent ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done'
ExecStart=/usr/local/sbin/test-agent
Restart=always
[Install]
WantedBy=sysinit.target
EOF
systemctl --root="$R" enable test-agent.service >/dev/null 2>&1
echo dummy_hcd > "$R/etc/modules-load.d/test-dummy-hcd.conf"
# a shorter health window before a slot is marked good (the device waits 120 s)
install -d "$R/etc/systemd/system/rauc-mark-good.service.d"
printf '[Service]\nEnvironment=HEALTH_STABLE_SECONDS=20\n' > "$R/etc/systemd/system/rauc-mark-good.service.d/test.conf"
# the VM's virtio network card: QEMU's user-mode network forwards the API port to the host
printf '[Match]\nDriver=virtio_net\n\n[Network]\nAddress=10.0.2.15/24\nLinkLocalAddressing=no\n' \
  > "$R/etc/systemd/network/90-test-virtio.network"

# test signing keys: the image trusts "keys/cert.pem"; "keys/other-*" is not in the keyring
mkdir -p "$OUT/keys"
for k in cert other; do
  [ -f "$OUT/keys/$k-key.pem" ] && continue
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=cameraservice test $k" \
    -keyout "$OUT/keys/$k-key.pem" -out "$OUT/keys/$k.pem" 2>/dev/null || die "openssl failed"
done
install -D -m 644 "$OUT/keys/cert.pem" "$R/etc/rauc/keyring.pem"
echo "test image $(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$R/etc/cameraservice-build"

# ---------------------------------------------------------------------------------------------
# 3. file systems and the disk
ROOT_MB=512 DATA_MB=384
used=$(du -sm "$R" | cut -f1)
[ "$used" -lt $((ROOT_MB * 85 / 100)) ] || die "rootfs ($used MiB) does not fit the $ROOT_MB MiB slot"
mkfs.ext4 -q -F -L rootfs -E root_owner=0:0 -d "$R" "$OUT/rootfs.ext4.tmp" "${ROOT_MB}M" >/dev/null
mkdir -p "$STAGE/data/cameraservice"
uid=$(awk -F: '$1 == "cameraservice" { print $3 ":" $4 }' "$R/etc/passwd")
[ -n "$uid" ] || die "sysusers did not create the cameraservice user"
chown "$uid" "$STAGE/data/cameraservice"
chmod 750 "$STAGE/data/cameraservice"
mkfs.ext4 -q -F -L data -d "$STAGE/data" "$STAGE/data.ext4" "${DATA_MB}M" >/dev/null
# the device's admin token, provisioned the way a factory does (a test token here)
"$ROOT/board/provision-admin-token.sh" "$STAGE/data.ext4" "$TEST_ADMIN_TOKEN" >/dev/null

DISK=$OUT/disk.img.tmp
rm -f "$DISK"
truncate -s $((2 + ROOT_MB * 2 + DATA_MB + 1))M "$DISK"
sfdisk -q "$DISK" <<EOF
label: dos
start=1MiB, size=1MiB, type=da
size=${ROOT_MB}MiB, type=83
size=${ROOT_MB}MiB, type=83
size=${DATA_MB}MiB, type=83
EOF
printf 'BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=0\n' | dd of="$DISK" bs=1M seek=1 conv=notrunc status=none
dd if="$OUT/rootfs.ext4.tmp" of="$DISK" bs=1M seek=2 conv=notrunc,sparse status=none
dd if="$STAGE/data.ext4" of="$DISK" bs=1M seek=$((2 + ROOT_MB * 2)) conv=notrunc,sparse status=none
mv "$DISK" "$OUT/disk.img"
mv "$OUT/rootfs.ext4.tmp" "$OUT/rootfs.ext4"

# initramfs: busybox, guest/init, the modules to reach an ext4 root on virtio-blk
I=$STAGE/initrd
mkdir -p "$I/bin" "$I/lib/modules/boot" "$I/proc" "$I/sys" "$I/dev"
cp /bin/busybox "$I/bin/busybox"
install -m 755 "$HERE/guest/init" "$I/init"
for m in virtio_pci virtio_blk ext4; do
  modprobe -d "$RIG_KROOT" -S "$RIG_KVER" --show-depends "$m"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r f; do
  cp "$f" "$I/lib/modules/boot/"
  basename "$f" >> "$I/lib/modules/boot/order"
done
(cd "$I" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$OUT/initrd.img"

cat > "$OUT/image.env" <<EOF
IMAGE_KERNEL=$RIG_KERNEL_IMAGE
IMAGE_INITRD=$OUT/initrd.img
IMAGE_DISK=$OUT/disk.img
IMAGE_ROOTFS=$OUT/rootfs.ext4
IMAGE_ROOT_MB=$ROOT_MB
IMAGE_KEYS=$OUT/keys
IMAGE_ADMIN_TOKEN=$TEST_ADMIN_TOKEN
EOF
say "built $OUT/disk.img (rootfs $used MiB of $ROOT_MB)"
