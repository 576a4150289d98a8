"""The generic long table (CSV or Parquet): one row per sample, any number of chambers.

Columns (names are matched case-insensitively, surrounding blanks ignored):

========================  ========  ==================================================
column                    required  meaning [unit]
========================  ========  ==================================================
``time``                  yes       ISO 8601 with offset, or UTC (no offset = UTC)
``chamber``               yes       chamber (device) identifier
``co2_ppm``               one gas   CO2 as measured, wet [µmol mol⁻¹]
``ch4_ppb``, ``n2o_ppb``  one gas   CH4 / N2O as measured, wet [nmol mol⁻¹]
``temperature_c``         yes       chamber air temperature [°C]
``pressure_kpa``          yes [1]_  chamber air pressure [kPa]
``pressure_hpa``          yes [1]_  chamber air pressure [hPa]
``h2o_mmol_mol``          no        water-vapour mole fraction [mmol mol⁻¹]
``rh_percent``            no        relative humidity [%] (→ ``h2o_mmol_mol`` with T, P)
``lux``                   no        illuminance [lx]
``phase``                 yes [2]_  ``open``, ``closing``, ``closed``, ``opening``, ``flush``
``closure_id``            yes [2]_  identifier of the closure a row belongs to
``location``              no        ``table.variant.replica``
``volume_cm3``            no        total system volume [cm³]
``area_cm2``              no        soil area [cm²]
========================  ========  ==================================================

.. [1] one of the two; ``pressure_kpa`` wins when both are present.
.. [2] one of the two; ``closure_id`` wins when both are present.

Unknown columns are ignored (and listed in the metadata notes).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from soilflux.humidity import h2o_from_rh
from soilflux.io.columns import ColumnMap, sniff_delimiter
from soilflux.io.errors import InputError, ReadMetadata, RowIssue, missing_reason
from soilflux.io.units import (
    DRY_GASES,
    MASS_CONCENTRATIONS,
    UNIT_ALTERNATIVES,
    check_plausible_median,
    gases_to_wet_mole_fractions,
    to_canonical,
)

PHASES = ("open", "closing", "closed", "opening", "flush")
GAS_COLUMNS = ("co2_ppm", "ch4_ppb", "n2o_ppb")
NUMERIC_INPUTS = (
    *GAS_COLUMNS,
    "h2o_mmol_mol",
    "rh_percent",
    "temperature_c",
    "pressure_kpa",
    "lux",
    "volume_cm3",
    "area_cm2",
    "elapsed_s",
    "deadband_s",
    "keep",
    *UNIT_ALTERNATIVES,
    *DRY_GASES,
    *MASS_CONCENTRATIONS,
)
TEXT_INPUTS = ("time", "chamber", "phase", "closure_id", "location")  # time first
#: Times bounding each row's record (fluxible's ``start``/``end``): rows outside are left out.
WINDOW_INPUTS = ("start", "end")
#: A clock for tables that only give time since the closure started (gasfluxes' ``time``).
ELAPSED_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
#: Columns of the sample table every reader returns (those present, in this order).
SAMPLE_COLUMNS = (
    "time",
    "chamber",
    "location",
    "phase",
    "closure_id",
    "elapsed_s",
    *GAS_COLUMNS,
    "h2o_mmol_mol",
    "temperature_c",
    "pressure_kpa",
    "lux",
    "volume_cm3",
    "area_cm2",
    "deadband_s",
    "obs_length_s",
    "line",
)
_MISSING_TEXT = frozenset({"", "na", "nan", "null", "none"})
# Valid ranges: a value outside is set to missing (and reported). The column as a whole is
# first checked for a unit mistake (soilflux.io.units.check_plausible_median).
_RANGES: dict[str, tuple[float, float]] = {
    "pressure_kpa": (20.0, 120.0),
    "temperature_c": (-60.0, 80.0),
    "rh_percent": (0.0, 100.0),
    "co2_ppm": (0.0, 1.0e6),
    "ch4_ppb": (0.0, 1.0e9),
    "n2o_ppb": (0.0, 1.0e9),
    "h2o_mmol_mol": (0.0, 200.0),
    "lux": (0.0, 2.0e5),
    "volume_cm3": (0.0, np.inf),
    "area_cm2": (0.0, np.inf),
}


def read_generic(
    path: str | Path,
    *,
    strict: bool = False,
    columns: ColumnMap | None = None,
    format_name: str = "generic",
    categorical_ids: bool = False,
) -> tuple[pd.DataFrame, ReadMetadata]:
    """Read a generic long table (CSV, optionally compressed, or Parquet).

    Parameters
    ----------
    path : str or Path
        ``*.csv`` (``.gz``, ``.bz2``, ``.zip``, ``.xz`` also) or ``*.parquet``. The
        delimiter of a text table (``,`` ``;`` or tab) is sniffed from its header line.
    strict : bool
        Raise :class:`InputError` on the first unusable value instead of reporting it.
    columns : ColumnMap, optional
        The file's column names → soilflux names, constants and delimiter
        (:mod:`soilflux.io.columns`).
    format_name : str
        Format recorded in the metadata (a preset's name).
    categorical_ids : bool
        Give the identifier columns (``chamber``, ``location``, ``phase``,
        ``closure_id``) as categoricals of strings instead of strings: the same values,
        kept as codes (no string made per row), which segmentation reads directly.

    Returns
    -------
    data : pandas.DataFrame
        One row per usable sample, columns from :data:`SAMPLE_COLUMNS` (``line`` is the
        1-based line of a CSV file, the 1-based row of a Parquet file).
    metadata : ReadMetadata
        Issues (unusable values, each with file, line and field) and notes.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, None, missing_reason(path))
    parquet = path.suffix.lower() in (".parquet", ".pq")
    delimiter = ","
    try:
        if parquet:
            raw = _read_parquet(path)
        else:
            delimiter = (columns.delimiter if columns else None) or sniff_delimiter(path)
            # Identifiers stay text ("01" is not 1); numbers are parsed by pandas, and a
            # column holding anything unparseable comes back as text, so that each bad cell
            # is then found and reported (see _numeric).
            header = pd.read_csv(path, nrows=0, sep=delimiter).columns
            fast = _read_csv_typed(path, delimiter, header, columns)
            if fast is not None:
                raw = fast
            else:
                ids = _text_columns(header, columns)
                raw = pd.read_csv(path, sep=delimiter, dtype={c: "string" for c in ids})
    except (ValueError, OSError, EOFError, zlib.error, pd.errors.ParserError) as exc:
        # A truncated .gz ends in EOFError, a damaged one in zlib.error.
        # pandas names the line of a ragged row in its message: keep it in the error.
        line = re.search(r"line (\d+)", str(exc))
        raise InputError(
            path,
            int(line.group(1)) if line else None,
            None,
            f"cannot read as {'Parquet' if parquet else 'CSV'}: {exc}",
        ) from exc
    data, meta = parse_generic_table(
        raw,
        source=str(path),
        first_line=1 if parquet else 2,
        strict=strict,
        columns=columns,
        format_name=format_name,
        categorical_ids=categorical_ids,
    )
    if delimiter != ",":
        meta.notes.append(f"fields separated by {'a tab' if delimiter == chr(9) else delimiter!r}")
    return data, meta


