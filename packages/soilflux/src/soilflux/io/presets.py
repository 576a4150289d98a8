"""Column maps for peers' tables: ``--format gasfluxes|fluxible|goflux``.

Each preset is the :class:`~soilflux.io.columns.ColumnMap` of the table the peer package
takes as input, with the peer's own defaults as constants where its table may lack a
quantity. A dead band of 0 s is the peers' convention: their tables hold the rows to fit
(``--deadband auto`` or a number overrides it).

``gasfluxes`` (R, Fuß; ``gasfluxes(dat, .id = "ID", .V = "V", .A = "A", .times = "time",
.C = "C")``): one row per sample, ``;``-separated in its example ``fluxmeas.csv``. Its
example data (``fluxMeas``) hold N2O in mg N m⁻³ with V the chamber height [m] (A = 1 m²)
and time in hours, so ``C`` is read as ``n2o_n_mg_m3``, ``V`` as ``volume_m3``, ``A`` as
``area_m2`` and ``time`` as ``elapsed_h``; another gas or unit is one ``--columns`` entry
away (e.g. ``--columns co2_c_mg_m3=C``). Temperature and pressure only convert the mass
concentration to a mole fraction and back, so their constants (20 °C, 101.325 kPa) cancel.

``fluxible`` (R, Gaudard et al. 2025; the output of ``flux_match``): ``datetime``,
``conc`` [ppm], ``temp_air`` [°C], ``fluxID``, ``turfID``, ``start``, ``end``; rows
outside [start, end] are left out. fluxible's default pressure, 1 atm, stands in for the
missing pressure column.

``goflux`` (R, Rheault et al. 2024; the input of ``goFlux()``): ``UniqueID``, ``Etime``
[s], ``POSIX.time``, ``CO2dry_ppm``/``CH4dry_ppb``/``N2Odry_ppb`` (dry mole fractions),
``H2O_ppm``, ``Pcham`` [kPa], ``Tcham`` [°C], ``Vtot`` [L], ``Area`` [cm²], ``flag``
(0 = leave out), ``chamID``. goFlux's defaults where ``Pcham``/``Tcham`` are absent:
101.325 kPa and 15 °C.
"""

from __future__ import annotations

from soilflux.io.columns import ColumnMap

PRESETS: dict[str, ColumnMap] = {
    "gasfluxes": ColumnMap(
        columns={
            "closure_id": "ID",
            "volume_m3": "V",
            "area_m2": "A",
            "elapsed_h": "time",
            "n2o_n_mg_m3": "C",
        },
        constants={"pressure_kpa": 101.325, "temperature_c": 20.0, "deadband_s": 0.0},
        name="gasfluxes",
    ),
    "fluxible": ColumnMap(
        columns={
            "time": "datetime",
            "co2_ppm": "conc",
            "temperature_c": "temp_air",
            "closure_id": "fluxID",
            "chamber": "turfID",
            "start": "start",
            "end": "end",
        },
        optional=frozenset({"chamber", "start", "end"}),
        constants={"pressure_kpa": 101.325, "deadband_s": 0.0},
        name="fluxible",
    ),
    "goflux": ColumnMap(
        columns={
            "closure_id": "UniqueID",
            "elapsed_s": "Etime",
            "time": "POSIX.time",
            "co2_dry_ppm": "CO2dry_ppm",
            "ch4_dry_ppb": "CH4dry_ppb",
            "n2o_dry_ppb": "N2Odry_ppb",
            "h2o_ppm": "H2O_ppm",
            "pressure_kpa": "Pcham",
            "temperature_c": "Tcham",
            "volume_l": "Vtot",
            "area_cm2": "Area",
            "keep": "flag",
            "chamber": "chamID",
        },
        optional=frozenset(
            {
                "time",
                "co2_dry_ppm",
                "ch4_dry_ppb",
                "n2o_dry_ppb",
                "h2o_ppm",
                "pressure_kpa",
                "temperature_c",
                "volume_l",
                "area_cm2",
                "keep",
                "chamber",
            }
        ),
        constants={"pressure_kpa": 101.325, "temperature_c": 15.0, "deadband_s": 0.0},
        name="goflux",
    ),
}
