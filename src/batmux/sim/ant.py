"""Simulated ANT BMS (2021+ protocol): status and device-info requests (the latter with the
real packs' tail block), MOSFET / balancer writes."""

from __future__ import annotations

from batmux.devices.ant import AntDriver
from batmux.protocols import ant
from batmux.sim.peripheral import SimDevice

# write register → (battery attribute, new value)
WRITES = {
    reg: (f"{name}_enabled" if name != "balance" else "balancing", on)
    for name, pair in ant.SWITCH_REGISTERS.items()
    for reg, on in zip(pair, (True, False), strict=True)
}


class AntSimDevice(SimDevice):
    notify_uuid = AntDriver.spec.notify_uuid
    write_uuid = AntDriver.spec.write_uuid

    def handle_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        parsed = ant.parse_request(data) if char_uuid == self.write_uuid else None
        if parsed is None:
            return []
        func, address, _value = parsed
        if func == ant.FUNC_STATUS:
            return [ant.build_status(self.battery.truth())]
        if func == ant.FUNC_DEVICE_INFO:
            return [ant.build_device_info("16ZM", "16ZMUB00-211026A")]
        if func == ant.FUNC_WRITE and address in WRITES:
            attribute, on = WRITES[address]
            setattr(self.battery, attribute, on)
            return [ant.build_write_reply(address)]
        return []
