"""Modbus master link (pymodbus client): TCP ``HOST:PORT`` or RTU on a serial port.

pymodbus errors are translated here, once: no answer → ``LinkTimeout``, a broken connection →
``LinkError``, a Modbus exception reply → ``ModbusExceptionReply`` (a ``ProtocolError`` that
keeps the exception code).
"""

from __future__ import annotations

from collections.abc import Sequence

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from batmux.errors import LinkError, LinkTimeout, ProtocolError
from batmux.links.lost_cancel import cancel_count, reraise_lost_cancel


class ModbusExceptionReply(ProtocolError):
    """The device answered with a Modbus exception (2 = illegal address, ...)."""

    def __init__(self, function_code: int, exception_code: int) -> None:
        self.function_code = function_code
        self.exception_code = exception_code
        super().__init__(f"Modbus exception {exception_code} for function {function_code}")


def is_serial(address: str) -> bool:
    return address.startswith(("/", "COM", "socket:", "rfc2217:"))


class ModbusLink:
    """One Modbus master connection to one unit."""

    def __init__(
        self,
        address: str,
        unit_id: int,
        baudrate: int = 9600,
        timeout_s: float = 1.0,
        retries: int = 0,
    ) -> None:
        self.address = address
        self.unit_id = unit_id
        self.client: AsyncModbusTcpClient | AsyncModbusSerialClient
        if is_serial(address):
            self.client = AsyncModbusSerialClient(
                address,
                framer=FramerType.RTU,
                baudrate=baudrate,
                bytesize=8,
                parity="N",
                stopbits=1,
                timeout=timeout_s,
                retries=retries,
            )
        else:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit():
                raise LinkError(f"Modbus address {address!r} is neither HOST:PORT nor a port")
            self.client = AsyncModbusTcpClient(
                host.strip("[]"), port=int(port), timeout=timeout_s, retries=retries
            )

    async def connect(self) -> None:
        if self.client.connected:
            return
        before = cancel_count()
        connected = await self.client.connect()
        reraise_lost_cancel(before)
        if not connected:
            raise LinkError(f"cannot connect to Modbus {self.address}")

    def close(self) -> None:
        self.client.close()

    async def read(self, address: int, count: int) -> list[int]:
        await self.connect()
        before = cancel_count()
        try:
            reply = await self.client.read_holding_registers(
                address, count=count, device_id=self.unit_id
            )
        except (ModbusIOException, TimeoutError) as exc:
            raise LinkTimeout(f"no answer to read {address}×{count}") from exc
        except (ConnectionException, ModbusException) as exc:
            raise LinkError(f"read {address}×{count} failed: {exc}") from exc
        reraise_lost_cancel(before)
        if reply.isError():
            raise ModbusExceptionReply(reply.function_code, getattr(reply, "exception_code", 0))
        if len(reply.registers) != count:
            raise ProtocolError(f"read {address}×{count} returned {len(reply.registers)}")
        return list(reply.registers)

    async def write(self, address: int, values: Sequence[int]) -> None:
        await self.connect()
        before = cancel_count()
        try:
            reply = await self.client.write_registers(address, list(values), device_id=self.unit_id)
        except (ModbusIOException, TimeoutError) as exc:
            raise LinkTimeout(f"no answer to write {address}×{len(values)}") from exc
        except (ConnectionException, ModbusException) as exc:
            raise LinkError(f"write {address}×{len(values)} failed: {exc}") from exc
        reraise_lost_cancel(before)
        if reply.isError():
            raise ModbusExceptionReply(reply.function_code, getattr(reply, "exception_code", 0))
