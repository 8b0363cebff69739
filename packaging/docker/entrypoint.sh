#!/bin/sh
# Container entrypoint for batmux (see docs/install.md, "Docker").
#
#   run [ARGS]   (default) make sure $BATMUX_DATA/batmux.yaml exists (a starter config is
#                written on first start), check it, then exec `batmux run`
#   health       exit 0 while the gateway's publish loop is alive: it saves the state files
#                every 10 s, so a state file older than BATMUX_HEALTH_MAX_AGE s means stuck
#   ANYTHING     any other batmux command: `docker run IMAGE scan`, `... decode jbd DDA5...`
#
# Environment: BATMUX_DATA (default /data), BATMUX_CONFIG (default $BATMUX_DATA/batmux.yaml),
# BATMUX_MQTT_URL (the broker written into a starter config), BATMUX_VERBOSE (1 or 2),
# BATMUX_CONFIG_RETRY (seconds to wait before exiting on a config error, default 30: a
# restarting container must not spin), BATMUX_HEALTH_MAX_AGE (default 120).
set -eu

DATA="${BATMUX_DATA:-/data}"
CONF="${BATMUX_CONFIG:-$DATA/batmux.yaml}"
BATMUX="${BATMUX_BIN:-batmux}"

PRINT_STATE_DIR='import sys; from batmux.config import load_config
print(load_config(sys.argv[1]).state_dir)'

say() { echo "batmux-entrypoint: $*"; }

starter_config() {
    cat > "$CONF" <<YAML
# Starter config written by the container's first start. Edit it (docs/config.md), then
# restart the container. Find your BMSes with: docker compose run --rm batmux scan
mqtt:
  url: ${BATMUX_MQTT_URL:-mqtt://mosquitto:1883}
state_dir: $DATA/state
batteries: []
#  - {name: garage, type: jk, address: "C8:47:8C:00:00:01"}
YAML
    say "no config found: wrote a starter config to $CONF"
}

verbosity() {
    case "${BATMUX_VERBOSE:-1}" in
        0) ;;
        2) echo "-vv" ;;
        *) echo "-v" ;;
    esac
}

case "${1:-run}" in
    run)
        [ $# -gt 0 ] && shift
        mkdir -p "$DATA/state"
        [ -f "$CONF" ] || starter_config
        cd "$DATA"  # a relative state_dir lands in the volume
        if ! "$BATMUX" check-config "$CONF"; then
            say "fix $CONF (the error is above); exiting in ${BATMUX_CONFIG_RETRY:-30} s"
            sleep "${BATMUX_CONFIG_RETRY:-30}"
            exit 2
        fi
        # shellcheck disable=SC2046  # verbosity is zero or one word
        exec "$BATMUX" $(verbosity) run --config "$CONF" "$@"
        ;;
    health)
        cd "$DATA"
        STATE=$("${BATMUX_PYTHON:-python3}" -c "$PRINT_STATE_DIR" "$CONF" 2>/dev/null ||
            echo "$DATA/state")
        MAX="${BATMUX_HEALTH_MAX_AGE:-120}"
        SINCE=$(($(date +%s) - MAX))
        # find prints a state file only if it changed within the last MAX seconds.
        if [ -n "$(find "$STATE" -maxdepth 1 -name '*.json' -newermt "@$SINCE" 2>/dev/null)" ]; then
            exit 0
        fi
        echo "no state saved in $STATE for $MAX s" >&2
        exit 1
        ;;
    *)
        exec "$BATMUX" "$@"
        ;;
esac
