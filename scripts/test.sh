#!/usr/bin/env bash
# The whole test suite: lint, unit tests, black-box tests against the built daemon, and the
# kernel-device tests in the QEMU rig, short fuzz runs of the card parsers, and the firmware's test
# image booted under QEMU (systemd, USB gadget, RAUC updates).
# TEST_TIERS=lint,unit,e2e,rig,fuzz,image selects tiers (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
tiers=",${TEST_TIERS:-lint,unit,e2e,rig,fuzz,image},"
has() { [[ "$tiers" == *",$1,"* ]]; }
step() { printf '\n=== %s ===\n' "$*"; }
t0=$SECONDS

step "dependencies"
bash scripts/install-deps.sh

if has lint; then
  step "lint: cargo fmt --check, cargo clippy -D warnings"
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets --quiet -- -D warnings
  step "lint: shellcheck on the firmware's and the image tier's shell scripts"
  shellcheck -S warning systemd/*.sh board/*.sh board/*/*.sh board/common/*.sh board/*/rootfs-overlay/usr/lib/cameraservice/* \
    tests/image/*.sh tests/image/guest/* tests/units/check.sh
fi

if has unit; then
  step "unit tests: cargo test"
  cargo test --workspace --quiet
fi

if has e2e; then
  step "black-box tests against the built daemon (tests/e2e)"
  # The daemon and the device simulators (devsim) the tests drive.
  cargo build --quiet -p cameraserviced -p cards --bins
  bash tests/units/check.sh   # systemd units: verify, security exposure
  python3 -m pytest -q tests/e2e
fi

if has rig; then
  step "QEMU rig smoke suite: vivid, uinput/evdev, USB gadget, vkms, v4l2loopback (tests/rig)"
  bash tests/rig/smoke.sh
  step "cameras against the kernel's vivid driver in the QEMU rig"
  cargo build --quiet -p cameraserviced
  bash tests/rig/camera-vivid.sh
  step "HID magnetic stripe reader (uinput keyboard) in the QEMU rig"
  bash tests/rig/magstripe.sh
fi

if has fuzz; then
  step "fuzz: card frame, TLV and text parsers (cargo fuzz, ${FUZZ_SECONDS:-20} s each)"
  fuzz_log=$(mktemp)
  for target in sam_frame tlv card_text; do
    if ! (cd firmware/cards && cargo +nightly fuzz run "$target" -- \
          -max_total_time="${FUZZ_SECONDS:-20}" >"$fuzz_log" 2>&1); then
      tail -40 "$fuzz_log"
      echo "fuzz target $target failed (crash input under firmware/cards/fuzz/artifacts/)" >&2
      exit 1
    fi
    echo "$target: $(grep -E '^Done' "$fuzz_log" | tail -1)"
  done
  rm -f "$fuzz_log"
fi

if has image; then
  step "firmware test image under QEMU: systemd units, watchdog, USB gadget + DHCP + mDNS, RAUC A/B (tests/image)"
  cargo build --quiet -p cameraserviced
  bash tests/image/build.sh
  IMAGE_RESULTS_DIR=$(mktemp -d) python3 -m pytest -q -s -p no:cacheprovider tests/image/test_image.py
fi

step "all tiers passed in $((SECONDS - t0)) s"
