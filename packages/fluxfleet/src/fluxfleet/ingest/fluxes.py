"""Live fluxes: each finished closure's flux, computed with soilflux as its data arrive.

The fleet computes with `fluxfleet.flux_options.FLEET_FLUX_OPTIONS`: soilflux's
chamber-shared HM, where a closure's curvature κ is pooled over its chamber's closures
within ±``shared_window_s``/2. A closure's flux therefore depends on its neighbours, and
a new closure (or a late sample) changes the fluxes of the chamber's closures around it.
So, for each device with new closure data, :class:`LiveFluxes` computes the finished
closures first (from their pools' samples: the live flux), then every closure with a
``cycle`` message whose pool the new data can reach, from the samples of the surrounding
hours, with exactly the chain ``soilflux compute`` runs on an exported file
(`soilflux.io.parse_generic_table` → `soilflux.segment.segment` →
`soilflux.pipeline.compute_fluxes`), and replaces their stored fluxes. Once a closure's
neighbourhood is complete its stored flux is the one ``soilflux compute`` gives on the
exported samples (tests/…/test_live_fluxes).

:class:`FluxWorker` runs this beside the ingestor in its own thread, coalescing what
arrives while it computes, so that a fast backlog costs a few passes, not one per batch.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from fluxfleet.ingest.batch import CLOSURE_PHASES, Dirty
from fluxfleet.ingest.layout import generic_samples
from fluxfleet.store import schema
from fluxfleet.store.base import Store

log = logging.getLogger(__name__)

MARGIN_S = 1800.0
"""Slack around the pooling window [s]: a closure's start (its first ``closed`` sample)
lies a little after its ``t_close``, and a closure lasts up to ~7 min."""


def _utc(ms: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000.0, tz=dt.UTC)


def soilflux_fluxes(generic: pd.DataFrame, options: Any) -> pd.DataFrame:
    """CO2 fluxes of the closures in ``generic`` (layout of :mod:`~fluxfleet.ingest.layout`).

    The same chain as ``soilflux compute`` on a generic file. Returns one row per closure:
    ``device``, ``cyc``, ``location``, ``start``, ``end``, ``flux_umol_m2_s``,
    ``flux_se_umol_m2_s`` [µmol m⁻² s⁻¹], ``model``, ``flags``, ``n_fit``, ``r2``,
    ``deadband_s`` [s].
    """
    from soilflux.conventions import for_format
    from soilflux.io import parse_generic_table
    from soilflux.pipeline import compute_fluxes
    from soilflux.segment import segment

    data, _meta = parse_generic_table(generic, source="store")
    sf_samples, sf_closures, _report = segment(data)
    if sf_closures.empty:
        return pd.DataFrame(columns=schema.FLUXES.names)
    out = compute_fluxes(sf_samples, sf_closures, for_format(options, "generic"))
    out = out[out["gas"].astype(str).str.startswith("co2")].copy()
    closures = sf_closures.reindex(out["closure"].to_numpy())
    se = np.full(len(out), np.nan)
    for model in out["model"].dropna().unique():
        column = f"flux_{model}_se"
        if column in out:
            rows = (out["model"] == model).to_numpy()
            se[rows] = out.loc[rows, column].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "device": closures["chamber"].astype(str).to_numpy(),
            "cyc": closures["closure_id"].astype(int).to_numpy(),
            "location": closures["location"].to_numpy(),
            "start": closures["start"].to_numpy(),
            "end": closures["end"].to_numpy(),
            "flux_umol_m2_s": out["flux_umol_m2_s"].to_numpy(dtype=float),
            "flux_se_umol_m2_s": se,
            "model": out["model"].astype("string").to_numpy(),
            "flags": out["flags"].fillna("").astype(str).to_numpy(),
            "n_fit": out["n"].to_numpy(dtype="int64"),
            "r2": out["r2"].to_numpy(dtype=float),
            "deadband_s": out["deadband_s"].to_numpy(dtype=float),
        }
    )


class LiveFluxes:
    """Recompute and store the fluxes that new closure data change (module docstring).

    Parameters
    ----------
    store : Store
        Where samples and closures are read and fluxes written.
    options : soilflux.options.FluxOptions, optional
        Default `fluxfleet.flux_options.FLEET_FLUX_OPTIONS`.
    volume_cm3, area_cm2 : float
        Chamber volume [cm³] and soil area [cm²] of every device.
    """

    def __init__(
        self, store: Store, volume_cm3: float, area_cm2: float, options: Any = None
    ) -> None:
        from fluxfleet.flux_options import FLEET_FLUX_OPTIONS

        self.store = store
        self.options = FLEET_FLUX_OPTIONS if options is None else options
        self.volume_cm3 = volume_cm3
        self.area_cm2 = area_cm2
        self.computed = 0

    @property
    def reach_s(self) -> float:
        """How far a change reaches into other closures' fluxes [s]."""
        return float(self.options.shared_window_s) / 2.0 + MARGIN_S

    def update(self, dirty: Dirty) -> int:
        """Recompute what ``dirty`` touches; return the number of fluxes stored.

        Two passes, each with all devices in one soilflux call (its pools are per chamber;
        one call costs far less than one per device when a synchronised fleet finishes its
        closures together): first the closures that changed, from their own pools' samples
        (±`shared_window_s`/2) — the live flux, soon; then their neighbours, whose pools the
        change reaches (from twice that span). Both give what ``soilflux compute`` gives
        once the neighbourhood is complete.
        """
        changed = self._changed(dirty)
        stored = self._compute(changed, neighbours=False)
        stored += self._compute(changed, neighbours=True)
        self.computed += stored
        return stored

    def _changed(self, dirty: Dirty) -> dict[str, list[int]]:
        """Lid-close times [ms] of the finished closures ``dirty`` touches, per device."""
        out: dict[str, list[int]] = {}
        for device in sorted(set(dirty.times_ms) | set(dirty.samples)):
            times = list(dirty.times_ms.get(device, []))
            late = dirty.samples.get(device, {})
            if late:  # samples of closures already finished (their cycle row is stored)
                lo, hi = min(late.values()), max(late.values())
                done = self.store.read("closures", _utc(lo - 3_600_000), _utc(hi + 1), [device])
                known = dict(
                    zip(
                        done["cyc"].to_pylist(),
                        done["time_close"].cast(pa.int64()).to_pylist(),
                        strict=True,
                    )
                )
                times += [known[c] for c in late if c in known]
            if times:
                out[device] = times
        return out

    def _compute(self, changed: dict[str, list[int]], *, neighbours: bool) -> int:
        if not changed:
            return 0
        reach_ms = self.reach_s * 1000.0
        devices = sorted(changed)
        # one read of all devices' closures and samples (a synchronised fleet's windows
        # coincide; a wider window only adds closures outside every target's pool)
        lo = min(min(t) for t in changed.values()) - (reach_ms if neighbours else 0)
        hi = max(max(t) for t in changed.values()) + (reach_ms if neighbours else 1)
        found = self.store.read("closures", _utc(lo), _utc(hi), devices)
        close_ms = found["time_close"].cast(pa.int64()).to_numpy()  # [ms]
        closures = found.select(["device", "cyc"]).to_pandas()
        keep = np.zeros(len(closures), dtype=bool)
        for device, times in changed.items():
            mine = (closures["device"] == device).to_numpy()
            if neighbours:  # every closure whose pool reaches a changed one
                keep |= mine & (close_ms >= min(times) - reach_ms)
                keep &= ~mine | (close_ms <= max(times) + reach_ms)
            else:  # the changed closures themselves
                keep |= mine & np.isin(close_ms, np.asarray(times, dtype=np.int64))
        targets = closures[keep]
        if targets.empty:
            return 0
        t_ms = close_ms[keep]
        samples = self.store.read(
            "samples",
            _utc(float(t_ms.min()) - reach_ms),
            _utc(float(t_ms.max()) + reach_ms),
            sorted(set(targets["device"])),
        )
        # soilflux segments only the closure rows (by closure_id); the others would be
        # read, parsed and dropped (two thirds of a chamber's samples)
        samples = samples.filter(pc.is_in(samples["phase"], pa.array(CLOSURE_PHASES)))
        if samples.num_rows == 0:
            return 0
        generic = generic_samples(samples, self.volume_cm3, self.area_cm2)
        fluxes = soilflux_fluxes(generic, self.options)
        wanted = pd.MultiIndex.from_arrays([targets["device"], targets["cyc"].astype("int64")])
        keys = pd.MultiIndex.from_arrays([fluxes["device"], fluxes["cyc"]])
        fluxes = fluxes[keys.isin(wanted)]
        if fluxes.empty:
            return 0
        fluxes = fluxes.assign(computed=pd.Timestamp.now(tz="UTC"))
        table = pa.Table.from_pandas(fluxes, preserve_index=False)
        self.store.write_fluxes(table.select(schema.FLUXES.names).cast(schema.FLUXES, safe=False))
        return len(fluxes)


class FluxWorker(threading.Thread):
    """Runs :class:`LiveFluxes` in its own thread; the ingestor :meth:`submit`s each batch."""

    def __init__(self, live: LiveFluxes) -> None:
        super().__init__(name="fluxfleet-fluxes", daemon=True)
        self.live = live
        self._pending = Dirty()
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self.errors = 0

    def submit(self, dirty: Dirty) -> None:
        """Queue what a committed batch changed."""
        if not dirty:
            return
        with self._cond:
            self._pending.merge(dirty)
            self._cond.notify_all()

    def run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or bool(self._pending))
                if self._stopping and not self._pending:
                    return
                work, self._pending = self._pending, Dirty()
                self._busy = True
            try:
                self.live.update(work)
            except Exception:  # a flux that cannot be computed never stops ingestion
                self.errors += 1
                log.exception("live flux computation failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def drain(self, timeout_s: float = 120.0) -> bool:
        """Wait until everything submitted is computed; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._pending and not self._busy,
                max(0.0, deadline - time.monotonic()),
            )

    def stop(self) -> None:
        """Finish what is pending, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.join()
