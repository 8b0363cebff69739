"""Thin I/O shells (MQTT, D-Bus, Modbus server, CAN sender) around pure builders."""
