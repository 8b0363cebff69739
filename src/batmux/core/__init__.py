"""Pure processing: averaging, meters, plausibility, groups, charge limits, safety."""
