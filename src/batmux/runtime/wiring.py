"""Attach the configured processors and sinks to a gateway (every output is optional).

Order matters for the processors: the bank engine runs on every publish, so every battery and
group gets its limits before any sink sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from batmux.runtime.app import Gateway

log = logging.getLogger(__name__)


def wire(gateway: Gateway) -> None:
    config = gateway.config
    _wire_bank(gateway)
    if config.mqtt is not None:
        from batmux.sinks.mqtt import run_mqtt

        gateway.add_sink("mqtt", run_mqtt)
    if config.venus:
        from batmux.sinks.venus import venus_sink

        gateway.add_sink("venus", venus_sink)
    if config.mqtt_json_output:
        from batmux.sinks.mqtt_json_out import run_mqtt_json_output

        gateway.add_sink("mqtt_json_output", run_mqtt_json_output)
    for inverter in config.inverters:
        _wire_inverter(gateway, inverter)
    if config.netzero is not None:  # zero export: controls inverters and chargers (opt-in)
        from batmux.netzero.runtime import run_netzero

        gateway.add_sink("netzero", run_netzero)
    _wire_observers(gateway)
    _drop_unread_captures(gateway)


def _drop_unread_captures(gateway: Gateway) -> None:
    """The BLE frame rings are read by ``run --capture DIR`` on exit and by the dashboard's
    capture download; with neither, nothing can read them, and full rings hold ~75 KiB per
    battery (7.5 MiB at 100: bench_vs_field's steady-state RSS)."""
    if gateway.capture_dir or gateway.config.web is not None:
        return
    for runtime in gateway.batteries.values():
        ring = getattr(runtime.source, "capture", None)
        if ring is not None:
            ring.detach()
            runtime.source.capture = None


def _wire_observers(gateway: Gateway) -> None:
    """History, InfluxDB and the web server (which reads the other two's status)."""
    config = gateway.config
    statuses: dict[str, Callable[[], dict[str, Any]]] = {}
    history = None
    if config.history.enabled:
        from batmux.sinks.history import attach_history

        history = attach_history(gateway)
        statuses["history"] = history.status
    if config.influxdb is not None:
        from batmux.sinks.influxdb import InfluxSink

        influx = InfluxSink(config.influxdb, gateway.state_dir / "influxdb-buffer")
        statuses["influxdb"] = influx.status
        gateway.add_sink("influxdb", influx.run)
    if config.web is not None:
        from batmux.web.server import WebContext, run_web

        ctx = WebContext(gateway, config.web, history=history, sinks=statuses)
        gateway.add_sink("web", lambda gw: run_web(ctx))


def _wire_bank(gateway: Gateway) -> None:
    from batmux.core.bank import BankEngine

    engine = BankEngine(gateway.config, clock=gateway.clock)
    engine.load_state(gateway.config.state_dir)
    gateway.bank = engine
    gateway.add_processor(engine.process)


def _wire_inverter(gateway: Gateway, inverter: Any) -> None:
    name = inverter.link_name
    runner: Callable[[Gateway], Any]
    if inverter.type == "byd_modbus":
        from batmux.sinks.byd_modbus import run_byd_modbus

        def on_start(emulator: Any) -> None:
            gateway.link_status[name] = emulator.status
            gateway.inverter_silence[name] = emulator.silent_for

        def runner(gw: Gateway, c: Any = inverter) -> Any:
            return run_byd_modbus(
                c, gw.hub, on_start=on_start, stale_after_s=gw.config.expire_after
            )

    else:
        if inverter.type == "byd_can":
            from batmux.sinks.byd_can import BydCanSink as sink_cls
        else:
            from batmux.sinks.pylontech_can import PylontechCanSink as sink_cls

        def runner(gw: Gateway, c: Any = inverter, cls: Any = sink_cls) -> Any:
            sink = cls(c, gw.hub)
            gw.link_status[name] = sink.status
            gw.inverter_silence[name] = sink.silent_for
            return sink.run()

    gateway.add_sink(f"inverter:{name}", runner)
