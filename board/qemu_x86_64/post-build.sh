#!/usr/bin/env bash
# Post-build script of cameraservice_qemu_x86_64_defconfig (BR2_ROOTFS_POST_BUILD_SCRIPT), run on
# the target directory after the rootfs overlays were copied.
#
# Installs the RAUC keyring: the CA certificate(s) that update bundles must be signed with.
#   CAMERASERVICE_RAUC_KEYRING=FILE   PEM file with the certificate(s); required
#   CAMERASERVICE_RAUC_DEV_KEYRING=1  instead: a development keyring, made once in
#                                     $BASE_DIR/rauc-dev-keys (its key signs the bundles that
#                                     post-image.sh makes); such an image accepts any bundle
#                                     signed by that throwaway key, never ship it
# Private keys never go into the image or the repository.
#
# Root login, for debugging: root's password is locked (BR2_TARGET_ENABLE_ROOT_LOGIN is off), so
# the serial console's getty accepts no login, unless
#   CAMERASERVICE_ROOT_PASSWORD=PASSWORD  root gets this password (stored as a SHA-512 crypt hash)
# is set when building.
set -euo pipefail

TARGET_DIR=${1:-${TARGET_DIR:?}}
die() { echo "post-build.sh: error: $*" >&2; exit 1; }

# shellcheck disable=SC1091  # board/common/rauc.sh
. "$(dirname "$0")/../common/rauc.sh"
rauc_install_keyring

# Mount points on the read-only root (board/qemu_x86_64/rootfs-overlay/etc/fstab).
mkdir -p "${TARGET_DIR}/data"

[ -f "${TARGET_DIR}/etc/rauc/system.conf" ] ||
	die "no /etc/rauc/system.conf in the target (board/qemu_x86_64/rootfs-overlay)"
backend=$(sed -n 's/^bootloader-custom-backend=//p' "${TARGET_DIR}/etc/rauc/system.conf")
if [ -n "${backend}" ] && [ ! -x "${TARGET_DIR}${backend}" ]; then
	echo "post-build.sh: WARNING: RAUC boot backend ${backend} is missing: updates cannot switch slots" >&2
fi
