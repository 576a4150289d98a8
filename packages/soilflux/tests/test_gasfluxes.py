"""soilflux against gasfluxes (R, CRAN v0.7): its own unit tests and published test values.

Expected numbers are typed from cran/gasfluxes ``tests/testthat/test_fitting.R`` and
``test_gasfluxes.R`` (Fuß, R., gasfluxes v0.7, 2024), compared to four significant figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from soilflux.fit.gasfluxes import fit_series, gasfluxes, select_kappa_max


def sig4(x: float) -> float:
    """Round to four significant figures."""
    return float(f"{x:.4g}")


def assert_sig4(actual: object, expected: list[float]) -> None:
    got = [sig4(v) for v in np.asarray(actual, dtype=float)]
    assert got == [sig4(v) for v in expected]


def test_linear_fit_of_gasfluxes_unit_test() -> None:
    res = fit_series([[0, 1 / 3, 2 / 3, 1]], [[320, 341, 352, 359]], [0.3], [1.0])
    assert res.linear_f0[0] == pytest.approx(11.52, rel=1e-12)
    assert res.linear_f0_se[0] == pytest.approx(2.028497, rel=1e-6)
    assert res.linear_f0_p[0] == pytest.approx(0.029635, rel=1e-4)
    assert res.linear_C0[0] == pytest.approx(323.8, rel=1e-12)


def test_robust_linear_fit_of_gasfluxes_unit_test() -> None:
    from soilflux.fit.robust import fit_robust_linear

    t = [0, 1 / 3, 2 / 3, 1]
    c = [320, 400, 352, 359]
    res = fit_series([t], [c], [0.3], [1.0])
    assert res.robust_linear_f0[0] == pytest.approx(10.3652, rel=1e-5)
    rob = fit_robust_linear(t, c)
    np.testing.assert_allclose(rob.weights[0], [1, 0.2247, 1, 1], atol=5e-5)


def test_hmr_fit_of_gasfluxes_unit_test() -> None:
    t = [0, 1 / 3, 2 / 3, 1, 1.2, 1.3]
    c = [320, 341, 352, 359, 360, 360]
    res = fit_series([t], [c], [0.3], [1.0])
    assert res.HMR_f0[0] == pytest.approx(26.1229339, rel=1e-6)
    assert res.HMR_kappa[0] == pytest.approx(1.9701545, rel=1e-6)
    assert res.HMR_phi[0] == pytest.approx(364.1220243, rel=1e-7)
    assert res.HMR_AIC[0] == pytest.approx(17.4284, rel=1e-5)
    assert res.HMR_RSE[0] == pytest.approx(0.750765, rel=1e-5)


@pytest.fixture
def flux_meas(reference_dir: Path) -> pd.DataFrame:
    path = reference_dir / "flux" / "gasfluxes_fluxmeas.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return pd.read_csv(path, sep=";")


@pytest.mark.reference
def test_gasfluxes_published_values_first_five_series(flux_meas: pd.DataFrame) -> None:
    res = gasfluxes(flux_meas.iloc[0:20])
    assert list(res.index) == ["ID1", "ID2", "ID3", "ID4", "ID5"]
    assert_sig4(
        res["linear_f0"],
        [
            0.0555669866740785,
            -0.0611626095687461,
            -0.0428897148924301,
            -0.0111793261413552,
            0.041840210297243,
        ],
    )
    assert_sig4(
        res["linear_f0_se"],
        [
            0.028697055158409,
            0.0263636317002555,
            0.0425127107690505,
            0.0599487242659592,
            0.00840546056899412,
        ],
    )
    assert_sig4(
        res["linear_f0_p"],
        [
            0.19245050979196,
            0.146138869452879,
            0.419251528032237,
            0.86926934170296,
            0.0380688306059213,
        ],
    )
    assert_sig4(
        res["linear_AIC"],
        [
            -10.9887845537839,
            -11.6825495623863,
            -8.01509608282695,
            -5.16760526792864,
            -21.0235708278954,
        ],
    )
    assert_sig4(
        res["linear_r"],
        [
            0.80754949020804,
            -0.853861130547121,
            -0.580748471967763,
            -0.13073065829704,
            0.961931169394079,
        ],
    )
    assert_sig4(
        res["robust_linear_f0"],
        [
            0.0555669866740785,
            -0.0611626095687461,
            -0.0303109387388622,
            0.00681856647255265,
            0.041840210297243,
        ],
    )
    assert_sig4(
        res["robust_linear_f0_se"],
        [
            0.028697055158409,
            0.0263636317002555,
            0.0153424660030732,
            0.0204971767735417,
            0.00840546056899412,
        ],
    )
    # HMR: gasfluxes fails for ID1, ID2, ID4 (nls errors) and flags ID5 as dubious (κ → 0)
    hmr = res["HMR_f0"].to_numpy()
    assert np.isnan(hmr[[0, 1, 3, 4]]).all()
    assert sig4(hmr[2]) == sig4(-0.123566162944742)
    assert sig4(res["HMR_kappa"].iloc[2]) == sig4(2.39686189586586)
    assert sig4(res["HMR_f0_se"].iloc[2]) == sig4(0.39896371493858)
    assert sig4(res["HMR_phi"].iloc[2]) == sig4(0.383169270087676)
    assert sig4(res["HMR_AIC"].iloc[2]) == sig4(-6.62832670015326)
    assert sig4(res["HMR_AICc"].iloc[2]) == sig4(-46.6283267001533)
    assert sig4(res["HMR_RSE"].iloc[2]) == sig4(0.0777441330321253)


@pytest.mark.reference
def test_gasfluxes_kappa_max_selection(flux_meas: pd.DataFrame) -> None:
    res = gasfluxes(flux_meas.iloc[484:499])  # R's fluxMeas[485:499, ]
    sel = select_kappa_max(res, f_detect=0.03, t_meas=1)
    assert_sig4(
        sel["flux"], [0.0172439680316337, 0.028023512795377, 0.0897212054757933, 0.0498932647404164]
    )
    assert_sig4(
        sel["flux_se"],
        [0.00780091069252072, 0.00651602824427401, 0.0504900608228271, 0.00822058452534422],
    )
    assert list(sel["method"]) == ["linear", "robust linear", "HMR", "robust linear"]
    assert_sig4(
        sel["kappa_max"], [0.574798934387791, 0.934117093179233, 2.69886766312187, 1.66310882468055]
    )
