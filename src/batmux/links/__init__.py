"""I/O only: BLE, serial, CAN, Modbus, HTTP, plus in-process fakes behind the same interfaces."""
