#!/usr/bin/env bash
# Installs what the project needs on a Debian 12 machine. Idempotent: what is present is skipped
# quickly. Needs root (or sudo).
#   install-deps.sh run   what building and running the daemon needs (scripts/run-dev.sh)
#   install-deps.sh       that, plus the test and benchmark tools (scripts/test.sh, bench.sh)
set -euo pipefail
mode=${1:-all}

# Building and running the daemon.
APT_PACKAGES=(
  pkg-config libclang-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  libudev-dev libturbojpeg0-dev
  fonts-wqy-zenhei
  cmake g++        # zxing-cpp (the barcode reader) is built from source
  libpcsclite-dev  # PC/SC cards (the library the daemon links)
)
if [ "$mode" != run ]; then
  APT_PACKAGES+=(
    gstreamer1.0-tools gstreamer1.0-x
    poppler-utils libtiff-tools qpdf   # qpdf --check reads the signed PDFs
    poppler-data fonts-urw-base35      # pdftoppm as the rendering reference: CID CMaps, standard fonts
    pcscd vsmartcard-vpcd   # the tests run a private pcscd with virtual cards
    rauc squashfs-tools mmdebstrap e2fsprogs fdisk openssl   # the firmware test image and its update bundles
    shellcheck
    chromium   # tests/browser: the device's pages in headless chromium (driven by playwright-core)
    cog        # tests/rig/signpad.sh: sign=browser's kiosk browser (WPE, DRM platform) on vkms
    python3-pil python3-numpy   # tests/rig guest scripts run /usr/bin/python3 (golden images)
  )
fi
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}" ${EXTRA_APT_PACKAGES:-}; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_ apt-get -o DPkg::Lock::Timeout=600 update -qq
  sudo_ apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Test and benchmark peers: independent readers of the documents the device writes (pypdf,
# poppler, libtiff through Pillow, easyofd for OFD), the tools it is measured against (img2pdf,
# zxing-cpp), the OpenAPI document's validators (openapi-spec-validator, jsonschema) and an
# independent PDF writer for the rendering corpus (reportlab).
PIP_PACKAGES=(pytest requests websocket-client pillow numpy pypdf img2pdf zxing-cpp easyofd
              openapi-spec-validator jsonschema reportlab)
if [ "$mode" != run ] && ! python3 -c "import pytest, requests, websocket, PIL, numpy, pypdf, img2pdf, zxingcpp, easyofd, openapi_spec_validator, jsonschema, reportlab" 2>/dev/null; then
  echo "install-deps: python packages: ${PIP_PACKAGES[*]}"
  python3 -m pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
fi

# tests/browser's node packages (playwright-core, jquery, axios), as its package-lock.json pins
# them; skipped while node_modules matches the lock file. Node.js and npm come with the machine.
browser_dir="$(dirname "$0")/../tests/browser"
if [ "$mode" != run ] && [ -f "$browser_dir/package-lock.json" ]; then
  lock_sum=$(sha256sum "$browser_dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$browser_dir/node_modules/.lock-sha256" 2>/dev/null)" != "$lock_sum" ]; then
    if ! command -v npm >/dev/null; then
      echo "install-deps: npm (Node.js 20) is required for tests/browser and was not found on PATH" >&2
      exit 1
    fi
    echo "install-deps: npm ci (tests/browser)"
    (cd "$browser_dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_sum" >"$browser_dir/node_modules/.lock-sha256"
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo (Rust) is required and was not found on PATH" >&2
  exit 1
fi

# The fuzz tier: a nightly toolchain and cargo-fuzz (libFuzzer).
if [ "$mode" != run ] && [ "${INSTALL_FUZZ:-1}" = 1 ]; then
  if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "install-deps: rust nightly (for cargo fuzz)"
    rustup toolchain install nightly --profile minimal >/dev/null
  fi
  if ! command -v cargo-fuzz >/dev/null; then
    echo "install-deps: cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
  fi
fi
