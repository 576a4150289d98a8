"""Validity ranges of the property correlations and the explicit extrapolation switch.

Every public property function takes ``extrapolate: bool = False``. Out-of-range input
raises :class:`OutOfRangeError` (a :class:`ValueError`) naming the argument, the range and
the offending value, unless the caller passes ``extrapolate=True``.
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
    """A closed validity interval ``[low, high]`` of one argument.

    Attributes
    ----------
    name : str
        Argument name as the caller spells it (e.g. ``"temperature_K"``).
    low, high : float
        Bounds, in the argument's unit.
    source : str
        Why the bounds are where they are (the data or model that sets them).
    """

    name: str
    low: float
    high: float
    source: str = ""

    def check(self, value: ArrayLike, *, extrapolate: bool = False) -> FloatArray:
        """Return ``value`` as a float array, raising if any element is outside the range.

        NaN passes through (it propagates to the result rather than raising).
        """
        arr = np.asarray(value, dtype=np.float64)
        if extrapolate:
            return arr
        finite = arr[~np.isnan(arr)]
        if finite.size and (finite.min() < self.low or finite.max() > self.high):
            bad = finite[(finite < self.low) | (finite > self.high)]
            why = f" ({self.source})" if self.source else ""
            raise OutOfRangeError(
                f"{self.name}={bad.flat[0]:.6g} is outside the valid range "
                f"[{self.low:g}, {self.high:g}]{why}; pass extrapolate=True "
                "(CLI: --extrapolate) to evaluate the model outside it anyway"
            )
        return arr


def require(condition: NDArray[np.bool_], message: str, *, extrapolate: bool = False) -> None:
    """Raise :class:`OutOfRangeError` with ``message`` where ``condition`` is False.

    For validity domains that are not a box (e.g. "below the lambda line").
    """
    if not extrapolate and not bool(np.all(condition)):
        raise OutOfRangeError(
            message + "; pass extrapolate=True (CLI: --extrapolate) to evaluate anyway"
        )
