"""Instrument conventions: the choices a vendor's own software makes, applied per input format.

A file read from an instrument is computed the way that instrument computes it where the
choice is known and documented (``docs/soilflux/methods.md`` §7.1); other inputs keep the
defaults of `FluxOptions`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from soilflux.options import FluxOptions

#: Formats whose instrument takes P0, T0, W0 and C′0 from the closed window 0 ≤ t ≤ 10 s.
#: LI-COR 8200-01S Smart Chamber: reproduces every initial value of its JSON footers; the
#: LI-8100A's .81x files use the half-open window, the default.
CLOSED_INITIAL_WINDOW: frozenset[str] = frozenset({"licor-json"})

#: gasfluxes fits closures of as few as 3 samples (manual chambers sampled by syringe, its
#: example: 4 samples over 1 h), so fewer samples than soilflux's default make a fit.
FEW_SAMPLE_FORMATS: dict[str, int] = {"gasfluxes": 3}


def for_format(options: FluxOptions, file_format: str) -> FluxOptions:
    """`options` with the conventions of the instrument behind ``file_format``.

    Parameters
    ----------
    options : FluxOptions
        The options asked for.
    file_format : str
        The reader's format name (``generic``, ``licor-81x``, ``licor-json``).

    Returns
    -------
    FluxOptions
        ``options`` unchanged for formats without a known convention.
    """
    if file_format in CLOSED_INITIAL_WINDOW:
        return replace(options, initial_window_closed=True)
    if file_format in FEW_SAMPLE_FORMATS:
        return replace(
            options, min_samples=min(options.min_samples, FEW_SAMPLE_FORMATS[file_format])
        )
    return options


def segment_options(file_format: str) -> dict[str, Any]:
    """Keyword arguments of :func:`soilflux.segment.segment` for a format's records.

    Parameters
    ----------
    file_format : str
        The reader's format name.

    Returns
    -------
    dict
        ``max_duration_s`` = ∞ for gasfluxes tables (manual closures of an hour are its
        normal case, not a chamber stuck closed); empty otherwise.
    """
    if file_format == "gasfluxes":
        return {"max_duration_s": math.inf}
    return {}
