"""compute_fluxes: the output contract, flags, options and invariances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from soilflux.options import FluxOptions
from soilflux.pipeline import OUTPUT_COLUMNS, compute_fluxes
from soilflux.synthetic import synthetic_closures


def _line_closures(
    slopes_ppm_s: list[float], n: int = 61, dt: float = 3.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    for i, slope in enumerate(slopes_ppm_s):
        t = np.arange(n) * dt
        rows.append(
            pd.DataFrame(
                {
                    "closure": i,
                    "elapsed_s": t,
                    "co2_ppm": 420.0 + slope * t,
                    "temperature_c": 20.0,
                    "pressure_kpa": 100.0,
                    "lux": 0.0,
                }
            )
        )
    samples = pd.concat(rows, ignore_index=True)
    start = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        np.arange(len(slopes_ppm_s)) * 600, unit="s"
    )
    closures = pd.DataFrame(
        {
            "chamber": "a",
            "location": "1.1.A",
            "start": start,
            "end": start + pd.Timedelta(seconds=(n - 1) * dt),
            "volume_cm3": 5000.0,
            "area_cm2": 300.0,
        },
        index=pd.Index(np.arange(len(slopes_ppm_s), dtype=np.int64), name="closure"),
    )
    return samples, closures


def test_columns_and_one_row_per_closure_and_gas() -> None:
    syn = synthetic_closures(30, seed=3)
    samples = syn.samples.assign(ch4_ppb=2000.0 - 0.01 * syn.samples["elapsed_s"])
    out = compute_fluxes(samples, syn.closures)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert len(out) == 60
    assert list(out["gas"][:2]) == ["co2", "ch4"]
    assert (out["closure"].to_numpy()[::2] == syn.closures.index.to_numpy()).all()


def test_noiseless_line_gives_its_flux_for_every_model() -> None:
    samples, closures = _line_closures([0.2, 0.5, 1.0])
    out = compute_fluxes(samples, closures, FluxOptions(deadband_s=10.0))
    term = 10 * 5000.0 * 100.0 / (8.314 * 300.0 * 293.15)
    expected = np.array([0.2, 0.5, 1.0]) * term
    for model in ("linear", "robust", "exp", "hm", "quadratic"):
        np.testing.assert_allclose(out[f"flux_{model}"], expected, rtol=1e-9, err_msg=model)
    np.testing.assert_allclose(out["flux_umol_m2_s"], expected, rtol=1e-9)
    np.testing.assert_allclose(out["dcdt_ppm_s"], [0.2, 0.5, 1.0], rtol=1e-9)


def test_fixed_deadband_and_closure_deadband_override() -> None:
    samples, closures = _line_closures([0.3, 0.3])
    closures["deadband_s"] = [np.nan, 30.0]
    out = compute_fluxes(samples, closures, FluxOptions(deadband_s=12.0))
    assert list(out["deadband_s"]) == [12.0, 30.0]
    # t > deadband: 61 samples at 0, 3, …, 180 s
    assert list(out["n"]) == [56, 50]


def test_method_forces_the_model() -> None:
    syn = synthetic_closures(20, seed=5)
    out = compute_fluxes(syn.samples, syn.closures, FluxOptions(method="quadratic"))
    assert set(out["model"]) == {"quadratic"}
    np.testing.assert_array_equal(out["flux_umol_m2_s"], out["flux_quadratic"])


def test_flags_daylight_stuck_short_and_segment_flags() -> None:
    syn = synthetic_closures(200, seed=7, fraction_stuck=0.2, fraction_daylight=0.3)
    closures = syn.closures.copy()
    closures["segment_flags"] = ""
    closures.loc[0, "segment_flags"] = "clock_jump"
    out = compute_fluxes(syn.samples, closures)
    flags = out["flags"].str.split(",")
    daylight = flags.apply(lambda f: "daylight" in f).to_numpy()
    lux = syn.samples.groupby("closure")["lux"].mean().to_numpy()
    np.testing.assert_array_equal(daylight, lux > 10)
    stuck = flags.apply(lambda f: "stuck_chamber" in f).to_numpy()
    np.testing.assert_array_equal(stuck, syn.stuck)
    assert "clock_jump" in out.loc[0, "flags"]


def test_short_closure_is_flagged_not_dropped() -> None:
    samples, closures = _line_closures([0.3, 0.3])
    samples = samples[(samples["closure"] == 0) | (samples["elapsed_s"] < 12)]
    out = compute_fluxes(samples, closures, FluxOptions(deadband_s=0.0))
    assert len(out) == 2
    assert "short" in out.loc[1, "flags"]
    assert "fit_failed" in out.loc[1, "flags"]
    assert np.isnan(out.loc[1, "flux_umol_m2_s"])


def test_row_order_does_not_change_results() -> None:
    syn = synthetic_closures(50, seed=11)
    out = compute_fluxes(syn.samples, syn.closures)
    shuffled = syn.samples.sample(frac=1.0, random_state=1)
    out2 = compute_fluxes(shuffled, syn.closures.sample(frac=1.0, random_state=2))
    out2 = out2.set_index("closure").loc[out["closure"]].reset_index()
    pd.testing.assert_frame_equal(out, out2)


def test_chunking_and_threads_do_not_change_results() -> None:
    syn = synthetic_closures(70, seed=13)
    a = compute_fluxes(syn.samples, syn.closures, FluxOptions(chunk_closures=7, workers=2))
    b = compute_fluxes(syn.samples, syn.closures, FluxOptions(chunk_closures=1000, workers=1))
    pd.testing.assert_frame_equal(a, b)


def test_bad_input_is_refused_with_the_field_named() -> None:
    samples, closures = _line_closures([0.3])
    with pytest.raises(ValueError, match="pressure_kpa"):
        compute_fluxes(samples.drop(columns="pressure_kpa"), closures)
    with pytest.raises(ValueError, match="area_cm2"):
        compute_fluxes(samples, closures.assign(area_cm2=0.0))
    with pytest.raises(ValueError, match="not in closures"):
        compute_fluxes(samples.assign(closure=5), closures)
    with pytest.raises(ValueError, match="gas column"):
        compute_fluxes(samples.drop(columns="co2_ppm"), closures)


def test_n2o_and_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    samples, closures = _line_closures([0.3, 0.6])
    samples = samples.rename(columns={"co2_ppm": "n2o_ppb"})
    samples["n2o_ppb"] = 330.0 + samples["elapsed_s"] * np.array([0.3, 0.6])[samples["closure"]]
    out = compute_fluxes(samples, closures, FluxOptions(deadband_s=10.0), progress=True)
    assert list(out["gas"]) == ["n2o", "n2o"]
    term = 10 * 5000.0 * 100.0 / (8.314 * 300.0 * 293.15)
    # ppb → µmol mol⁻¹: the flux is in µmol m⁻² s⁻¹ like every gas
    np.testing.assert_allclose(out["flux_linear"], np.array([0.3, 0.6]) * 1e-3 * term, rtol=1e-9)
    assert "below_threshold" not in ",".join(out["flags"])  # a CO2-only flag
    assert "closures" in capsys.readouterr().err


def test_gap_and_saturated_flags() -> None:
    samples, closures = _line_closures([0.3, 0.3, 0.3, 0.3])
    # closure 1: 30 s of samples missing in the middle of the window
    samples = samples[~((samples["closure"] == 1) & samples["elapsed_s"].between(60, 90))].copy()
    # closure 2: a strongly saturating record (κ = 0.03 s⁻¹ → 99 % of the rise by 180 s)
    t2 = samples.loc[samples["closure"] == 2, "elapsed_s"]
    samples.loc[samples["closure"] == 2, "co2_ppm"] = 420 + 0.3 / 0.03 * (1 - np.exp(-0.03 * t2))
    # closure 3: the analyser's upper range reached
    samples.loc[samples["closure"] == 3, "co2_ppm"] += 9700.0
    out = compute_fluxes(samples, closures, FluxOptions(deadband_s=10.0))
    flags = [set(f.split(",")) - {""} for f in out["flags"]]
    assert flags[0] == set()
    assert flags[1] == {"gap"}
    assert "saturated" in flags[2]
    assert "saturated" in flags[3]
