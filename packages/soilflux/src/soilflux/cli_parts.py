"""Input files → the engine's ``(samples, closures)`` parts, one file at a time.

Reading a file is split in three steps so that :mod:`soilflux.cli_parallel` can run them on
other processes and still give the same parts as this module's serial :func:`iter_parts`:
:func:`read_file` (depends on the file only), :func:`carry_over` (joins the open closures
the previous file left: the one step that must run in file order) and
:func:`segment_file`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy.typing as npt
import pandas as pd
from pandas.api.types import union_categoricals

from soilflux.conventions import segment_options
from soilflux.io import (
    ANALYSER_FORMATS,
    FORMATS,
    PIECE_ROWS,
    ColumnMap,
    Format,
    InputError,
    ReadMetadata,
    assign_closures,
    read,
    read_chambers,
    read_closure_table,
    read_pieces,
)
from soilflux.segment import SegmentReport, open_tail_rows, segment

Mask = npt.NDArray[Any]
#: One file's (or piece's) :func:`soilflux.segment.segment` result.
Segmented = tuple[pd.DataFrame, pd.DataFrame, SegmentReport]


@dataclass(frozen=True)
class Reading:
    """How every input file is read and segmented (picklable: sent to worker processes).

    Attributes
    ----------
    format : str
        One of :data:`soilflux.io.FORMATS`.
    strict : bool
        Fail on the first unusable value.
    tz : str
        IANA time zone of ``.81x`` clocks.
    columns : ColumnMap or None
        Column names, constants and delimiter of the input tables.
    chambers : pandas.DataFrame or None
        Chamber table (:func:`soilflux.io.read_chambers`).
    volume_cm3, area_cm2 : float or None
        One geometry for every chamber [cm³], [cm²].
    trim_opening : bool
        End fit windows before a re-opening drop.
    closure_table : pandas.DataFrame or None
        Closure table for analyser records (:func:`soilflux.io.read_closure_table`).
    piece_rows : int
        A longer Parquet table is read and segmented in pieces of at most this many rows
        (:func:`read_file_pieces`).
    """

    format: str = "auto"
    strict: bool = False
    tz: str = "UTC"
    columns: ColumnMap | None = None
    chambers: pd.DataFrame | None = None
    volume_cm3: float | None = None
    area_cm2: float | None = None
    trim_opening: bool = False
    closure_table: pd.DataFrame | None = None
    piece_rows: int = PIECE_ROWS

    def segment_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`soilflux.segment.segment` common to every file."""
        return {
            "chambers": self.chambers,
            "volume_cm3": self.volume_cm3,
            "area_cm2": self.area_cm2,
            "trim_opening": self.trim_opening,
        }


def make_reading(
    *,
    format: str = "auto",
    chambers: Path | None = None,
    volume_cm3: float | None = None,
    area_cm2: float | None = None,
    strict: bool = False,
    trim_opening: bool = False,
    tz: str = "UTC",
    columns: ColumnMap | None = None,
    closure_table_path: Path | None = None,
    metadata: list[ReadMetadata] | None = None,
    piece_rows: int = PIECE_ROWS,
) -> Reading:
    """A :class:`Reading` from :func:`iter_parts`' options, the side tables read (the chamber
    table's metadata appended to ``metadata``)."""
    if format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    table = None
    if chambers is not None:
        table, chamber_meta = read_chambers(chambers)
        if metadata is not None:
            metadata.append(chamber_meta)
    closure_table = (
        read_closure_table(closure_table_path) if closure_table_path is not None else None
    )
    return Reading(
        format=format,
        strict=strict,
        tz=tz,
        columns=columns,
        chambers=table,
        volume_cm3=volume_cm3,
        area_cm2=area_cm2,
        trim_opening=trim_opening,
        closure_table=closure_table,
        piece_rows=piece_rows,
    )


def read_file(path: Path, reading: Reading) -> tuple[pd.DataFrame, ReadMetadata]:
    """One file's records (an analyser record labelled with its closures)."""
    data, meta = read(
        path, cast(Format, reading.format), strict=reading.strict, tz=reading.tz,
        columns=reading.columns,
    )  # fmt: skip
    return _labelled(path, data, meta, reading)


