# shellcheck shell=bash disable=SC2034
# Shared by prepare.sh and run-in-vm.sh (sourced, bash).
# The cache lives outside the repository: ${RIG_CACHE:-$HOME/.cache/cameraservice-rig}.

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RIG_CACHE=${RIG_CACHE:-${XDG_CACHE_HOME:-${HOME:-$(cd ~ && pwd)}/.cache}/cameraservice-rig}
RIG_ENV_FILE=$RIG_CACHE/rig.env

rig_say() { printf 'rig: %s\n' "$*" >&2; }
rig_die() { printf 'rig: error: %s\n' "$*" >&2; exit 1; }

# Modules the initramfs loads (with their dependencies) before it can reach the host.
RIG_BOOT_MODULES=(virtio_pci 9pnet_virtio 9p overlay virtio_console)

# rig_build_initramfs KROOT KVER OUT
# busybox-static + guest/init + the boot modules, as a gzip'd newc cpio.
rig_build_initramfs() {
  local kroot=$1 kver=$2 out=$3 stage m f
  stage=$(mktemp -d "$RIG_CACHE/initramfs.XXXXXX")
  mkdir -p "$stage/bin" "$stage/lib/modules/boot"
  cp /bin/busybox "$stage/bin/busybox"
  cp "$RIG_DIR/guest/init" "$stage/init"
  chmod 755 "$stage/init" "$stage/bin/busybox"
  : > "$stage/lib/modules/boot/order"
  for m in "${RIG_BOOT_MODULES[@]}"; do
    modprobe -d "$kroot" -S "$kver" --show-depends "$m" || { rm -rf "$stage"; return 1; }
  done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r f; do
    cp "$f" "$stage/lib/modules/boot/"
    basename "$f" >> "$stage/lib/modules/boot/order"
  done
  (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$out.tmp.$$" &&
    mv -f "$out.tmp.$$" "$out"
  local rc=$?
  rm -rf "$stage"
  return $rc
}

# A hash of what goes into the initramfs besides the modules: the init script and busybox.
rig_initramfs_inputs_hash() {
  cat "$RIG_DIR/guest/init" /bin/busybox "$RIG_DIR/lib/common.sh" | sha256sum | cut -c1-16
}
