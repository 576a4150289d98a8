"""Column maps: which column of someone else's table holds which soilflux quantity.

A :class:`ColumnMap` renames a file's columns to soilflux names (see
:mod:`soilflux.io.generic`), adds constants for quantities the file does not hold (pressure,
temperature, geometry) and may fix the delimiter. It comes from ``--columns``
(``time=datetime,co2_ppm=conc,...`` or a TOML file), from a peer's preset
(:mod:`soilflux.io.presets`), or both (the user's entries win).

Besides the generic table's own names, a map may target these names with other units; they
are converted on reading (:data:`UNIT_ALTERNATIVES`, :func:`soilflux.io.units.to_canonical`):

=====================================  =================================================
name [unit]                            becomes
=====================================  =================================================
``elapsed_s``/``_min``/``_h``          time since the closure started; without a ``time``
                                       column the clock starts at 1970-01-01T00:00Z
``pressure_pa``/``_hpa``/``_atm``      ``pressure_kpa``
``temperature_k``                      ``temperature_c``
``h2o_ppm`` [µmol mol⁻¹], ``h2o_percent``  ``h2o_mmol_mol``
``ch4_ppm``, ``n2o_ppm``               ``ch4_ppb``, ``n2o_ppb``
``co2_dry_ppm``, ``ch4_dry_ppb``,      wet mole fractions, with ``h2o_mmol_mol``
``n2o_dry_ppb`` (dry mole fractions)
``<gas>_mg_m3``, ``co2_c_mg_m3``,      mole fractions with the row's T and P (ideal gas);
``ch4_c_mg_m3``, ``n2o_n_mg_m3``       ``_c``/``_n``: mass of carbon / nitrogen
``volume_l``, ``volume_m3``            ``volume_cm3``
``area_m2``                            ``area_cm2``
``start``, ``end``                     rows outside [start, end] of their row are left out
``keep``                               rows where it is 0 are left out (goFlux's ``flag``)
=====================================  =================================================
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
import tomllib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, cast

from soilflux.io.errors import InputError

#: Delimiters a text table may use; sniffed from the header line.
DELIMITERS: tuple[str, ...] = (",", ";", "\t")

#: Quantities a constant may stand in for (``--pressure-kpa``, ``--temperature-c``, TOML
#: ``[constants]``), with their unit in the name.
CONSTANT_NAMES: tuple[str, ...] = (
    "pressure_kpa",
    "temperature_c",
    "volume_cm3",
    "area_cm2",
    "deadband_s",
    "h2o_mmol_mol",
)


@dataclass(frozen=True)
class ColumnMap:
    """How to read a table that does not use soilflux's column names.

    Attributes
    ----------
    columns : Mapping[str, str]
        soilflux name → the file's column name (matched case-insensitively).
    optional : frozenset of str
        soilflux names whose column may be absent from the file (presets' extra columns).
    constants : Mapping[str, float]
        soilflux name (from :data:`CONSTANT_NAMES`) → value used where the file has no such
        column, in the unit of the name.
    delimiter : str or None
        Field delimiter of a text table; None → sniffed (``,`` ``;`` or tab).
    name : str
        What the map is called in messages (``--columns``, ``gasfluxes``, a TOML path).
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()
    constants: Mapping[str, float] = field(default_factory=dict)
    delimiter: str | None = None
    name: str = "--columns"

    def __post_init__(self) -> None:
        for key, value in self.constants.items():
            if key not in CONSTANT_NAMES:
                raise ValueError(
                    f"{self.name}: no constant {key!r} (one of {', '.join(CONSTANT_NAMES)})"
                )
            if not math.isfinite(value):
                raise ValueError(f"{self.name}: constant {key} must be a finite number")
        if self.delimiter is not None and self.delimiter not in DELIMITERS:
            raise ValueError(f"{self.name}: delimiter must be one of ',', ';' or a tab")
        lowered = [v.strip().lower() for v in self.columns.values()]
        twice = sorted({v for v in lowered if lowered.count(v) > 1})
        if twice:
            raise ValueError(f"{self.name}: column {twice[0]!r} is mapped twice")

    def merged(self, other: ColumnMap | None) -> ColumnMap:
        """This map with ``other``'s entries on top (``other`` wins)."""
        if other is None:
            return self
        # the user's entries replace the preset's for the same name or the same column
        theirs = {v.strip().lower() for v in other.columns.values()}
        columns = {
            k: v
            for k, v in self.columns.items()
            if k not in other.columns and v.strip().lower() not in theirs
        }
        # a name the user maps to a column is no longer a preset's optional one
        optional = frozenset(self.optional - set(other.columns)) | other.optional
        return ColumnMap(
            columns={**columns, **other.columns},
            optional=optional,
            constants={**self.constants, **other.constants},
            delimiter=other.delimiter or self.delimiter,
            name=f"{self.name} + {other.name}",
        )

    def with_constants(self, **constants: float | None) -> ColumnMap:
        """This map with the given constants (None values ignored) added on top."""
        given = {k: float(v) for k, v in constants.items() if v is not None}
        if not given:
            return self
        return replace(self, constants={**self.constants, **given})


def parse_columns_option(text: str) -> ColumnMap:
    """``--columns``: ``name=column,...`` or the path of a TOML file.

    Parameters
    ----------
    text : str
        ``time=datetime,co2_ppm=conc`` (soilflux name = the file's column), or a path
        ending in ``.toml`` holding ``delimiter``, ``[columns]`` and ``[constants]``.

    Returns
    -------
    ColumnMap

    Raises
    ------
    ValueError
        A malformed entry, naming it.
    """
    if text.strip().lower().endswith(".toml"):
        return read_column_map_toml(Path(text.strip()))
    columns: dict[str, str] = {}
    for entry in text.split(","):
        if not entry.strip():
            continue
        name, sep, column = entry.partition("=")
        name, column = name.strip().lower(), column.strip()
        if not sep or not name or not column:
            raise ValueError(f"--columns: {entry.strip()!r} is not NAME=COLUMN")
        if name in columns:
            raise ValueError(f"--columns: {name!r} is given twice")
        columns[name] = column
    if not columns:
        raise ValueError("--columns: no NAME=COLUMN entry")
    return ColumnMap(columns=columns)


def read_column_map_toml(path: Path) -> ColumnMap:
    """A column map from a TOML file.

    Example::

        delimiter = ";"            # optional: "," ";" or "\\t"; sniffed when absent
        [columns]                  # soilflux name = the file's column
        time = "datetime"
        co2_ppm = "conc"
        [constants]                # where the file has no such column
        pressure_kpa = 101.325

    Parameters
    ----------
    path : Path
        The TOML file.

    Returns
    -------
    ColumnMap
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, None, None, f"cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, None, None, f"not TOML: {exc}") from exc
    unknown = sorted(set(doc) - {"delimiter", "columns", "constants"})
    if unknown:
        raise InputError(path, None, unknown[0], "unknown key (delimiter, columns, constants)")
    columns = doc.get("columns", {})
    constants = doc.get("constants", {})
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise InputError(path, None, "columns", 'must be a table of name = "column"')
    if not isinstance(constants, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in constants.values()
    ):
        raise InputError(path, None, "constants", "must be a table of name = number")
    delimiter = doc.get("delimiter")
    if delimiter is not None and not isinstance(delimiter, str):
        raise InputError(path, None, "delimiter", "must be a string")
    try:
        return ColumnMap(
            columns={k.strip().lower(): v.strip() for k, v in columns.items()},
            constants={k.strip().lower(): float(v) for k, v in constants.items()},
            delimiter=delimiter,
            name=str(path),
        )
    except ValueError as exc:
        raise InputError(path, None, None, str(exc)) from None


def _open_text(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed by suffix as pandas does."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    if suffix == ".bz2":
        return cast(IO[bytes], bz2.open(path, "rb"))
    if suffix == ".xz":
        return cast(IO[bytes], lzma.open(path, "rb"))
    if suffix == ".zip":
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
        if len(names) != 1:
            raise InputError(path, None, None, f"zip holds {len(names)} files, not one table")
        return archive.open(names[0])
    return path.open("rb")


def sniff_delimiter(path: Path) -> str:
    """The delimiter of a text table: the one of ``,`` ``;`` tab most used in its header.

    Parameters
    ----------
    path : Path
        CSV-like file (optionally compressed).

    Returns
    -------
    str
        ``,`` when the header holds none of them (a one-column table).
    """
    try:
        with _open_text(path) as handle:
            head = handle.readline(65536)
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as exc:
        raise InputError(path, None, None, f"cannot read: {exc}") from exc
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    counts = {d: text.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties: the first, ','
    return best if counts[best] else ","