def read_file_pieces(path: Path, reading: Reading) -> Iterator[tuple[pd.DataFrame, ReadMetadata]]:
    """:func:`read_file` one piece of consecutive rows at a time: a long Parquet table in
    pieces of at most ``reading.piece_rows`` rows (:func:`soilflux.io.read_pieces`), any
    other file whole. Each piece is carried over and segmented as if it were a file of its
    own; :func:`join_segmented` makes the file's pieces one part again. A generic table's
    identifiers come as categoricals (segmentation works on their codes)."""
    pieces = read_pieces(
        path, cast(Format, reading.format), strict=reading.strict, tz=reading.tz,
        columns=reading.columns, piece_rows=reading.piece_rows, categorical_ids=True,
    )  # fmt: skip
    for data, meta in pieces:
        yield _labelled(path, data, meta, reading)


def merge_metadata(total: ReadMetadata, piece: ReadMetadata) -> None:
    """Add a later piece's issues and new notes to its file's metadata."""
    total.issues.extend(piece.issues)
    total.notes.extend(n for n in piece.notes if n not in total.notes)


def _labelled(
    path: Path, data: pd.DataFrame, meta: ReadMetadata, reading: Reading
) -> tuple[pd.DataFrame, ReadMetadata]:
    """An analyser record labelled with its closures (other records as they are)."""
    if meta.format in ANALYSER_FORMATS:
        if reading.closure_table is None:
            raise InputError(
                path,
                None,
                None,
                "an analyser record says nothing of closures: give "
                "--closures (a table of chamber, start, end)",
            )
        data = assign_closures(data, reading.closure_table, meta)
        for name, option in (
            ("temperature_c", "--temperature-c"),
            ("pressure_kpa", "--pressure-kpa"),
        ):
            if name not in data.columns:
                raise InputError(
                    path, None, name, f"an analyser record holds no chamber {name}: give {option}"
                )
    return data, meta


def carry_over(
    data: pd.DataFrame, meta: ReadMetadata, carry: pd.DataFrame | None
) -> tuple[pd.DataFrame, Mask | None, pd.DataFrame | None]:
    """Generic tables are one continuous record: the open closures ``carry`` of the files
    before are prepended, and this file's own open tail is carried on (left out here, as a
    row mask, without splitting the frame). Other formats pass ``carry`` through.

    Returns
    -------
    data, tail, carry
        Records to segment, the rows to leave out (or None), the carry for the next file.
    """
    if meta.format != "generic":
        return data, None, carry
    if carry is not None:
        data = _concat_records(carry, data)
    tail = open_tail_rows(data)
    return data, tail, data[tail]


