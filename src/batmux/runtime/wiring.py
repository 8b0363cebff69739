"""Attach the configured sinks and processors to a gateway (every output is optional)."""

from __future__ import annotations

from batmux.runtime.app import Gateway


def wire(gateway: Gateway) -> None:
    config = gateway.config
    if config.mqtt is not None:
        from batmux.sinks.mqtt import run_mqtt

        gateway.add_sink("mqtt", run_mqtt)
