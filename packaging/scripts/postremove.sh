#!/bin/sh
# driftd postremove (deb: remove, purge; rpm: %postun). A purge removes the
# state (findings, the taint latch, the seal); the baseline and the keys in
# /etc/driftd belong to the image and are left to dpkg's conffile handling.
set -e

case "$1" in
  purge)
    rm -rf /var/lib/driftd /run/driftd
    # /etc/driftd goes too when nothing but driftd's own is left there (an
    # empty drop-in dir): a baseline, a key or a drop-in stays, with dpkg's
    # warning.
    rmdir /etc/driftd/driftd.d /etc/driftd 2>/dev/null || true
    ;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
