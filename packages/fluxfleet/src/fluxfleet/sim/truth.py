"""Ground truth of a simulation run: the true flux of every closure and the faults.

One row per closure the firmware ran (keyed by device and the firmware's cycle number
``cyc``, which the device also publishes), written to Parquet:

=====================  ==========================================================  =========
column                 meaning                                                      unit
=====================  ==========================================================  =========
chamber                device id (``ch007``)                                        —
location               ``table.variant.replica``                                    —
cyc                    the firmware's cycle number (cycle start // period)          —
start, end             true time of the lid-close command / of leaving ``extended``  UTC
sealed                 the lid really sealed the pot (at the last step before open)  bool
flux_true_umol_m2_s    soil CO2 efflux at the start, F = g (C_s − c′), undisturbed  µmol m⁻² s⁻¹
gpp_umol_m2_s          gross photosynthesis in the chamber at the start             µmol m⁻² s⁻¹
nee_true_umol_m2_s     net flux the chamber sees at the start, F − GPP              µmol m⁻² s⁻¹
soil_pco2_ppm          soil-air CO2 at depth                                        µmol mol⁻¹
co2_dry_start_ppm      true dry CO2 in the chamber at the start                     µmol mol⁻¹
h2o_start_mmol_mol     true water-vapour mole fraction at the start                 mmol mol⁻¹
temperature_c          true chamber air temperature                                 °C
pressure_kpa           true pressure                                                kPa
lux                    true illuminance in the chamber                              lx
night                  lux ≤ 10 (the seed authors' night filter)                    bool
volume_cm3, area_cm2   true chamber volume and soil area                            cm³, cm²
faults                 fault kinds active at any time during the closure            csv str
complete               the closure ended normally (not cut by a reboot)             bool
=====================  ==========================================================  =========

The injected faults (kind, chamber, start, end, skew_ms) go to a second Parquet file
beside it, ``<stem>.faults.parquet``, and into the first file's key-value metadata
(``fluxfleet.faults``, JSON), so one file is enough to carry the whole truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluxfleet.sim.faults import Fault

if TYPE_CHECKING:
    import pandas as pd

    from fluxfleet.sim.fleet import Device, Fleet

CLOSED_PHASES = ("closing", "closed", "extended")
"""A closure runs from the lid-close command (``closing``) until ``opening``."""


def device_id(i: int) -> str:
    """Device id of chamber ``i`` (``ch000``…)."""
    return f"ch{i:03d}"


def location_code(i: int) -> str:
    """A unique ``table.variant.replica`` for chamber ``i``: 16 chambers per table from 5."""
    return f"{5 + i // 16}.{(i // 4) % 4 + 1}.{'ABCD'[i % 4]}"


NIGHT_LUX = 10.0


@dataclass
class _Open:
    row: dict[str, Any]
    start_ms: int


class TruthRecorder:
    """Watches every controller's phase and records the truth of each closure."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.rows: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self._open: dict[int, _Open] = {}
        self._phase: dict[int, str] = {}
        self._head: dict[int, int] = {}
        self._sealed: dict[int, bool] = {}

    def note_event(self, device: int, kind: str, now_ms: int) -> None:
        """Record a non-fault event (e.g. a forced recalibration) with its time."""
        self.events.append({"chamber": device, "kind": kind, "time_ms": now_ms})

    def before_step(self, d: Device) -> None:
        c = d.controller
        assert c is not None
        self._phase[d.index] = c.phase
        self._head[d.index] = c.ring.head
        if c.phase in CLOSED_PHASES:  # the lid state the closed phase actually had
            self._sealed[d.index] = bool(self.fleet.sealed_now[d.index])

    def after_step(self, d: Device) -> None:
        c = d.controller
        if c is None:
            return
        i = d.index
        self.fleet.samples += c.ring.head - self._head.get(i, c.ring.head)
        was, now = self._phase.get(i), c.phase
        if was == now:
            return
        inside_before = was in CLOSED_PHASES
        inside_now = now in CLOSED_PHASES
        if inside_now and not inside_before:
            self._start(d, c.cyc)
        elif inside_before and not inside_now:
            self._end(i, self.fleet.now_ms, complete=True)

    def device_stopped(self, device: int, now_ms: int) -> None:
        """A reboot cut the device off: an open closure ends incomplete."""
        if device in self._open:
            self._end(device, now_ms, complete=False)
        self._phase.pop(device, None)

    def _start(self, d: Device, cyc: int) -> None:
        f = self.fleet
        g = f.greenhouse
        i = d.index
        s = g.state
        flux = float(s.flux_soil_umol_m2_s[i])
        gpp = float(s.gpp_umol_m2_s[i])
        lux = g.now["lux"]
        row = {
            "chamber": d.dev,
            "location": d.loc,
            "cyc": int(cyc),
            "start": f.now_ms,
            "end": f.now_ms,
            "sealed": bool(f.sealed_now[i]),
            "flux_true_umol_m2_s": flux,
            "gpp_umol_m2_s": gpp,
            "nee_true_umol_m2_s": flux - gpp,
            "soil_pco2_ppm": float(s.soil_pco2_ppm[i]),
            "co2_dry_start_ppm": float(s.co2_dry_ppm[i]),
            "h2o_start_mmol_mol": float(s.h2o_mol_mol[i]) * 1000.0,
            "temperature_c": g.now["air_t_c"],
            "pressure_kpa": g.now["pressure_hpa"] / 10.0,
            "lux": lux,
            "night": lux <= NIGHT_LUX,
            "volume_cm3": g.geometry.volume_cm3,
            "area_cm2": g.geometry.area_cm2,
            "faults": "",
            "complete": False,
        }
        self._open[i] = _Open(row, f.now_ms)

    def _end(self, device: int, now_ms: int, complete: bool) -> None:
        op = self._open.pop(device)
        row = op.row
        row["end"] = now_ms
        row["complete"] = complete
        row["sealed"] = self._sealed.pop(device, False)
        f = self.fleet
        a = (op.start_ms - f.start_ms) / 1000.0
        b = (now_ms - f.start_ms) / 1000.0
        kinds = []
        for flt in f.fault_list:
            if flt.chamber != device:
                continue
            if flt.kind == "reboot":
                hit = a <= flt.start_s <= b
            else:
                hit = flt.start_s < b and flt.end_s > a
            if hit and flt.kind not in kinds:
                kinds.append(flt.kind)
        row["faults"] = ",".join(kinds)
        self.rows.append(row)

    def finish(self, now_ms: int) -> None:
        """End closures still open at the end of the run (incomplete)."""
        for device in list(self._open):
            self._end(device, now_ms, complete=False)

    # --- output -----------------------------------------------------------------------------
    def closures(self) -> pd.DataFrame:
        """The truth table (see the module docstring)."""
        return closures_frame(self.rows)

    def faults(self) -> pd.DataFrame:
        """The injected faults with absolute UTC times."""
        return faults_frame(self.fleet.fault_list, self.fleet.start_ms)


