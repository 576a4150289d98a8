"""Design and simulation of sub-Kelvin active magnetic regenerative refrigerators."""

from importlib.metadata import version as _version

__version__ = _version("amrr")
