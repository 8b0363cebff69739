"""batmux: one gateway for home, RV and EV-conversion batteries."""

__version__ = "0.1.0"
