#!/bin/sh
# driftd preremove (deb: remove, upgrade; rpm: %preun). Stops and disables
# the units on removal only, not on upgrade.
set -e

case "$1" in
  remove|0) ;;        # deb remove; rpm erase (0 packages left)
  *) exit 0 ;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now driftd.service driftd-check.timer >/dev/null 2>&1 || true
fi
exit 0
