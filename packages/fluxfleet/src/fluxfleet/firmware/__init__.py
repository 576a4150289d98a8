# MicroPython code: undo the strictness that leaks into fluxfleet from the root mypy config.
"""MicroPython firmware of the flux chambers (also imported by the simulator and server).

Every module here compiles with ``mpy-cross``; only ``hal/`` may import ``machine``,
``network`` or M5Stack modules. See ``README.md`` in this folder.
"""
