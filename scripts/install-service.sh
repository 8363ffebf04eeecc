#!/usr/bin/env bash
# Install (or remove) voiceid as a systemd service. Idempotent: run it again after an update.
#
#   sudo scripts/install-service.sh              copy this checkout to /opt/voiceid, install and start
#   sudo scripts/install-service.sh --link       point /opt/voiceid at this checkout instead of copying
#   sudo scripts/install-service.sh --no-start   install and enable, but do not start now
#   sudo scripts/install-service.sh --uninstall  stop and remove the service and /opt/voiceid
#                                                (keeps /etc/voiceid, /var/lib/voiceid and the user)
#   sudo scripts/install-service.sh --uninstall --purge   also remove config, data and the user
#   scripts/install-service.sh --dry-run [...]   print what would be done (no root needed)
#
# Set up first (./scripts/setup.sh) so dist/ and models/ exist.
set -euo pipefail

APP_DIR=/opt/voiceid
CONFIG_DIR=/etc/voiceid
DATA_DIR=/var/lib/voiceid
UNIT_PATH=/etc/systemd/system/voiceid.service
SERVICE_USER=voiceid
SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

mode=install
link=false
start=true
purge=false
dry_run=false

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
  echo "install-service.sh: $*" >&2
  exit 1
}

# Runs a command, or prints it under --dry-run.
run() {
  if "$dry_run"; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

while [ $# -gt 0 ]; do
  case "$1" in
    --uninstall) mode=uninstall ;;
    --purge) purge=true ;;
    --link) link=true ;;
    --no-start) start=false ;;
    --dry-run) dry_run=true ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      die "unknown option: $1"
      ;;
  esac
  shift
done

if ! "$dry_run" && [ "$(id -u)" -ne 0 ]; then
  die "must run as root (it creates a system user and installs a systemd unit); try: sudo $0"
fi
if "$purge" && [ "$mode" != uninstall ]; then
  die "--purge only goes with --uninstall"
fi

have_systemd() {
  [ -d /run/systemd/system ] && command -v systemctl >/dev/null
}

uninstall() {
  if have_systemd; then
    if systemctl list-unit-files voiceid.service >/dev/null 2>&1; then
      run systemctl disable --now voiceid.service || true
    fi
  fi
  if [ -e "$UNIT_PATH" ]; then
    run rm -f "$UNIT_PATH"
  fi
  if have_systemd; then
    run systemctl daemon-reload
  fi
  if [ -L "$APP_DIR" ]; then
    run rm -f "$APP_DIR"
  elif [ -d "$APP_DIR" ]; then
    run rm -rf "$APP_DIR"
  fi
  if "$purge"; then
    run rm -rf "$CONFIG_DIR" "$DATA_DIR"
    if id "$SERVICE_USER" >/dev/null 2>&1; then
      run userdel "$SERVICE_USER"
    fi
    echo "voiceid removed, including its configuration, data and user."
  else
    echo "voiceid removed. Kept: $CONFIG_DIR, $DATA_DIR and user $SERVICE_USER (--purge removes them)."
  fi
}

