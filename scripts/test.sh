#!/usr/bin/env bash
# The whole test suite: lint, unit tests, black-box tests against the built daemon, and the
# kernel-device tests in the QEMU rig. TEST_TIERS=lint,unit,e2e,rig selects tiers (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
tiers=",${TEST_TIERS:-lint,unit,e2e,rig},"
has() { [[ "$tiers" == *",$1,"* ]]; }
step() { printf '\n=== %s ===\n' "$*"; }
t0=$SECONDS

step "dependencies"
bash scripts/install-deps.sh

if has lint; then
  step "lint: cargo fmt --check, cargo clippy -D warnings"
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets --quiet -- -D warnings
fi

if has unit; then
  step "unit tests: cargo test"
  cargo test --workspace --quiet
fi

if has e2e; then
  step "black-box tests against the built daemon (tests/e2e)"
  # The daemon and the device simulators (devsim) the tests drive.
  cargo build --quiet -p cameraserviced -p cards --bins
  python3 -m pytest -q tests/e2e
fi

if has rig; then
  step "QEMU rig smoke suite: vivid, uinput/evdev, USB gadget, vkms, v4l2loopback (tests/rig)"
  bash tests/rig/smoke.sh
  step "cameras against the kernel's vivid driver in the QEMU rig"
  cargo build --quiet -p cameraserviced
  bash tests/rig/camera-vivid.sh
fi

step "all tiers passed in $((SECONDS - t0)) s"
