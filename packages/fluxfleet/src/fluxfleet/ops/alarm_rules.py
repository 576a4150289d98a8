"""Alarm rules: pure functions from the store's tables to per-device conditions.

Each rule takes pandas frames of the store's tables (:mod:`fluxfleet.store.schema`, as
``Store.read(...).to_pandas()`` gives them) and the evaluation time, and returns one row
per device it could judge (:data:`COLUMNS`): ``active`` says whether the condition holds
now, ``value`` is the rule's measure (unit below), ``detail`` a short text for people.
A device a rule cannot judge (no data for it) gets no row: its alarm state stays as it is.
Debouncing, raising and clearing are :mod:`fluxfleet.ops.alarm_state`'s job.

=====================  ===========================================  =======================
kind                   condition                                    ``value``
=====================  ===========================================  =======================
``device_offline``     last will / status ``offline``, or no sample  age of the newest
                       for ``offline_after_s``                      sample [s]
``stuck_chamber``      soilflux's ``stuck_chamber`` flag on the      flagged closures in a
                       device's last ``flagged_closures`` closures   row at the end [-]
``clogged_pot``        soilflux's ``clogged`` flag, likewise, on     likewise [-]
                       night closures
``implausible_value``  ≥ ``bad_fraction`` of the samples of the      fraction [-]
                       last ``window_s`` outside CO2 350–10,000 ppm,
                       pressure 900–1,100 hPa, or RH ≥ 99 %
``sensor_error``       ≥ ``bad_fraction`` of the samples of the      fraction [-]
                       last ``window_s`` with a missing-reading or
                       I2C-error flag
``clock_skew``         the device clock stepped by more than         net step [s]
                       ``skew_max_s`` since its last NTP sync
``reboot_storm``       more than ``max_unplanned_boots`` unplanned   unplanned boots [-]
                       boots in the last ``reboot_window_s``
``calibration_drift``  night ambient CO2 off the fleet median of     median offset [ppm]
                       the same hour by more than ``drift_max_ppm``
``incomplete_data``    fewer than ``completeness_min`` of the        fraction [-]
                       expected samples in the last hour
=====================  ===========================================  =======================

Clock skew is read from the samples themselves, so it works whatever the server's clock
says (a simulator running faster than real time, a server without NTP): a device samples
every ``sample_ms`` by its own ticks, so consecutive sample times differ by that interval
unless the wall clock stepped; the net step since the last sync, over samples marked synced
(``FL_NOT_SYNCED`` clear, so the boot's first NTP step is not counted), is its skew. A slow
drift between syncs is not a step and is not seen; it is bounded by the hourly NTP sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fluxfleet.firmware import protocol

KINDS = (
    "device_offline",
    "stuck_chamber",
    "clogged_pot",
    "implausible_value",
    "sensor_error",
    "clock_skew",
    "reboot_storm",
    "calibration_drift",
    "incomplete_data",
)
"""Every alarm kind, in the order the evaluator runs the rules."""

SEVERITY = {
    "device_offline": "critical",
    "stuck_chamber": "major",
    "clogged_pot": "major",
    "implausible_value": "major",
    "sensor_error": "major",
    "clock_skew": "minor",
    "reboot_storm": "major",
    "calibration_drift": "minor",
    "incomplete_data": "minor",
}

COLUMNS = ["device", "kind", "active", "value", "detail"]
"""What every rule returns, one row per judged device."""

SENSOR_FLAGS = (
    protocol.FL_CO2_MISSING
    | protocol.FL_BARO_MISSING
    | protocol.FL_LIGHT_MISSING
    | protocol.FL_I2C_ERROR
)
"""Sample flag bits that mean a sensor did not deliver (``sensor_error``)."""

PLANNED_RESETS = ("hard",)
"""Reset causes of a planned reboot (the firmware's 6-h reboot and ``cmd reboot`` call
``machine.reset()``, which the board reports as ``hard``)."""

ENCLOSED_PHASES = ("closing", "closed", "extended", "flush")
"""Firmware phases whose CO2 is the chamber's own air (by day the plants draw it below
the greenhouse's; the flush replaces it over its first minute)."""

