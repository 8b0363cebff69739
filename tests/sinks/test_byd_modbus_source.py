"""A BYD battery read as a source (``batteries: - type: byd_modbus``), here our own emulator."""

from __future__ import annotations

import pytest

from batmux.config import BatteryConfig
from batmux.devices.registry import get_type, load
from batmux.errors import ControlRefused, LinkError
from batmux.runtime.hub import StateHub
from byd_modbus_helpers import address, good_state, tcp_emulator


async def test_source_reads_the_emulated_battery() -> None:
    hub = StateHub()
    hub.publish([good_state()])
    async with tcp_emulator(hub) as emu:
        entry = get_type("byd_modbus")
        assert entry.transport == "modbus"
        cfg = BatteryConfig(name="byd", type="byd_modbus", address=address(emu), timeout=1.0)
        source = load(entry.source)(cfg, None)
        try:
            sample = await source.sample()
            assert sample.soc_pct == 55.5 and sample.voltage_v == 52.0
            assert sample.power_w == -1500.0
            assert sample.current_a == pytest.approx(-28.846, abs=1e-3)
            assert sample.capacity_ah == 280.0 and sample.charge_ah == pytest.approx(155.385, 1e-3)
            assert sample.temperatures_c == (18.2, 24.9) and sample.soh_pct == 97.5
            assert sample.extra["max_voltage"] == 56.8 and sample.extra["byd_state"] == "inactive"
            assert sample.extra["total_charged_kwh"] == 1234.568
            hub.publish([good_state(soc=80.0)])
            assert (await source.sample()).soc_pct == 80.0
            assert source.health.samples == 2
            with pytest.raises(ControlRefused):
                await source.set_switch("charge", False)
        finally:
            await source.close()
        assert emu.status()["writes"] == 0  # reading never writes to the battery


async def test_source_reports_a_dead_battery() -> None:
    cfg = BatteryConfig(name="byd", type="byd_modbus", address="127.0.0.1:1", timeout=0.5)
    source = load(get_type("byd_modbus").source)(cfg, None)
    with pytest.raises(LinkError):
        await source.sample()
    assert source.health.errors == 1
    await source.close()


def test_source_needs_a_real_address() -> None:
    cfg = BatteryConfig(name="byd", type="byd_modbus")
    with pytest.raises(ValueError, match="HOST:PORT"):
        load(get_type("byd_modbus").source)(cfg, None)


def test_config_check_rejects_a_byd_modbus_battery_without_address(tmp_path) -> None:
    """No address is never "simulate" for a BYD on Modbus: the config check says so, with the
    field, before anything starts."""
    from batmux.cli import main

    path = tmp_path / "byd.yaml"
    path.write_text("batteries:\n  - name: hvs\n    type: byd_modbus\n")
    assert main(["check-config", str(path)]) == 2
    path.write_text("batteries:\n  - name: hvs\n    type: byd_modbus\n    address: sim\n")
    assert main(["check-config", str(path)]) == 0


def test_config_error_names_the_address_field(tmp_path, capsys) -> None:
    from batmux.cli import main

    path = tmp_path / "byd.yaml"
    path.write_text("batteries:\n  - name: hvs\n    type: byd_modbus\n")
    main(["check-config", str(path)])
    err = capsys.readouterr().err
    assert f"{path}: batteries[0].address:" in err and "HOST:PORT" in err
