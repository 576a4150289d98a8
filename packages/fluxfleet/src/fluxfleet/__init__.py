"""Fleet platform for low-cost robotic soil-CO2 flux chambers."""

from importlib.metadata import version as _version

__version__ = _version("fluxfleet")
