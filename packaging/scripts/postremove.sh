#!/bin/sh
# driftd postremove (deb: remove, purge; rpm: %postun). A purge removes the
# state (findings, the taint latch, the seal); the baseline and the keys in
# /etc/driftd belong to the image and are left to dpkg's conffile handling.
set -e

case "$1" in
  purge)
    rm -rf /var/lib/driftd /run/driftd
    ;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
