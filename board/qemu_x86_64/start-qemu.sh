#!/bin/sh
# Powers on the CameraService x86 test target (installed next to disk.img and bzImage by
# board/qemu_x86_64/post-image.sh).
#
# First the boot loader, as tests/image/vm.py runs it: read BOOT_ORDER / BOOT_A_LEFT /
# BOOT_B_LEFT from the first 4 KiB of partition 1 (at 1 MiB), take the first slot in the order
# with tries left, count one try down, write the state back and boot that slot with
# root=/dev/vda<2|3> rauc.slot=<A|B>. With no tries left anywhere, every slot gets its tries back
# and the first in the order boots. /usr/lib/cameraservice/rauc-boot-backend in the guest
# changes the same state (an update makes the new slot primary, rauc-mark-good refills tries).
#
# QEMU runs with -no-reboot: a reboot in the guest ends QEMU; run this again to power on.
# As on the device, the VM has no network card: the API is reachable only over the USB gadget,
# whose host side (dummy_hcd) is inside the VM. Extra arguments go to QEMU.
#   DISK=FILE      another copy of the disk (default: disk.img next to this script)
#   QEMU=PROG      the QEMU binary (default: Buildroot's host QEMU if built, else from PATH)
#   API_PORT=PORT  debugging: a network card on QEMU's user network, configured by the kernel
#                  (ip= on its command line, 10.0.2.15/24; the image itself configures no network
#                  card), with the API (port 38088) forwarded to 127.0.0.1:PORT
set -eu

images=$(cd "$(dirname "$0")" && pwd)
disk=${DISK:-${images}/disk.img}
kernel=${images}/bzImage
qemu=${QEMU:-}
if [ -z "${qemu}" ]; then
	qemu="qemu-system-x86_64"
	[ -x "${images}/../host/bin/qemu-system-x86_64" ] && qemu=${images}/../host/bin/qemu-system-x86_64
fi
tries=3
env_block=256 # 1 MiB in 4 KiB blocks

order="A B"
left_A=${tries}
left_B=${tries}
env=$(dd if="${disk}" bs=4096 skip=${env_block} count=1 2>/dev/null | tr -d '\000')
while IFS='=' read -r k v; do
	case "${k}" in
	BOOT_ORDER) order=${v} ;;
	BOOT_A_LEFT) left_A=${v} ;;
	BOOT_B_LEFT) left_B=${v} ;;
	esac
done <<EOF
${env}
EOF
case "${left_A}${left_B}" in
*[!0-9]* | "")
	echo "start-qemu.sh: bad boot state in ${disk}" >&2
	exit 1
	;;
esac

slot=
for s in ${order}; do
	case "${s}" in
	A) [ "${left_A}" -gt 0 ] && { slot=A; left_A=$((left_A - 1)); } ;;
	B) [ "${left_B}" -gt 0 ] && { slot=B; left_B=$((left_B - 1)); } ;;
	esac
	[ -n "${slot}" ] && break
done
if [ -z "${slot}" ]; then
	slot=${order%% *}
	left_A=${tries}
	left_B=${tries}
	if [ "${slot}" = A ]; then left_A=$((tries - 1)); else left_B=$((tries - 1)); fi
fi
printf 'BOOT_ORDER=%s\nBOOT_A_LEFT=%s\nBOOT_B_LEFT=%s\n' "${order}" "${left_A}" "${left_B}" |
	dd of="${disk}" bs=4096 seek=${env_block} count=1 iflag=fullblock conv=notrunc,sync status=none
part=2
[ "${slot}" = B ] && part=3
echo "start-qemu.sh: booting slot ${slot} (/dev/vda${part}); tries left A=${left_A} B=${left_B}" >&2

cmdline="console=ttyS0 root=/dev/vda${part} rauc.slot=${slot} rootwait ro panic=5 fsck.repair=yes"
if [ -n "${API_PORT:-}" ]; then
	cmdline="${cmdline} net.ifnames=0 ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off"
	set -- -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:${API_PORT}-:38088" \
		-device virtio-net-pci,netdev=n0 "$@"
	echo "start-qemu.sh: debug network: API on 127.0.0.1:${API_PORT}" >&2
else
	set -- -nic none "$@"
fi

exec "${qemu}" -M pc -m 1024 -smp 1 -nographic -no-reboot \
	-kernel "${kernel}" \
	-append "${cmdline}" \
	-drive "file=${disk},if=virtio,format=raw" \
	"$@"
