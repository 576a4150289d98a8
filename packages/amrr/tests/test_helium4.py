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
    # The transcription of D&B's splines reproduces the file (evaluated from the same
    # splines) to < 1e-5: entropy, the enthalpy spline, ρs where the spline is used (≥ 1.7 K).
    np.testing.assert_allclose(p.entropy_J_kgK / 1e3, db["s_J_per_gK"], rtol=1e-5)
    np.testing.assert_allclose(he4.enthalpy_spline_J_mol(T), db["h_J_per_mol"], rtol=1e-5)
    hot = T >= 1.7
    np.testing.assert_allclose(
        p.superfluid_density_kg_m3[hot] / 1e3, db["rho_s_g_per_cm3"][hot], rtol=1e-5
    )
    # Measured departures of the model from those splines (docs/amrr/properties.md): the
    # entropy-consistent enthalpy ≤ 2.2 %; ρs ≤ 0.31 % (ρn from the Landau ratio below
    # 1.5 K); ρs/ρ ≤ 0.0027 absolute where the file has it (0.5–1.3 K)
    assert np.abs(p.enthalpy_J_mol / db["h_J_per_mol"] - 1).max() < 0.0225
    assert np.abs(p.superfluid_density_kg_m3 / 1e3 / db["rho_s_g_per_cm3"] - 1).max() < 0.0032
    have = ~np.isnan(db["rho_s_over_rho"])
    assert have.sum() >= 15
    frac = p.superfluid_fraction[have] - db["rho_s_over_rho"][have]
    assert np.abs(frac).max() < 0.0028
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
    # notes: ρs/ρ = 0.838 from D&B's ρs spline; ρn here is the blend of the Landau ratio and
    # that spline at 1.6 K (both within 0.6 % in second sound), measured 0.8364
    assert float(p.superfluid_fraction) == pytest.approx(0.8364, abs=1e-4)
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


def test_enthalpy_is_the_integral_of_the_heat_capacity():
    # helium4_svp's enthalpy used to be D&B's enthalpy spline, 2.2 % off ∫ c dT of its own
    # heat capacity; now h(T) − h(T0) = ∫ c dT to the quadrature's accuracy.
    T = np.linspace(0.5, 2.15, 20001)
    p = helium4_svp(T)
    c_molar = p.heat_capacity_J_kgK * M4_KG_MOL
    integral = np.concatenate([[0.0], np.cumsum(0.5 * (c_molar[1:] + c_molar[:-1]) * np.diff(T))])
    dh = p.enthalpy_J_mol - p.enthalpy_J_mol[0]
    np.testing.assert_allclose(dh[1:], integral[1:], rtol=1e-5)
    # and the two published D&B splines are not mutually exact: measured maximum 2.2 %
    # (at ~1.85 K), documented in docs/amrr/properties.md
    dep = np.abs(p.enthalpy_J_mol / he4.enthalpy_spline_J_mol(T) - 1)
    assert 0.02 < dep.max() < 0.0225


PUBLIC = [
    lambda T, **kw: helium4_svp(T, **kw).entropy_J_kgK,
    lambda T, **kw: fountain_pressure_Pa(T, 1.0, **kw),
    he4.molar_entropy_J_molK,
    he4.molar_heat_capacity_J_molK,
    he4.molar_gibbs_J_mol,
    he4.normal_fluid_density_kg_m3,
    he4.enthalpy_spline_J_mol,
    he4.landau_entropy_J_molK,
]


@pytest.mark.parametrize("f", PUBLIC)
@pytest.mark.parametrize("T", [0.3, 2.171])
def test_every_function_enforces_the_same_range(f, T):
    # helium4_svp and the helium4.* functions used to check 0.5–2.17 K and 0.1–2.1768 K
    with pytest.raises(OutOfRangeError, match="temperature_K"):
        f(T)


@pytest.mark.parametrize("f", PUBLIC)
def test_extrapolation_computes_below_and_refuses_he_i(f):
    assert np.all(np.isfinite(f(0.3, extrapolate=True)))
    # He I is not modelled: refused, never clamped to T_λ
    with pytest.raises(OutOfRangeError, match="does not lift"):
        f(2.3, extrapolate=True)
    with pytest.raises(ValueError, match="temperature_K=nan"):
        f(np.nan, extrapolate=True)
    with pytest.raises(OutOfRangeError, match="temperature_K=-1"):
        f(-1.0, extrapolate=True)


def test_extrapolation_is_not_a_clamp():
    s = he4.molar_entropy_J_molK([0.05, 0.1, 0.2], extrapolate=True)
    assert s[0] < s[1] < s[2]
    assert s[0] / s[1] == pytest.approx(0.125)  # phonons, s ∝ T³ below the spline
    assert float(helium4_svp(2.175, extrapolate=True).entropy_J_kgK) > float(
        helium4_svp(2.17).entropy_J_kgK
    )


def test_superfluid_fraction_below_one_and_normal_density_monotone():
    # D&B's ρs spline gave ρs/ρ > 1 near 0.62 K and a non-monotonic ρn below 0.7 K
    T = np.linspace(0.02, he4.T_LAMBDA_K, 20001)
    p = helium4_svp(T, extrapolate=True)
    assert np.all(p.superfluid_fraction < 1.0)
    assert np.all(p.superfluid_fraction[:-1] > 0.0)
    assert np.all(np.diff(p.normal_fluid_density_kg_m3) > 0)
    # phonon limit of Landau's ratio: ρn = T ρ s/c², c the dispersion's low-k slope 225 m/s
    q = helium4_svp(0.05, extrapolate=True)
    ratio = q.normal_fluid_density_kg_m3 / (q.density_kg_m3 * q.entropy_J_kgK) * 225.4**2 / 0.05
    assert float(ratio) == pytest.approx(1.0, rel=0.01)


