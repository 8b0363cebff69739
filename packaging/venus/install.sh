#!/bin/sh
# Install batmux on a Victron GX (Venus OS) as a daemontools service.
#
# Everything lives under /data/batmux (the partition firmware updates keep); /service is rebuilt
# at every boot, so /data/rc.local re-links the service there. Run again to upgrade.
#
#   sh install.sh [WHEEL_OR_SOURCE_DIR]     default: the source tree this script is part of
#
# Environment: PYTHON (default python3); BATMUX_ROOT installs into a scratch root and
# BATMUX_SKIP_PIP=1 skips the venv (both for tests).
set -eu

ROOT="${BATMUX_ROOT:-}"
APP_REAL=/data/batmux
APP="$ROOT$APP_REAL"
RC_LOCAL="$ROOT/data/rc.local"
SERVICE_LINK="$ROOT/service/batmux"
MARK="# batmux service (packaging/venus/install.sh)"
HERE=$(cd "$(dirname "$0")" && pwd)
SRC="${1:-$HERE/../..}"
PYTHON="${PYTHON:-python3}"

say() { echo "batmux install: $*"; }

if [ "${BATMUX_SKIP_PIP:-0}" != 1 ]; then
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        say "batmux needs Python >= 3.11; this system has: $("$PYTHON" -V 2>&1 || echo none)"
        exit 1
    fi
fi

mkdir -p "$APP/service/log" "$APP/state" "$ROOT/service"
cp "$HERE/service/run" "$APP/service/run"
cp "$HERE/service/log/run" "$APP/service/log/run"
chmod 755 "$APP/service/run" "$APP/service/log/run"

if [ "${BATMUX_SKIP_PIP:-0}" != 1 ]; then
    say "creating $APP_REAL/venv and installing $SRC (this takes a while on a GX)"
    # System site packages: reuse what Venus already ships instead of building it on the GX.
    "$PYTHON" -m venv --system-site-packages "$APP/venv"
    "$APP/venv/bin/python" -m pip install --disable-pip-version-check --upgrade "$SRC"
fi

if [ ! -f "$APP/batmux.yaml" ]; then
    cp "$HERE/batmux.example.yaml" "$APP/batmux.yaml"
    say "wrote $APP_REAL/batmux.yaml: edit it, then the service starts by itself"
fi

# rc.local runs at every boot: one marked line re-creates the /service link.
if [ ! -f "$RC_LOCAL" ]; then
    printf '#!/bin/sh\n' > "$RC_LOCAL"
fi
chmod 755 "$RC_LOCAL"
if ! grep -qF "$MARK" "$RC_LOCAL"; then
    echo "ln -sfn $APP_REAL/service /service/batmux $MARK" >> "$RC_LOCAL"
fi

# And link it now; svscan notices a new directory within 5 s.
ln -sfn "$APP_REAL/service" "$SERVICE_LINK"
if command -v svc >/dev/null 2>&1 && [ -z "$ROOT" ]; then
    svc -t /service/batmux 2>/dev/null || true  # restart a running instance after an upgrade
fi
say "installed; logs: tail -F /var/log/batmux/current | tai64nlocal"
