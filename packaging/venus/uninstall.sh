#!/bin/sh
# Remove the batmux service from a Victron GX.
#
#   sh uninstall.sh           stop the service, remove it and the venv; keep config and state
#   sh uninstall.sh --purge   also delete /data/batmux (config, state, everything)
#
# BATMUX_ROOT works as in install.sh.
set -eu

ROOT="${BATMUX_ROOT:-}"
APP="$ROOT/data/batmux"
RC_LOCAL="$ROOT/data/rc.local"
SERVICE_LINK="$ROOT/service/batmux"
MARK="# batmux service (packaging/venus/install.sh)"

if [ -e "$SERVICE_LINK" ] || [ -L "$SERVICE_LINK" ]; then
    if command -v svc >/dev/null 2>&1 && [ -z "$ROOT" ]; then
        # -d: stop batmux; -x: let supervise exit too once the directory is gone.
        svc -dx "$SERVICE_LINK" "$SERVICE_LINK/log" 2>/dev/null || true
    fi
    rm -f "$SERVICE_LINK"
fi

if [ -f "$RC_LOCAL" ] && grep -qF "$MARK" "$RC_LOCAL"; then
    grep -vF "$MARK" "$RC_LOCAL" > "$RC_LOCAL.tmp" || true
    cat "$RC_LOCAL.tmp" > "$RC_LOCAL"  # keep the file's mode and owner
    rm -f "$RC_LOCAL.tmp"
fi

if [ "${1:-}" = "--purge" ]; then
    rm -rf "$APP"
    echo "batmux uninstall: removed everything under /data/batmux"
else
    rm -rf "$APP/venv" "$APP/service"
    echo "batmux uninstall: service removed; config and state kept in /data/batmux"
fi