def closures_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Truth rows → the closures table, ``start``/``end`` as UTC timestamps."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=["chamber", "cyc", "start", "end"])
    for col in ("start", "end"):
        df[col] = pd.to_datetime(df[col], unit="ms", utc=True)
    return df.sort_values(["chamber", "cyc", "start"]).reset_index(drop=True)


def faults_frame(faults: list[Fault], start_ms: int) -> pd.DataFrame:
    """Injected faults → a table with absolute UTC times and device ids."""
    import pandas as pd

    rows = [
        {
            "kind": flt.kind,
            "chamber": device_id(flt.chamber),
            "start": pd.Timestamp(start_ms + flt.start_s * 1000.0, unit="ms", tz="UTC"),
            "end": pd.Timestamp(start_ms + flt.end_s * 1000.0, unit="ms", tz="UTC"),
            "skew_ms": int(flt.skew_ms),
        }
        for flt in faults
    ]
    return pd.DataFrame(rows, columns=["kind", "chamber", "start", "end", "skew_ms"])


def write_truth(
    path: str | Path,
    closures: pd.DataFrame,
    faults: pd.DataFrame,
    run_info: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write the closures to ``path`` and the faults beside it; return both paths.

    The faults also go into the closures file's metadata (``fluxfleet.faults``), and
    ``run_info`` into ``fluxfleet.run``. Files are written to temporary names and
    renamed, so a crash leaves no half-written file.
    """
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    p = Path(path)
    faults_path = p.with_name(p.stem + ".faults.parquet")
    meta = {
        "fluxfleet.faults": faults.assign(
            start=faults["start"].astype(str), end=faults["end"].astype(str)
        ).to_json(orient="records"),
        "fluxfleet.run": json.dumps(run_info or {}),
    }
    table = pa.Table.from_pandas(closures, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    tmp = p.with_name(p.name + ".tmp")
    tmp2 = faults_path.with_name(faults_path.name + ".tmp")
    try:
        pq.write_table(table, tmp)
        faults.to_parquet(tmp2, index=False)
        tmp.replace(p)
        tmp2.replace(faults_path)
    finally:  # an error or Ctrl-C while writing leaves no temporary file behind
        for leftover in (tmp, tmp2):
            leftover.unlink(missing_ok=True)
    return p, faults_path


def read_truth(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a truth file: (closures, faults) — faults from the file's own metadata."""
    import pandas as pd
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    closures = table.to_pandas()
    raw = (table.schema.metadata or {}).get(b"fluxfleet.faults", b"[]")
    faults = pd.DataFrame(json.loads(raw))
    if not faults.empty:
        for col in ("start", "end"):
            faults[col] = pd.to_datetime(faults[col], utc=True)
    return closures, faults