AMBIENT_PHASES = ("open", "flush")
"""Firmware phases whose CO2 is the greenhouse air (calibration drift is read there)."""


@dataclass(frozen=True)
class AlarmConfig:
    """Thresholds of the rules (units in the names)."""

    offline_after_s: float = 300.0
    """No sample for this long: offline (five telemetry messages missed) [s]."""
    window_s: float = 300.0
    """Span of a device's newest samples the value and sensor rules judge [s]."""
    bad_fraction: float = 0.5
    """Fraction of the window's samples that must be bad [-]."""
    co2_min_ppm: float = 350.0
    co2_max_ppm: float = 10_000.0
    pressure_min_hpa: float = 900.0
    pressure_max_hpa: float = 1100.0
    rh_max_percent: float = 99.0
    """RH at or above this is implausible (a wet or failing SCD30) [%]."""
    flagged_closures: int = 1
    """Closures in a row with a soilflux flag before ``stuck_chamber``/``clogged_pot``
    hold [-]. One keeps the alarm within two 10-min cycles of a fault's start (the live
    flux of a closure comes when it ends); more trade that for fewer false alarms."""
    skew_max_s: float = 5.0
    skew_step_min_s: float = 1.0
    """Steps of the sample clock smaller than this are sampling jitter [s]."""
    boot_settle_samples: int = 100
    """Samples of a boot not judged for clock steps [-]: the store labels a sample with
    the boot of the message that carried it, so the first messages of a boot carry the
    ring's last samples of the boot before and the reboot's pause (the firmware's
    ``max_batch``, 5 min of samples)."""
    max_unplanned_boots: int = 0
    """A reboot storm is more than this many unplanned boots per ``reboot_window_s`` [-]."""
    reboot_window_s: float = 3600.0
    drift_max_ppm: float = 100.0
    """Calibration drift: |device − fleet median| of night ambient CO2 above this [ppm]
    (the SCD30's accuracy is ±(30 ppm + 3 %), the FRC residual spread 15 ppm 1 σ)."""
    drift_min_devices: int = 3
    """Devices needed in an hour for a fleet median [-]."""
    night_lux: float = 10.0
    """Night: illuminance at or below this (the seed authors' filter) [lx]."""
    completeness_min: float = 0.9
    """Fraction of the expected samples per hour below which data are incomplete [-]."""
    completeness_lag_s: float = 120.0
    """The completeness hour ends this long before now (telemetry still on its way) [s]."""
    sample_ms: int = 3000
    """The devices' sampling interval (the firmware's ``sample_ms``) [ms]."""


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    # column by column: a frame from a list of dicts costs more than the rule (evaluated
    # every instant of the data clock)
    return pd.DataFrame(
        {
            "device": [r["device"] for r in rows],
            "kind": [r["kind"] for r in rows],
            "active": np.array([bool(r["active"]) for r in rows], dtype=bool),
            "value": np.array([r["value"] for r in rows], dtype=float),
            "detail": [r["detail"] for r in rows],
        },
        columns=COLUMNS,
    )


def _ms(series: pd.Series) -> np.ndarray:
    """UTC times → epoch milliseconds (float, NaN for missing)."""
    t = pd.to_datetime(series, utc=True)
    out = np.full(len(t), np.nan)
    ok = t.notna().to_numpy()
    out[ok] = t[ok].to_numpy(dtype="datetime64[ms]").astype(np.int64).astype(float)
    return out


