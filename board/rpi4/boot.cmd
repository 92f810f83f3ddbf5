# U-Boot boot script of the CameraService appliance, Raspberry Pi 4 / CM4 (64-bit).
# board/rpi4/post-image.sh compiles it to boot.scr (mkimage -T script) on the boot partition,
# where U-Boot's standard boot (bootcmd "bootflow scan") finds and runs it.
#
# A/B root file systems with boot counting, in the variables of RAUC's U-Boot boot loader
# backend (bootloader=uboot in /etc/rauc/system.conf; RAUC changes them with fw_setenv):
#   BOOT_ORDER    slots by priority, "A B" when unset
#   BOOT_A_LEFT   tries left for slot A (rootfs /dev/mmcblk0p2), 3 when unset
#   BOOT_B_LEFT   tries left for slot B (rootfs /dev/mmcblk0p3), 3 when unset
# Every boot takes the first slot in BOOT_ORDER with tries left, counts one try down, saves the
# environment (uboot.env on the boot partition) and boots that slot. rauc-mark-good.service gives
# the booted slot its tries back once the daemon is up; a slot that never gets there runs out of
# tries and the next one in the order boots. When no slot has tries left, every slot gets its
# tries back and the board resets. A slot whose kernel cannot be loaded (an empty slot B, a
# damaged file system) loses its remaining tries and the board resets.
#
# The kernel and the device tree come from the slot's own root file system (/boot/Image,
# /boot/<fdtfile>; board/rpi4/post-build.sh installs them), so an update also updates them. The
# device tree gets the overlays that config.txt gives the firmware (listed below, from the
# slot's /boot/overlays) and the board's serial number from the firmware's device tree; if an
# overlay does not apply, the firmware's own device tree is used instead. U-Boot itself copies
# the memory layout and the other firmware settings into it (ft_board_setup).
#
# Variables of U-Boot's default environment used here: devtype, devnum (the device this script
# was found on, set by bootflow), fdtfile (the board's device tree, set by the board code),
# fdt_addr (the firmware's device tree), kernel_addr_r, fdt_addr_r, ramdisk_addr_r. Temporary
# values are hush variables (not saved by saveenv), except cs_fw_serial, which "fdt get" needs in
# the environment and which is deleted again.
#
# Only commands of rpi_4_defconfig: hush (old parser), test, setexpr, load (ext4), fdt, booti.
# Keep the number of tries a single digit: setexpr counts in hexadecimal. No apostrophes in echo
# texts or in comments inside if/for blocks: hush takes them for quotes (syntax error).

# Kernel command line apart from root= and rauc.slot=: a kernel panic restarts the board after 5 s
# (the try is counted, so a slot whose kernel cannot come up falls back), fsck repairs without asking.
cs_args="rootfstype=ext4 rootwait ro panic=5 fsck.repair=yes console=tty1 console=ttyAMA0,115200"
# Firmware overlays that config.txt loads (dtoverlay=), applied to the slot's device tree; the
# USB-C port's controller and its mode (dr_mode=peripheral in config.txt).
cs_overlays="dwc2 miniuart-bt"
cs_usb_node=/soc/usb@7e980000
cs_usb_mode=peripheral

# Set by the board code at every start: kept out of uboot.env, so that the card also boots in
# another board model (Pi 4 B, Pi 400, CM4).
cs_fdtfile=${fdtfile}
setenv fdtfile

# ---------------------------------------------------------------------------------------------
# Boot state
if test -z "${BOOT_ORDER}"; then setenv BOOT_ORDER "A B"; fi
if test -z "${BOOT_A_LEFT}"; then setenv BOOT_A_LEFT 3; fi
if test -z "${BOOT_B_LEFT}"; then setenv BOOT_B_LEFT 3; fi

cs_slot=none
cs_known=no
for cs_s in ${BOOT_ORDER}; do
	if test "${cs_s}" = A -o "${cs_s}" = B; then cs_known=yes; fi
	if test "${cs_slot}" = none; then
		if test "${cs_s}" = A -a ${BOOT_A_LEFT} -gt 0; then
			setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
			cs_slot=A
			cs_part=2
		elif test "${cs_s}" = B -a ${BOOT_B_LEFT} -gt 0; then
			setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
			cs_slot=B
			cs_part=3
		fi
	fi
done

if test "${cs_slot}" = none; then
	echo "boot.scr: no slot has tries left (BOOT_ORDER=${BOOT_ORDER}): all slots get 3 tries again"
	setenv BOOT_A_LEFT 3
	setenv BOOT_B_LEFT 3
	# an order without a known slot would never boot
	if test "${cs_known}" = no; then setenv BOOT_ORDER "A B"; fi
	saveenv
	reset
fi

echo "boot.scr: booting slot ${cs_slot} (BOOT_ORDER=${BOOT_ORDER}, tries left A=${BOOT_A_LEFT} B=${BOOT_B_LEFT})"
if saveenv; then
	true
else
	echo "boot.scr: WARNING: could not save the environment: this try is not counted"
fi

# ---------------------------------------------------------------------------------------------
# Kernel and device tree from the slot
cs_if=mmc
cs_dev=0
if test -n "${devtype}"; then cs_if=${devtype}; fi
if test -n "${devnum}"; then cs_dev=${devnum}; fi
cs_fdt=${fdt_addr}
if load ${cs_if} ${cs_dev}:${cs_part} ${kernel_addr_r} /boot/Image; then
	if load ${cs_if} ${cs_dev}:${cs_part} ${fdt_addr_r} /boot/${cs_fdtfile}; then
		fdt addr ${fdt_addr_r}
		fdt resize 0x10000
		cs_dt=ok
		for cs_o in ${cs_overlays}; do
			if test "${cs_dt}" = ok; then
				if load ${cs_if} ${cs_dev}:${cs_part} ${ramdisk_addr_r} /boot/overlays/${cs_o}.dtbo; then
					if fdt apply ${ramdisk_addr_r}; then
						true
					else
						echo "boot.scr: overlay ${cs_o} does not apply"
						cs_dt=bad
					fi
				else
					echo "boot.scr: no overlay /boot/overlays/${cs_o}.dtbo in slot ${cs_slot}"
					cs_dt=bad
				fi
			fi
		done
		if test "${cs_dt}" = ok; then
			if fdt set ${cs_usb_node} dr_mode ${cs_usb_mode}; then
				true
			else
				echo "boot.scr: WARNING: no ${cs_usb_node} in the device tree"
			fi
			# the serial number of the board, as the firmware reports it (USB gadget addresses, API)
			fdt addr ${fdt_addr}
			if fdt get value cs_fw_serial / serial-number; then
				true
			else
				setenv cs_fw_serial "${serial#}"
			fi
			fdt addr ${fdt_addr_r}
			if test -n "${cs_fw_serial}"; then fdt set / serial-number "${cs_fw_serial}"; fi
			setenv cs_fw_serial
			cs_fdt=${fdt_addr_r}
		else
			echo "boot.scr: WARNING: the device tree of slot ${cs_slot} is unusable: using the one of the firmware"
		fi
	else
		echo "boot.scr: WARNING: no /boot/${cs_fdtfile} in slot ${cs_slot}: using the device tree of the firmware"
	fi

	setenv bootargs "root=/dev/mmcblk0p${cs_part} rauc.slot=${cs_slot} ${cs_args}"
	booti ${kernel_addr_r} - ${cs_fdt}
fi

# Only reached when the slot does not boot: it gets no more tries.
echo "boot.scr: slot ${cs_slot} does not boot: no tries left for it"
setenv bootargs
setenv BOOT_${cs_slot}_LEFT 0
saveenv
reset