check_prerequisites() {
  # The unit runs /usr/bin/node (no PATH lookup under systemd); nvm installs in a home are hidden
  # by ProtectHome=yes anyway.
  [ -x /usr/bin/node ] || die "/usr/bin/node not found: install Node.js 20+ system-wide (distribution or NodeSource package)"
  local major
  major="$(/usr/bin/node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "/usr/bin/node is Node $major; voiceid needs Node 20 or newer"
  [ -f "$SOURCE_DIR/dist/cli/main.js" ] || die "$SOURCE_DIR/dist/cli/main.js missing: run ./scripts/setup.sh first"
  [ -d "$SOURCE_DIR/node_modules" ] || die "$SOURCE_DIR/node_modules missing: run ./scripts/setup.sh first"
  command -v arecord >/dev/null || echo "warning: arecord not found; install alsa-utils for microphone capture" >&2
  if "$link"; then
    case "$SOURCE_DIR" in
      /home/* | /root | /root/* | /run/user/*)
        die "--link: $SOURCE_DIR is hidden from the service by ProtectHome=yes; copy instead (omit --link) or move the checkout, e.g. to /srv/voiceid"
        ;;
    esac
  fi
}

ensure_user() {
  if id "$SERVICE_USER" >/dev/null 2>&1; then
    # Existing user (earlier install): make sure it may open the microphone.
    if ! id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qx audio; then
      run usermod --append --groups audio "$SERVICE_USER"
    fi
  else
    run useradd --system --user-group --groups audio --home-dir "$DATA_DIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "voiceid speaker identification" "$SERVICE_USER"
  fi
}

install_app() {
  if "$link"; then
    if [ -d "$APP_DIR" ] && [ ! -L "$APP_DIR" ]; then
      run rm -rf "$APP_DIR"
    fi
    run ln -sfn "$SOURCE_DIR" "$APP_DIR"
    return
  fi
  if [ "$(readlink -f "$APP_DIR" 2>/dev/null || true)" = "$SOURCE_DIR" ]; then
    # Running from /opt/voiceid itself (or through the --link symlink): nothing to copy.
    [ -L "$APP_DIR" ] && echo "note: $APP_DIR links to this checkout; keeping the link"
    return
  fi
  if [ -L "$APP_DIR" ]; then
    run rm -f "$APP_DIR"
  fi
  run mkdir -p "$APP_DIR"
  # What the daemon needs at run time; the copy replaces the previous one entirely.
  local item
  local items=(dist node_modules models config systemd scripts web package.json package-lock.json README.md)
  for item in "${items[@]}"; do
    if [ -e "$SOURCE_DIR/$item" ]; then
      run rm -rf "${APP_DIR:?}/$item"
      run cp -a "$SOURCE_DIR/$item" "$APP_DIR/$item"
    fi
  done
  run chown -R root:root "$APP_DIR"
  run chmod -R u=rwX,go=rX "$APP_DIR"
}

install_config() {
  run install -d -m 0750 -o root -g "$SERVICE_USER" "$CONFIG_DIR"
  if [ -e "$CONFIG_DIR/voiceid.yaml" ]; then
    echo "keeping existing $CONFIG_DIR/voiceid.yaml"
  else
    # Root-owned, group-readable by the service: it may hold MQTT credentials and the API token.
    run install -m 0640 -o root -g "$SERVICE_USER" "$SOURCE_DIR/config/voiceid.example.yaml" "$CONFIG_DIR/voiceid.yaml"
    echo "created $CONFIG_DIR/voiceid.yaml from the example; edit it (room, MQTT) and restart the service"
  fi
  run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$DATA_DIR"
}

# Type=notify: `systemctl restart` returns once the daemon is ready (or has failed). Watch it a few seconds
# more, so that a daemon which fails just after (a bad configuration, say) is reported here, not as running.
check_running() {
  local i state restarts
  for i in 1 2 3 4 5; do
    sleep 1
    state="$(systemctl show --property ActiveState --value voiceid.service)"
    restarts="$(systemctl show --property NRestarts --value voiceid.service)"
    if [ "$state" != active ] || [ "${restarts:-0}" -gt 0 ]; then
      echo "install-service.sh: voiceid does not stay up (state $state, restarted ${restarts:-0} times); its last log lines:" >&2
      journalctl --unit voiceid.service --lines 10 --no-pager >&2 || true
      die "installed and enabled, but not running; fix the cause above, then: systemctl restart voiceid"
    fi
  done
}

install_unit() {
  run install -m 0644 "$SOURCE_DIR/systemd/voiceid.service" "$UNIT_PATH"
  if ! have_systemd; then
    echo "systemd is not running here; unit installed to $UNIT_PATH but not enabled"
    return
  fi
  run systemctl daemon-reload
  if "$start"; then
    run systemctl enable voiceid.service
    # restart, not start: an update must replace the running daemon.
    run systemctl restart voiceid.service
    "$dry_run" || check_running
    echo "voiceid is running: systemctl status voiceid; journalctl -u voiceid -f"
  else
    run systemctl enable voiceid.service
    echo "voiceid enabled; start it with: systemctl start voiceid"
  fi
}

if [ "$mode" = uninstall ]; then
  uninstall
  exit 0
fi

check_prerequisites
ensure_user
install_app
install_config
install_unit
