#!/usr/bin/env bash
# Set up voiceid from a checkout: npm packages, TypeScript build, models fetched and verified.
# Safe to run again: it only fetches what is missing and re-verifies what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "voiceid needs Node.js >= 20 (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
if ! command -v arecord >/dev/null && ! command -v sox >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends alsa-utils
  else
    echo "note: no arecord/sox found; install alsa-utils (sudo apt-get install alsa-utils) to use a microphone" >&2
  fi
fi

# onnxruntime-node would download CUDA files at install; its CPU binaries ship in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
npm run build
node dist/cli/main.js models fetch
