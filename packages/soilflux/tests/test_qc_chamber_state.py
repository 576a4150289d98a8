"""Chamber-state flags: a lid stuck closed (``not_flushed``), stuck open, or a clogged pot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from soilflux.options import FluxOptions
from soilflux.pipeline import compute_fluxes
from soilflux.qc import DEFAULT_DROP, FLAGS, not_flushed
from soilflux.synthetic import SyntheticClosures, synthetic_closures

FLEET = dict(kappa_s=(0.0, 0.002), leak_s=(0.0, 0.0005), lag_s=20.0, noise_ppm=3.0)


def _flag(out: pd.DataFrame, name: str) -> np.ndarray:
    return out["flags"].str.split(",").apply(lambda f: name in f).to_numpy()


def test_not_flushed_rule_on_a_sequence() -> None:
    # chamber A: flushed (≈450), then stuck closed from closure 4 on (each start = the
    # previous start + its rise + the open-phase accumulation); chamber B: always flushed
    c0 = np.array([450, 452, 449, 451, 530, 610, 690, 760, 450, 451, 449, 452, 450, 448], float)
    rise = np.full(14, 40.0)
    chamber = ["A"] * 8 + ["B"] * 6
    start = np.r_[np.arange(8), np.arange(6)] * 600.0
    hit = not_flushed(chamber, start, c0, rise)
    expected = np.zeros(14, bool)
    expected[4:8] = True  # 530: by the step (80 ≥ 25, ≥ half of 40); 610+: also the excess
    np.testing.assert_array_equal(hit, expected)
    # the excess alone (no step rule: fraction too high) catches it from 100 ppm on
    only_excess = not_flushed(chamber, start, c0, rise, step_fraction=100.0)
    np.testing.assert_array_equal(only_excess, np.array([0] * 5 + [1, 1, 1] + [0] * 6, bool))
    # input order does not matter
    perm = np.random.default_rng(1).permutation(14)
    shuffled = not_flushed(np.asarray(chamber)[perm], start[perm], c0[perm], rise[perm])
    np.testing.assert_array_equal(shuffled, hit[perm])


def test_not_flushed_needs_a_real_step_and_recent_history() -> None:
    chamber = ["A"] * 4
    # a 30-ppm step after a closure that rose by 100 ppm: less than half of it came back
    assert not not_flushed(chamber, [0, 600, 1200, 1800], [450, 450, 480, 480], [100] * 4).any()
    # the previous closure did not rise (noise): no carry-over can be inferred
    assert not not_flushed(chamber, [0, 600, 1200, 1800], [450, 450, 480, 480], [3] * 4).any()
    # the same step after a 40-ppm rise is carried over
    hit = not_flushed(chamber, [0, 600, 1200, 1800], [450, 450, 480, 480], [40] * 4)
    assert hit.tolist() == [False, False, True, False]
    # more than max_gap_s apart: not the previous closure; beyond window_s: not the baseline
    far = np.array([0.0, 1.0, 2.0, 3.0]) * 7 * 3600
    assert not not_flushed(chamber, far, [450, 600, 750, 900], [40] * 4).any()
    # NaN start or C′0: never flagged, and does not break the others
    hit = not_flushed(["A"] * 3, [0, np.nan, 1200], [450, 900, 700], [40, 40, 40])
    assert hit.tolist() == [False, False, True]
    assert not not_flushed([], [], [], []).any()


def _stuck_closed_sequence(n: int, stuck_from: int, seed: int) -> tuple[SyntheticClosures, int]:
    """One chamber closing every 10 min; from `stuck_from` on its lid stays closed, so each
    closure starts where the previous one would have been 10 min after it started."""
    syn = synthetic_closures(
        n, seed=seed, flux_umol_m2_s=(1.0, 3.0), c0_ppm=(445.0, 455.0), **FLEET
    )  # type: ignore[arg-type]
    closures = syn.closures.copy()
    closures["chamber"] = "pot-1"
    closures["start"] = pd.Timestamp("2023-09-15T20:00:00Z") + pd.to_timedelta(
        np.arange(n) * 600, unit="s"
    )
    closures["end"] = closures["start"] + pd.Timedelta(seconds=300)
    # accumulated dry CO2 at the start of each stuck closure: 600 s of the previous rate
    gain = np.where(np.arange(n) >= stuck_from, syn.true_dcdt_ppm_s * 600.0, 0.0)
    offset = np.concatenate([[0.0], np.cumsum(gain)[:-1]])
    offset[: stuck_from + 1] = 0.0  # the first stuck closure still started flushed
    samples = syn.samples.copy()
    w = samples["h2o_mmol_mol"].to_numpy() / 1000.0
    samples["co2_ppm"] += offset[samples["closure"].to_numpy()] * (1.0 - w)
    return SyntheticClosures(
        samples=samples,
        closures=closures,
        true_flux_umol_m2_s=syn.true_flux_umol_m2_s,
        true_dcdt_ppm_s=syn.true_dcdt_ppm_s,
        kappa_s=syn.kappa_s,
        leak_s=syn.leak_s,
        stuck=syn.stuck,
        clogged=syn.clogged,
    ), stuck_from + 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_lid_stuck_closed_is_flagged_from_its_second_closure(seed: int) -> None:
    syn, first = _stuck_closed_sequence(24, 10, seed)
    out = compute_fluxes(syn.samples, syn.closures)
    expected = np.arange(24) >= first
    np.testing.assert_array_equal(_flag(out, "not_flushed"), expected)
    # folded into stuck_chamber (dropped by the default filter), never called clogged
    assert _flag(out, "stuck_chamber")[expected].all()
    assert not _flag(out, "stuck_chamber")[~expected].any()
    assert not _flag(out, "clogged")[expected].any()
    assert "not_flushed" in FLAGS
    assert "stuck_chamber" in DEFAULT_DROP


def test_not_flushed_thresholds_are_options() -> None:
    syn, first = _stuck_closed_sequence(24, 10, 1)
    default = compute_fluxes(syn.samples, syn.closures)
    assert _flag(default, "not_flushed")[first:].all()
    strict = FluxOptions(not_flushed_ppm=1e6, not_flushed_min_step_ppm=1e6)
    out = compute_fluxes(syn.samples, syn.closures, strict)
    assert not _flag(out, "not_flushed").any()
    with pytest.raises(ValueError, match="not_flushed"):
        FluxOptions(not_flushed_ppm=0.0)


def test_stuck_open_lid_and_clogged_pot_are_told_apart_by_the_humidity() -> None:
    """A clogged pot under a working lid: no CO2 rise, the humidity still rises (sealed).
    A lid stuck open: no CO2 rise, and the humidity stays or falls (it follows the drier
    ambient air, e.g. by day) — stuck, not clogged."""
    syn = synthetic_closures(300, seed=4, fraction_stuck=0.15, fraction_clogged=0.15, **FLEET)  # type: ignore[arg-type]
    samples = syn.samples.copy()
    closure = samples["closure"].to_numpy()
    falling = syn.stuck & (np.arange(300) % 2 == 0)  # half the stuck lids: drier air drifts in
    t = np.maximum(samples["elapsed_s"].to_numpy(), 0.0)
    drop = np.where(falling[closure], -1.3 * -np.expm1(-t / 60.0), 0.0)
    samples["h2o_mmol_mol"] = samples["h2o_mmol_mol"] + drop
    out = compute_fluxes(samples, syn.closures)
    stuck, clogged = _flag(out, "stuck_chamber"), _flag(out, "clogged")
    assert stuck[syn.stuck].all()  # humidity flat or falling: stuck, whichever
    assert not clogged[syn.stuck].any()
    assert clogged[syn.clogged].mean() > 0.9  # humidity rising: the lid works
    assert not stuck[syn.clogged].any()
    working = ~syn.stuck & ~syn.clogged
    assert not (stuck | _flag(out, "not_flushed"))[working].any()


def test_not_flushed_does_not_depend_on_chunks_and_marks_every_gas() -> None:
    syn, first = _stuck_closed_sequence(24, 10, 2)
    samples = syn.samples.copy()
    rng = np.random.default_rng(0)
    samples["ch4_ppb"] = 2000.0 + 0.01 * samples["elapsed_s"] + rng.normal(0, 0.5, len(samples))
    whole = compute_fluxes(samples, syn.closures)
    chunked = compute_fluxes(samples, syn.closures, FluxOptions(chunk_closures=5, workers=2))
    pd.testing.assert_series_equal(whole["flags"], chunked["flags"])
    expected = np.arange(24) >= first
    for gas in ("co2", "ch4"):
        rows = whole[whole["gas"] == gas]
        np.testing.assert_array_equal(_flag(rows, "not_flushed"), expected)
