"""Water vapour from relative humidity (numpy only, so that light callers need no pandas).

``soilflux.io`` re-exports both functions (the generic reader converts ``rh_percent``
with them); ``fluxfleet export`` calls :func:`h2o_from_rh` without importing the readers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def saturation_vapour_pressure_kpa(
    temperature_c: npt.ArrayLike, *, extrapolate: bool = False
) -> npt.NDArray[np.float64]:
    """Saturation vapour pressure over water, Magnus form.

    e_s = 0.61094 · exp(17.625·T / (T + 243.04))  (Alduchov & Eskridge 1996, J. Appl. Meteor.
    35:601, their AERK coefficients; valid −40 to 50 °C within 0.4 %).

    Parameters
    ----------
    temperature_c : array_like
        Air temperature [°C], −40 to 50 unless ``extrapolate``.
    extrapolate : bool
        Allow temperatures outside the validity range.

    Returns
    -------
    numpy.ndarray
        Saturation vapour pressure [kPa].
    """
    t = np.asarray(temperature_c, dtype=np.float64)
    if not extrapolate and np.any((t < -40.0) | (t > 50.0)):
        raise ValueError("temperature_c must lie in [-40, 50] °C (pass extrapolate=True)")
    return np.asarray(0.61094 * np.exp(17.625 * t / (t + 243.04)), dtype=np.float64)


def h2o_from_rh(
    rh_percent: npt.ArrayLike,
    temperature_c: npt.ArrayLike,
    pressure_kpa: npt.ArrayLike,
    *,
    extrapolate: bool = False,
) -> npt.NDArray[np.float64]:
    """Water-vapour mole fraction from relative humidity.

    W = 1000 · (RH/100) · e_s(T) / P, with e_s from :func:`saturation_vapour_pressure_kpa`.

    Parameters
    ----------
    rh_percent : array_like
        Relative humidity [%], 0 to 100.
    temperature_c : array_like
        Air temperature [°C], −40 to 50 unless ``extrapolate``.
    pressure_kpa : array_like
        Air pressure [kPa], > 0.
    extrapolate : bool
        Allow temperatures outside the validity range of e_s.

    Returns
    -------
    numpy.ndarray
        Water-vapour mole fraction [mmol mol⁻¹].
    """
    rh = np.asarray(rh_percent, dtype=np.float64)
    p = np.asarray(pressure_kpa, dtype=np.float64)
    if np.any((rh < 0.0) | (rh > 100.0)):
        raise ValueError("rh_percent must lie in [0, 100] %")
    if np.any(p <= 0.0):
        raise ValueError("pressure_kpa must be > 0 kPa")
    e_s = saturation_vapour_pressure_kpa(temperature_c, extrapolate=extrapolate)
    return np.asarray(1000.0 * rh / 100.0 * e_s / p, dtype=np.float64)