# Donnelly & Barenghi (1998), chapter 4: recommended cubic B-spline of the measured second
# sound u2(T) at SVP [m/s] (numbers as transcribed in the Lancaster ULT group's helium module,
# authors noblemt/TsepelinV), and points of their adopted database (Table 4.1,
# http://pages.uoregon.edu/rjd/vapor5.htm: Peshkov 0.55–1.12 K, ±0.75 %; Wang, Wagner &
# Donnelly 1987 and Tam & Ahlers 1.14–1.76 K, ±0.07–0.2 %).
U2_KNOTS = (0.5517426, 0.5517426, 0.5517426, 0.5517426, 0.6419700, 0.8062300, 0.9297000,
            1.0696400, 1.285500, 1.720200, 1.940430, 2.068850, 2.126220, 2.153079, 2.164207,
            2.169182, 2.170551, 2.174832, 2.175738, 2.176319, 2.176600, 2.176735, 2.176780,
            2.176787, 2.176797, 2.1768, 2.1768, 2.1768, 2.1768, 2.1768)  # fmt: skip
U2_COEFS = (1.050000e2, 9.287425e1, 4.973642e1, 2.712778e1, 1.931258e1, 1.795336e1,
            1.923863e1, 2.115625e1, 1.921708e1, 1.575245e1, 1.192157e1, 8.953338, 6.771458,
            5.506380, 4.456879, 3.840343, 2.542421, 1.957438, 1.427086, 1.001273, 6.743104e-2,
            4.565972e-2, 3.519492e-2, 2.088277e-2, 1.059874e-2, 0.0)  # fmt: skip
U2_TABLE_4_1 = ((0.551743, 105.0), (0.601874, 83.0), (0.651991, 62.0), (0.702125, 46.5),
                (0.752245, 36.0), (0.802362, 29.0), (0.852476, 24.4), (0.902586, 21.6),
                (0.952694, 19.8), (1.002777, 18.9), (1.052861, 18.5), (1.102955, 18.33),
                (1.122986, 18.30), (1.137607, 18.3754), (1.652076, 20.3647),
                (1.653779, 20.345), (1.703882, 20.295), (1.708993, 20.303),
                (1.753981, 20.135))  # fmt: skip


def measured_u2(T):
    from scipy.interpolate import BSpline

    return BSpline(np.array(U2_KNOTS), np.array(U2_COEFS), 3, extrapolate=False)(T)


def test_second_sound_spline_transcription_against_adopted_database():
    T, u2 = np.array(U2_TABLE_4_1).T
    # measured: ≤ 0.25 %, within the data's own ±0.75 % (Peshkov) and ±0.2 % (Tam & Ahlers)
    assert np.abs(measured_u2(T) / u2 - 1).max() < 0.0026


def test_second_sound_against_donnelly_barenghi():
    """u2 = √(T s² ρs/(c ρn)) from the module's own s, c, ρs, ρn vs D&B's measured u2.

    Measured (docs/amrr/properties.md): −3.9 … −0.7 % at 0.6–0.9 K, ≤ 1.35 % at
    0.9–1.5 K, ≤ 0.96 % at 1.5–2.1 K. Before (D&B's ρs spline for ρn): +152 % at 0.6 K,
    −9.5 % at 0.8 K, +5.5 % at 1.1 K. The low-temperature residual is the Landau ratio's
    phonon part: D&B's dispersion spline has a low-k slope of 225 m/s against the measured
    first sound 238 m/s, and ρn/s of phonons is T/c².
    """
    T = np.round(np.arange(0.6, 2.1001, 0.05), 3)
    err = helium4_svp(T).second_sound_m_s / measured_u2(T) - 1
    cold, mid, hot = T <= 0.9, (T >= 0.9) & (T <= 1.5), T >= 1.5
    assert np.abs(err[cold]).max() < 0.040
    assert np.abs(err[mid]).max() < 0.014
    assert np.abs(err[hot]).max() < 0.010


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


def test_viscosity_and_laminar_counterflow():
    # D&B viscosity spline: 1.306 µPa s at 1.6 K, rising towards low T (roton mean free path)
    eta = he4.viscosity_Pa_s([0.8, 1.0, 1.6, 2.1])
    assert eta[2] == pytest.approx(1.306e-6, rel=1e-3)
    assert eta[0] > eta[1] > eta[2]
    with pytest.raises(OutOfRangeError, match=r"0\.7913"):
        he4.viscosity_Pa_s(0.7, extrapolate=True)
    # k_eff = (ρ s)² T d²/(32 η): by hand at 1.6 K, d = 10 µm, and ∝ d²
    p = helium4_svp(1.6)
    by_hand = float(p.fountain_coefficient_Pa_K) ** 2 * 1.6 * 1e-10 / (32 * float(eta[2]))
    k = he4.laminar_counterflow_conductivity_W_mK(1.6, [1e-5, 2e-5])
    assert k[0] == pytest.approx(by_hand, rel=1e-9)
    assert k[1] / k[0] == pytest.approx(4.0)
    with pytest.raises(OutOfRangeError, match="diameter_m"):
        he4.laminar_counterflow_conductivity_W_mK(1.6, -1e-5)
