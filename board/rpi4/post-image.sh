#!/usr/bin/env bash
# Post-image script of cameraservice_rpi4_64_defconfig (BR2_ROOTFS_POST_IMAGE_SCRIPT).
#
# Makes images/boot.scr, U-Boot's boot script (board/rpi4/boot.cmd, compiled with the host's
# mkimage: BR2_PACKAGE_HOST_UBOOT_TOOLS), and images/sdcard.img (board/rpi4/genimage.cfg): boot,
# rootfs A (this build), rootfs B (empty), data. Write it to the SD card or the CM4's eMMC as a
# whole.
#
# When a signing key is available it also makes images/update-<compatible>.raucb, the RAUC
# bundle of this build's root file system:
#   CAMERASERVICE_RAUC_SIGNING_CERT, CAMERASERVICE_RAUC_SIGNING_KEY
#       signing certificate and key (files or PKCS#11 URIs); with CAMERASERVICE_RAUC_DEV_KEYRING=1
#       the development key made by post-build.sh is the default
#   CAMERASERVICE_VERSION
#       version in the bundle manifest (default: the build time, UTC)
set -euo pipefail

BOARD_DIR="$(cd "$(dirname "$0")" && pwd)"
BINARIES_DIR=${1:-${BINARIES_DIR:?}}

die() { echo "post-image.sh: error: $*" >&2; exit 1; }

# U-Boot (kernel=u-boot.bin in config.txt) runs boot.scr from the boot partition.
[ -f "${BINARIES_DIR}/u-boot.bin" ] || die "no ${BINARIES_DIR}/u-boot.bin (BR2_TARGET_UBOOT)"
"${HOST_DIR:?}/bin/mkimage" -A arm64 -O linux -T script -C none -n "CameraService A/B boot" \
	-d "${BOARD_DIR}/boot.cmd" "${BINARIES_DIR}/boot.scr"

# shellcheck disable=SC1091  # board/common/genimage.sh
. "$(dirname "$0")/../common/genimage.sh"
make_disk_image "${BOARD_DIR}/genimage.cfg"

# RAUC update bundle
# shellcheck disable=SC1091  # board/common/rauc.sh
. "$(dirname "$0")/../common/rauc.sh"
rauc_make_update_bundle
