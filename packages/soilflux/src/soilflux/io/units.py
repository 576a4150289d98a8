"""Input units: other units of the generic table's quantities, and the wrong-unit check.

Every number soilflux reads ends in the unit of its name (``pressure_kpa``, ``co2_ppm``).
A column may instead be given in another unit named the same way (``pressure_hpa``,
``volume_l``, ``co2_dry_ppm``, ``n2o_n_mg_m3``); :func:`to_canonical` converts it.
:func:`check_plausible_median` refuses a column whose median lies where no real value of the
quantity lies: almost always a unit mistake (hPa as kPa, a mole fraction as ppm, RH as a
fraction, a chamber in m³).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from soilflux.flux import R_GAS
from soilflux.io.errors import InputError

FloatArray = npt.NDArray[np.float64]

#: Other units of a quantity: name → (soilflux name, scale, offset); value in the soilflux
#: unit = value · scale + offset.
UNIT_ALTERNATIVES: dict[str, tuple[str, float, float]] = {
    "pressure_hpa": ("pressure_kpa", 0.1, 0.0),
    "pressure_pa": ("pressure_kpa", 1.0e-3, 0.0),
    "pressure_atm": ("pressure_kpa", 101.325, 0.0),
    "temperature_k": ("temperature_c", 1.0, -273.15),
    "h2o_ppm": ("h2o_mmol_mol", 1.0e-3, 0.0),
    "h2o_percent": ("h2o_mmol_mol", 10.0, 0.0),
    "ch4_ppm": ("ch4_ppb", 1.0e3, 0.0),
    "n2o_ppm": ("n2o_ppb", 1.0e3, 0.0),
    "volume_l": ("volume_cm3", 1.0e3, 0.0),
    "volume_m3": ("volume_cm3", 1.0e6, 0.0),
    "area_m2": ("area_cm2", 1.0e4, 0.0),
    "elapsed_min": ("elapsed_s", 60.0, 0.0),
    "elapsed_h": ("elapsed_s", 3600.0, 0.0),
}

#: Dry mole fractions → the wet one soilflux reads (x_wet = x_dry · (1 − W/1000)).
DRY_GASES: dict[str, str] = {
    "co2_dry_ppm": "co2_ppm",
    "ch4_dry_ppb": "ch4_ppb",
    "n2o_dry_ppb": "n2o_ppb",
}

#: Mass concentrations [mg m⁻³] → (mole fraction column, molar mass of what is weighed
#: [g mol⁻¹] per mole of gas, mole-fraction unit [mol mol⁻¹ per unit]). ``co2_c``: mass of
#: carbon; ``n2o_n``: mass of nitrogen (two N per N2O). Molar masses: IUPAC 2021 standard
#: atomic weights (C 12.011, N 14.007, O 15.999, H 1.008).
MASS_CONCENTRATIONS: dict[str, tuple[str, float, float]] = {
    "co2_mg_m3": ("co2_ppm", 44.009, 1.0e-6),
    "co2_c_mg_m3": ("co2_ppm", 12.011, 1.0e-6),
    "ch4_mg_m3": ("ch4_ppb", 16.043, 1.0e-9),
    "ch4_c_mg_m3": ("ch4_ppb", 12.011, 1.0e-9),
    "n2o_mg_m3": ("n2o_ppb", 44.013, 1.0e-9),
    "n2o_n_mg_m3": ("n2o_ppb", 28.014, 1.0e-9),
}

#: Molar gas constant R [J mol⁻¹ K⁻¹]: the flux term's own (LI-COR's 8.314), so that R, T
#: and P cancel exactly between a mass concentration read and the flux computed from it.
GAS_CONSTANT_J_MOL_K = R_GAS

#: Where the median of a column must lie [unit of the name]; outside it the column is
#: refused as a unit mistake. Bounds: CO2 100 ppm–10 % (a mole fraction 0.042 or a percent
#: 0.04 falls below); RH 1–100 % (RH as a fraction 0–1 falls below); chamber volume
#: 100 cm³–10 m³ and soil area 10 cm²–10 m² (litres, m³ and m² fall below); pressure
#: 20–120 kPa (hPa and Pa fall above, atm below); temperature −60–80 °C (kelvin above).
PLAUSIBLE_MEDIAN: dict[str, tuple[float, float]] = {
    "pressure_kpa": (20.0, 120.0),
    "temperature_c": (-60.0, 80.0),
    "rh_percent": (1.0, 100.0),
    "co2_ppm": (100.0, 1.0e5),
    "h2o_mmol_mol": (0.0, 200.0),
    "volume_cm3": (100.0, 1.0e7),
    "area_cm2": (10.0, 1.0e5),
}

#: Quantities a real record may hold at exactly zero throughout (air through a drier).
_ZERO_POSSIBLE = frozenset({"rh_percent", "h2o_mmol_mol"})

_HINTS: dict[str, str] = {
    "co2_ppm": "a mole fraction (0.042) or a percent instead of µmol mol⁻¹?",
    "rh_percent": "relative humidity as a fraction (0–1) instead of %?",
    "volume_cm3": "litres or m³ instead of cm³?",
    "area_cm2": "m² instead of cm²?",
    "pressure_kpa": "hPa, Pa or atm instead of kPa?",
    "temperature_c": "kelvin instead of °C?",
}


def check_plausible_median(
    values: npt.ArrayLike, name: str, source: str, *, field: str | None = None
) -> None:
    """Refuse a column whose median lies outside :data:`PLAUSIBLE_MEDIAN` (a unit mistake).

    Parameters
    ----------
    values : array_like
        The column in the unit of ``name`` (NaN ignored).
    name : str
        soilflux name with its unit (``co2_ppm``, ``volume_cm3``, ...).
    source : str
        File or option named in the error.
    field : str, optional
        Field named in the error (default ``name``).

    Raises
    ------
    InputError
        ``median 0.042 outside the plausible range [100, 1e+05]: wrong unit? (...)``.
    """
    if name not in PLAUSIBLE_MEDIAN:
        return
    x = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(x)
    n = int(np.count_nonzero(finite))
    if not n:
        return
    low, high = PLAUSIBLE_MEDIAN[name]
    # The median is the mean of the sorted values' middle two, s[(n-1)//2] and s[n//2]
    # (one when n is odd): both lie in [low, high], and so does their mean, when at most
    # (n-1)//2 values are below low and at most n-1-n//2 above high. Two counts decide the
    # usual column without sorting it; only a column that fails is given its median.
    below = int(np.count_nonzero((x < low) & finite))
    above = int(np.count_nonzero((x > high) & finite))
    if below <= (n - 1) // 2 and above <= n - 1 - n // 2:
        return
    x = x[finite]
    median = float(np.median(x))
    if median == 0.0 and name in _ZERO_POSSIBLE:
        return  # dried air: no water at all is a real record, not a unit
    if not low <= median <= high:
        hint = f" ({_HINTS[name]})" if name in _HINTS else ""
        raise InputError(
            source,
            None,
            field or name,
            f"median {median:g} outside the plausible range [{low:g}, {high:g}]: wrong unit?{hint}",
        )


def to_canonical(numbers: dict[str, FloatArray], note: Callable[[str], None]) -> None:
    """Convert columns given in other units (:data:`UNIT_ALTERNATIVES`) in place.

    Parameters
    ----------
    numbers : dict of str to ndarray
        Parsed numeric columns by name; alternatives are replaced by their soilflux name.
    note : callable
        Receives one line per conversion made.
    """
    for name, (target, scale, offset) in UNIT_ALTERNATIVES.items():
        if name not in numbers:
            continue
        values = numbers.pop(name)
        if target in numbers:
            note(f"both {target} and {name} present: {target} used")
            continue
        numbers[target] = values * scale + offset
        note(f"{name} converted to {target}")


def gases_to_wet_mole_fractions(
    numbers: dict[str, FloatArray], note: Callable[[str], None]
) -> None:
    """Dry mole fractions and mass concentrations → the wet mole fractions soilflux reads.

    x_wet = x_dry · (1 − W/1000) with W [mmol mol⁻¹] (0 where no H2O is known);
    x = (ρ / M) · R·T / P for a mass concentration ρ [mg m⁻³ = 10⁻³ g m⁻³] at the row's
    temperature T [K] and pressure P [Pa] (ideal gas), so that the flux, which multiplies
    dx/dt by P/(R·T), is ρ's own rate of change times V/A whatever T and P are.

    Parameters
    ----------
    numbers : dict of str to ndarray
        Parsed numeric columns; needs ``temperature_c`` and ``pressure_kpa`` for mass
        concentrations, uses ``h2o_mmol_mol`` for dry ones.
    note : callable
        Receives one line per conversion made.
    """
    for name, target in DRY_GASES.items():
        if name not in numbers:
            continue
        dry = numbers.pop(name)
        if target in numbers:
            note(f"both {target} and {name} present: {target} used")
            continue
        if "h2o_mmol_mol" in numbers:
            w = np.nan_to_num(numbers["h2o_mmol_mol"], nan=0.0)
            numbers[target] = dry * (1.0 - w / 1000.0)
            note(f"{name} converted to the wet {target} with h2o_mmol_mol")
        else:
            numbers[target] = dry
            note(f"{name}: no H2O column, so read as {target} with no water (W = 0)")
    for name, (target, molar_mass, unit) in MASS_CONCENTRATIONS.items():
        if name not in numbers:
            continue
        rho = numbers.pop(name)
        if target in numbers:
            note(f"both {target} and {name} present: {target} used")
            continue
        temperature_k = numbers["temperature_c"] + 273.15
        pressure_pa = numbers["pressure_kpa"] * 1.0e3
        mol_m3 = rho * 1.0e-3 / molar_mass
        numbers[target] = mol_m3 * GAS_CONSTANT_J_MOL_K * temperature_k / pressure_pa / unit
        note(f"{name} converted to {target} at each row's temperature and pressure")
