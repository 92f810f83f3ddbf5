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
GENIMAGE_TMP="${BUILD_DIR:?}/genimage.tmp"

die() { echo "post-image.sh: error: $*" >&2; exit 1; }

# U-Boot (kernel=u-boot.bin in config.txt) runs boot.scr from the boot partition.
[ -f "${BINARIES_DIR}/u-boot.bin" ] || die "no ${BINARIES_DIR}/u-boot.bin (BR2_TARGET_UBOOT)"
"${HOST_DIR:?}/bin/mkimage" -A arm64 -O linux -T script -C none -n "CameraService A/B boot" \
	-d "${BOARD_DIR}/boot.cmd" "${BINARIES_DIR}/boot.scr"

# genimage takes the data partition's contents from <root path>/data (mountpoint = "/data"):
# the daemon's state directory and RAUC's data directory. Everything else comes from
# BINARIES_DIR, so the root path holds nothing more.
ROOTPATH_TMP="$(mktemp -d)"
trap 'rm -rf "${ROOTPATH_TMP}"' EXIT
install -d -m 0755 "${ROOTPATH_TMP}/data/cameraservice"
install -d -m 0700 "${ROOTPATH_TMP}/data/rauc"

# Under fakeroot, so that those directories belong to root on the device, not to the user who
# runs the build. (The inner script's arguments are expanded by the inner bash.)
rm -rf "${GENIMAGE_TMP}"
# shellcheck disable=SC2016
"${HOST_DIR:?}/bin/fakeroot" -- bash -c '
	chown -R 0:0 "$1/data" &&
	exec genimage --rootpath "$1" --tmppath "$2" --inputpath "$3" --outputpath "$3" --config "$4"
	' genimage "${ROOTPATH_TMP}" "${GENIMAGE_TMP}" "${BINARIES_DIR}" "${BOARD_DIR}/genimage.cfg"

# RAUC update bundle
# shellcheck disable=SC1091  # board/common/rauc.sh
. "$(dirname "$0")/../common/rauc.sh"
rauc_make_update_bundle