#: Rows of a Parquet piece (:func:`read_generic_pieces`): 1 Mi rows (pyarrow's default
#: row group) keep every float64 column at 8 MiB, under glibc's largest mmap threshold
#: (32 MiB), so the temporaries of one piece reuse the freed heap of the last one instead
#: of faulting in fresh zeroed pages (a week's 4 M-row columns are 32.7 MB: always fresh).
PIECE_ROWS = 1 << 20


def read_generic_pieces(
    path: str | Path,
    *,
    strict: bool = False,
    columns: ColumnMap | None = None,
    format_name: str = "generic",
    piece_rows: int = PIECE_ROWS,
    categorical_ids: bool = False,
) -> Iterator[tuple[pd.DataFrame, ReadMetadata]]:
    """:func:`read_generic` one piece of consecutive rows at a time (memory stays bounded).

    A Parquet file longer than ``piece_rows`` is read in batches of at most ``piece_rows``
    rows, each validated as a table of its own (``line`` still counts from the file's first
    row, so issues name the file's row); any other file is one piece. ``categorical_ids``
    as :func:`read_generic`.

    Yields
    ------
    data, metadata
        As :func:`read_generic`, for each piece in file order.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, None, None, missing_reason(path))
    batches = None  # a CSV, or a Parquet file of at most piece_rows: one piece
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            file = _parquet_file(path)
            if file.metadata.num_rows > piece_rows:
                batches = file.iter_batches(batch_size=piece_rows)
        except (ValueError, OSError) as exc:
            raise InputError(path, None, None, f"cannot read as Parquet: {exc}") from exc
    if batches is None:
        yield read_generic(
            path,
            strict=strict,
            columns=columns,
            format_name=format_name,
            categorical_ids=categorical_ids,
        )
        return
    import pyarrow as pa  # type: ignore[import-untyped]

    first_line = 1
    while True:
        try:
            batch = next(batches, None)
        except (ValueError, OSError) as exc:
            raise InputError(path, None, None, f"cannot read as Parquet: {exc}") from exc
        if batch is None:
            return
        raw = pa.Table.from_batches([batch]).to_pandas(self_destruct=True, split_blocks=True)
        del batch
        yield parse_generic_table(
            raw,
            source=str(path),
            first_line=first_line,
            strict=strict,
            columns=columns,
            format_name=format_name,
            categorical_ids=categorical_ids,
        )
        first_line += len(raw)


def _parquet_file(path: Path) -> Any:
    """A Parquet file whose text columns (all but ``time``) read as dictionaries, memory-
    mapped (the pages are decoded where the page cache holds them, not first copied out by
    ``read`` calls: a third of the reading's system time)."""
    import pyarrow as pa
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    schema = pq.read_schema(path)
    text = [
        f.name
        for f in schema
        if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        and f.name.strip().lower() != "time"
    ]
    return pq.ParquetFile(path, read_dictionary=text, memory_map=True)


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet table, read one row group at a time, text columns as categories.

    Identifier columns (chamber, phase, closure id, location) repeat a few values over
    millions of rows: read as dictionaries they stay small, and every text rule below runs
    on their distinct values only. Each row group's Arrow buffers are released as the
    frame is built (``self_destruct``), so memory holds about one copy of the table.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    file = _parquet_file(path)
    groups = [file.read_row_group(i) for i in range(file.num_row_groups)]
    table = pa.concat_tables(groups) if groups else schema.empty_table()
    del groups
    frame: pd.DataFrame = table.to_pandas(self_destruct=True, split_blocks=True)
    return frame


#: What pandas reads as missing in a number column (its default ``na_values``): the typed
#: fast path below must not accept a spelling the careful path would report.
_PANDAS_NA = (
    *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND"),
    *("1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
)
#: Compressions the Arrow CSV reader opens itself (others take the careful path).
_ARROW_COMPRESSED = (".gz", ".bz2")


def _read_csv_typed(
    path: Path, delimiter: str, header: pd.Index, columns: ColumnMap | None
) -> pd.DataFrame | None:
    """The table parsed by Arrow's CSV reader with every column's type fixed, or None.

    The fast path: numbers as float64, identifiers as dictionaries, times (with a UTC
    offset) as UTC timestamps, parsed columnar on both cores. It gives up (None) on
    anything it cannot type cleanly — a cell that is not a number, a time without an
    offset or missing, a ragged row, another encoding — and the caller then reads the
    file with pandas, where :func:`parse_generic_table` finds each bad cell and names its
    line and field. A file it accepts, it reads to the same values as the careful path
    (up to the last bit of a decimal number's rounding).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv  # type: ignore[import-untyped]

    compressed = path.suffix.lower() in _ARROW_COMPRESSED
    if path.suffix.lower() in (".zip", ".xz") or (compressed and len(path.suffixes) < 2):
        return None
    targets = _targets(header, columns)
    types: dict[str, object] = {}
    for name, target in zip(map(str, header), targets, strict=True):
        if target in NUMERIC_INPUTS:
            types[name] = pa.float64()
        elif target in ("time", *WINDOW_INPUTS):
            types[name] = pa.timestamp("ns", tz="UTC")
        else:
            types[name] = pa.dictionary(pa.int32(), pa.string())
    if len(set(types)) != len(types):
        return None  # a repeated column name: the careful path says so
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                null_values=list(_PANDAS_NA),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, OSError, ValueError, EOFError, zlib.error):
        return None
    if table.column_names != [str(c) for c in header]:
        return None  # e.g. a byte-order mark read into the first name
    for name, target in zip(table.column_names, targets, strict=True):
        if target in ("time", *WINDOW_INPUTS) and table.column(name).null_count:
            return None  # a missing time is reported, row by row, by the careful path
    frame: pd.DataFrame = table.to_pandas(self_destruct=True, split_blocks=True)
    return frame


def _targets(header: pd.Index, columns: ColumnMap | None) -> list[str]:
    """The soilflux name each column of the file will be read as."""
    renames: dict[str, str] = {}
    if columns is not None:
        renames = {v.strip().lower(): k for k, v in columns.columns.items()}
    names = [str(c).strip().lower() for c in header]
    return [renames.get(n, n if n not in renames.values() else "") for n in names]


def _text_columns(header: pd.Index, columns: ColumnMap | None) -> list[str]:
    """The file's columns that hold identifiers (kept as text)."""
    ids = set(TEXT_INPUTS[1:])
    if columns is not None:
        ids |= {v.strip().lower() for k, v in columns.columns.items() if k in TEXT_INPUTS[1:]}
    return [c for c in header if str(c).strip().lower() in ids]


def parse_generic_table(
    raw: pd.DataFrame,
    *,
    source: str = "<table>",
    first_line: int = 2,
    strict: bool = False,
    columns: ColumnMap | None = None,
    format_name: str = "generic",
    categorical_ids: bool = False,
) -> tuple[pd.DataFrame, ReadMetadata]:
    """Validate and convert an in-memory generic table (see the module docstring).

    Parameters
    ----------
    raw : pandas.DataFrame
        The table as read (text or typed columns).
    source : str
        Name used in messages.
    first_line : int
        Line number of ``raw``'s first row (2 for a CSV with a header line).
    strict : bool
        Raise on the first unusable value instead of reporting it.
    columns : ColumnMap, optional
        Column names and constants to apply first.
    format_name : str
        Format recorded in the metadata.
    categorical_ids : bool
        Identifier columns as categoricals (see :func:`read_generic`).

    Returns
    -------
    data, metadata
        As :func:`read_generic`.
    """
    meta = ReadMetadata(path=source, format=format_name)
    raw = _normalised_columns(raw, source)
    if columns is not None:
        raw = _apply_column_map(raw, columns, source, meta)
    _require_columns(raw, source)
    columns_present = set(raw.columns)
    known = set(NUMERIC_INPUTS) | set(TEXT_INPUTS) | set(WINDOW_INPUTS)
    ignored = sorted(columns_present - known)
    if ignored:
        meta.notes.append(f"ignored columns: {', '.join(ignored)}")

    lines = np.arange(first_line, first_line + len(raw), dtype=np.int64)
    # the output's columns, made into a frame once at the end without copying them again
    out: dict[str, object] = {}
    issues: list[RowIssue] = []
    keep = np.ones(len(raw), dtype=bool)

    def report(mask: npt.NDArray[np.bool_], field: str, values: pd.Series, message: str) -> None:
        # a categorical of strings shows a missing value as its strings would (<NA>)
        as_text = isinstance(values.dtype, pd.CategoricalDtype)
        for i in np.flatnonzero(mask):
            value = values.iloc[i]
            shown = str(pd.NA) if as_text and pd.isna(value) else str(value)
            issue = RowIssue(source, int(lines[i]), field, shown, message)
            if strict:
                raise issue.as_error()
            issues.append(issue)

    numbers: dict[str, npt.NDArray[np.float64]] = {}
    for name in NUMERIC_INPUTS:
        if name not in columns_present:
            continue
        values, bad = _numeric(raw[name])
        report(bad, name, raw[name], "not a number; set to missing")
        numbers[name] = values
    to_canonical(numbers, meta.notes.append)

    if "time" in columns_present:
        # time: ISO 8601; an offset-less time is UTC.
        time, bad_time, naive = _parse_time(raw["time"], source)
        report(bad_time, "time", raw["time"], "not an ISO 8601 time; row excluded")
        keep &= ~bad_time
        if naive:
            meta.notes.append(f"{naive} time value(s) without a UTC offset were read as UTC")
    else:
        # Only the time since each closure started: a clock from 1970-01-01T00:00Z.
        elapsed = numbers["elapsed_s"]
        bad_time = ~np.isfinite(elapsed)
        keep &= ~bad_time
        offsets = pd.to_timedelta(np.where(bad_time, 0.0, elapsed), unit="s")
        time = pd.Series(ELAPSED_EPOCH + offsets, dtype="datetime64[ns, UTC]")
        meta.notes.append("no clock time: each closure starts at 1970-01-01T00:00:00Z")
    out["time"] = time

    for name in WINDOW_INPUTS:
        if name not in columns_present:
            continue
        bound, bad_bound, _ = _parse_time(raw[name], source)
        report(bad_bound, name, raw[name], "not an ISO 8601 time; row excluded")
        keep &= ~bad_bound
        if name == "start":
            outside = (time < bound).to_numpy(dtype=bool, na_value=False)
        else:
            outside = (time > bound).to_numpy(dtype=bool, na_value=False)
        if outside.any():
            meta.notes.append(f"{int(outside.sum())} row(s) before their start/after their end")
        keep &= ~outside
    if "keep" in numbers:
        dropped = numbers.pop("keep") == 0.0
        if dropped.any():
            meta.notes.append(f"{int(dropped.sum())} row(s) flagged 0 (keep) left out")
        keep &= ~dropped

    if "chamber" in columns_present:
        chamber = _text(raw["chamber"], categorical=categorical_ids)
    else:
        chamber = _text(raw["closure_id"], categorical=categorical_ids)
        meta.notes.append("no chamber column: each closure_id is a chamber of its own")
    no_chamber = chamber.isna().to_numpy()
    report(no_chamber, "chamber", chamber, "empty chamber; row excluded")
    keep &= ~no_chamber
    out["chamber"] = chamber
    if "location" in columns_present:
        out["location"] = _text(raw["location"], categorical=categorical_ids)

    if "phase" in columns_present:
        phase = _text(raw["phase"], lower=True, categorical=categorical_ids)
        unknown = _unknown_phase(phase)
        report(unknown, "phase", raw["phase"], f"not one of {', '.join(PHASES)}; set to missing")
        out["phase"] = phase.where(~unknown) if unknown.any() else phase
    if "closure_id" in columns_present:
        out["closure_id"] = _text(raw["closure_id"], categorical=categorical_ids)
        if "phase" in columns_present:
            meta.notes.append("both 'phase' and 'closure_id' present: closures from closure_id")

    def check_ranges(names: list[str]) -> None:
        for name in names:
            if name not in numbers or name not in _RANGES:
                continue
            values = numbers[name]
            check_plausible_median(values, name, source)
            low, high = _RANGES[name]
            finite = np.isfinite(values)
            outside = finite & ((values < low) | (values > high))
            report(outside, name, pd.Series(values), f"outside [{low:g}, {high:g}]; set to missing")
            values[outside] = np.nan

    check_ranges([n for n in _RANGES if n not in GAS_COLUMNS])

    if "h2o_mmol_mol" not in numbers and "rh_percent" in numbers:
        t = numbers["temperature_c"]
        usable = np.isfinite(t) & (t >= -40.0) & (t <= 50.0)
        w = np.full(len(raw), np.nan)
        ok = usable & np.isfinite(numbers["rh_percent"]) & np.isfinite(numbers["pressure_kpa"])
        w[ok] = h2o_from_rh(numbers["rh_percent"][ok], t[ok], numbers["pressure_kpa"][ok])
        numbers["h2o_mmol_mol"] = w
        meta.notes.append("h2o_mmol_mol derived from rh_percent, temperature_c and pressure_kpa")
    elif "h2o_mmol_mol" in numbers and "rh_percent" in numbers:
        meta.notes.append("both h2o_mmol_mol and rh_percent present: h2o_mmol_mol used")
    numbers.pop("rh_percent", None)
    gases_to_wet_mole_fractions(numbers, meta.notes.append)
    check_ranges([n for n in _RANGES if n in GAS_COLUMNS])

    no_gas = np.logical_and.reduce([~np.isfinite(numbers[g]) for g in GAS_COLUMNS if g in numbers])
    if no_gas.any():
        meta.notes.append(f"{int(no_gas.sum())} row(s) have no usable gas value")

    for name, values in numbers.items():
        out[name] = values
    out["line"] = lines
    meta.issues = issues
    frame = pd.DataFrame(
        {c: _positional(out[c]) for c in SAMPLE_COLUMNS if c in out},
        index=pd.RangeIndex(len(raw)),
        copy=False,
    )
    data = frame if keep.all() else frame.loc[keep].reset_index(drop=True)
    return data, meta


def _positional(values: object) -> object:
    """A column's values without its index (rows are matched by position), as an array
    the output frame owns: a column that is still a view of the input (read-only when
    it came from Arrow) is copied."""
    if isinstance(values, pd.Series):
        values = values.array
    backing = getattr(values, "_ndarray", values)  # a datetime array's numpy values
    if isinstance(backing, np.ndarray) and not backing.flags.writeable:
        return values.copy()  # type: ignore[attr-defined]
    return values


def _any_of(present: set[str], names: list[str]) -> bool:
    return bool(present & set(names))


def _alternatives(name: str) -> list[str]:
    """``name`` and every other-unit name that converts to it."""
    others = [k for k, (target, _, _) in UNIT_ALTERNATIVES.items() if target == name]
    others += [k for k, target in DRY_GASES.items() if target == name]
    others += [k for k, (target, _, _) in MASS_CONCENTRATIONS.items() if target == name]
    return [name, *others]


def _require_columns(raw: pd.DataFrame, source: str) -> None:
    """Refuse a table lacking a required quantity, saying how to map one."""
    present = set(raw.columns)
    listed = ", ".join(map(str, raw.columns))
    hint = (
        f" (the file's columns: {listed}; map one with --columns NAME=COLUMN, "
        "or read a peer's file with --format gasfluxes|fluxible|goflux)"
    )

    def missing(field: str, what: str) -> InputError:
        return InputError(source, 1, field, what + hint)

    if "time" not in present and "elapsed_s" not in _canonical_names(present):
        raise missing("time", "required column is missing (or elapsed_s with closure_id)")
    if "time" not in present and "closure_id" not in present:
        raise missing("closure_id", "a table without clock times needs a closure_id column")
    if "chamber" not in present and "closure_id" not in present:
        raise missing("chamber", "required column is missing")
    if not _any_of(present, _alternatives("temperature_c")):
        raise missing("temperature_c", "required column is missing (or --temperature-c)")
    gases = [a for g in GAS_COLUMNS for a in _alternatives(g)]
    if not _any_of(present, gases):
        raise missing("co2_ppm", f"no gas column (one of {', '.join(GAS_COLUMNS)})")
    if not _any_of(present, _alternatives("pressure_kpa")):
        raise missing("pressure_kpa", "required column is missing (or --pressure-kpa)")
    if not present & {"phase", "closure_id"}:
        raise missing("phase", "need a 'phase' or a 'closure_id' column")


def _canonical_names(present: set[str]) -> set[str]:
    return {UNIT_ALTERNATIVES[n][0] if n in UNIT_ALTERNATIVES else n for n in present}


def _apply_column_map(
    raw: pd.DataFrame, columns: ColumnMap, source: str, meta: ReadMetadata
) -> pd.DataFrame:
    """Rename the file's columns to soilflux names and add the constants."""
    names = list(raw.columns)
    renames: dict[str, str] = {}
    for target, column in columns.columns.items():
        key = column.strip().lower()
        if key not in names:
            if target in columns.optional:
                continue
            raise InputError(
                source,
                1,
                column,
                f"column not found (mapped to {target} by {columns.name}; "
                f"the file's columns: {', '.join(names)})",
            )
        renames[key] = target
    # A column of the file already called like a mapped name gives way to the mapping.
    shadowed = [n for n in names if n in renames.values() and n not in renames]
    if shadowed:
        meta.notes.append(f"columns replaced by the column map: {', '.join(shadowed)}")
    table = raw.drop(columns=shadowed).rename(columns=renames)
    present = set(table.columns)
    for name, value in columns.constants.items():
        if _any_of(present, _alternatives(name)):
            meta.notes.append(f"{name} from the file (constant {value:g} not used)")
            continue
        table[name] = value
        meta.notes.append(f"{name} = {value:g} for every row (constant)")
    return table


def _normalised_columns(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    names = [str(c).strip().lower() for c in raw.columns]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(source, 1, name, "column appears twice")
        seen.add(name)
    return raw.set_axis(pd.Index(names), axis=1)


def _text(values: pd.Series, *, lower: bool = False, categorical: bool = False) -> pd.Series:
    """Strings with blanks and NA spellings as missing (lower-cased with ``lower``).

    The rules run on the column's distinct values (identifiers repeat over millions of
    rows) and are spread back by code: as strings, or with ``categorical`` as a
    categorical column of those strings (the codes kept, no string made per row).
    """
    own = isinstance(values.dtype, pd.CategoricalDtype)
    # a categorical's codes are only widened when they must be recoded
    codes, uniques = (None, values.cat.categories) if own else _codes(values)
    text = pd.Series(uniques).astype("string").str.strip()
    missing = text.isna() | text.str.lower().isin(_MISSING_TEXT)
    text = text.mask(missing)
    if lower:
        text = text.str.lower()
    if categorical:
        # cleaning may make two values one (" a", "a"): categories must be distinct
        recode, categories = pd.factorize(text)
        if own and np.array_equal(recode, np.arange(len(uniques))):
            # the usual column: clean, distinct categories; its own codes are the answer
            # (no per-row recoding and no check of codes that are valid already)
            cat = pd.Categorical.from_codes(
                values.cat.codes.to_numpy(),
                dtype=pd.CategoricalDtype(pd.Index(categories, dtype="string")),
                validate=False,
            )
            return pd.Series(cat, index=values.index)
        if codes is None:
            codes = _codes(values)[0]
        recode = np.append(recode, -1)  # code -1 (missing) stays -1
        cat = pd.Categorical.from_codes(
            recode[codes], dtype=pd.CategoricalDtype(pd.Index(categories, dtype="string"))
        )
        return pd.Series(cat, index=values.index)
    if codes is None:
        codes = _codes(values)[0]
    return pd.Series(text.array.take(codes, allow_fill=True), index=values.index)


def _unknown_phase(phase: pd.Series) -> npt.NDArray[np.bool_]:
    """Rows whose phase is given but not one of :data:`PHASES` (a categorical's decided per
    category and spread by code)."""
    if isinstance(phase.dtype, pd.CategoricalDtype):
        unknown_category = ~phase.cat.categories.isin(PHASES)
        codes = phase.cat.codes.to_numpy()
        return np.asarray(np.append(unknown_category, False)[codes], dtype=bool)  # -1: NA
    return np.asarray((phase.notna() & ~phase.isin(PHASES)).to_numpy(), dtype=bool)


def _codes(values: pd.Series) -> tuple[npt.NDArray[np.intp], pd.Index]:
    """Codes (-1: missing) and distinct values of a column: a categorical's own (unused
    categories kept), any other column's by :func:`pandas.factorize`."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.intp), values.cat.categories
    codes, uniques = pd.factorize(values)
    return codes.astype(np.intp, copy=False), pd.Index(uniques)


def _numeric(values: pd.Series) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Float values and the mask of cells that held something that is not a finite number."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        # a copy: the output owns (and may write) its columns; the input's may be read-only
        if values.dtype == np.float64:
            out = np.array(values.to_numpy(), dtype=np.float64)  # (its NaNs are its NAs)
        else:
            out = values.to_numpy(dtype=np.float64, na_value=np.nan).copy()
        bad = np.isinf(out)
        out[bad] = np.nan
        return out, bad
    text = _text(values)
    parsed = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = (text.notna().to_numpy() & ~np.isfinite(parsed)) | np.isinf(parsed)
    parsed = parsed.copy()
    parsed[bad] = np.nan
    return parsed, bad


def _parse_time(values: pd.Series, source: str) -> tuple[pd.Series, npt.NDArray[np.bool_], int]:
    """UTC times, the mask of unparseable cells and the number of offset-less values."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return (
            values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]"),
            np.zeros(len(values), bool),
            0,
        )
    if pd.api.types.is_datetime64_dtype(values):
        time = values.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
        return time, time.isna().to_numpy() & False, int(values.notna().sum())
    text = _text(values)
    naive = int((text.notna() & ~text.str.contains(r"(?:Z|z|[+-]\d{2}:?\d{2})$", regex=True)).sum())
    time = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    # A year such as -1 parses (at a coarser resolution) but has no nanosecond time: unusable.
    lo, hi = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    time = time.where(time.isna() | ((time >= lo) & (time <= hi)))
    bad = time.isna().to_numpy()
    return time.astype("datetime64[ns, UTC]"), bad, naive
