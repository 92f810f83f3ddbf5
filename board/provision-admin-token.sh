#!/bin/sh
# Gives one device its update admin token: writes cameraservice/admin-token (mode 0600, owned like
# its directory) into the data partition of a flashed card or eMMC, or of an ext4 image file,
# without mounting it (debugfs). The daemon reads it at start (update.admin_token_file).
#
# usage: provision-admin-token.sh DATA_PARTITION [TOKEN]
#   DATA_PARTITION  the partition labelled "data" (e.g. /dev/sdX4 after writing sdcard.img) or an
#                   ext4 image file
#   TOKEN           at least 16 characters; default: 32 random bytes in hex (256 bits)
# Prints the token: keep it with the device's serial number in the integrator's records.
set -eu
dev=${1:-}
[ -n "$dev" ] || { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
token=${2:-$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}
[ "${#token}" -ge 16 ] || { echo "provision-admin-token: the token needs at least 16 characters" >&2; exit 2; }
command -v debugfs >/dev/null || { echo "provision-admin-token: needs debugfs (e2fsprogs)" >&2; exit 1; }
label=$(debugfs -R "show_super_stats -h" "$dev" 2>/dev/null | sed -n 's/^Filesystem volume name: *//p')
[ "$label" = data ] || { echo "provision-admin-token: $dev is not the data partition (label '$label')" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "$token" > "$tmp/token"
debugfs -w -R "mkdir cameraservice" "$dev" >/dev/null 2>&1 || true
owner=$(debugfs -R "stat cameraservice" "$dev" 2>/dev/null | sed -n 's/.*User: *\([0-9]*\) *Group: *\([0-9]*\).*/\1 \2/p')
[ -n "$owner" ] || { echo "provision-admin-token: cannot read cameraservice/ on $dev" >&2; exit 1; }
# shellcheck disable=SC2086  # two numbers
set -- $owner
cat > "$tmp/cmds" <<CMDS
rm cameraservice/admin-token
write $tmp/token cameraservice/admin-token
sif cameraservice/admin-token mode 0100600
sif cameraservice/admin-token uid $1
sif cameraservice/admin-token gid $2
CMDS
debugfs -w -f "$tmp/cmds" "$dev" >/dev/null 2>&1
got=$(debugfs -R "cat cameraservice/admin-token" "$dev" 2>/dev/null)
[ "$got" = "$token" ] || { echo "provision-admin-token: writing the token failed" >&2; exit 1; }
echo "$token"
