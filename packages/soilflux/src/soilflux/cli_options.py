"""Options of ``soilflux compute`` that say how to read the input: column map and constants.

Kept apart from :mod:`soilflux.cli` (which only declares the options and wires them) so the
parsing and checking of each option has one home.
"""

from __future__ import annotations

import math

import typer

from soilflux.io import ColumnMap, InputError, parse_columns_option
from soilflux.io.units import PLAUSIBLE_MEDIAN, check_plausible_median

#: Plausible ranges of the constants given on the command line, in the option's unit.
_CONSTANT_OPTIONS: dict[str, tuple[str, str]] = {
    "pressure_kpa": ("--pressure-kpa", "pressure_kpa"),
    "temperature_c": ("--temperature-c", "temperature_c"),
}


def column_map_option(
    columns: str | None, *, pressure_kpa: float | None, temperature_c: float | None
) -> ColumnMap | None:
    """The column map asked for by ``--columns``, ``--pressure-kpa`` and ``--temperature-c``.

    Parameters
    ----------
    columns : str or None
        ``NAME=COLUMN,...`` or a TOML file (:func:`soilflux.io.parse_columns_option`).
    pressure_kpa : float or None
        Chamber air pressure for files without one [kPa].
    temperature_c : float or None
        Chamber air temperature for files without one [°C].

    Returns
    -------
    ColumnMap or None
        None when none of the options is given.

    Raises
    ------
    typer.BadParameter
        A malformed map or an implausible constant (exit code 2), naming the option.
    """
    constants = {"pressure_kpa": pressure_kpa, "temperature_c": temperature_c}
    for name, value in constants.items():
        if value is None:
            continue
        option, quantity = _CONSTANT_OPTIONS[name]
        low, high = PLAUSIBLE_MEDIAN[quantity]
        if not (math.isfinite(value) and low <= value <= high):
            raise typer.BadParameter(
                f"{value:g} is outside the plausible range [{low:g}, {high:g}]: wrong unit?",
                param_hint=option,
            )
    if columns is None and all(v is None for v in constants.values()):
        return None
    try:
        base = parse_columns_option(columns) if columns is not None else ColumnMap()
        return base.with_constants(**constants)
    except InputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--columns") from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--columns") from None


def check_geometry_options(volume_cm3: float | None, area_cm2: float | None) -> None:
    """Refuse ``--volume-cm3``/``--area-cm2`` given in another unit (m³, L, m²).

    Raises
    ------
    typer.BadParameter
        Naming the option.
    """
    for option, name, value in (
        ("--volume-cm3", "volume_cm3", volume_cm3),
        ("--area-cm2", "area_cm2", area_cm2),
    ):
        if value is None:
            continue
        try:
            if not math.isfinite(value):
                raise InputError(option, None, None, f"must be a finite number, got {value}")
            check_plausible_median([value], name, option)
        except InputError as exc:
            raise typer.BadParameter(exc.message, param_hint=option) from None
