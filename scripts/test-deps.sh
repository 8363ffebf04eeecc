#!/usr/bin/env bash
# What `npm test` needs beyond the set-up (scripts/setup.sh), installed when missing (`npm test` runs
# this first): Debian's Chromium, which the web page's tests drive headless with
# playwright-core, and the reference Wyoming implementation (PyPI wyoming, pure Python, ~70 kB) that
# the Wyoming proxy's tests talk to. The daemon needs neither.
set -euo pipefail

if ! command -v chromium >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null && { [ -z "$sudo" ] || command -v sudo >/dev/null; }; then
    echo "installing chromium (the web page's tests drive it)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
  else
    echo "note: please install chromium: the web page's tests need it (no apt-get/sudo to install it)" >&2
  fi
fi
# Debian's own Python refuses plain pip installs (PEP 668), hence the fallback.
if ! python3 -c "import wyoming" 2>/dev/null; then
  echo "installing wyoming 1.10.2 (the Wyoming proxy's tests talk to it)"
  python3 -m pip install --quiet --disable-pip-version-check wyoming==1.10.2 ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages wyoming==1.10.2
fi
