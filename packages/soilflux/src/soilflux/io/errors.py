"""What the readers report: fatal input errors, per-row issues and file metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


class InputError(ValueError):
    """A file that cannot be read, naming the file, line and field.

    Parameters
    ----------
    path : str or Path
        The file.
    line : int or None
        1-based line of a text file (row for Parquet), or None when the whole file is at fault.
    field : str or None
        The column or header key at fault.
    message : str
        What is wrong.
    """

    def __init__(self, path: str | Path, line: int | None, field: str | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        where = self.path if line is None else f"{self.path}:{line}"
        what = f"field {field!r}: " if field else ""
        super().__init__(f"{where}: {what}{message}")


def missing_reason(path: str | Path) -> str:
    """Why ``path`` cannot be read as a file: a directory, or nothing there."""
    return "is a directory, not a file" if Path(path).is_dir() else "no such file"


@dataclass(frozen=True)
class RowIssue:
    """One value that could not be used; the row is kept (or its exclusion is reported).

    Attributes
    ----------
    path : str
        The file.
    line : int or None
        1-based line of a text file (row number for Parquet).
    field : str
        Column (soilflux name) holding the value.
    value : str
        The offending text.
    message : str
        What was done with it.
    """

    path: str
    line: int | None
    field: str
    value: str
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: field {self.field!r}: {self.message} ({self.value!r})"

    def as_error(self) -> InputError:
        """The issue as an :class:`InputError` (``strict`` reading)."""
        return InputError(self.path, self.line, self.field, f"{self.message} ({self.value!r})")


@dataclass
class ReadMetadata:
    """What a reader learnt about a file besides its samples.

    Attributes
    ----------
    path : str
        The file.
    format : str
        ``generic``, ``licor-81x`` or ``licor-json``.
    observations : pandas.DataFrame
        One row per vendor observation (LI-COR files; empty for the generic table), indexed by
        ``closure_id``: ``chamber``, ``start``, ``volume_cm3`` [cm³], ``area_cm2`` [cm²],
        ``deadband_s`` [s], ``obs_length_s`` [s] and the vendor's own results
        (``vendor_flux_<gas>`` [µmol m⁻² s⁻¹, CH4 converted from nmol], ``vendor_model``, ...).
    issues : list of RowIssue
        Unusable values, each naming file, line and field.
    notes : list of str
        Conversions and assumptions made while reading (e.g. time zone, dry → wet).
    header : dict
        The file's own header fields, as found.
    """

    path: str
    format: str
    observations: pd.DataFrame = field(default_factory=pd.DataFrame)
    issues: list[RowIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    header: dict[str, Any] = field(default_factory=dict)
