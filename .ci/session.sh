#!/usr/bin/env bash
# Runs inside `dbus-run-session` (started by .ci/run). Starts, in a throwaway
# XDG home: gnome-keyring (a fresh login keyring, unlocked with a throwaway
# password, so no prompt), Xvfb on a free display, and trayer as the XEmbed
# tray host. Then runs pytest with QT_QPA_PLATFORM=xcb and REQUIRE_TRAY=1,
# REQUIRE_SECRET_SERVICE=1 (a missing piece fails the run instead of skipping).
# On exit it stops only the processes it started and keeps their logs in
# test-artifacts/ci-logs/.
set -uo pipefail
cd "$(dirname "$0")/.."
say() { printf '[ci] %s\n' "$*" >&2; }

ARTIFACTS="$PWD/test-artifacts"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/orca-ci.XXXXXX")
# A fresh keyring dir per run: an existing login.keyring with another password would not unlock.
export XDG_RUNTIME_DIR="$WORK/run" XDG_DATA_HOME="$WORK/data" XDG_CONFIG_HOME="$WORK/config" \
       XDG_CACHE_HOME="$WORK/cache" XDG_STATE_HOME="$WORK/state"
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME" \
         "$ARTIFACTS/ci-logs"
chmod 700 "$XDG_RUNTIME_DIR"

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  cp "$WORK"/*.log "$ARTIFACTS/ci-logs/" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_keyring() {
  # --unlock reads the password on stdin and creates the "login" keyring if needed.
  eval "$(printf '%s' "ci-$RANDOM-$RANDOM" | gnome-keyring-daemon --unlock --components=secrets 2>"$WORK/keyring.log")"
  local pid=""
  # The daemon claims org.freedesktop.secrets asynchronously; its pid comes from the bus.
  for _ in $(seq 100); do
    pid=$(dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null \
          | awk '/uint32/ {print $2}')
    [ -n "$pid" ] && break
    sleep 0.05
  done
  if [ -z "$pid" ]; then say "gnome-keyring-daemon did not register org.freedesktop.secrets"; exit 1; fi
  PIDS+=("$pid")
  say "gnome-keyring-daemon pid=$pid"
}

start_xvfb() {
  # -displayfd: the server picks a free display number and writes it to fd 3.
  Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$WORK/display" >"$WORK/xvfb.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 200); do [ -s "$WORK/display" ] && break; sleep 0.05; done
  if [ ! -s "$WORK/display" ]; then say "Xvfb did not start (see test-artifacts/ci-logs/xvfb.log)"; exit 1; fi
  export DISPLAY=":$(tr -d '[:space:]' <"$WORK/display")"
  say "Xvfb pid=${PIDS[-1]} DISPLAY=$DISPLAY"
}

start_trayer() {
  trayer --edge top --align right --widthtype request --height 32 --transparent false \
    >"$WORK/trayer.log" 2>&1 &
  PIDS+=($!)
  # Wait until Qt itself sees the tray (trayer owns _NET_SYSTEM_TRAY_S0).
  local ok=""
  for _ in $(seq 50); do
    QT_QPA_PLATFORM=xcb .venv/bin/python -c '
import sys
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
app = QApplication([])
sys.exit(0 if QSystemTrayIcon.isSystemTrayAvailable() else 1)' 2>/dev/null && { ok=1; break; }
    sleep 0.1
  done
  say "trayer pid=${PIDS[-1]}${ok:+ (tray available)}"
  [ -n "$ok" ] || say "warning: Qt sees no system tray (QT_DEBUG_PLUGINS=1 shows missing xcb libs)"
}

start_keyring
start_xvfb
start_trayer

# The whole suite runs on xcb, as the recipe does: Qt's platform is fixed per
# process, and xcb is the only one with a tray. Offscreen is the default for a
# plain `pytest` run (tests/conftest.py); no test depends on which one it gets.
export QT_QPA_PLATFORM=xcb REQUIRE_TRAY=1 REQUIRE_SECRET_SERVICE=1 ORCA_TEST_ARTIFACTS="$ARTIFACTS"
.venv/bin/python -m pytest -ra "$@"
rc=$?
exit "$rc"
