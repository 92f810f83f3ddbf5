#!/usr/bin/env bash
# Post-image script of cameraservice_qemu_x86_64_defconfig (BR2_ROOTFS_POST_IMAGE_SCRIPT).
#
# Makes images/disk.img (board/qemu_x86_64/genimage.cfg): boot loader environment, rootfs A
# (this build), rootfs B (empty), data; and images/start-qemu.sh, which boots it.
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

# The boot loader environment (the format of rauc-boot-backend and start-qemu.sh): slot A first
# with three tries; slot B is empty, so it has none.
printf 'BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=0\n' |
	dd of="${BINARIES_DIR}/bootenv.img" bs=4096 count=1 iflag=fullblock conv=sync status=none

# shellcheck disable=SC1091  # board/common/genimage.sh
. "$(dirname "$0")/../common/genimage.sh"
make_disk_image "${BOARD_DIR}/genimage.cfg"

install -m 0755 "${BOARD_DIR}/start-qemu.sh" "${BINARIES_DIR}/start-qemu.sh"

# RAUC update bundle
# shellcheck disable=SC1091  # board/common/rauc.sh
. "$(dirname "$0")/../common/rauc.sh"
rauc_make_update_bundle
