"""He II at SVP against Donnelly & Barenghi (1998) reference values; internal consistency."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from amrr.properties import OutOfRangeError, fountain_pressure_Pa, helium4_svp
from amrr.properties import helium4 as he4
from amrr.properties.constants import M4_KG_MOL
from hypothesis import given, settings
from hypothesis import strategies as st


def read_db(reference_dir: Path) -> dict[str, np.ndarray]:
    path = reference_dir / "amrr" / "he4_svp_donnelly_barenghi_1998.csv"
    with path.open() as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].startswith("#")]
    header, data = rows[0], rows[1:]
    return {
        h: np.array([float(r[i]) if r[i] else np.nan for r in data]) for i, h in enumerate(header)
    }


@pytest.mark.reference
def test_entropy_enthalpy_superfluid_fraction_vs_donnelly_barenghi(reference_dir):
    db = read_db(reference_dir)
    T = db["T_K"]
    p = helium4_svp(T)
    # Issue 5: entropy and enthalpy within 0.5 %, superfluid fraction within 0.1 %.
    np.testing.assert_allclose(p.entropy_J_kgK / 1e3, db["s_J_per_gK"], rtol=5e-3)
    np.testing.assert_allclose(p.enthalpy_J_mol, db["h_J_per_mol"], rtol=5e-3)
    np.testing.assert_allclose(p.superfluid_density_kg_m3 / 1e3, db["rho_s_g_per_cm3"], rtol=1e-3)
    have = ~np.isnan(db["rho_s_over_rho"])
    assert have.sum() >= 15
    np.testing.assert_allclose(p.superfluid_fraction[have], db["rho_s_over_rho"][have], rtol=1e-3)
    have_rho = ~np.isnan(db["rho_g_per_cm3"])
    rho = db["rho_g_per_cm3"][have_rho]
    np.testing.assert_allclose(p.density_kg_m3[have_rho] / 1e3, rho, rtol=1e-5)
    # measured: the transcription reproduces the reference to < 1e-5 (same source)
    assert np.max(np.abs(p.entropy_J_kgK / 1e3 / db["s_J_per_gK"] - 1)) < 1e-5


def test_notes_anchor_values():
    # research notes §4 (computed from the D&B splines): s, c_s, ρs/ρ, ρ s at 1.6 K
    p = helium4_svp(1.6)
    assert float(p.entropy_J_kgK) == pytest.approx(282.4, abs=0.1)
    assert float(p.heat_capacity_J_kgK) == pytest.approx(1575, abs=1)
    assert float(p.superfluid_fraction) == pytest.approx(0.838, abs=1e-3)
    assert float(p.fountain_coefficient_Pa_K) == pytest.approx(41.0e3, rel=2e-3)


@settings(max_examples=40, deadline=None)
@given(T=st.floats(0.52, 2.15))
def test_heat_capacity_and_gibbs_consistent_with_entropy(T):
    h = 1e-5
    s = he4.molar_entropy_J_molK
    c_fd = T * (s(T + h) - s(T - h)) / (2 * h)
    assert float(he4.molar_heat_capacity_J_molK(T)) == pytest.approx(float(c_fd), rel=1e-5)
    g = he4.molar_gibbs_J_mol
    s_fd = -(g(T + h) - g(T - h)) / (2 * h)
    assert float(s(T)) == pytest.approx(float(s_fd), rel=1e-6, abs=1e-12)
    # fountain: dP/dT = ρ s
    dp = (fountain_pressure_Pa(T + h, 1.0) - fountain_pressure_Pa(T - h, 1.0)) / (2 * h)
    assert float(dp) == pytest.approx(float(helium4_svp(T).fountain_coefficient_Pa_K), rel=1e-4)


def test_fountain_pressure_sign_and_magnitude():
    # ∫ ρ s dT from 0.9 to 1.6 K: Simpson on a coarse independent grid
    T = np.linspace(0.9, 1.6, 2001)
    p = helium4_svp(T)
    expected = np.trapezoid(p.fountain_coefficient_Pa_K, T)
    assert float(fountain_pressure_Pa(1.6, 0.9)) == pytest.approx(expected, rel=1e-5)
    assert float(fountain_pressure_Pa(0.9, 1.6)) == pytest.approx(-expected, rel=1e-5)


def test_molar_and_specific_entropy_agree():
    p = helium4_svp([0.8, 1.4])
    np.testing.assert_allclose(p.entropy_J_molK, p.entropy_J_kgK * M4_KG_MOL)


def test_entropy_spline_and_enthalpy_spline_departure_is_bounded():
    # The two published D&B splines are not mutually exact: ∫T ds vs H(T). Measured
    # maximum 2.2 % (at ~1.85 K); documented in docs/amrr/properties.md.
    T = np.linspace(0.5, 2.15, 34)
    h_from_s = he4.molar_gibbs_J_mol(T) + T * he4.molar_entropy_J_molK(T)
    dep = np.abs(h_from_s / helium4_svp(T).enthalpy_J_mol - 1)
    assert dep.max() < 0.025


@pytest.mark.parametrize("T", [0.3, 2.2])
def test_out_of_range(T):
    with pytest.raises(OutOfRangeError, match="temperature_K"):
        helium4_svp(T)
    with pytest.raises(OutOfRangeError, match="temperature_K"):
        fountain_pressure_Pa(T, 1.0)


def test_extrapolate_down_to_spline_start():
    assert np.isfinite(helium4_svp(0.3, extrapolate=True).entropy_J_kgK)


def test_landau_excitation_gas_departure_is_measured():
    """Ideal phonon-maxon-roton gas with the D&B dispersion vs the measured entropy.

    Measured: +8.4 % at 0.5 K (low-k phonon slope of the dispersion spline, 225 m/s),
    within ±2 % at 0.75–1.0 K, −7.7 % at 1.6 K, −13 % at 1.8 K (roton gap falls with T).
    """
    T = np.array([0.5, 0.75, 0.9, 1.0, 1.2, 1.6, 1.8])
    dep = he4.landau_entropy_J_molK(T, extrapolate=True) / he4.molar_entropy_J_molK(T) - 1
    np.testing.assert_allclose(
        dep, [0.084, 0.019, -0.006, -0.019, -0.030, -0.077, -0.130], atol=2e-3
    )
