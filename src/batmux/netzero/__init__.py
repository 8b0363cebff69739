"""Zero export: live consumption in, micro-inverters and chargers controlled, with guards."""
