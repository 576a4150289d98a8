"""Chamber soil-gas flux calculation."""

from importlib.metadata import version as _version

__version__ = _version("soilflux")
