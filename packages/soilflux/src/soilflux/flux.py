"""The chamber flux equation of LI-COR (LI-8100A manual, eq. 4-12) and its inputs.

F = 10·V·P₀·(1 − W₀/1000) / (R·S·(T₀ + 273.15)) · ∂C′/∂t

with C′ the water-corrected (dry) mole fraction and P₀, T₀, W₀ the values at the instant the
lid closes, each the intercept of a linear regression over the first 10 s of the observation.

References
----------
LI-COR Biosciences (2015). *Using the LI-8100A Soil Gas Flux System & the LI-8150
Multiplexer*, chapter 4 "Theory of operation", eqs. 4-7 to 4-13 and appendix D.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from soilflux.fit._batch import FloatArray, make_batch, quiet, safe_divide

#: Molar gas constant used by LI-COR's eq. 4-12 [Pa m³ K⁻¹ mol⁻¹].
R_GAS = 8.314

#: Validity ranges of the initial values (refused unless ``extrapolate=True``).
PRESSURE_RANGE_KPA = (30.0, 120.0)  # BMP280/QMP6988 range 30–110 kPa, plus margin
TEMPERATURE_RANGE_C = (-50.0, 70.0)
WATER_RANGE_MMOL_MOL = (0.0, 100.0)


def _check_range(name: str, x: FloatArray, lo: float, hi: float, extrapolate: bool) -> None:
    if extrapolate:
        return
    finite = x[np.isfinite(x)]
    bad = finite[(finite < lo) | (finite > hi)]
    if bad.size:
        raise ValueError(f"{name} outside its valid range [{lo}, {hi}]: {bad[:5].tolist()}")


def dry_mole_fraction(
    c: npt.ArrayLike, h2o_mmol_mol: npt.ArrayLike, *, extrapolate: bool = False
) -> FloatArray:
    """Water-corrected (dry) mole fraction c′ = c / (1 − w).

    LI-8100A manual eq. 4-7: using c′ removes the dilution of the gas by water vapour
    evaporating into the closed chamber.

    Parameters
    ----------
    c : array_like
        Mole fraction as measured in moist air [µmol mol⁻¹] (or any mole-fraction unit).
    h2o_mmol_mol : array_like
        Water vapour mole fraction w [mmol mol⁻¹]; NaN is treated as dry air (w = 0).
    extrapolate : bool
        Accept w outside [0, 100] mmol mol⁻¹.

    Returns
    -------
    ndarray
        c′ in the unit of `c`.
    """
    c_arr = np.asarray(c, dtype=np.float64)
    w = np.nan_to_num(np.asarray(h2o_mmol_mol, dtype=np.float64), nan=0.0)
    _check_range("h2o_mmol_mol", w, *WATER_RANGE_MMOL_MOL, extrapolate)
    return np.asarray(c_arr / (1.0 - w / 1000.0), dtype=np.float64)


def flux_term(
    volume_cm3: npt.ArrayLike,
    area_cm2: npt.ArrayLike,
    p0_kpa: npt.ArrayLike,
    t0_c: npt.ArrayLike,
    w0_mmol_mol: npt.ArrayLike,
    *,
    extrapolate: bool = False,
) -> FloatArray:
    """Factor turning ∂C′/∂t into a flux: 10·V·P₀·(1 − W₀/1000) / (R·S·(T₀ + 273.15)).

    LI-8100A manual eq. 4-12.  The factor 10 gathers the unit conversions
    (cm³ → m³, kPa → Pa, cm² → m²).

    Parameters
    ----------
    volume_cm3 : array_like
        Total system volume V (chamber + collar offset + analyser loop) [cm³], > 0.
    area_cm2 : array_like
        Soil surface area S [cm²], > 0.
    p0_kpa : array_like
        Initial pressure P₀ [kPa], valid 30–120.
    t0_c : array_like
        Initial chamber air temperature T₀ [°C], valid −50–70.
    w0_mmol_mol : array_like
        Initial water vapour mole fraction W₀ [mmol mol⁻¹], valid 0–100; NaN → 0 (dry).
    extrapolate : bool
        Accept P₀, T₀, W₀ outside their ranges instead of raising ValueError.

    Returns
    -------
    ndarray
        [µmol m⁻² s⁻¹ per µmol mol⁻¹ s⁻¹] = [mol m⁻²].
    """
    v = np.asarray(volume_cm3, dtype=np.float64)
    s = np.asarray(area_cm2, dtype=np.float64)
    p = np.asarray(p0_kpa, dtype=np.float64)
    t = np.asarray(t0_c, dtype=np.float64)
    w = np.nan_to_num(np.asarray(w0_mmol_mol, dtype=np.float64), nan=0.0)
    for name, x in (("volume_cm3", v), ("area_cm2", s)):
        bad = x[np.isfinite(x) & (x <= 0)]
        if bad.size:
            raise ValueError(f"{name} must be > 0, got {bad[:5].tolist()}")
    _check_range("p0_kpa", p, *PRESSURE_RANGE_KPA, extrapolate)
    _check_range("t0_c", t, *TEMPERATURE_RANGE_C, extrapolate)
    _check_range("w0_mmol_mol", w, *WATER_RANGE_MMOL_MOL, extrapolate)
    return np.asarray(10.0 * v * p * (1.0 - w / 1000.0) / (R_GAS * s * (t + 273.15)))


def flux_umol_m2_s(
    dcdt_ppm_s: npt.ArrayLike,
    volume_cm3: npt.ArrayLike,
    area_cm2: npt.ArrayLike,
    p0_kpa: npt.ArrayLike,
    t0_c: npt.ArrayLike,
    w0_mmol_mol: npt.ArrayLike,
    *,
    extrapolate: bool = False,
) -> FloatArray:
    """Soil-gas flux F = flux_term · ∂C′/∂t (LI-8100A manual eq. 4-12).

    Parameters
    ----------
    dcdt_ppm_s : array_like
        Initial rate of change of the dry mole fraction ∂C′/∂t [µmol mol⁻¹ s⁻¹].
    volume_cm3, area_cm2, p0_kpa, t0_c, w0_mmol_mol
        See `flux_term`.

    Returns
    -------
    ndarray
        Flux [µmol m⁻² s⁻¹]; positive out of the soil.

    Examples
    --------
    >>> round(float(flux_umol_m2_s(0.35, 5339.2, 317.8, 97.0, 20.0, 10.0)), 4)
    2.3168
    """
    term = flux_term(volume_cm3, area_cm2, p0_kpa, t0_c, w0_mmol_mol, extrapolate=extrapolate)
    return np.asarray(np.asarray(dcdt_ppm_s, dtype=np.float64) * term)


@quiet
def initial_values(
    t_s: npt.ArrayLike,
    y: npt.ArrayLike,
    mask: npt.ArrayLike | None = None,
    window_s: float = 10.0,
) -> FloatArray:
    """Value at the lid-closing instant t = 0: intercept of a line over the first `window_s`.

    LI-COR's method for P₀, T₀, W₀ and C′₀ (LI-8100A manual §4): a linear regression over
    the samples with 0 ≤ t < window_s, evaluated at t = 0.  With one sample in the window
    that sample is returned; with none, NaN.

    Parameters
    ----------
    t_s : array_like, shape (k, m) or (m,)
        Time since the lid closed [s].
    y : array_like, same shape
        Quantity (pressure [kPa], temperature [°C], water [mmol mol⁻¹], C′ [µmol mol⁻¹]).
    mask : array_like of bool, optional
        Usable samples (default: all finite).
    window_s : float
        Regression window [s], > 0.

    Returns
    -------
    ndarray, shape (k,)
        Intercept at t = 0 in the unit of `y`.
    """
    if not window_s > 0:
        raise ValueError(f"window_s must be > 0 s, got {window_s!r}")
    t_arr = np.atleast_2d(np.asarray(t_s, dtype=np.float64))
    y_arr = np.atleast_2d(np.asarray(y, dtype=np.float64))
    m_arr = None if mask is None else np.atleast_2d(np.asarray(mask, dtype=bool))
    inwin = (t_arr >= 0) & (t_arr < window_s)
    # columns after the last one holding a window sample cannot matter
    cols = int(np.flatnonzero(inwin.any(axis=0)).max()) + 1 if inwin.any() else 1
    inwin = inwin[:, :cols]
    if m_arr is not None:
        inwin &= m_arr[:, :cols]
    b = make_batch(t_arr[:, :cols], y_arr[:, :cols], inwin)
    n = b.n.astype(np.float64)
    t_mean = safe_divide(b.wsum(b.t), n)
    y_mean = safe_divide(b.wsum(b.c), n)
    dt = (b.t - np.nan_to_num(t_mean)[:, None]) * b.w
    dy = (b.c - np.nan_to_num(y_mean)[:, None]) * b.w
    sxx = np.einsum("ij,ij->i", dt, dt)
    slope = safe_divide(np.einsum("ij,ij->i", dt, dy), sxx)
    # one sample (or no time spread): the mean is the best estimate of the initial value
    intercept = np.where(np.isfinite(slope), y_mean - np.nan_to_num(slope) * t_mean, y_mean)
    return np.asarray(intercept, dtype=np.float64)
