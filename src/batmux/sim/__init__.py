"""Device simulators: the device side of each protocol, driven by a shared battery model."""
