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
KEYRING="${TARGET_DIR}/etc/rauc/keyring.pem"
DEV_MARKER="${TARGET_DIR}/etc/rauc/DEVELOPMENT-KEYRING"

die() { echo "post-build.sh: error: $*" >&2; exit 1; }

check_keyring() {
	grep -q -- '-----BEGIN CERTIFICATE-----' "$1" ||
		die "$1 holds no PEM certificate"
	if grep -q -- 'PRIVATE KEY-----' "$1"; then
		die "$1 contains a private key: the keyring holds certificates only"
	fi
}

if [ -n "${CAMERASERVICE_RAUC_KEYRING:-}" ]; then
	[ -r "${CAMERASERVICE_RAUC_KEYRING}" ] ||
		die "CAMERASERVICE_RAUC_KEYRING=${CAMERASERVICE_RAUC_KEYRING} is not a readable file"
	check_keyring "${CAMERASERVICE_RAUC_KEYRING}"
	install -D -m 0644 "${CAMERASERVICE_RAUC_KEYRING}" "${KEYRING}"
	rm -f "${DEV_MARKER}"
elif [ "${CAMERASERVICE_RAUC_DEV_KEYRING:-}" = 1 ]; then
	dev_dir="${BASE_DIR:?}/rauc-dev-keys"
	if [ ! -s "${dev_dir}/cert.pem" ] || [ ! -s "${dev_dir}/key.pem" ]; then
		mkdir -p "${dev_dir}"
		chmod 0700 "${dev_dir}"
		openssl req -x509 -newkey rsa:4096 -nodes -days 3650 \
			-subj "/O=CameraService development/CN=CameraService development bundle signer (not for production)" \
			-keyout "${dev_dir}/key.pem" -out "${dev_dir}/cert.pem" ||
			die "openssl could not create the development key in ${dev_dir}"
	fi
	check_keyring "${dev_dir}/cert.pem"
	install -D -m 0644 "${dev_dir}/cert.pem" "${KEYRING}"
	echo "This image trusts a development RAUC key (${dev_dir}). Do not ship it." >"${DEV_MARKER}"
	echo "post-build.sh: WARNING: development RAUC keyring installed (${dev_dir}/cert.pem); not for production" >&2
else
	die "CAMERASERVICE_RAUC_KEYRING is not set. Set it to the PEM file with the CA certificate(s) that sign update bundles, or set CAMERASERVICE_RAUC_DEV_KEYRING=1 for a development image with a throwaway key."
fi

if [ -n "${CAMERASERVICE_ROOT_PASSWORD:-}" ]; then
	hash=$(printf '%s\n' "${CAMERASERVICE_ROOT_PASSWORD}" | openssl passwd -6 -stdin) ||
		die "openssl could not hash CAMERASERVICE_ROOT_PASSWORD"
	sed -i "s|^root:[^:]*:|root:${hash}:|" "${TARGET_DIR}/etc/shadow"
	echo "post-build.sh: WARNING: root logs in with CAMERASERVICE_ROOT_PASSWORD (debug image)" >&2
fi

# Mount points on the read-only root (board/qemu_x86_64/rootfs-overlay/etc/fstab).
mkdir -p "${TARGET_DIR}/data"

[ -f "${TARGET_DIR}/etc/rauc/system.conf" ] ||
	die "no /etc/rauc/system.conf in the target (board/qemu_x86_64/rootfs-overlay)"
backend=$(sed -n 's/^bootloader-custom-backend=//p' "${TARGET_DIR}/etc/rauc/system.conf")
if [ -n "${backend}" ] && [ ! -x "${TARGET_DIR}${backend}" ]; then
	echo "post-build.sh: WARNING: RAUC boot backend ${backend} is missing: updates cannot switch slots" >&2
fi
