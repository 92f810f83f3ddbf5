#!/usr/bin/env bash
# The whole test suite: lint, unit tests, black-box tests against the built daemon, and the
# kernel-device tests in the QEMU rig, short fuzz runs of the card parsers, and the firmware's test
# image booted under QEMU (systemd, USB gadget, RAUC updates); the reliability tier abuses the
# built daemon the way a hostile page could (tests/reliability); the browser tier opens the
# device's own pages (demo at /, image editor) in headless chromium (tests/browser).
# TEST_TIERS=lint,unit,e2e,browser,reliability,rig,fuzz,image selects tiers (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
tiers=",${TEST_TIERS:-lint,unit,e2e,browser,reliability,rig,fuzz,image},"
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
    tests/image/*.sh tests/image/guest/* tests/units/check.sh tests/browser/run.sh
fi

if has unit; then
  step "unit tests: cargo test"
  cargo test --workspace --quiet
fi

if has e2e; then
  step "black-box tests against the built daemon (tests/e2e)"
  # The daemon, the device simulators (devsim) the tests drive, and pdfview-render (the device's
  # PDF renderer on its own, compared with pdftoppm).
  cargo build --quiet -p cameraserviced -p devsim -p pdfview --bins
  bash tests/units/check.sh   # systemd units: verify, security exposure
  # The replies the tests receive are recorded, then checked against the OpenAPI document.
  replies=$(mktemp)
  trap 'rm -f "$replies"' EXIT
  CAMERASERVICE_RECORD_REPLIES="$replies" python3 -m pytest -q tests/e2e
  step "OpenAPI document: generated, valid, served by the daemon; the recorded replies against it (tests/openapi)"
  CAMERASERVICE_RECORD_REPLIES="$replies" python3 -m pytest -q tests/openapi
fi

if has browser; then
  step "browser: the demo page and the image editor in headless chromium, cross-origin callers (tests/browser)"
  cargo build --quiet -p cameraserviced -p devsim --bins
  bash tests/browser/run.sh
fi

if has reliability; then
  step "reliability: what a hostile page can send does not take the daemon down (tests/reliability)"
  cargo build --quiet -p cameraserviced -p devsim --bins
  python3 -m pytest -q tests/reliability
fi

if has rig; then
  step "QEMU rig smoke suite: vivid, uinput/evdev, USB gadget, vkms, v4l2loopback (tests/rig)"
  bash tests/rig/smoke.sh
  step "cameras against the kernel's vivid driver in the QEMU rig"
  cargo build --quiet -p cameraserviced
  bash tests/rig/camera-vivid.sh
  step "HID magnetic stripe reader (uinput keyboard) in the QEMU rig"
  bash tests/rig/magstripe.sh
  step "signing screen on vkms (DRM/KMS) with a uinput pen in the QEMU rig"
  bash tests/rig/signpad.sh
fi

if has fuzz; then
  step "fuzz: card parsers, URL grammar, request bodies, parameters, image headers (cargo fuzz, ${FUZZ_SECONDS:-20} s each)"
  fuzz_log=$(mktemp)
  # fuzz project : targets
  for set in "firmware/cards/fuzz:sam_frame tlv card_text" "firmware/fuzz:url body params image_probe"; do
    dir=${set%%:*}
    for target in ${set#*:}; do
      if ! (cd "$(dirname "$dir")" && cargo +nightly fuzz run --fuzz-dir "$(basename "$dir")" "$target" -- \
            -max_total_time="${FUZZ_SECONDS:-20}" -rss_limit_mb=1024 >"$fuzz_log" 2>&1); then
        tail -40 "$fuzz_log"
        echo "fuzz target $target failed (crash input under $dir/artifacts/)" >&2
        exit 1
      fi
      echo "$target: $(grep -E '^Done' "$fuzz_log" | tail -1)"
    done
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
