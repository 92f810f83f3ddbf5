# shellcheck shell=bash
# The disk image step shared by the boards' post-image scripts (sourced).

# make_disk_image CONFIG: genimage with CONFIG. genimage takes the data partition's contents from
# <root path>/data (mountpoint = "/data"): the daemon's state directory and RAUC's data directory.
# Everything else comes from BINARIES_DIR, so the root path holds nothing more. Runs under fakeroot,
# so that those directories belong to root on the device, not to the user who runs the build.
make_disk_image() {
	local rootpath tmp="${BUILD_DIR:?}/genimage.tmp"
	rootpath="$(mktemp -d)"
	install -d -m 0755 "${rootpath}/data/cameraservice"
	install -d -m 0700 "${rootpath}/data/rauc"
	rm -rf "${tmp}"
	# (the inner script's arguments are expanded by the inner bash)
	# shellcheck disable=SC2016
	"${HOST_DIR:?}/bin/fakeroot" -- bash -c '
		chown -R 0:0 "$1/data" &&
		exec genimage --rootpath "$1" --tmppath "$2" --inputpath "$3" --outputpath "$3" --config "$4"
		' genimage "${rootpath}" "${tmp}" "${BINARIES_DIR:?}" "$1"
	local rc=$?
	rm -rf "${rootpath}"
	return "${rc}"
}
