#!/bin/sh
# driftd postinstall (deb: configure; rpm: %post). Enables the daemon where
# systemd runs. It starts it only on a host that already has a baseline:
# on a machine baking an image there is none yet (driftd bake comes last),
# and the daemon must not run, and find drift, while the image is built.
set -e

case "$1" in
  configure|1|2) ;;   # deb configure; rpm install (1) or upgrade (2)
  *) exit 0 ;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  systemctl enable driftd.service >/dev/null 2>&1 || true
  if [ -f /etc/driftd/baseline.manifest ] && [ -z "${DRIFTD_NO_START:-}" ]; then
    systemctl try-restart driftd.service >/dev/null 2>&1 || systemctl start driftd.service >/dev/null 2>&1 || true
  fi
fi
exit 0
