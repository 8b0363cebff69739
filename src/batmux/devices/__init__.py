"""Binding of protocols to links: drivers, sources, the type registry, health counters."""
