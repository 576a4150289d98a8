"""``soilflux plot``: one closure drawn with its window and every model's curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from soilflux.cli import app
from soilflux.closure_plot import ClosureView, model_curves
from typer.testing import CliRunner

runner = CliRunner()
T0 = pd.Timestamp("2024-03-01T00:00:00Z")


def test_model_curves_follow_a_saturating_record() -> None:
    t = np.arange(0.0, 181.0, 3.0)
    c = 420.0 + 150.0 * (1.0 - np.exp(-0.01 * t))  # HM/exp shape, κ = 0.01 s⁻¹
    view = ClosureView("x", t, c, 15.0, 180.0, "µmol mol⁻¹", {}, "hm")
    curves = model_curves(view, t)
    assert set(curves) == {"linear", "robust", "exp", "hm", "quadratic"}
    window = t > 15.0
    for model in ("exp", "hm"):
        np.testing.assert_allclose(curves[model][window], c[window], atol=1e-6)
    # the line cannot follow the curvature; its residuals show it
    assert np.max(np.abs(curves["linear"][window] - c[window])) > 1.0


def test_plot_command_draws_a_closure(tmp_path: Path) -> None:
    rows = []
    for k in range(3):
        start = T0 + pd.Timedelta(minutes=10 * k)
        for i in range(-3, 61):
            t = 3.0 * i
            closed = i >= 0
            co2 = 420.0 + (150.0 * (1.0 - np.exp(-0.008 * t)) if closed else 0.0)
            stamp = (start + pd.Timedelta(seconds=t)).isoformat()
            rows.append((stamp, "dev-a", co2, 20.0, 100.0, "closed" if closed else "flush"))
    columns = ["time", "chamber", "co2_ppm", "temperature_c", "pressure_kpa", "phase"]
    records = tmp_path / "r.csv"
    pd.DataFrame(rows, columns=columns).to_csv(records, index=False)
    fluxes = tmp_path / "f.csv"
    geometry = ["--volume-cm3", "5000", "--area-cm2", "300"]
    computed = runner.invoke(app, ["compute", str(records), "-o", str(fluxes), "-q", *geometry])
    assert computed.exit_code == 0, computed.output
    assert pd.read_csv(fluxes)["closure_id"].isna().all()  # closures found from phases
    png = tmp_path / "c1.png"
    drawn = runner.invoke(
        app, ["plot", str(fluxes), str(records), "--closure", "1", "-o", str(png)]
    )
    assert drawn.exit_code == 0, drawn.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    missing = runner.invoke(
        app, ["plot", str(fluxes), str(records), "--closure", "9", "-o", str(png)]
    )
    assert missing.exit_code == 1
    assert "closure '9' (co2) is not in the flux table" in missing.stderr
    assert (
        runner.invoke(
            app, ["plot", str(fluxes), str(records), "--closure", "1", "-o", "x.pdf"]
        ).exit_code
        == 2
    )


@pytest.mark.reference
def test_plot_a_vendor_observation(reference_dir: Path, tmp_path: Path) -> None:
    source = reference_dir / "flux" / "LI8150.81x"
    fluxes = tmp_path / "f.csv"
    assert runner.invoke(app, ["compute", str(source), "-o", str(fluxes), "-q"]).exit_code == 0
    closure_id = str(pd.read_csv(fluxes)["closure_id"].iloc[0])
    png = tmp_path / "obs.png"
    drawn = runner.invoke(
        app, ["plot", str(fluxes), str(source), "--closure", closure_id, "-o", str(png)]
    )
    assert drawn.exit_code == 0, drawn.output
    assert png.stat().st_size > 10_000
