"""Pure processing: plausibility, groups, coulomb counting, charge limits (no asyncio, no I/O)."""
