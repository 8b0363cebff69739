#!/bin/sh
# Add-on start: options + the Supervisor's MQTT service → /data/batmux.yaml, check-config, run.
# Everything is in Python (batmux.addon) so that it is tested outside Home Assistant.
# A config error exits 2: the add-on stops, and its log shows `file: field: reason`.
set -eu
PYTHON="${BATMUX_PYTHON:-python3}"
exec "$PYTHON" -m batmux.addon run --data "${BATMUX_DATA:-/data}"