def _concat_records(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """``first``'s rows, then ``second``'s; categorical columns on the union of both sides'
    categories (pandas would make a column of two different categoricals one of objects)."""
    for name in first.columns.intersection(second.columns):
        a, b = first[name], second[name]
        if (
            isinstance(a.dtype, pd.CategoricalDtype)
            and isinstance(b.dtype, pd.CategoricalDtype)
            and a.dtype != b.dtype
        ):
            dtype = pd.CategoricalDtype(union_categoricals([a.array, b.array]).categories)
            first = first.assign(**{name: a.astype(dtype)})
            second = second.assign(**{name: b.astype(dtype)})
    return pd.concat([first, second], ignore_index=True)


def segment_file(
    data: pd.DataFrame, tail: Mask | None, file_format: str, reading: Reading
) -> tuple[pd.DataFrame, pd.DataFrame, SegmentReport] | None:
    """:func:`soilflux.segment.segment` of one file's records; None when nothing is left."""
    if data.empty or (tail is not None and tail.all()):
        return None
    return segment(data, **reading.segment_kwargs(), **segment_options(file_format), leave_out=tail)


def join_segmented(parts: list[Segmented]) -> Segmented | None:
    """A file's segmented pieces as one part (None when there are none): closures numbered
    on from piece to piece, the reports' counts added.

    The flux engine then sees the file's closures in one call, as when the file was
    segmented whole: its chunks of closures and the checks across a chamber's closures
    (``not_flushed``) do not depend on where the pieces were cut.
    """
    if len(parts) <= 1:
        return parts[0] if parts else None
    offset = 0
    all_samples: list[pd.DataFrame] = []
    all_closures: list[pd.DataFrame] = []
    report = SegmentReport()
    for samples, closures, piece_report in parts:
        # segment numbers closures 0..n-1 (the closure table's index) within a piece
        samples["closure"] = samples["closure"].to_numpy() + offset
        closures.index = pd.Index(closures.index.to_numpy() + offset, name="closure")
        all_samples.append(samples)
        all_closures.append(closures)
        report.add(piece_report)
        offset += len(closures)
    return (
        pd.concat(all_samples, ignore_index=True),
        pd.concat(all_closures),
        report,
    )


def segment_carry(
    carry: pd.DataFrame | None, reading: Reading
) -> tuple[pd.DataFrame, pd.DataFrame, SegmentReport] | None:
    """The closures still open after the last file, segmented as they are."""
    if carry is None or carry.empty:
        return None
    return segment(carry, **reading.segment_kwargs())


def iter_parts(
    inputs: list[Path],
    *,
    format: str = "auto",
    chambers: Path | None = None,
    volume_cm3: float | None = None,
    area_cm2: float | None = None,
    strict: bool = False,
    trim_opening: bool = False,
    progress: bool = False,
    tz: str = "UTC",
    columns: ColumnMap | None = None,
    closure_table_path: Path | None = None,
    metadata: list[ReadMetadata] | None = None,
    reports: list[SegmentReport] | None = None,
    piece_rows: int = PIECE_ROWS,
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Read and segment input files, one ``(samples, closures)`` part at a time.

    Memory holds one file or Parquet piece (plus the closures it leaves open) at a time.
    Generic tables are taken in the order given as one continuous record: each chamber's
    last closure, when the next file (or piece) may continue it, is carried over
    (:func:`soilflux.segment.open_tail`). Each LI-COR file is a part of its own.

    Parameters
    ----------
    inputs : list of Path
        Files to read, generic ones in time order.
    format : str
        One of :data:`soilflux.io.FORMATS`.
    chambers : Path, optional
        Chamber table (geometry and location per chamber).
    volume_cm3, area_cm2 : float, optional
        One geometry for every chamber [cm³], [cm²].
    strict : bool
        Fail on the first unusable value.
    trim_opening : bool
        End fit windows before a re-opening drop (see :mod:`soilflux.segment`).
    progress : bool
        Show a progress bar over the files.
    tz : str
        IANA time zone of ``.81x`` clocks.
    columns : ColumnMap, optional
        Column names, constants and delimiter of the input tables.
    closure_table_path : Path, optional
        Closure table (chamber, start, end) for analyser records
        (:func:`soilflux.io.read_closure_table`).
    metadata, reports : list, optional
        Filled with each file's :class:`ReadMetadata` and each file's
        :class:`SegmentReport` (the counts of all its parts).
    piece_rows : int
        A long Parquet table is read and segmented in pieces of at most this many rows,
        each carried over to the next as files are (memory stays bounded; a closure's
        samples never straddle two parts).

    Yields
    ------
    samples, closures
        The engine's input for one part, closures numbered from 0 within the part.
    """
    metadata = metadata if metadata is not None else []
    reports = reports if reports is not None else []
    reading = make_reading(
        format=format,
        chambers=chambers,
        volume_cm3=volume_cm3,
        area_cm2=area_cm2,
        strict=strict,
        trim_opening=trim_opening,
        tz=tz,
        columns=columns,
        closure_table_path=closure_table_path,
        metadata=metadata,
        piece_rows=piece_rows,
    )
    files: Any = inputs
    if progress and len(inputs) > 1:
        from tqdm import tqdm

        files = tqdm(inputs, desc="reading", unit="file", file=sys.stderr)
    carry: pd.DataFrame | None = None
    for path in files:
        file_meta: ReadMetadata | None = None
        segmented: list[Segmented] = []
        for data, meta in read_file_pieces(path, reading):
            # one metadata per file, the later pieces' issues and notes added in
            if file_meta is None:
                file_meta = meta
                metadata.append(meta)
            else:
                merge_metadata(file_meta, meta)
            data, tail, carry = carry_over(data, meta, carry)
            part = segment_file(data, tail, meta.format, reading)
            del data
            if part is not None:
                segmented.append(part)
        joined = join_segmented(segmented)
        del segmented
        if joined is None:
            continue
        samples, closures, report = joined
        reports.append(report)
        if len(closures):
            yield samples, closures
    last = segment_carry(carry, reading)
    if last is not None:
        samples, closures, report = last
        reports.append(report)
        if len(closures):
            yield samples, closures


def parts_with_format(
    inputs: list[Path], metadata: list[ReadMetadata], **kwargs: Any
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, str]]:
    """:func:`iter_parts`, each part with the format of the file it came from (taken when
    the part is made: a reader ahead of its consumer has appended later files' metadata)."""
    for samples, closures in iter_parts(inputs, metadata=metadata, **kwargs):
        yield samples, closures, metadata[-1].format
