"""The console's analysis file (TOML): what the Treatment, Calibration and Soil pCO₂ pages
need beyond the store. Named by the ``analysis`` setting (``FLUXFLEET_ANALYSIS``); read
again at every request, so an edit shows on the next page load. docs/fleet/analysis.md.

::

    [controls]                      # treatment variant = its control (table.variant)
    "9.2" = "9.1"

    [reference]                     # a reference flux meter's files (LI-COR)
    max_gap_min = 30                # pair with the fleet closure nearest in time
    [[reference.files]]
    path = "licor/9.2.B.json"       # relative to this file
    location = "9.2.B"              # the pot the reference chamber stood on
    tz = "UTC"                      # time zone of the file's clock (.81x)

    [pco2]                          # soil pCO₂ table (long layout, see soilflux.io.pco2)
    path = "soil_pco2_daily_2023.csv"
    tz = "UTC"

    [calibration]                   # a calibration session (default: 2 h around the
    start = 2023-09-16T00:00:00Z    # newest frc command in the store)
    end = 2023-09-16T04:00:00Z
    recalibration = 2023-09-16T02:00:00Z
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soilflux.aggregate import controls_from_table
from soilflux.io import InputError
from soilflux.io.chambers import LOCATION_PATTERN


class AnalysisConfigError(ValueError):
    """An analysis file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class ReferenceFile:
    """One reference-instrument file and the pot its chamber stood on."""

    path: Path
    location: str
    tz: str = "UTC"


@dataclass(frozen=True)
class AnalysisConfig:
    """The parsed analysis file (paths resolved against its folder)."""

    path: Path | None = None
    controls: dict[str, str] = field(default_factory=dict)
    reference_files: tuple[ReferenceFile, ...] = ()
    reference_max_gap_min: float = 30.0
    pco2_path: Path | None = None
    pco2_tz: str = "UTC"
    calibration_start: dt.datetime | None = None
    calibration_end: dt.datetime | None = None
    calibration_recalibration: dt.datetime | None = None


def _fail(path: Path, key: str, message: str) -> AnalysisConfigError:
    return AnalysisConfigError(f"{path}: {key}: {message}")


def _table(doc: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise _fail(path, key, "must be a table")
    return value


def _time(value: object, path: Path, key: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _fail(path, key, f"{value!r} is not an ISO 8601 time") from None
    if not isinstance(value, dt.datetime):
        raise _fail(path, key, f"{value!r} is not a date-time")
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _file(base: Path, value: object, path: Path, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise _fail(path, key, "must be a file path (text)")
    return (base / value).resolve()


def load_analysis(path: Path | None) -> AnalysisConfig:
    """Read and check the analysis file (``None``: an empty configuration).

    Raises
    ------
    AnalysisConfigError
        Naming the file, the line (TOML syntax) or key, and what is wrong.
    """
    if path is None:
        return AnalysisConfig()
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnalysisConfigError(f"{path}: no such file (the analysis setting)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AnalysisConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise AnalysisConfigError(f"{path}: invalid TOML: {exc}") from None
    known = {"controls", "reference", "pco2", "calibration"}
    for key in doc:
        if key not in known:
            raise _fail(path, key, f"unknown section (known: {', '.join(sorted(known))})")
    base = path.parent
    controls: dict[str, str] = {}
    if "controls" in doc:
        try:
            controls = controls_from_table(doc["controls"], path)
        except InputError as exc:
            raise AnalysisConfigError(str(exc)) from None

    ref = _table(doc, "reference", path)
    gap = ref.get("max_gap_min", 30.0)
    if isinstance(gap, bool) or not isinstance(gap, int | float) or not 0 < gap <= 24 * 60:
        raise _fail(path, "reference.max_gap_min", f"{gap!r} is not in (0, 1440] min")
    files = ref.get("files", [])
    if not isinstance(files, list):
        raise _fail(path, "reference.files", "must be an array of tables [[reference.files]]")
    refs = []
    for i, entry in enumerate(files):
        key = f"reference.files[{i}]"
        if not isinstance(entry, dict):
            raise _fail(path, key, "must be a table")
        location = entry.get("location")
        if not isinstance(location, str) or not LOCATION_PATTERN.match(location):
            raise _fail(path, key + ".location", f"{location!r} is not table.variant.replica")
        tz = entry.get("tz", "UTC")
        if not isinstance(tz, str):
            raise _fail(path, key + ".tz", "must be a time zone name")
        refs.append(
            ReferenceFile(_file(base, entry.get("path"), path, key + ".path"), location, tz)
        )

    pco2 = _table(doc, "pco2", path)
    pco2_path = _file(base, pco2["path"], path, "pco2.path") if "path" in pco2 else None
    pco2_tz = pco2.get("tz", "UTC")
    if not isinstance(pco2_tz, str):
        raise _fail(path, "pco2.tz", "must be a time zone name")

    cal = _table(doc, "calibration", path)
    start = _time(cal.get("start"), path, "calibration.start")
    end = _time(cal.get("end"), path, "calibration.end")
    if start is not None and end is not None and end <= start:
        raise _fail(path, "calibration.end", "must be after calibration.start")
    return AnalysisConfig(
        path=path,
        controls=controls,
        reference_files=tuple(refs),
        reference_max_gap_min=float(gap),
        pco2_path=pco2_path,
        pco2_tz=pco2_tz,
        calibration_start=start,
        calibration_end=end,
        calibration_recalibration=_time(
            cal.get("recalibration"), path, "calibration.recalibration"
        ),
    )
