"""Quality control: MDF, κ_max, g-factor, selection rule, flags and the filtered view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from soilflux.qc import (
    DEFAULT_DROP,
    FLAGS,
    filtered,
    flag_bits,
    flags_to_strings,
    g_factor,
    hm_is_sound,
    kappa_max,
    mdf_christiansen,
    mdf_nickerson,
    nrmse,
    r_squared,
    select_model,
)


def test_mdf_forms_for_a_carbdown_like_closure() -> None:
    # notes §6: σ = 10 ppm, t_c = 180 s, flux term ≈ 8.3 mol m⁻² → 0.46 and 0.46/√60
    christiansen = mdf_christiansen(10.0, 180.0, 8.3)
    assert christiansen == pytest.approx(10 / 180 * 8.3)
    assert mdf_nickerson(10.0, 180.0, 3.0, 8.3) == pytest.approx(christiansen / np.sqrt(60))


def test_kappa_max_is_linear_flux_over_mdf_times_time() -> None:
    slope, prec, tc, term = 0.2, 10.0, 180.0, 8.3
    f_lin = slope * term
    assert kappa_max(slope, prec) == pytest.approx(f_lin / (mdf_christiansen(prec, tc, term) * tc))
    assert kappa_max(-0.2, 10.0) == pytest.approx(0.02)


def test_goodness_of_fit_numbers() -> None:
    assert r_squared(1.0, 4.0) == pytest.approx(0.75)
    assert nrmse(4.0, 4, 2.0) == pytest.approx(0.5)
    assert g_factor(3.0, 2.0) == pytest.approx(1.5)
    assert np.isnan(g_factor(3.0, 0.0))


def test_selection_rule_precedence() -> None:
    sound = np.array([True, False, False, False])
    robust_ok = np.array([True, True, False, False])
    linear_ok = np.array([True, True, True, False])
    assert list(select_model(sound, robust_ok, linear_ok)) == ["hm", "robust", "linear", ""]


def test_hm_soundness_criteria() -> None:
    args = dict(
        hm_ok=np.array([True] * 6 + [False]),
        hm_at_bound=np.array([False, True, False, False, False, False, False]),
        kappa=np.array([0.001, 0.001, 0.02, 0.001, 0.001, 0.0, 0.001]),
        kappa_max_s=np.full(7, 0.01),
        g=np.array([1.2, 1.2, 1.2, 3.0, 1.2, 1.0, 1.2]),
        flux_hm=np.full(7, 2.0),
        flux_hm_se=np.array([0.1, 0.1, 0.1, 0.1, 1.5, 0.1, 0.1]),
    )
    sound = hm_is_sound(**args)  # type: ignore[arg-type]
    assert list(sound) == [True, False, False, False, False, False, False]


def test_flag_strings_merge_segment_flags_without_duplicates() -> None:
    bits = flag_bits(
        {"daylight": np.array([True, False, False]), "gap": np.array([True, True, False])}, 3
    )
    text = flags_to_strings(bits, ["gap,clock_jump", "", None])  # type: ignore[list-item]
    assert text == ["daylight,gap,clock_jump", "gap", ""]
    assert set(DEFAULT_DROP) <= set(FLAGS)


def test_filtered_reports_what_each_flag_removed() -> None:
    fluxes = pd.DataFrame(
        {
            "flux_umol_m2_s": [1.0, 0.05, 2.0, 0.0, 3.0],
            "flags": [
                "",
                "below_threshold",
                "daylight",
                "daylight,below_threshold,stuck_chamber",
                "gap",
            ],
        }
    )
    kept, report = filtered(fluxes)
    assert list(kept.index) == [0, 4]
    rep = report.set_index("flag")
    assert rep.loc["daylight", "flagged"] == 2
    assert rep.loc["daylight", "removed"] == 2
    assert rep.loc["below_threshold", "flagged"] == 2
    assert rep.loc["below_threshold", "removed"] == 1
    assert rep.loc["stuck_chamber", "removed"] == 0
    assert rep.loc["total", "removed"] == 3
    assert rep.loc["total", "removed_pct"] == pytest.approx(60.0)
    assert len(fluxes) == 5  # the input is not modified
    kept2, _ = filtered(fluxes, drop_flags=["gap"])
    assert list(kept2.index) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="flags"):
        filtered(fluxes.drop(columns="flags"))
