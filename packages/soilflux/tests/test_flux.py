"""The LI-COR flux equation, dry mole fraction and 10-s initial values."""

from __future__ import annotations

import numpy as np
import pytest
from soilflux.flux import R_GAS, dry_mole_fraction, flux_term, flux_umol_m2_s, initial_values


def test_flux_equation_equals_the_ideal_gas_law_in_si_units() -> None:
    v_cm3, s_cm2, p_kpa, t_c, w = 5339.2, 317.8, 97.3, 21.5, 12.0
    dcdt = 0.35  # µmol mol⁻¹ s⁻¹
    # moles of dry air in the chamber, n = P·V/(R·T)·(1 − w), per m² of soil
    n_dry_mol = (p_kpa * 1e3) * (v_cm3 * 1e-6) / (R_GAS * (t_c + 273.15)) * (1 - w / 1000)
    expected = n_dry_mol * dcdt / (s_cm2 * 1e-4)  # µmol m⁻² s⁻¹
    assert flux_umol_m2_s(dcdt, v_cm3, s_cm2, p_kpa, t_c, w) == pytest.approx(expected, rel=1e-12)


def test_flux_term_is_vectorised_and_nan_water_means_dry() -> None:
    term = flux_term([5000.0, 5000.0], [300.0, 300.0], [100.0, 100.0], [20.0, 20.0], [np.nan, 0.0])
    assert term[0] == term[1]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"volume_cm3": -1.0}, "volume_cm3"),
        ({"area_cm2": 0.0}, "area_cm2"),
        ({"p0_kpa": 1013.0}, "p0_kpa"),
        ({"t0_c": 120.0}, "t0_c"),
        ({"w0_mmol_mol": 150.0}, "w0_mmol_mol"),
    ],
)
def test_flux_term_refuses_values_outside_validity(kwargs: dict[str, float], field: str) -> None:
    args = {
        "volume_cm3": 5000.0,
        "area_cm2": 300.0,
        "p0_kpa": 100.0,
        "t0_c": 20.0,
        "w0_mmol_mol": 10.0,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        flux_term(**args)


def test_extrapolate_accepts_out_of_range_initial_values() -> None:
    assert flux_term(5000.0, 300.0, 1013.0, 20.0, 10.0, extrapolate=True) > 0


def test_dry_mole_fraction() -> None:
    assert dry_mole_fraction(400.0, 20.0) == pytest.approx(400.0 / 0.98)
    np.testing.assert_array_equal(dry_mole_fraction([400.0], [np.nan]), [400.0])
    with pytest.raises(ValueError, match="h2o_mmol_mol"):
        dry_mole_fraction(400.0, 2000.0)


def test_initial_values_are_intercepts_of_the_first_10_s() -> None:
    t = np.array([[0.0, 1.0, 2.0, 5.0, 9.0, 10.0, 30.0], [0.5, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0]])
    y = 5.0 + 2.0 * t
    y[:, -1] = 1e6  # outside the window: must not matter
    np.testing.assert_allclose(initial_values(t, y), [5.0, 5.0], rtol=1e-12)


def test_initial_values_with_one_or_no_sample() -> None:
    t = np.array([[4.0, 20.0, 30.0], [15.0, 20.0, 30.0]])
    y = np.array([[7.0, 1.0, 1.0], [7.0, 1.0, 1.0]])
    out = initial_values(t, y)
    assert out[0] == 7.0
    assert np.isnan(out[1])
    with pytest.raises(ValueError, match="window_s"):
        initial_values(t, y, window_s=0.0)
