"""Aggregation of per-closure fluxes: hourly means, replicate statistics, filter rates and
treatment-minus-control differences.

Vocabulary (the Carbdown greenhouse): a *location* ``table.variant.replica`` (e.g. ``9.2.B``)
is one pot; a *variant* ``table.variant`` (``9.2``) is one treatment on one soil, measured on
several replicate pots; a *table* (``9``) carries one soil. Chambers move between pots, so
replicate statistics are taken over locations, not chambers.

Variant statistics are two-stage: first the hourly mean of each replicate (location), then
mean, standard deviation, standard error and a Student-t 95 % confidence interval across
the replicates measured in that hour.

Treatment-minus-control differences pair a treatment variant with its control hour by hour
(both measured in the same hour, as the fleet is designed to do). Per hour the standard
error is √(SE_T² + SE_C²) with Welch–Satterthwaite degrees of freedom. Over the whole
period the mean of the hourly differences gets a t interval across hours; hours are
autocorrelated, so that interval is optimistic — it is also given over daily means, which
is the more honest one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from soilflux.io.chambers import LOCATION_PATTERN
from soilflux.io.errors import InputError

By = Literal["hour", "chamber", "location", "variant"]
BY_CHOICES: tuple[str, ...] = ("hour", "chamber", "location", "variant")
FLUX = "flux_umol_m2_s"


def split_location(location: pd.Series) -> pd.DataFrame:
    """Split ``table.variant.replica`` codes.

    Parameters
    ----------
    location : pandas.Series
        Location codes (NA allowed).

    Returns
    -------
    pandas.DataFrame
        ``table``, ``variant`` (``table.variant``) and ``replica``; NA where the code is
        missing or malformed.
    """
    text = location.astype("string")
    valid = text.str.match(LOCATION_PATTERN.pattern).fillna(False).astype(bool)
    parts = text.where(valid).str.split(".", n=2, expand=True, regex=False)
    if parts.shape[1] < 3:
        parts = pd.DataFrame({0: pd.NA, 1: pd.NA, 2: pd.NA}, index=location.index, dtype="string")
    out = pd.DataFrame(index=location.index)
    out["table"] = parts[0].astype("string")
    out["variant"] = (parts[0] + "." + parts[1]).astype("string")
    out["replica"] = parts[2].astype("string")
    return out


def _t95(n: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Two-sided 95 % Student-t quantile for n values (NaN where n < 2)."""
    df = np.where(n >= 2, n - 1.0, np.nan)
    return np.asarray(stats.t.ppf(0.975, df), dtype=np.float64)


