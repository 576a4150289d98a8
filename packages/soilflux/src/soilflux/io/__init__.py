"""Readers: each returns ``(data, metadata)`` with columns renamed to soilflux names.

``data`` is one row per sample (see :data:`SAMPLE_COLUMNS`); :func:`soilflux.segment.segment`
turns it into the engine's ``(samples, closures)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pandas as pd

from soilflux.humidity import h2o_from_rh
from soilflux.io.analysers import (
    ANALYSER_FORMATS,
    detect_analyser,
    read_licor78x0,
    read_picarro_g2508,
    read_ugga,
)
from soilflux.io.chambers import read_chambers
from soilflux.io.closures import assign_closures, read_closure_table
from soilflux.io.columns import ColumnMap, parse_columns_option
from soilflux.io.errors import InputError, ReadMetadata, RowIssue, missing_reason
from soilflux.io.generic import (
    PIECE_ROWS,
    SAMPLE_COLUMNS,
    parse_generic_table,
    read_generic,
    read_generic_pieces,
)
from soilflux.io.licor81x import read_licor81x
from soilflux.io.licor82z import read_licor82z
from soilflux.io.licorjson import read_licorjson
from soilflux.io.presets import PRESETS

Format = Literal[
    "auto",
    "generic",
    "licor-81x",
    "licor-json",
    "licor-82z",
    "gasfluxes",
    "fluxible",
    "goflux",
    "licor-78x0",
    "lgr-ugga",
    "picarro-g2508",
]
FORMATS: tuple[str, ...] = (
    "auto",
    "generic",
    "licor-81x",
    "licor-json",
    "licor-82z",
    "gasfluxes",
    "fluxible",
    "goflux",
    *ANALYSER_FORMATS,
)
#: Formats read as a generic table (with a preset column map): one continuous record.
TABLE_FORMATS: tuple[str, ...] = ("generic", *PRESETS)

__all__ = [
    "ANALYSER_FORMATS",
    "FORMATS",
    "PIECE_ROWS",
    "PRESETS",
    "SAMPLE_COLUMNS",
    "TABLE_FORMATS",
    "ColumnMap",
    "Format",
    "InputError",
    "ReadMetadata",
    "RowIssue",
    "assign_closures",
    "detect_format",
    "h2o_from_rh",
    "parse_columns_option",
    "parse_generic_table",
    "read",
    "read_chambers",
    "read_closure_table",
    "read_generic",
    "read_licor81x",
    "read_licor82z",
    "read_licorjson",
    "read_pieces",
]


def detect_format(path: str | Path) -> str:
    """Guess a file's format from its name and first bytes.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        ``licor-81x``, ``licor-json``, an analyser format (``licor-78x0``, ``lgr-ugga``,
        ``picarro-g2508``) or ``generic``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".81x":
        return "licor-81x"
    if suffix == ".json":
        return "licor-json"
    if suffix == ".82z":
        return "licor-82z"
    if suffix in (".parquet", ".pq"):
        return "generic"
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise InputError(path, None, None, f"cannot open: {exc}") from exc
    if head.startswith(b"LI-8100"):
        return "licor-81x"
    if head.lstrip().startswith(b"{"):
        return "licor-json"
    return detect_analyser(path, head) or "generic"


def read(
    path: str | Path,
    format: Format = "auto",
    *,
    strict: bool = False,
    tz: str = "UTC",
    columns: ColumnMap | None = None,
) -> tuple[pd.DataFrame, ReadMetadata]:
    """Read any supported file.

    Parameters
    ----------
    path : str or Path
        The file.
    format : str
        One of :data:`FORMATS`. ``auto`` guesses with :func:`detect_format`;
        ``gasfluxes``, ``fluxible`` and ``goflux`` read a peer's table
        (:mod:`soilflux.io.presets`); ``licor-78x0``, ``lgr-ugga`` and ``picarro-g2508``
        an analyser's record (:mod:`soilflux.io.analysers`), which needs a closure table.
    strict : bool
        Raise on the first unusable value instead of reporting it.
    tz : str
        IANA time zone of a ``.81x`` file's clock (the file does not say); UTC by default.
    columns : ColumnMap, optional
        Column names, constants and delimiter of a table (on top of a preset's). For the
        instrument formats only its constants are used, where the file has no such values.

    Returns
    -------
    data : pandas.DataFrame
        Samples with soilflux column names.
    metadata : ReadMetadata
        Per-file information, issues and notes.
    """
    if not Path(path).is_file():
        raise InputError(path, None, None, missing_reason(path))
    chosen = detect_format(path) if format == "auto" else format
    if chosen == "generic":
        return read_generic(path, strict=strict, columns=columns)
    if chosen in PRESETS:
        preset = PRESETS[chosen].merged(columns)
        return read_generic(path, strict=strict, columns=preset, format_name=chosen)
    if chosen == "licor-81x":
        data, meta = read_licor81x(path, tz=tz, strict=strict)
    elif chosen == "licor-json":
        data, meta = read_licorjson(path, strict=strict)
    elif chosen == "licor-82z":
        data, meta = read_licor82z(path, tz=tz, strict=strict)
    elif chosen == "licor-78x0":
        data, meta = read_licor78x0(path, strict=strict)
    elif chosen == "lgr-ugga":
        data, meta = read_ugga(path, tz=tz, strict=strict)
    elif chosen == "picarro-g2508":
        data, meta = read_picarro_g2508(path, tz=tz, strict=strict)
    else:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if columns is not None:
        _fill_constants(data, meta, columns)
    return data, meta


def read_pieces(
    path: str | Path,
    format: Format = "auto",
    *,
    strict: bool = False,
    tz: str = "UTC",
    columns: ColumnMap | None = None,
    piece_rows: int = PIECE_ROWS,
    categorical_ids: bool = False,
) -> Iterator[tuple[pd.DataFrame, ReadMetadata]]:
    """:func:`read`, a long Parquet table one piece of at most ``piece_rows`` consecutive
    rows at a time (:func:`soilflux.io.generic.read_generic_pieces`); any other file is
    one piece. Arguments as :func:`read`; ``categorical_ids`` gives a generic table's
    identifier columns as categoricals (:func:`soilflux.io.generic.read_generic`).

    Yields
    ------
    data, metadata
        Each piece's samples and metadata, in file order.
    """
    if not Path(path).is_file():
        raise InputError(path, None, None, missing_reason(path))
    chosen = detect_format(path) if format == "auto" else format
    if chosen == "generic":
        yield from read_generic_pieces(
            path,
            strict=strict,
            columns=columns,
            piece_rows=piece_rows,
            categorical_ids=categorical_ids,
        )
    elif chosen in PRESETS:
        preset = PRESETS[chosen].merged(columns)
        yield from read_generic_pieces(
            path,
            strict=strict,
            columns=preset,
            format_name=chosen,
            piece_rows=piece_rows,
            categorical_ids=categorical_ids,
        )
    else:
        yield read(path, format, strict=strict, tz=tz, columns=columns)


def _fill_constants(data: pd.DataFrame, meta: ReadMetadata, columns: ColumnMap) -> None:
    """Constants where an instrument file holds no value of the quantity."""
    for name, value in columns.constants.items():
        if name in data.columns and data[name].notna().any():
            meta.notes.append(f"{name} from the file (constant {value:g} not used)")
            continue
        data[name] = value
        meta.notes.append(f"{name} = {value:g} for every row (constant)")
