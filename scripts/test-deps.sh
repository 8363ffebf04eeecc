#!/usr/bin/env bash
# What `npm test` needs beyond the set-up (scripts/setup.sh), installed when missing (`npm test` runs
# this first): Debian's Chromium, which the web page's tests drive headless with playwright-core, and
# the reference Wyoming implementation (PyPI wyoming, pure Python, ~70 kB) that the Wyoming proxy's
# tests talk to. The daemon needs neither. What cannot be installed is said, and the other tests run.
set -uo pipefail

if ! command -v chromium >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing chromium (the web page's tests drive it)"
  if ! command -v apt-get >/dev/null || { [ -n "$sudo" ] && ! command -v sudo >/dev/null; } ||
    ! { $sudo apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium; }; then
    echo "note: chromium could not be installed: the web page's tests (test/web/) will fail" >&2
  fi
fi
# Debian's own Python refuses plain pip installs (PEP 668), hence the fallback.
if ! python3 -c "import wyoming" 2>/dev/null; then
  echo "installing wyoming 1.10.2 (the Wyoming proxy's tests talk to it)"
  python3 -m pip install --quiet --disable-pip-version-check wyoming==1.10.2 ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages wyoming==1.10.2 ||
    echo "note: wyoming could not be installed: the Wyoming proxy's tests (test/wyoming/) will fail" >&2
fi
exit 0