def _with_ci(frame: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
    n = frame[f"{prefix}n"].to_numpy(dtype=np.float64)
    se = frame[f"{prefix}sd"].to_numpy(dtype=np.float64) / np.sqrt(n)
    half = _t95(n) * se
    mean = frame[f"{prefix}mean"].to_numpy(dtype=np.float64)
    frame[f"{prefix}se"] = se
    frame[f"{prefix}ci95_low"] = mean - half
    frame[f"{prefix}ci95_high"] = mean + half
    return frame


def _prepared(fluxes: pd.DataFrame, gas: str | None) -> pd.DataFrame:
    for column in ("chamber", "start", FLUX):
        if column not in fluxes.columns:
            raise ValueError(f"fluxes table has no {column!r} column")
    df = fluxes
    if gas is not None and "gas" in df.columns:
        df = df[df["gas"] == gas]
    df = df.copy()
    df["hour"] = pd.to_datetime(df["start"], utc=True).dt.floor("h")
    location = df["location"] if "location" in df.columns else pd.Series(pd.NA, index=df.index)
    df["location"] = location.astype("string")
    df = pd.concat([df, split_location(df["location"])], axis=1)
    return df


def hourly_means(
    fluxes: pd.DataFrame, *, by: By = "chamber", gas: str | None = "co2"
) -> pd.DataFrame:
    """Hourly mean flux per chamber, per location, or per variant with replicate statistics.

    Parameters
    ----------
    fluxes : pandas.DataFrame
        Per-closure fluxes (``chamber``, ``location``, ``gas``, ``start``,
        ``flux_umol_m2_s`` [µmol m⁻² s⁻¹]); normally the filtered view.
    by : {"chamber", "hour", "location", "variant"}
        ``hour`` is a synonym of ``chamber`` (hourly means per chamber).
    gas : str or None
        Gas to aggregate (None: all rows, which only makes sense for one gas).

    Returns
    -------
    pandas.DataFrame
        chamber/location: ``hour``, the key, ``n`` (closures), ``mean``, ``sd``, ``se``,
        ``ci95_low``, ``ci95_high`` [µmol m⁻² s⁻¹] (sd and CI over the hour's closures).
        variant: ``hour``, ``table``, ``variant``, ``n_replicates``, ``n_closures``,
        ``mean``, ``sd``, ``se``, ``ci95_low``, ``ci95_high`` across replicate means
        [µmol m⁻² s⁻¹].
    """
    if by not in BY_CHOICES:
        raise ValueError(f"by must be one of {', '.join(BY_CHOICES)}, got {by!r}")
    df = _prepared(fluxes, gas)
    if by in ("hour", "chamber"):
        keys = ["hour", "chamber"]
    elif by == "location":
        df = df[df["location"].notna()]
        keys = ["hour", "location"]
    else:
        return _variant_hourly(df[df["variant"].notna()])
    grouped = df.groupby(keys, sort=True, observed=True)[FLUX]
    out = grouped.agg(n="count", mean="mean", sd="std").reset_index()
    if by == "location":
        out = pd.concat([out, split_location(out["location"])[["table", "variant"]]], axis=1)
    return _with_ci(out)


def _variant_hourly(df: pd.DataFrame) -> pd.DataFrame:
    per_location = (
        df.groupby(["hour", "table", "variant", "location"], sort=True, observed=True)[FLUX]
        .agg(n_closures="count", replicate_mean="mean")
        .reset_index()
    )
    grouped = per_location.groupby(["hour", "table", "variant"], sort=True, observed=True)
    out = grouped.agg(
        n=("replicate_mean", "count"),
        n_closures=("n_closures", "sum"),
        mean=("replicate_mean", "mean"),
        sd=("replicate_mean", "std"),
    ).reset_index()
    out = _with_ci(out)
    return out.rename(columns={"n": "n_replicates"})


def filter_rate_weekly(
    fluxes: pd.DataFrame, kept: pd.Index | npt.NDArray[np.bool_], *, gas: str | None = "co2"
) -> pd.DataFrame:
    """Share of closures removed by the quality filter, per week and table.

    Parameters
    ----------
    fluxes : pandas.DataFrame
        All per-closure fluxes (unfiltered).
    kept : pandas.Index or bool array
        Index labels of ``fluxes`` that the filter kept, or a boolean mask aligned with it.
    gas : str or None
        Gas whose rows are counted (one row per closure).

    Returns
    -------
    pandas.DataFrame
        ``week`` (Monday 00:00 UTC), ``table`` (``unknown`` without a location),
        ``n_closures``, ``n_removed``, ``filter_rate_percent`` [%].
    """
    if isinstance(kept, pd.Index):
        keep_mask = fluxes.index.isin(kept)
    else:
        keep_mask = np.asarray(kept, dtype=bool)
        if keep_mask.shape != (len(fluxes),):
            raise ValueError("kept mask must have one value per row of fluxes")
    frame = fluxes.assign(_removed=~keep_mask)
    df = _prepared(frame, gas)
    day = df["hour"].dt.floor("D")
    df["week"] = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    df["table"] = df["table"].fillna("unknown")
    out = (
        df.groupby(["week", "table"], sort=True, observed=True)["_removed"]
        .agg(n_closures="count", n_removed="sum")
        .reset_index()
    )
    out["n_removed"] = out["n_removed"].astype(np.int64)
    out["filter_rate_percent"] = 100.0 * out["n_removed"] / out["n_closures"]
    return out


def read_controls(path: str | Path) -> dict[str, str]:
    """Read a control mapping: treatment variant → control variant (``table.variant``).

    Two layouts, chosen by the suffix:

    * ``.toml``: a ``[controls]`` table, one ``"treatment" = "control"`` line each::

          [controls]
          "9.1" = "9.0"   # basalt against no rock, table 9
          "9.2" = "9.0"

    * anything else: CSV with columns ``treatment`` and ``control``.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    dict
        treatment variant → control variant.

    Raises
    ------
    InputError
        Naming the file, line (CSV) or key (TOML) of what is wrong.
    """
    path = Path(path)
    if path.suffix.lower() == ".toml":
        return _read_controls_toml(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(path, None, None, f"cannot read as CSV: {exc}") from exc
    raw.columns = pd.Index([str(c).strip().lower() for c in raw.columns])
    for column in ("treatment", "control"):
        if column not in raw.columns:
            raise InputError(path, 1, column, "required column is missing")
    mapping: dict[str, str] = {}
    for i, (treatment, control) in enumerate(zip(raw["treatment"], raw["control"], strict=True)):
        line = i + 2
        for field, value in (("treatment", treatment), ("control", control)):
            if not _is_variant(value.strip()):
                raise InputError(path, line, field, f"{value!r} is not a variant table.variant")
        if treatment.strip() in mapping:
            raise InputError(path, line, "treatment", f"{treatment!r} is mapped twice")
        mapping[treatment.strip()] = control.strip()
    return mapping


def _is_variant(code: str) -> bool:
    parts = code.split(".")
    return len(parts) == 2 and all(p and not p.isspace() for p in parts)


def _read_controls_toml(path: Path) -> dict[str, str]:
    import tomllib

    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, None, None, f"cannot read: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(path, None, None, f"not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        import re

        found = re.search(r"at line (\d+)", str(exc))  # Python < 3.14 has no exc.lineno
        line = int(found.group(1)) if found else None
        raise InputError(path, line, None, f"invalid TOML: {exc}") from exc
    return controls_from_table(document.get("controls"), path)


def controls_from_table(table: object, path: str | Path) -> dict[str, str]:
    """Check a parsed ``[controls]`` TOML table (treatment variant → control variant).

    Parameters
    ----------
    table : object
        The value of the file's ``controls`` key (a dict of str → str).
    path : str or Path
        The file, named in errors.

    Returns
    -------
    dict
        treatment variant → control variant.

    Raises
    ------
    InputError
        Naming the file and the key ``controls.<treatment>`` at fault.
    """
    if table is None:
        raise InputError(path, None, "controls", "no [controls] table")
    if not isinstance(table, dict):
        raise InputError(path, None, "controls", 'must be a table of "treatment" = "control"')
    mapping: dict[str, str] = {}
    for treatment, control in table.items():
        key = f"controls.{treatment}"
        if not _is_variant(str(treatment)):
            raise InputError(path, None, key, f"{treatment!r} is not a variant table.variant")
        if not isinstance(control, str) or not _is_variant(control.strip()):
            raise InputError(path, None, key, f"{control!r} is not a variant table.variant")
        if control.strip() == treatment:
            raise InputError(path, None, key, "a variant cannot be its own control")
        mapping[str(treatment)] = control.strip()
    return mapping


def treatment_minus_control(
    variant_hourly: pd.DataFrame, controls: Mapping[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hour-by-hour and whole-period differences treatment − control.

    Parameters
    ----------
    variant_hourly : pandas.DataFrame
        Output of ``hourly_means(..., by="variant")``.
    controls : mapping
        Treatment variant → control variant (``table.variant``).

    Returns
    -------
    hourly : pandas.DataFrame
        ``hour``, ``treatment``, ``control``, ``treatment_mean``, ``control_mean``,
        ``difference``, ``se``, ``ci95_low``, ``ci95_high`` [µmol m⁻² s⁻¹] (Welch), ``df``.
    summary : pandas.DataFrame
        Per pair: ``n_hours``, ``treatment_mean``, ``control_mean``, ``difference``,
        ``relative_percent`` [%], ``ci95_low``/``ci95_high`` over hours, ``n_days`` and
        ``daily_ci95_low``/``daily_ci95_high`` over daily means [µmol m⁻² s⁻¹].
    """
    v = variant_hourly.set_index(["variant", "hour"])
    rows: list[pd.DataFrame] = []
    summary: list[dict[str, object]] = []
    for treatment, control in controls.items():
        if treatment not in v.index.get_level_values(0) or control not in v.index.get_level_values(
            0
        ):
            continue
        t = v.loc[treatment]
        c = v.loc[control]
        both = t.add_suffix("_t").join(c.add_suffix("_c"), how="inner")
        if both.empty:
            continue
        se_t = both["se_t"].to_numpy(dtype=np.float64)
        se_c = both["se_c"].to_numpy(dtype=np.float64)
        se = np.sqrt(se_t**2 + se_c**2)
        n_t = both["n_replicates_t"].to_numpy(dtype=np.float64)
        n_c = both["n_replicates_c"].to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            dof = se**4 / (se_t**4 / (n_t - 1.0) + se_c**4 / (n_c - 1.0))
        half = np.asarray(stats.t.ppf(0.975, dof), dtype=np.float64) * se
        diff = both["mean_t"].to_numpy() - both["mean_c"].to_numpy()
        hourly = pd.DataFrame(
            {
                "hour": both.index,
                "treatment": treatment,
                "control": control,
                "treatment_mean": both["mean_t"].to_numpy(),
                "control_mean": both["mean_c"].to_numpy(),
                "difference": diff,
                "se": se,
                "df": dof,
                "ci95_low": diff - half,
                "ci95_high": diff + half,
            }
        )
        rows.append(hourly)
        summary.append(difference_summary(hourly, treatment, control))
    hourly_out = (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(
            columns=[
                "hour",
                "treatment",
                "control",
                "treatment_mean",
                "control_mean",
                "difference",
                "se",
                "df",
                "ci95_low",
                "ci95_high",
            ]
        )
    )
    return hourly_out, pd.DataFrame(summary)


def difference_summary(hourly: pd.DataFrame, treatment: str, control: str) -> dict[str, object]:
    """Whole-period summary of one pair's hourly differences treatment − control.

    Parameters
    ----------
    hourly : pandas.DataFrame
        That pair's rows of :func:`treatment_minus_control`'s hourly table: ``hour``,
        ``treatment_mean``, ``control_mean``, ``difference`` [µmol m⁻² s⁻¹].
    treatment, control : str
        The pair's variants (``table.variant``).

    Returns
    -------
    dict
        ``n_hours``, ``treatment_mean``, ``control_mean``, ``difference`` (mean of the hourly
        differences), ``relative_percent`` [%] (difference / control mean), ``ci95_low``/
        ``ci95_high`` (Student-t 95 % interval over hours), ``n_days`` and
        ``daily_ci95_low``/``daily_ci95_high`` (over daily means of the differences, which
        allows for the hours of a day being correlated) [µmol m⁻² s⁻¹].
    """
    diff = hourly["difference"].to_numpy(dtype=np.float64)
    mean_diff = float(np.mean(diff))
    control_mean = float(np.mean(hourly["control_mean"]))
    low, high = _t_interval(diff)
    daily = hourly.groupby(hourly["hour"].dt.floor("D"))["difference"].mean()
    d_low, d_high = _t_interval(daily.to_numpy(dtype=np.float64))
    return {
        "treatment": treatment,
        "control": control,
        "n_hours": len(diff),
        "treatment_mean": float(np.mean(hourly["treatment_mean"])),
        "control_mean": control_mean,
        "difference": mean_diff,
        "relative_percent": 100.0 * mean_diff / control_mean if control_mean else np.nan,
        "ci95_low": low,
        "ci95_high": high,
        "n_days": len(daily),
        "daily_ci95_low": d_low,
        "daily_ci95_high": d_high,
    }


def _t_interval(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Student-t 95 % interval of the mean of ``values`` (NaN for fewer than two)."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n < 2:
        return float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, n - 1)) * float(np.std(values, ddof=1)) / np.sqrt(n)
    mean = float(np.mean(values))
    return mean - half, mean + half
