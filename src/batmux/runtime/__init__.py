"""Wiring: one TaskGroup, sources → core → hub → sinks, supervision with backoff."""
