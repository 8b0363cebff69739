"""I/O only: BLE (bleak), serial, CAN, Modbus, HTTP, plus in-process fakes behind the same interfaces."""
