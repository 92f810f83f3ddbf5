# shellcheck shell=bash
# RAUC parts shared by the boards' post-build and post-image scripts (sourced; the caller
# defines die()).

# rauc_install_keyring: the keyring the image trusts, into $TARGET_DIR/etc/rauc/keyring.pem.
#   CAMERASERVICE_RAUC_KEYRING=FILE   PEM file with the CA certificate(s); required
#   CAMERASERVICE_RAUC_DEV_KEYRING=1  instead: a development keyring, made once in
#                                     $BASE_DIR/rauc-dev-keys; never ship such an image
rauc_install_keyring() {
	local KEYRING="${TARGET_DIR:?}/etc/rauc/keyring.pem" DEV_MARKER
	DEV_MARKER="${TARGET_DIR}/etc/rauc/DEVELOPMENT-KEYRING"

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
}

# rauc_make_update_bundle: images/update-<compatible>.raucb from this build's rootfs.ext4 when a
# signing key is available (CAMERASERVICE_RAUC_SIGNING_CERT/_KEY, or the development key).
rauc_make_update_bundle() {
	cert=${CAMERASERVICE_RAUC_SIGNING_CERT:-}
	key=${CAMERASERVICE_RAUC_SIGNING_KEY:-}
	if [ -z "${cert}${key}" ] && [ "${CAMERASERVICE_RAUC_DEV_KEYRING:-}" = 1 ]; then
		cert="${BASE_DIR:?}/rauc-dev-keys/cert.pem"
		key="${BASE_DIR}/rauc-dev-keys/key.pem"
	fi
	if [ -z "${cert}" ] || [ -z "${key}" ]; then
		echo "post-image.sh: no RAUC signing key (CAMERASERVICE_RAUC_SIGNING_CERT/_KEY): no update bundle" >&2
		return 0
	fi
	command -v rauc >/dev/null || die "rauc (host) is needed for the update bundle: BR2_PACKAGE_HOST_RAUC"
	compatible=$(sed -n 's/^compatible=//p' "${TARGET_DIR:?}/etc/rauc/system.conf")
	[ -n "${compatible}" ] || die "no compatible= in the target's /etc/rauc/system.conf"
	version=${CAMERASERVICE_VERSION:-$(date -u +%Y%m%d.%H%M%S)}

	bundle_dir="${BUILD_DIR}/rauc-bundle"
	bundle="${BINARIES_DIR}/update-${compatible}.raucb"
	rm -rf "${bundle_dir}" "${bundle}"
	mkdir -p "${bundle_dir}"
	cp --sparse=always "${BINARIES_DIR}/rootfs.ext4" "${bundle_dir}/rootfs.ext4"
	cat >"${bundle_dir}/manifest.raucm" <<-EOF
	[update]
	compatible=${compatible}
	version=${version}

	[bundle]
	format=verity

	[image.rootfs]
	filename=rootfs.ext4
	EOF
	# --keyring: check that the target's keyring accepts the bundle
	rauc bundle --cert="${cert}" --key="${key}" --keyring="${TARGET_DIR}/etc/rauc/keyring.pem" \
		"${bundle_dir}" "${bundle}"
	rm -rf "${bundle_dir}"
	echo "post-image.sh: ${bundle} (${compatible} ${version})"
}
