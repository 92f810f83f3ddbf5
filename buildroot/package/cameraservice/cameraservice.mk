################################################################################
#
# cameraservice
#
################################################################################

# The Cargo workspace at the root of this repository (one level above
# the br2-external tree), built in place of a release tarball.
CAMERASERVICE_SITE = $(BR2_EXTERNAL_CAMERASERVICE_PATH)/..
CAMERASERVICE_SITE_METHOD = local
CAMERASERVICE_LICENSE = Proprietary

# Build outputs of a developer's checkout (target/, also the fuzz
# workspace's) are not sources: never copy them into the build directory.
CAMERASERVICE_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=target/ --exclude=.pytest_cache/

# - host-clang: the v4l crate (v4l2-sys-mit) runs bindgen, which loads
#   libclang at build time.
# - cmake: the barcode crate builds the bundled zxing-cpp C++ sources.
# - pkg-config finds GStreamer, libturbojpeg and libpcsclite.
CAMERASERVICE_DEPENDENCIES = \
	host-clang \
	host-pkgconf \
	$(BR2_CMAKE_HOST_DEPENDENCY) \
	gstreamer1 \
	gst1-plugins-base \
	jpeg \
	pcsc-lite

# Only the daemon: the workspace also holds libraries and the devsim
# simulator binary.
# Without the simulated devices (cargo feature "sim"): the image serves real hardware only.
CAMERASERVICE_CARGO_BUILD_OPTS = -p cameraserviced --bin cameraserviced --no-default-features

CAMERASERVICE_CARGO_ENV = \
	LIBCLANG_PATH=$(HOST_DIR)/lib \
	BINDGEN_EXTRA_CLANG_ARGS="--sysroot=$(STAGING_DIR) --target=$(RUSTC_TARGET_NAME)" \
	CMAKE=$(BR2_CMAKE) \
	CMAKE_TOOLCHAIN_FILE_$(subst -,_,$(RUSTC_TARGET_NAME))=$(HOST_DIR)/share/buildroot/toolchainfile.cmake

# The cargo infrastructure vendors the crates when it downloads a
# tarball; a local package is never downloaded, so vendor them here,
# once host-rustc is available. This step needs the crate registry unless the
# cargo cache (BR_CARGO_HOME) already holds every crate of Cargo.lock.
define CAMERASERVICE_VENDOR_CRATES
	if [ ! -e $(@D)/.stamp_cargo_vendored ]; then \
		mkdir -p $(@D)/.cargo $(BR_CARGO_HOME) && \
		cd $(@D) && \
		rm -rf VENDOR && \
		$(TARGET_MAKE_ENV) $(PKG_COMMON_CARGO_ENV) \
			flock $(BR_CARGO_HOME)/.br-lock \
			cargo vendor --manifest-path Cargo.toml --locked VENDOR \
			> .cargo/config.toml.tmp && \
		mv .cargo/config.toml.tmp .cargo/config.toml && \
		touch .stamp_cargo_vendored; \
	fi
endef
CAMERASERVICE_PRE_CONFIGURE_HOOKS += CAMERASERVICE_VENDOR_CRATES

CAMERASERVICE_PROFILE_DIR = $(if $(BR2_ENABLE_DEBUG),debug,release)

# The workspace root is a virtual manifest, so the infrastructure's
# "cargo install --path ./" cannot be used: install the built binary.
define CAMERASERVICE_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 \
		$(@D)/target/$(RUSTC_TARGET_NAME)/$(CAMERASERVICE_PROFILE_DIR)/cameraserviced \
		$(TARGET_DIR)/usr/bin/cameraserviced
	$(INSTALL) -D -m 0644 $(@D)/systemd/cameraservice.sysusers \
		$(TARGET_DIR)/usr/lib/sysusers.d/cameraservice.conf
	mkdir -p $(TARGET_DIR)/usr/share/fonts/truetype/wqy
	ln -sf ../../wqy-zenhei/wqy-zenhei.ttc \
		$(TARGET_DIR)/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
endef

# Every unit in systemd/ (the daemon, the USB gadget, RAUC mark-good and
# any added later), the scripts next to them (foo.sh becomes
# /usr/lib/cameraservice/foo, the path the units run), and the network
# and resolved drop-ins. "systemctl preset-all" enables the units that
# systemd/50-cameraservice.preset lists.
define CAMERASERVICE_INSTALL_INIT_SYSTEMD
	for f in $(@D)/systemd/*.service $(@D)/systemd/*.path $(@D)/systemd/*.timer; do \
		[ -e "$${f}" ] || continue; \
		$(INSTALL) -D -m 0644 $${f} \
			$(TARGET_DIR)/usr/lib/systemd/system/$${f##*/} || exit 1; \
	done
	$(INSTALL) -D -m 0644 $(@D)/systemd/50-cameraservice.preset \
		$(TARGET_DIR)/usr/lib/systemd/system-preset/50-cameraservice.preset
	for f in $(@D)/systemd/*.sh; do \
		[ -e "$${f}" ] || continue; \
		n=$${f##*/}; \
		$(INSTALL) -D -m 0755 $${f} \
			$(TARGET_DIR)/usr/lib/cameraservice/$${n%.sh} || exit 1; \
	done
	for f in $(@D)/systemd/network/*.network \
		$(@D)/systemd/network/*.netdev \
		$(@D)/systemd/network/*.link; do \
		[ -e "$${f}" ] || continue; \
		$(INSTALL) -D -m 0644 $${f} \
			$(TARGET_DIR)/usr/lib/systemd/network/$${f##*/} || exit 1; \
	done
	for f in $(@D)/systemd/resolved.conf.d/*.conf; do \
		[ -e "$${f}" ] || continue; \
		$(INSTALL) -D -m 0644 $${f} \
			$(TARGET_DIR)/usr/lib/systemd/resolved.conf.d/$${f##*/} || exit 1; \
	done
endef

# The same user as systemd/cameraservice.sysusers, created when the
# image is built: the root filesystem is read-only, so systemd-sysusers
# could not add it at boot. The pcscd group owns the smart card
# readers (board/rootfs-overlay/etc/udev/rules.d/70-cameraservice.rules).
define CAMERASERVICE_USERS
	cameraservice -1 cameraservice -1 * /var/lib/cameraservice - video,input,dialout CameraService daemon
	- - pcscd -1 * - - - PC/SC smart card readers
endef

# libturbojpeg only comes with jpeg-turbo, not with libjpeg.
ifeq ($(BR2_PACKAGE_CAMERASERVICE)$(BR_BUILDING),yy)
ifneq ($(BR2_PACKAGE_JPEG_TURBO),y)
$(error cameraservice needs libturbojpeg: select jpeg-turbo as the jpeg variant (BR2_PACKAGE_JPEG_TURBO))
endif
endif

$(eval $(cargo-package))
