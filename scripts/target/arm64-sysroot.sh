#!/usr/bin/env bash
# Builds (once, then cached) what `npm run test:arm64` runs voiceid with: Debian trixie's arm64 Node.js
# unpacked into a sysroot, and trixie's qemu-user (10.x; bookworm's 7.2 crashes onnxruntime at load,
# whose CPU detection then reads the host's x86 /proc/cpuinfo). Both come from Debian packages,
# downloaded with a private apt configuration so the host's dpkg architectures stay untouched.
# Prints the directory; inside: qemu-aarch64 and sysroot/ (run: qemu-aarch64 -L sysroot sysroot/usr/bin/node).
set -euo pipefail

cache="${VOICEID_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/voiceid-test}/arm64"
# The packages' closure is resolved by apt; bump this when the list below changes.
stamp="$cache/ready-1"
if [ -e "$stamp" ]; then
  echo "$cache"
  exit 0
fi

command -v apt-get >/dev/null || { echo "arm64-sysroot.sh: needs apt-get (Debian or Ubuntu)" >&2; exit 1; }
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || { echo "arm64-sysroot.sh: $keyring missing (apt-get install debian-archive-keyring)" >&2; exit 1; }

rm -rf "$cache"
apt_dir="$cache/apt"
mkdir -p "$apt_dir"/{etc/apt.conf.d,etc/preferences.d,etc/sources.list.d,state/lists/partial,archives/partial}
touch "$apt_dir/state/status"
echo "deb [arch=arm64,amd64 signed-by=$keyring] http://deb.debian.org/debian trixie main" >"$apt_dir/etc/sources.list"
cat >"$apt_dir/apt.conf" <<CONF
Dir::Etc "$apt_dir/etc";
Dir::State "$apt_dir/state";
Dir::State::status "$apt_dir/state/status";
Dir::Cache "$apt_dir";
Dir::Cache::archives "$apt_dir/archives";
APT::Architecture "arm64";
APT::Architectures { "arm64"; "amd64"; };
Debug::NoLocking "true";
APT::Sandbox::User "root";
CONF
export APT_CONFIG="$apt_dir/apt.conf"
apt-get update -qq
# An empty dpkg status: apt downloads nodejs's whole closure (about 23 packages), and qemu-user, which
# trixie builds static.
apt-get install --download-only -y -qq --no-install-recommends nodejs:arm64 qemu-user:amd64 >/dev/null

sysroot="$cache/sysroot"
mkdir -p "$sysroot"
for deb in "$apt_dir"/archives/*_arm64.deb "$apt_dir"/archives/*_all.deb; do
  dpkg-deb -x "$deb" "$sysroot"
done
# The arm64 dynamic loader is /lib/ld-linux-aarch64.so.1; Debian ships it under usr/lib (merged /usr).
[ -e "$sysroot/lib" ] || ln -s usr/lib "$sysroot/lib"
qemu_dir="$cache/qemu"
dpkg-deb -x "$apt_dir"/archives/qemu-user_*_amd64.deb "$qemu_dir"
ln -sf qemu/usr/bin/qemu-aarch64 "$cache/qemu-aarch64"
"$cache/qemu-aarch64" -L "$sysroot" -cpu cortex-a72 "$sysroot/usr/bin/node" -e 'process.exit(process.arch === "arm64" ? 0 : 1)' ||
  { echo "arm64-sysroot.sh: the emulated node does not run" >&2; exit 1; }
rm -rf "$apt_dir/archives" "$apt_dir/state/lists"
touch "$stamp"
echo "$cache"
