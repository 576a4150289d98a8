"""3He-4He mixtures: phase diagram and quasiparticle model vs Chaudhry (2009) Table 11;
thermodynamic consistency (h = g + T s, s = −∂g/∂T, C = T ∂s/∂T, Gibbs–Duhem)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from amrr.properties import OutOfRangeError, mixture_properties
from amrr.properties.mixture import CHAUDHRY_TABLE11_FIT, CHAUDHRY_TABLE11_FIT_6P, calibrate
from amrr.properties.phase_diagram import (
    lambda_temperature_K,
    superfluid_boundary_x3,
    x_concentrated,
    x_dilute,
    x_lambda,
)
from hypothesis import given, settings
from hypothesis import strategies as st

COLUMNS = ["T", "xd", "xc", "vd", "vc", "sd", "sc", "hd", "hc", "gd", "gc", "mu4", "xhd", "xhc"]


def table11(reference_dir: Path) -> dict[str, np.ndarray]:
    path = reference_dir / "amrr" / "chaudhry2009_table11_phase_separation.txt"
    data = np.loadtxt(path, comments="#")
    assert data.shape == (30, 14)
    return dict(zip(COLUMNS, data.T, strict=True))


def rel(a, b):
    return np.abs(np.asarray(a) / np.asarray(b) - 1.0)


@pytest.mark.reference
def test_phase_separation_concentrations(reference_dir):
    t = table11(reference_dir)
    # Issue 5: within 0.002. Measured: 4.4e-5 (dilute), 4.2e-5 (concentrated).
    assert np.max(np.abs(x_dilute(t["T"]) - t["xd"])) < 2e-3
    assert np.max(np.abs(x_concentrated(t["T"]) - t["xc"])) < 2e-3
    assert np.max(np.abs(x_dilute(t["T"]) - t["xd"])) < 1e-4


@pytest.mark.reference
def test_dilute_line_entropy_enthalpy_mu4(reference_dir):
    """Measured departures (docs/amrr/properties.md, 'Measured departures'):

    s: ≤ 1.82 % for T ≥ 0.175 K; 2.19 % at 0.15 K          -> asserted 2 % / 2.25 %
    h: ≤ 1.64 % for T ≥ 0.25 K (incl. 1.33 % at 0.867 K); below 0.25 K h < 0.14 J/mol
       and the absolute error is ≤ 0.0038 J/mol (29 % relative at 0.15 K, h = 0.013 J/mol)
    μ4: ≤ 1.86 % for T ≤ 0.85 K; 2.87 % at the tricritical point 0.867 K (hold-out row,
       beyond the fitted x range)                           -> asserted 2 % / 3 %
    """
    t = table11(reference_dir)
    T = t["T"]
    m = mixture_properties(T, t["xd"], extrapolate=True)  # on the line (round-off)
    ds = rel(m.entropy_J_molK, t["sd"])
    assert ds[T >= 0.175].max() < 0.02
    assert ds.max() < 0.0225
    dh = rel(m.enthalpy_J_mol, t["hd"])
    assert dh[T >= 0.25].max() < 0.02
    assert np.abs(m.enthalpy_J_mol - t["hd"])[T < 0.25].max() < 0.004
    dmu = rel(m.mu4_J_mol, t["mu4"])
    assert dmu[T <= 0.85].max() < 0.02
    assert dmu.max() < 0.03
    # x·h_os = h − (1 − x) μ4 reproduces Chaudhry's own column on his numbers
    xh = t["hd"] - (1 - t["xd"]) * t["mu4"]
    assert np.max(np.abs(xh - t["xhd"])) < 0.003


@pytest.mark.reference
def test_concentrated_line_departures_are_measured(reference_dir):
    """The 3He-rich phase is a normal liquid outside the model's He II domain (it has its
    own model, amrr.properties.concentrated, validated in test_concentrated.py).

    Measured with extrapolate=True: s −72 % … +4 %, h −278 % … +10 %, μ4 −1674 % … +3.4 %
    (sign reversed below 0.49 K; worst at 0.15 K); ≤ 3.7 % in s for T ≥ 0.6 K. Asserted
    as measured so that a change shows up here.
    """
    t = table11(reference_dir)
    with pytest.raises(OutOfRangeError):
        mixture_properties(t["T"], t["xc"])
    c = mixture_properties(t["T"], t["xc"], extrapolate=True)
    ds = rel(c.entropy_J_molK, t["sc"])
    dh = rel(c.enthalpy_J_mol, t["hc"])
    dmu = rel(c.mu4_J_mol, t["mu4"])
    assert 0.70 < ds.max() < 0.73
    assert 2.7 < dh.max() < 2.85
    assert 16.5 < dmu.max() < 17.0
    assert ds[t["T"] >= 0.6].max() < 0.04


@pytest.mark.reference
@pytest.mark.parametrize(
    ("thermal", "shipped"),
    [(True, CHAUDHRY_TABLE11_FIT), (False, CHAUDHRY_TABLE11_FIT_6P)],
)
def test_calibration_is_reproducible(reference_dir, thermal, shipped):
    t = table11(reference_dir)
    even = slice(0, None, 2)
    fit = calibrate(
        t["T"][even],
        t["xd"][even],
        t["sd"][even],
        t["hd"][even],
        t["mu4"][even],
        thermal_interaction=thermal,
    )
    np.testing.assert_allclose(fit.fitted(), shipped.fitted(), rtol=1e-5)


def test_calibration_form_sensitivity_in_working_region():
    # Both calibrations fit the dilute line; off the line (0.75–1.6 K, x3 ≤ 0.2) they
    # differ by < 2 % in s, < 3.2 % in h, < 5 % in C, < 1.1 % in π (measured; documented).
    T = np.array([0.75, 0.9, 1.2, 1.6])[:, None]
    x = np.array([0.05, 0.1, 0.2])
    a = mixture_properties(T, x)
    b = mixture_properties(T, x, params=CHAUDHRY_TABLE11_FIT_6P)
    assert rel(b.entropy_J_molK, a.entropy_J_molK).max() < 0.02
    assert rel(b.enthalpy_J_mol, a.enthalpy_J_mol).max() < 0.032
    assert rel(b.heat_capacity_J_molK, a.heat_capacity_J_molK).max() < 0.05
    assert rel(b.osmotic_pressure_Pa, a.osmotic_pressure_Pa).max() < 0.011


def test_phase_diagram_tricritical_point_and_lambda_line():
    assert float(x_dilute(0.867)) == pytest.approx(0.674, abs=1e-12)
    assert float(x_concentrated(0.867)) == pytest.approx(0.674, abs=1e-12)
    assert float(lambda_temperature_K(0.674)) == pytest.approx(0.867)
    # the mixture's λ line meets pure 4He's T_λ (it gave 2.168 K against 2.1768 K)
    from amrr.properties.helium4 import T_LAMBDA_K

    assert float(lambda_temperature_K(0.0)) == pytest.approx(T_LAMBDA_K, abs=1e-12)
    # Chaudhry's slope at the tricritical point is kept
    e = 1e-6
    slope = (lambda_temperature_K(0.674 + e) - lambda_temperature_K(0.674 - e)) / (2 * e)
    assert float(slope) == pytest.approx(-2.620259, rel=1e-6)
    for x in (0.05, 0.2, 0.5):
        assert float(x_lambda(lambda_temperature_K(x))) == pytest.approx(x, abs=1e-12)
    assert float(superfluid_boundary_x3(0.5)) == pytest.approx(float(x_dilute(0.5)))


def test_separation_lines_are_continuous_and_monotone_at_0_15_K():
    # Chaudhry's fits end at 0.15 K, where Edwards, Ifft & Sarwinski (1969) take over.
    # The dilute line had a 0.74 % step there and the concentrated line a jump of 1 − x
    # from 0 to 5.8e-4: both must be continuous (the dilute one with its slope) and monotone.
    e = 1e-9
    assert float(x_dilute(0.15 - e)) == pytest.approx(float(x_dilute(0.15)), rel=1e-7)
    slope_below = (x_dilute(0.15 - e) - x_dilute(0.15 - 1e-5)) / (1e-5 - e)
    slope_above = (x_dilute(0.15 + 1e-5) - x_dilute(0.15 + e)) / (1e-5 - e)
    assert float(slope_below) == pytest.approx(float(slope_above), rel=1e-3)
    assert float(x_concentrated(0.15 - e)) == pytest.approx(float(x_concentrated(0.15)), abs=1e-6)
    T = np.linspace(0.0, 0.867, 8671)
    assert np.all(np.diff(x_dilute(T)) > 0)
    assert np.all(np.diff(x_concentrated(T)) <= 0)
    assert float(x_dilute(0.0)) == pytest.approx(0.064)  # Edwards et al.'s T = 0 solubility
    assert np.all(x_concentrated(T) <= 1.0)


def fd(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


@settings(max_examples=40, deadline=None)
@given(T=st.floats(0.16, 1.75), u=st.floats(0.01, 0.97))
def test_thermodynamic_consistency(T, u):
    x = u * float(superfluid_boundary_x3(T))
    m = mixture_properties(T, x)
    hT = 1e-5
    hx = 1e-6
    mix = mixture_properties

    def g_T(t):
        return mix(t, x).gibbs_J_mol

    def s_T(t):
        return mix(t, x).entropy_J_molK

    def g_x(y):
        return mix(T, y).gibbs_J_mol

    # h = g + T s and s = −∂g/∂T
    assert float(m.enthalpy_J_mol) == pytest.approx(float(m.gibbs_J_mol + T * m.entropy_J_molK))
    assert float(m.entropy_J_molK) == pytest.approx(float(-fd(g_T, T, hT)), rel=1e-5, abs=1e-9)
    # C = T ∂s/∂T
    assert float(m.heat_capacity_J_molK) == pytest.approx(
        float(T * fd(s_T, T, hT)), rel=1e-4, abs=1e-8
    )
    # chemical potentials are the partial molar Gibbs energies: g = x μ3 + (1 − x) μ4,
    # μ3 − μ4 = ∂g/∂x, hence Gibbs–Duhem x dμ3 + (1 − x) dμ4 = 0 at constant T
    assert float(x * m.mu3_J_mol + (1 - x) * m.mu4_J_mol) == pytest.approx(
        float(m.gibbs_J_mol), rel=1e-9, abs=1e-12
    )
    assert float(m.mu3_J_mol - m.mu4_J_mol) == pytest.approx(
        float(fd(g_x, x, hx)), rel=1e-5, abs=1e-7
    )
    dmu3 = fd(lambda y: mix(T, y).mu3_J_mol, x, hx)
    dmu4 = fd(lambda y: mix(T, y).mu4_J_mol, x, hx)
    tol = 1e-4 * float(abs(dmu4)) + 1e-7
    assert float(x * dmu3 + (1 - x) * dmu4) == pytest.approx(0.0, abs=tol)


def test_pure_4he_limit_and_dilute_van_t_hoff_limit():
    m = mixture_properties(1.2, 0.0)
    from amrr.properties import helium4 as he4

    assert float(m.entropy_J_molK) == pytest.approx(float(he4.molar_entropy_J_molK(1.2)))
    assert float(m.osmotic_pressure_Pa) == pytest.approx(0.0, abs=1e-6)
    # very dilute, T >> T_F: π → n3 k T (van 't Hoff) corrected by the x² interaction term
    x = 1e-4
    m = mixture_properties(1.0, x)
    n3kT = x * 8.314462618 * 1.0 / 27.58e-6
    assert float(m.osmotic_pressure_Pa) == pytest.approx(n3kT, rel=2e-3)


def test_design_point_values_are_physical():
    m = mixture_properties([0.75, 0.9, 1.6], 0.1)
    assert np.all(m.entropy_J_molK > 0)
    assert np.all(np.diff(m.entropy_J_molK) > 0)
    assert np.all(m.heat_capacity_J_molK > 0)
    assert np.all(m.osmotic_pressure_Pa > 0)
    # research notes' van 't Hoff estimates at x = 0.1: 22.0, 26.4, 46.9 kPa. Fermi
    # degeneracy raises π, the (attractive) fitted interaction lowers it; measured net
    # departure -6 % at 0.75 K, documented in docs/amrr/properties.md.
    np.testing.assert_allclose(m.osmotic_pressure_Pa, [22.0e3, 26.4e3, 46.9e3], rtol=0.1)


@pytest.mark.parametrize(
    ("T", "x", "match"),
    [
        (0.5, 0.5, "single-phase"),
        (1.5, 0.6, "single-phase"),
        (0.1, 0.05, "temperature_K"),
        (2.0, 0.0, "temperature_K"),
        (1.0, -0.1, "x3"),
    ],
)
def test_out_of_domain(T, x, match):
    with pytest.raises(OutOfRangeError, match=match):
        mixture_properties(T, x)


def test_nan_and_negative_inputs_are_errors_and_arrays_broadcast():
    m = mixture_properties(np.array([[0.8], [1.2]]), np.array([0.0, 0.05]))
    assert m.entropy_J_molK.shape == (2, 2)
    assert np.all(np.isfinite(m.entropy_J_molK))
    # x3 = 0 is pure He II: μ4 = g4, no osmotic pressure
    assert np.allclose(m.mu4_J_mol[:, 0], m.gibbs_J_mol[:, 0])
    with pytest.raises(ValueError, match="x3=nan"):
        mixture_properties(0.8, [0.05, np.nan])
    with pytest.raises(ValueError, match="temperature_K=inf"):
        mixture_properties(np.inf, 0.05, extrapolate=True)
    with pytest.raises(OutOfRangeError, match="temperature_K=-1"):
        mixture_properties(-1.0, 0.05, extrapolate=True)
    with pytest.raises(OutOfRangeError, match=r"x3=-0\.1"):
        mixture_properties(0.8, -0.1, extrapolate=True)


def test_extrapolation_computes_or_refuses_never_clamps():
    # He I (above T_λ = 2.1768 K) is not modelled: refused even with extrapolate; below the
    # 0.15 K calibration the 4He background is computed (phonon T³), not held at 0.1 K
    with pytest.raises(OutOfRangeError, match="does not lift"):
        mixture_properties(2.5, 0.0, extrapolate=True)
    a, b = mixture_properties([0.05, 0.08], 0.0, extrapolate=True).entropy_J_molK
    assert 0.0 < a < b
    assert b / a == pytest.approx((0.08 / 0.05) ** 3, rel=1e-9)


def test_inverse_lookups_at_fixed_x3():
    from amrr.properties.mixture import temperature_from_enthalpy_K, temperature_from_entropy_K

    for x in (0.0, 0.1, 0.3):
        T = np.linspace(0.9 if x == 0.3 else 0.3, 1.7, 7)
        m = mixture_properties(T, x)
        np.testing.assert_allclose(temperature_from_enthalpy_K(m.enthalpy_J_mol, x), T, rtol=1e-9)
        np.testing.assert_allclose(temperature_from_entropy_K(m.entropy_J_molK, x), T, rtol=1e-9)
    with pytest.raises(OutOfRangeError, match="entropy_J_molK"):
        temperature_from_entropy_K(50.0, 0.1)
    with pytest.raises(OutOfRangeError, match="tricritical"):
        temperature_from_entropy_K(5.0, 0.8)
