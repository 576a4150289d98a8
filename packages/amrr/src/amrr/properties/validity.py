"""Validity ranges of the property correlations and the explicit extrapolation switch.

Every public property function takes ``extrapolate: bool = False``. Out-of-range input
raises :class:`OutOfRangeError` (a :class:`ValueError`) naming the argument, the range and
the offending value, unless the caller passes ``extrapolate=True``. Extrapolation computes
or refuses, never clamps: values a model cannot evaluate at all (T ≤ 0, a negative field,
He I temperatures in a He II model) raise even then, and NaN or ±inf always raise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


class OutOfRangeError(ValueError):
    """An argument lies outside the validity range of a correlation."""


@dataclass(frozen=True)
class Range:
    """A closed validity interval ``[low, high]`` of one argument, inside hard limits.

    ``extrapolate=True`` lifts ``[low, high]`` but never the hard limits ``[limit_low,
    limit_high]``: values the model cannot evaluate at all (a negative temperature or field,
    He I above T_λ in a He II model). NaN and ±inf always raise.

    Attributes
    ----------
    name : str
        Argument name as the caller spells it (e.g. ``"temperature_K"``).
    low, high : float
        Bounds of validity, in the argument's unit.
    source : str
        Why the bounds are where they are (the data or model that sets them).
    limit_low, limit_high : float
        Hard limits, in the argument's unit (default: none).
    limit_low_open : bool
        Whether ``limit_low`` itself is excluded (temperatures must be > 0).
    limit_source : str
        Why the hard limits are there.
    """

    name: str
    low: float
    high: float
    source: str = ""
    limit_low: float = -np.inf
    limit_high: float = np.inf
    limit_low_open: bool = False
    limit_source: str = ""

    def check(self, value: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
        """Return ``value`` as a float array, raising if any element is outside the range.

        Raises
        ------
        ValueError
            NaN or infinite values (always).
        OutOfRangeError
            Values beyond the hard limits (always) or outside ``[low, high]`` (unless
            ``extrapolate``).
        """
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{self.name}={value!r} is not a number") from exc
        if not bool(np.all(np.isfinite(arr))):
            bad = arr[~np.isfinite(arr)].flat[0]
            raise ValueError(
                f"{self.name}={bad} is not a finite number; give values in "
                f"[{self.low:g}, {self.high:g}]"
            )
        below = arr <= self.limit_low if self.limit_low_open else arr < self.limit_low
        if bool(np.any(below | (arr > self.limit_high))):
            bad = arr[below | (arr > self.limit_high)].flat[0]
            lo = "(" if self.limit_low_open else "["
            why = f" ({self.limit_source})" if self.limit_source else ""
            raise OutOfRangeError(
                f"{self.name}={bad:.6g} is outside {lo}{self.limit_low:g}, {self.limit_high:g}], "
                f"where the model can be evaluated at all{why}; --extrapolate does not "
                "lift this limit"
            )
        if extrapolate:
            return arr
        if arr.size and (arr.min() < self.low or arr.max() > self.high):
            outside = arr[(arr < self.low) | (arr > self.high)]
            why = f" ({self.source})" if self.source else ""
            raise OutOfRangeError(
                f"{self.name}={outside.flat[0]:.6g} is outside the valid range "
                f"[{self.low:g}, {self.high:g}]{why}; pass extrapolate=True "
                "(CLI: --extrapolate) to evaluate the model outside it anyway"
            )
        return arr


def temperature_range(
    low: float, high: float, source: str, *, limit_high: float = np.inf, limit_source: str = ""
) -> Range:
    """A ``temperature_K`` range with the hard limit T > 0 (and ``limit_high`` [K])."""
    return Range(
        "temperature_K",
        low,
        high,
        source,
        limit_low=0.0,
        limit_high=limit_high,
        limit_low_open=True,
        limit_source=limit_source or "absolute temperature is positive",
    )


def require(condition: NDArray[np.bool_], message: str, *, extrapolate: bool = False) -> None:
    """Raise :class:`OutOfRangeError` with ``message`` where ``condition`` is False.

    For validity domains that are not a box (e.g. "below the lambda line").
    """
    if not extrapolate and not bool(np.all(condition)):
        raise OutOfRangeError(
            message + "; pass extrapolate=True (CLI: --extrapolate) to evaluate anyway"
        )
