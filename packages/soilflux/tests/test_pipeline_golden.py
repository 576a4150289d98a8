"""compute_fluxes holds its output while it is made faster.

`data/fluxes_golden.csv.gz` holds the output of the code before the speed-up of issue 13
(commit 607610c) on a fixed sample of closures: the fleet's mix (curved, lagged, stuck,
clogged, daylight, pre-closure rows), the accuracy populations (curved and straight, 1 and
3 ppm), and the options whose code paths differ (default, kappa.max rule, fixed dead band,
no lag compensation, the chamber-shared HM).  Every change for speed must keep every number
within 1e-12 relative (the last bits of a sum may move with its order) and every model,
flag and count equal.  Regenerate only for a change that is *meant* to move outputs (done
once: 2026-12-07, the averaged HM's new prior, methods §5.0; with the old prior,
``averaged_prior_straight=0.3, averaged_min_kappa_span=0``, the code still gives the
607610c file within 1e-14):

    python packages/soilflux/tests/test_pipeline_golden.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from soilflux.options import FluxOptions
from soilflux.pipeline import compute_fluxes
from soilflux.synthetic import accuracy_closures, synthetic_closures

GOLDEN = Path(__file__).parent / "data" / "fluxes_golden.csv.gz"

CASES: dict[str, dict[str, object]] = {
    "default": {},
    "kappa_max_rule": {"hm_fallback": "robust"},
    "fixed_deadband": {"deadband_s": 30.0},
    "no_lag_compensation": {"lag_compensation": False},
    "shared": {"hm_fallback": "shared"},
}


def _samples() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    fleet = synthetic_closures(
        120,
        seed=7,
        kappa_s=(0.0, 0.006),
        fraction_stuck=0.05,
        fraction_clogged=0.05,
        fraction_daylight=0.1,
        pre_closure_s=30.0,
        chambers=6,
        rh_pct=(40.0, 85.0),
    )
    out = {"fleet": (fleet.samples, fleet.closures)}
    for population in ("curved", "straight"):
        for noise in (1.0, 3.0):
            syn = accuracy_closures(population, noise, 60, seed=11)
            out[f"{population}_{noise:g}ppm"] = (syn.samples, syn.closures)
    return out


def read_golden() -> pd.DataFrame:
    """The golden file: floats written with 17 significant digits (exact), NaN as ``nan``."""
    return pd.read_csv(GOLDEN, keep_default_na=False, na_values=["nan"])


def golden_table() -> pd.DataFrame:
    """Every case's fluxes on every sample, one frame (the golden file's contents)."""
    frames = []
    for sample, (samples, closures) in _samples().items():
        for case, kwargs in CASES.items():
            if case != "default" and sample not in ("fleet", "curved_3ppm"):
                continue
            out = compute_fluxes(samples, closures, FluxOptions(workers=1, **kwargs))  # type: ignore[arg-type]
            frames.append(out.assign(sample=sample, case=case))
    table = pd.concat(frames, ignore_index=True)
    return table.drop(columns=["start", "end", "location", "chamber"])


@pytest.fixture(scope="module")
def now() -> pd.DataFrame:
    return golden_table()


def test_outputs_match_the_golden_file(now: pd.DataFrame) -> None:
    before = read_golden()
    assert list(now.columns) == list(before.columns)
    assert len(now) == len(before)
    numeric = [c for c in before.columns if pd.api.types.is_numeric_dtype(before[c])]
    exact = [c for c in before.columns if c not in numeric]
    for c in exact:
        assert (now[c].to_numpy() == before[c].to_numpy()).all(), c
    for c in numeric:
        a = now[c].to_numpy(dtype=np.float64)
        b = before[c].to_numpy(dtype=np.float64)
        assert (np.isnan(a) == np.isnan(b)).all(), c
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0.0, err_msg=c)


def test_the_sample_exercises_every_path(now: pd.DataFrame) -> None:
    # the golden file is only worth its name if it covers the models and flags that the
    # code paths produce (a sample with one model would hold nothing of the others)
    models = set(now["model"])
    assert {"hm_averaged", "robust", "hm"} <= models
    flags = ",".join(now["flags"])
    for flag in ("stuck_chamber", "clogged", "daylight"):
        assert flag in flags


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    golden_table().to_csv(GOLDEN, index=False, float_format="%.17g", na_rep="nan")
    print(f"wrote {GOLDEN}")
