#!/usr/bin/env bash
# Builds (once, then cached) the Debian trixie root filesystem `npm run test:systemd` boots with
# systemd-nspawn: systemd as PID 1, Node.js for the service, mosquitto as the broker the service talks
# to, alsa-utils for its recorder, ca-certificates as on a Raspberry Pi OS image. About 2 minutes the first time. Prints the directory.
set -euo pipefail

cache="${VOICEID_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/voiceid-test}/systemd"
# Bump when the package list changes.
stamp="$cache/ready-3"
if [ -e "$stamp" ]; then
  echo "$cache/rootfs"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "systemd-rootfs.sh: must run as root (debootstrap, systemd-nspawn)" >&2; exit 1; }
for tool in debootstrap systemd-nspawn; do
  command -v "$tool" >/dev/null || { echo "systemd-rootfs.sh: $tool missing (apt-get install debootstrap systemd-container)" >&2; exit 1; }
done

rm -rf "$cache"
mkdir -p "$cache"
# debootstrap fails with npm in the list; voiceid's installer needs no npm (it copies node_modules).
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,libnss-systemd,dbus,ca-certificates,nodejs,alsa-utils,mosquitto,mosquitto-clients \
  trixie "$cache/rootfs" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
  { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
rootfs="$cache/rootfs"
# A machine of its own: no console login to wait for, a name for the journal.
echo voiceid-test >"$rootfs/etc/hostname"
# minbase writes no /etc/hosts; the example configuration's broker is mqtt://localhost:1883.
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tvoiceid-test\n' >"$rootfs/etc/hosts"
rm -f "$rootfs/etc/machine-id" && touch "$rootfs/etc/machine-id"
ln -sf /dev/null "$rootfs/etc/systemd/system/console-getty.service"
ln -sf /dev/null "$rootfs/etc/systemd/system/getty@.service"
rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
touch "$stamp"
echo "$rootfs"
