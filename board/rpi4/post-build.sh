#!/usr/bin/env bash
# Post-build script of cameraservice_rpi4_64_defconfig (BR2_ROOTFS_POST_BUILD_SCRIPT), run on
# the target directory after the rootfs overlays were copied.
#
# Installs the kernel, device trees and device tree overlays into the rootfs (/boot), where
# U-Boot's boot script (board/rpi4/boot.cmd) loads them from the booted slot: an update bundle
# of the rootfs updates them too.
#
# Installs the RAUC keyring: the CA certificate(s) that update bundles must be signed with.
#   CAMERASERVICE_RAUC_KEYRING=FILE   PEM file with the certificate(s); required
#   CAMERASERVICE_RAUC_DEV_KEYRING=1  instead: a development keyring, made once in
#                                     $BASE_DIR/rauc-dev-keys (its key signs the bundles that
#                                     post-image.sh makes); such an image accepts any bundle
#                                     signed by that throwaway key, never ship it
# Private keys never go into the image or the repository.
set -euo pipefail

TARGET_DIR=${1:-${TARGET_DIR:?}}
die() { echo "post-build.sh: error: $*" >&2; exit 1; }

# shellcheck disable=SC1091  # board/common/rauc.sh
. "$(dirname "$0")/../common/rauc.sh"
rauc_install_keyring

# Mount points on the read-only root (board/rpi4/rootfs-overlay/etc/fstab). The boot partition
# mounted on /boot hides the slot's kernel below at run time; only U-Boot reads those files.
mkdir -p "${TARGET_DIR}/boot" "${TARGET_DIR}/data"

# The slot's kernel and device trees, from the kernel build (BINARIES_DIR), at the paths that
# boot.cmd loads: /boot/Image, /boot/<U-Boot's fdtfile>, i.e. /boot/broadcom/bcm2711-*.dtb on
# arm64, and the Pi firmware's overlays in /boot/overlays (built for the same kernel release).
BINARIES_DIR=${BINARIES_DIR:?}
[ -f "${BINARIES_DIR}/Image" ] || die "no kernel ${BINARIES_DIR}/Image"
install -D -m 0644 "${BINARIES_DIR}/Image" "${TARGET_DIR}/boot/Image"
rm -rf "${TARGET_DIR}/boot/broadcom" "${TARGET_DIR}/boot/overlays"
dtbs=0
for dtb in "${BINARIES_DIR}"/bcm2711-*.dtb; do
	[ -f "${dtb}" ] || continue
	install -D -m 0644 "${dtb}" "${TARGET_DIR}/boot/broadcom/${dtb##*/}"
	dtbs=$((dtbs + 1))
done
[ "${dtbs}" -gt 0 ] || die "no bcm2711-*.dtb in ${BINARIES_DIR} (BR2_LINUX_KERNEL_INTREE_DTS_NAME)"
overlays="${BINARIES_DIR}/rpi-firmware/overlays"
[ -f "${overlays}/dwc2.dtbo" ] ||
	die "no ${overlays}/dwc2.dtbo (BR2_PACKAGE_RPI_FIRMWARE_INSTALL_DTB_OVERLAYS)"
mkdir -p "${TARGET_DIR}/boot/overlays"
for dtbo in "${overlays}"/*.dtbo; do
	install -m 0644 "${dtbo}" "${TARGET_DIR}/boot/overlays/"
done

# RAUC's U-Boot backend: fw_printenv/fw_setenv and their configuration.
[ -f "${TARGET_DIR}/etc/rauc/system.conf" ] ||
	die "no /etc/rauc/system.conf in the target (board/rpi4/rootfs-overlay)"
if grep -q '^bootloader=uboot' "${TARGET_DIR}/etc/rauc/system.conf"; then
	[ -x "${TARGET_DIR}/usr/sbin/fw_setenv" ] ||
		die "RAUC uses U-Boot but fw_setenv is missing: BR2_PACKAGE_UBOOT_TOOLS_FWPRINTENV"
	[ -f "${TARGET_DIR}/etc/fw_env.config" ] ||
		die "RAUC uses U-Boot but /etc/fw_env.config is missing (board/rpi4/rootfs-overlay)"
fi