def _now_ms(now: pd.Timestamp) -> float:
    return float(pd.Timestamp(now).value // 1_000_000)


def newest_window(samples: pd.DataFrame, window_s: float) -> pd.DataFrame:
    """Each device's samples within ``window_s`` of its own newest sample."""
    if samples.empty:
        return samples
    t = _ms(samples["time"])
    newest = pd.Series(t).groupby(samples["device"].to_numpy()).transform("max").to_numpy()
    return samples[t > newest - window_s * 1000.0]


def device_offline(
    devices: pd.DataFrame, last_sample: pd.DataFrame, now: pd.Timestamp, cfg: AlarmConfig
) -> pd.DataFrame:
    """``device_offline`` per device: its retained status says ``offline`` (the last will)
    or its newest sample is older than ``offline_after_s``.

    Parameters
    ----------
    devices : DataFrame
        ``devices`` table (``device``, ``state``).
    last_sample : DataFrame
        ``device``, ``time``: each device's newest sample, on the evaluation's clock.
    now : Timestamp
        Evaluation time (UTC).
    """
    state = dict(zip(devices["device"], devices["state"], strict=True)) if len(devices) else {}
    ages = dict(
        zip(last_sample["device"], (_now_ms(now) - _ms(last_sample["time"])) / 1000.0, strict=True)
    )
    rows: list[dict[str, Any]] = []
    for dev in sorted(set(state) | set(ages)):
        age = ages.get(dev, np.nan)
        will = state.get(dev) == "offline"
        stale = bool(np.isfinite(age) and age > cfg.offline_after_s)
        why = "last will: offline" if will else f"no sample for {age:.0f} s"
        rows.append(
            {
                "device": dev,
                "kind": "device_offline",
                "active": will or stale,
                "value": age,
                "detail": why if (will or stale) else "",
            }
        )
    return _frame(rows)


def _has_flag(flags: pd.Series, flag: str) -> np.ndarray:
    """Whether each comma-separated soilflux ``flags`` text names ``flag``."""
    names = flags.fillna("").astype(str)
    return names.str.contains(rf"(?:^|,){re.escape(flag)}(?:,|$)", regex=True).to_numpy(bool)


def _runs(keys: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of equal ``keys`` (sorted: one run per key)."""
    n = len(keys)
    if n == 0:
        return []
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]).tolist()
    return list(zip(starts, [*starts[1:], n], strict=True))


def _flagged(
    fluxes: pd.DataFrame, flag: str, kind: str, cfg: AlarmConfig, night_only: bool = False
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    if fluxes.empty:
        return _frame(rows)
    f = fluxes.sort_values(["device", "start"])
    if night_only:  # soilflux flags a closure with more than night_lux ``daylight``
        f = f[~_has_flag(f["flags"], "daylight")]
    has = _has_flag(f["flags"], flag)
    device = f["device"].to_numpy()
    for lo, hi in _runs(device):
        dev = device[lo]
        flags = has[lo:hi][::-1]
        run = int(np.argmin(flags)) if not flags.all() else len(flags)
        if run >= cfg.flagged_closures:
            active = True
        elif run == 0:
            active = False
        else:
            continue  # flagged, but not yet in enough closures: undecided
        rows.append(
            {
                "device": dev,
                "kind": kind,
                "active": active,
                "value": float(run),
                "detail": f"{flag} on the last {run} closure(s)" if active else "",
            }
        )
    return _frame(rows)


def stuck_chamber(fluxes: pd.DataFrame, cfg: AlarmConfig) -> pd.DataFrame:
    """``stuck_chamber``: soilflux flags ``stuck_chamber`` on the device's latest closures.

    At night a lid stuck open and a clogged pot both leave CO2 and humidity flat, and
    soilflux flags both ``stuck_chamber`` (tests/sim/test_faults): this alarm is then the
    one a clogged pot raises too.

    Parameters
    ----------
    fluxes : DataFrame
        ``fluxes`` table (``device``, ``start``, ``flags``).
    """
    return _flagged(fluxes, "stuck_chamber", "stuck_chamber", cfg)


def clogged_pot(fluxes: pd.DataFrame, cfg: AlarmConfig) -> pd.DataFrame:
    """``clogged_pot``: soilflux flags ``clogged`` on the device's latest night closures.

    Closures flagged ``daylight`` are left out: by day photosynthesis in the chamber can
    cancel the soil's efflux, and a healthy pot's net flux near zero is flagged ``clogged``
    (measured: 8 such alarms over a simulated day on 6 healthy chambers). The alarm then
    holds (or waits) through the day.
    """
    return _flagged(fluxes, "clogged", "clogged_pot", cfg, night_only=True)


def implausible_value(samples: pd.DataFrame, cfg: AlarmConfig) -> pd.DataFrame:
    """``implausible_value``: most recent samples outside the plausible ranges.

    CO2 outside [``co2_min_ppm``, ``co2_max_ppm``] [ppm], pressure outside
    [``pressure_min_hpa``, ``pressure_max_hpa``] [hPa], RH ≥ ``rh_max_percent`` [%];
    a missing reading is not judged here (``sensor_error`` is). CO2 below
    ``co2_min_ppm`` is plausible in a closed (or still flushing) chamber by day
    (lux > ``night_lux``): the plants' photosynthesis draws the enclosed air down
    (measured: healthy simulated chambers at 330–350 ppm in midday closures, 50–55 % of a
    5-min window); the range is for the greenhouse's air.

    Parameters
    ----------
    samples : DataFrame
        ``samples`` table (``device``, ``time``, ``co2_ppm``, ``pressure_hpa``,
        ``rh_percent``; ``phase`` and ``lux`` when present).
    """
    w = newest_window(samples, cfg.window_s)
    rows: list[dict[str, Any]] = []
    if w.empty:
        return _frame(rows)
    co2 = w["co2_ppm"].astype(float)
    low = co2 < cfg.co2_min_ppm
    if "phase" in w and "lux" in w:
        by_day = w["lux"].astype(float) > cfg.night_lux
        low &= ~(w["phase"].isin(ENCLOSED_PHASES) & by_day)
    p = w["pressure_hpa"].astype(float)
    rh = w["rh_percent"].astype(float)
    bad = pd.DataFrame(
        {
            "device": w["device"].to_numpy(),
            "CO2": (low | (co2 > cfg.co2_max_ppm)).to_numpy(),
            "pressure": ((p < cfg.pressure_min_hpa) | (p > cfg.pressure_max_hpa)).to_numpy(),
            "RH": (rh >= cfg.rh_max_percent).to_numpy(),
        }
    )
    bad["any"] = bad[["CO2", "pressure", "RH"]].any(axis=1)
    means = bad.groupby("device", sort=True).mean()
    for dev, m in zip(means.index, means.to_dict("records"), strict=True):
        frac = float(m["any"])
        active = frac >= cfg.bad_fraction
        what = [name for name in ("CO2", "pressure", "RH") if m[name] >= cfg.bad_fraction]
        detail = f"{', '.join(what) or 'values'} implausible in {frac:.0%} of samples"
        rows.append(
            {
                "device": dev,
                "kind": "implausible_value",
                "active": active,
                "value": frac,
                "detail": detail if active else "",
            }
        )
    return _frame(rows)


def sensor_error(samples: pd.DataFrame, cfg: AlarmConfig) -> pd.DataFrame:
    """``sensor_error``: most recent samples flagged with a missing reading or I2C error.

    Parameters
    ----------
    samples : DataFrame
        ``samples`` table (``device``, ``time``, ``flags``: protocol ``FL_*`` bits).
    """
    w = newest_window(samples, cfg.window_s)
    rows: list[dict[str, Any]] = []
    if w.empty:
        return _frame(rows)
    fl = w["flags"].fillna(0).astype(np.int64).to_numpy()
    names = {
        "CO2 missing": protocol.FL_CO2_MISSING,
        "pressure missing": protocol.FL_BARO_MISSING,
        "light missing": protocol.FL_LIGHT_MISSING,
        "I2C error": protocol.FL_I2C_ERROR,
    }
    frame = pd.DataFrame({n: (fl & b) != 0 for n, b in names.items()})
    frame["any"] = (fl & SENSOR_FLAGS) != 0
    frame["device"] = w["device"].to_numpy()
    means = frame.groupby("device", sort=True).mean()
    for dev, m in zip(means.index, means.to_dict("records"), strict=True):
        frac = float(m["any"])
        active = frac >= cfg.bad_fraction
        seen = [n for n in names if m[n] >= cfg.bad_fraction]
        rows.append(
            {
                "device": dev,
                "kind": "sensor_error",
                "active": active,
                "value": frac,
                "detail": f"{', '.join(seen)} in {frac:.0%} of samples" if active else "",
            }
        )
    return _frame(rows)


def clock_steps_s(time_ms: np.ndarray, seq: np.ndarray, sample_ms: float) -> np.ndarray:
    """Steps of a device's wall clock between consecutive samples [s].

    step_i = (t_i − t_{i−1}) − (seq_i − seq_{i−1}) · sample_ms, for samples sorted by
    ``seq`` [ms → s]: zero while the clock runs with the device's ticks.

    Parameters
    ----------
    time_ms : array
        Sample times [ms], sorted by ``seq``.
    seq : array
        The device's sample counter [-].
    sample_ms : float
        Sampling interval [ms], > 0.
    """
    if not sample_ms > 0:
        raise ValueError(f"sample_ms must be > 0, got {sample_ms}")
    t = np.asarray(time_ms, dtype=float)
    s = np.asarray(seq, dtype=float)
    return (np.diff(t) - np.diff(s) * sample_ms) / 1000.0


@dataclass(frozen=True)
class ClockTrack:
    """What :func:`clock_skew_update` carries from one evaluation to the next for a device:
    its last sample judged and the clock's net step so far."""

    seq: int
    time_ms: float
    synced: bool
    boot: int
    in_boot: int  # samples seen with this boot label [-]
    first_boot: bool  # the boot the evaluator first saw: its start is unknown
    skew_s: float  # net step of the clock [s]


def clock_skew_update(
    tracks: dict[str, ClockTrack], samples: pd.DataFrame, cfg: AlarmConfig
) -> tuple[dict[str, ClockTrack], pd.DataFrame]:
    """``clock_skew``: the net step of the device clock (module docstring) exceeds
    ``skew_max_s`` [s], carried from evaluation to evaluation in ``tracks``.

    Each device's samples newer (by ``seq``) than its track are judged in ``seq`` order;
    the step from the track's sample to the first new one counts too, so the net step is
    the same whether the samples come in one table or many. Steps are summed across
    reboots (a clock still wrong after a reboot stays wrong), but for steps to or between
    samples marked not synced, and for steps within the first ``boot_settle_samples``
    samples of a boot that began while watched: there lie the reboot's pause (the store
    labels a sample with the boot of the message that carried it, so a boot's first
    messages carry the last samples of the boot before, then the pause) and the boot's
    first NTP sync.

    Parameters
    ----------
    tracks : dict
        Device → :class:`ClockTrack` from the previous evaluation (not modified).
    samples : DataFrame
        ``samples`` table (``device``, ``seq``, ``boot``, ``time``, ``flags``).

    Returns
    -------
    (dict, DataFrame)
        The tracks after, and one condition row per device that has ever been synced.
    """
    out = dict(tracks)
    rows: list[dict[str, Any]] = []
    if len(samples):
        s = samples.sort_values(["device", "seq"])
        # numpy per device (this runs at every instant of the data clock)
        all_dev = s["device"].astype(str).to_numpy()
        all_t = _ms(s["time"])
        all_fl = s["flags"].fillna(0).astype(np.int64).to_numpy()
        all_boot = s["boot"].to_numpy(dtype=np.int64)
        all_seq = s["seq"].to_numpy(dtype=np.int64)
        for lo, hi in _runs(all_dev):
            dev = all_dev[lo]
            tr = out.get(dev)
            keep = slice(lo, hi) if tr is None else np.flatnonzero(all_seq[lo:hi] > tr.seq) + lo
            seq = all_seq[keep]
            if not len(seq):
                continue
            fl = all_fl[keep]
            synced = (fl & protocol.FL_NOT_SYNCED) == 0
            boot = all_boot[keep]
            t = all_t[keep]
            # each sample's position in its boot label, and whether that boot is the first
            # the evaluator saw (its start, and so its pause, may lie before it)
            if tr is None:
                first_boot = boot == boot.min()
            else:
                first_boot = boot == tr.boot if tr.first_boot else np.zeros(len(boot), bool)
            new_run = np.r_[True, boot[1:] != boot[:-1]]
            run = np.cumsum(new_run)
            run_start = np.flatnonzero(new_run)
            position = np.arange(len(boot)) - run_start[run - 1]
            if tr is not None:
                same = boot == tr.boot
                head = run == run[0]
                position = np.where(head & same, position + tr.in_boot, position)
                seq = np.concatenate([[tr.seq], seq])
                t = np.concatenate([[tr.time_ms], t])
                synced = np.concatenate([[tr.synced], synced])
            settling = ~first_boot & (position < cfg.boot_settle_samples)
            steps = clock_steps_s(t, seq, cfg.sample_ms) if len(seq) > 1 else np.zeros(0)
            counted = synced[1:] & synced[:-1] & ~settling[len(settling) - len(steps) :]
            big = counted & (np.abs(steps) >= cfg.skew_step_min_s)
            skew = (tr.skew_s if tr is not None else 0.0) + float(steps[big].sum())
            ever_synced = bool(synced.any()) or tr is not None
            out[str(dev)] = ClockTrack(
                int(seq[-1]), float(t[-1]), bool(synced[-1]), int(boot[-1]),
                int(position[-1]) + 1, bool(first_boot[-1]), skew,
            )  # fmt: skip
            if not ever_synced:
                out.pop(str(dev))
                continue
    for dev, tr in sorted(out.items()):
        active = abs(tr.skew_s) > cfg.skew_max_s
        rows.append(
            {
                "device": dev,
                "kind": "clock_skew",
                "active": active,
                "value": tr.skew_s,
                "detail": f"clock stepped {tr.skew_s:+.1f} s and was not set right"
                if active
                else "",
            }
        )
    return out, _frame(rows)


def clock_skew(samples: pd.DataFrame, cfg: AlarmConfig) -> pd.DataFrame:
    """:func:`clock_skew_update` of ``samples`` alone (no earlier evaluation)."""
    return clock_skew_update({}, samples, cfg)[1]


def boots(samples: pd.DataFrame) -> pd.DataFrame:
    """Each (device, boot) in ``samples`` with the time of its first sample.

    Returns ``device``, ``boot``, ``first`` (UTC).
    """
    if samples.empty:
        return pd.DataFrame({"device": [], "boot": [], "first": []})
    g = samples.groupby(["device", "boot"], sort=True)["time"].min().reset_index()
    return g.rename(columns={"time": "first"})


def reboot_storm(
    boot_table: pd.DataFrame, causes: dict[tuple[str, int], str], now: pd.Timestamp,
    cfg: AlarmConfig,
) -> pd.DataFrame:  # fmt: skip
    """``reboot_storm``: more than ``max_unplanned_boots`` unplanned boots in the last
    ``reboot_window_s`` [s].

    A boot is new when a device's samples show a boot number after an earlier one (the
    first boot seen is the baseline, not counted); it is planned when its reset cause (the
    device's ``meta``) is in :data:`PLANNED_RESETS`, unplanned otherwise (also when the
    cause was never seen: a storm's boots may not live long enough to report it).

    Parameters
    ----------
    boot_table : DataFrame
        :func:`boots` of the samples.
    causes : dict
        (device, boot) → reset cause, as the devices' ``meta`` reported them.
    now : Timestamp
        Evaluation time (UTC).
    """
    rows: list[dict[str, Any]] = []
    if boot_table.empty:
        return _frame(rows)
    since = _now_ms(now) - cfg.reboot_window_s * 1000.0
    b = boot_table.assign(_t=_ms(boot_table["first"])).sort_values(["device", "boot"])
    per: dict[str, list[tuple[int, float]]] = {}
    for dev, k, t in zip(b["device"], b["boot"], b["_t"], strict=True):
        per.setdefault(str(dev), []).append((int(k), float(t)))
    for dev, seen in per.items():
        unplanned = [
            k for k, t in seen[1:] if t >= since and causes.get((dev, k)) not in PLANNED_RESETS
        ]
        n = len(unplanned)
        active = n > cfg.max_unplanned_boots
        rows.append(
            {
                "device": dev,
                "kind": "reboot_storm",
                "active": active,
                "value": float(n),
                "detail": (
                    f"{n} unplanned boot(s) in {cfg.reboot_window_s / 3600:g} h "
                    f"(boots {', '.join(map(str, unplanned))})"
                )
                if active
                else "",
            }
        )
    return _frame(rows)


def calibration_drift(samples: pd.DataFrame, cfg: AlarmConfig) -> pd.DataFrame:
    """``calibration_drift``: a device's night ambient CO2 is off the fleet's median.

    For each UTC hour of night (lux ≤ ``night_lux``) with at least ``drift_min_devices``
    devices, each device's median CO2 in ambient phases (:data:`AMBIENT_PHASES`) minus the
    fleet median of those medians; a device's drift is the median of its hours' offsets
    [ppm], active beyond ±``drift_max_ppm``.

    Parameters
    ----------
    samples : DataFrame
        ``samples`` table (``device``, ``time``, ``phase``, ``lux``, ``co2_ppm``).
    """
    rows: list[dict[str, Any]] = []
    if samples.empty:
        return _frame(rows)
    s = samples[
        samples["phase"].isin(AMBIENT_PHASES)
        & (samples["lux"].astype(float) <= cfg.night_lux)
        & samples["co2_ppm"].notna()
    ]
    if s.empty:
        return _frame(rows)
    hour = pd.to_datetime(s["time"], utc=True).dt.floor("h")
    per = s.groupby([s["device"], hour])["co2_ppm"].median().rename("co2").reset_index()
    per.columns = ["device", "hour", "co2"]
    n = per.groupby("hour")["device"].transform("nunique")
    per = per[n >= cfg.drift_min_devices]
    if per.empty:
        return _frame(rows)
    per = per.assign(offset=per["co2"] - per.groupby("hour")["co2"].transform("median"))
    for dev, g in per.groupby("device", sort=True):
        drift = float(g["offset"].median())
        active = abs(drift) > cfg.drift_max_ppm
        rows.append(
            {
                "device": dev,
                "kind": "calibration_drift",
                "active": active,
                "value": drift,
                "detail": f"{drift:+.0f} ppm from the fleet median at night" if active else "",
            }
        )
    return _frame(rows)


def incomplete_data(samples: pd.DataFrame, now: pd.Timestamp, cfg: AlarmConfig) -> pd.DataFrame:
    """``incomplete_data``: fewer than ``completeness_min`` of the expected samples
    (3600 s / ``sample_ms``) in the hour ending ``completeness_lag_s`` before ``now``, or
    before the device's newest sample if that is earlier.

    So a device whose data are late (an outage: ``device_offline`` tells that) is judged
    on the hour it has delivered, and this alarm tells holes in the data. Devices whose
    first sample in ``samples`` is after that hour began are not judged (a device that just
    joined). Samples are counted by their own time, so a backlog sent after an outage
    completes its hour again.

    Parameters
    ----------
    samples : DataFrame
        ``samples`` table (``device``, ``time``), covering at least that hour.
    now : Timestamp
        Evaluation time (UTC).
    """
    rows: list[dict[str, Any]] = []
    if samples.empty:
        return _frame(rows)
    expected = 3600_000.0 / cfg.sample_ms
    t = _ms(samples["time"])
    device = samples["device"].to_numpy()
    by = pd.Series(t).groupby(device, sort=True)
    first, newest = by.min(), by.max()
    end = newest.clip(upper=_now_ms(now)) - cfg.completeness_lag_s * 1000.0
    start = end - 3600_000.0
    row_end = end.reindex(device).to_numpy()
    inside = (t >= row_end - 3600_000.0) & (t < row_end)
    counts = pd.Series(inside).groupby(device, sort=True).sum()
    for dev in first.index[(first <= start).to_numpy()]:
        n = int(counts[dev])
        frac = n / expected
        active = frac < cfg.completeness_min
        rows.append(
            {
                "device": dev,
                "kind": "incomplete_data",
                "active": active,
                "value": frac,
                "detail": f"{n} of {expected:.0f} samples in the last hour" if active else "",
            }
        )
    return _frame(rows)
