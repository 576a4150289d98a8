"""GGG/GLF spin models: anchors, limits, Maxwell relation, C = T dS/dT, validity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from amrr.properties import GGG, GLF, OutOfRangeError, paramagnet_properties
from amrr.properties.constants import K_B, MU_B, N_A, R
from amrr.properties.paramagnet import spin_moments
from hypothesis import given, settings
from hypothesis import strategies as st

MODELS = ["ideal", "mean_field", "internal_field"]


def props(T, B, model, material="GGG", **kw):
    extra = {"internal_field_T": 0.3} if model == "internal_field" else {}
    return paramagnet_properties(T, B, material, model=model, **extra, **kw)


# Regression anchors computed independently for the research notes
# (../shared/notes/amrr-physics.md §2.2), per kg GGG, spins only.
ANCHORS = [
    (0.90, 0.0, 51.24, 51.24),
    (0.90, 1.0, 16.93, 40.15),
    (0.90, 1.5, 9.36, 28.44),
    (1.00, 1.0, 19.13, 40.87),
    (1.60, 1.0, 29.43, 43.93),
    (1.60, 1.5, 20.51, 36.09),
    (2.00, 1.0, 34.17, 45.23),
    (2.00, 1.5, 25.40, 38.71),
]


@pytest.mark.parametrize(("T", "B", "s_ideal", "s_mf"), ANCHORS)
def test_ggg_entropy_anchors(T, B, s_ideal, s_mf):
    ideal = paramagnet_properties(T, B, "GGG", model="ideal", lattice=False)
    mf = paramagnet_properties(T, B, "GGG", model="mean_field", lattice=False)
    assert float(ideal.entropy_J_kgK) == pytest.approx(s_ideal, abs=0.006)
    assert float(mf.entropy_J_kgK) == pytest.approx(s_mf, abs=0.006)


@pytest.mark.parametrize(
    ("T", "B", "ideal", "mf"),
    [(0.9, 0.75, -29.3, -16.6), (1.2, 0.75, -29.2, -13.7), (1.6, 1.25, -17.7, -15.9)],
)
def test_ggg_dS_dB_anchors(T, B, ideal, mf):
    a = paramagnet_properties(T, B, "GGG", model="ideal", lattice=False)
    b = paramagnet_properties(T, B, "GGG", model="mean_field", lattice=False)
    assert float(a.dS_dB_J_kgKT) == pytest.approx(ideal, abs=0.06)
    assert float(b.dS_dB_J_kgKT) == pytest.approx(mf, abs=0.06)


@pytest.mark.parametrize("model", ["ideal", "mean_field"])
@pytest.mark.parametrize("material", ["GGG", "GLF"])
def test_high_temperature_entropy_is_R_ln8_per_mole_gd(model, material):
    kw = {"curie_weiss_K": -0.5} if (material == "GLF" and model == "mean_field") else {}
    p = paramagnet_properties(
        [20.0, 200.0], 0.01, material, model=model, lattice=False, extrapolate=True, **kw
    )
    n_gd = {"GGG": 3, "GLF": 1}[material]
    s_per_gd = p.entropy_J_molK / n_gd
    assert s_per_gd[-1] == pytest.approx(R * math.log(8.0), rel=1e-6)
    assert s_per_gd[0] < R * math.log(8.0)
    assert s_per_gd[0] == pytest.approx(R * math.log(8.0), rel=2e-4)


def test_zero_field_entropy_is_exactly_R_ln8_for_ideal_and_mean_field():
    for model in ("ideal", "mean_field"):
        p = paramagnet_properties(np.linspace(0.4, 20, 7), 0.0, "GGG", model=model, lattice=False)
        np.testing.assert_allclose(p.entropy_J_molK, 3 * R * math.log(8.0), rtol=1e-12)


def test_curie_law_at_small_field():
    # Ideal: M = N g² μB² J(J+1) B/(3 k T) per ion. Mean field: Curie–Weiss, T → T − θ.
    T = np.array([2.0, 5.0, 10.0])
    B = 1e-4
    C = N_A * (2.0 * MU_B) ** 2 * 3.5 * 4.5 / (3.0 * K_B)  # [A m² K / (T mol)] per mol Gd
    ideal = paramagnet_properties(T, B, "GGG", model="ideal")
    np.testing.assert_allclose(ideal.magnetisation_Am2_mol / 3, C * B / T, rtol=1e-6)
    mf = paramagnet_properties(T, B, "GGG", model="mean_field")
    np.testing.assert_allclose(mf.magnetisation_Am2_mol / 3, C * B / (T + 2.3), rtol=1e-6)


@pytest.mark.parametrize("model", MODELS)
def test_saturation_at_large_field_over_temperature(model):
    p = props(0.5, 10.0, model)
    m_sat = 3 * N_A * 2.0 * MU_B * 3.5
    assert float(p.magnetisation_Am2_mol) == pytest.approx(m_sat, rel=2e-3)
    assert float(p.magnetisation_Am2_mol) < m_sat
    # spin entropy → 0 (lattice term is ~1e-6 J/(mol K) at 0.5 K)
    assert float(p.entropy_J_molK) < 1e-3 * 3 * R * math.log(8.0)


@settings(max_examples=40, deadline=None)
@given(
    T=st.floats(0.41, 19.9),
    B=st.floats(0.05, 8.0),
    model=st.sampled_from(MODELS),
    material=st.sampled_from(["GGG", "GLF"]),
)
def test_maxwell_relation_and_heat_capacity(T, B, model, material):
    kw = {"curie_weiss_K": -1.0} if material == "GLF" and model == "mean_field" else {}
    p = props(T, B, model, material, **kw)
    hT, hB = 1e-5 * T, 1e-5 * max(B, 0.1)
    dM_dT = (
        props(T + hT, B, model, material, **kw).magnetisation_Am2_mol
        - props(T - hT, B, model, material, **kw).magnetisation_Am2_mol
    ) / (2 * hT)
    dS_dB_fd = (
        props(T, B + hB, model, material, **kw).entropy_J_molK
        - props(T, B - hB, model, material, **kw).entropy_J_molK
    ) / (2 * hB)
    dS_dT_fd = (
        props(T + hT, B, model, material, **kw).entropy_J_molK
        - props(T - hT, B, model, material, **kw).entropy_J_molK
    ) / (2 * hT)
    scale = 1e-6 * R * 3
    # Maxwell: (∂S/∂B)_T = (∂M/∂T)_B, both numerically and for the analytic derivative
    assert float(dM_dT) == pytest.approx(float(p.dS_dB_J_molKT), rel=1e-5, abs=scale)
    assert float(dS_dB_fd) == pytest.approx(float(p.dS_dB_J_molKT), rel=1e-5, abs=scale)
    # C_B = T (∂S/∂T)_B
    assert float(T * dS_dT_fd) == pytest.approx(float(p.heat_capacity_J_molK), rel=1e-5, abs=scale)


@settings(max_examples=40, deadline=None)
@given(
    T=st.floats(0.41, 19.9),
    B=st.floats(0.05, 8.0),
    model=st.sampled_from(MODELS),
    material=st.sampled_from(["GGG", "GLF"]),
)
def test_magnetic_enthalpy_is_the_state_function_dH_equals_T_dS_minus_M_dB(T, B, model, material):
    # the cycle stores H = U − B M; its derivatives must be C_B and T ∂S/∂B − M
    kw = {"curie_weiss_K": -1.0} if material == "GLF" and model == "mean_field" else {}
    p = props(T, B, model, material, **kw)
    hT, hB = 1e-5 * T, 1e-5 * max(B, 0.1)

    def enthalpy(t, b):
        return float(props(t, b, model, material, **kw).enthalpy_J_mol)

    dH_dT = (enthalpy(T + hT, B) - enthalpy(T - hT, B)) / (2 * hT)
    dH_dB = (enthalpy(T, B + hB) - enthalpy(T, B - hB)) / (2 * hB)
    expected_dB = float(T * p.dS_dB_J_molKT - p.magnetisation_Am2_mol)
    scale = 1e-6 * R * 3 * max(T, 1.0)
    assert dH_dT == pytest.approx(float(p.heat_capacity_J_molK), rel=1e-5, abs=scale)
    assert dH_dB == pytest.approx(expected_dB, rel=1e-5, abs=scale)
    assert float(p.enthalpy_J_kg) == pytest.approx(float(p.enthalpy_J_mol) / p.molar_mass_kg_mol)


def test_spin_moments_match_brillouin_function():
    J = 3.5
    eta = np.array([-3.0, -0.2, 1e-3, 0.5, 2.0, 40.0])
    _, m, _ = spin_moments(eta, J)
    x = J * eta
    brillouin = ((2 * J + 1) / (2 * J)) / np.tanh((2 * J + 1) * x / (2 * J)) - (
        1 / (2 * J)
    ) / np.tanh(x / (2 * J))
    np.testing.assert_allclose(m, J * brillouin, rtol=1e-9)


def test_mean_field_reduces_magnetisation_of_antiferromagnet():
    ideal = paramagnet_properties(1.0, 1.0, "GGG", model="ideal")
    mf = paramagnet_properties(1.0, 1.0, "GGG", model="mean_field")
    assert 0 < float(mf.magnetisation_Am2_mol) < float(ideal.magnetisation_Am2_mol)


def test_internal_field_lowers_zero_field_entropy():
    p0 = paramagnet_properties(0.5, 0.0, "GGG", model="internal_field", internal_field_T=0.0)
    p1 = paramagnet_properties(0.5, 0.0, "GGG", model="internal_field", internal_field_T=0.5)
    assert float(p1.entropy_J_molK) < float(p0.entropy_J_molK)
    assert float(p1.magnetisation_Am2_mol) == 0.0


def test_lattice_term_is_debye_T3():
    a = paramagnet_properties(10.0, 0.0, "GGG", lattice=True)
    b = paramagnet_properties(10.0, 0.0, "GGG", lattice=False)
    expected = 4 * np.pi**4 / 5 * 20 * R * (10.0 / GGG.debye_temperature_K) ** 3
    assert float(a.entropy_J_molK - b.entropy_J_molK) == pytest.approx(expected, rel=1e-12)


def test_negative_field_and_temperature_are_errors():
    # field_T is the field's magnitude: a negative value is a usage error, even with
    # extrapolate (it used to give a magnetisation antiparallel to nothing in particular)
    with pytest.raises(ValueError, match="field_T=-1"):
        paramagnet_properties(1.0, -1.0, "GGG")
    with pytest.raises(ValueError, match="field_T=-1"):
        paramagnet_properties(1.0, -1.0, "GGG", extrapolate=True)
    with pytest.raises(ValueError, match="temperature_K=-1"):
        paramagnet_properties(-1.0, 1.0, "GGG", extrapolate=True)
    with pytest.raises(ValueError, match="temperature_K=0"):
        paramagnet_properties(0.0, 1.0, "GGG", extrapolate=True)


def test_vectorised_broadcasting():
    p = paramagnet_properties(np.linspace(0.5, 2.0, 4)[:, None], np.linspace(0, 2, 3), "GGG")
    assert p.entropy_J_molK.shape == (4, 3)


@pytest.mark.parametrize(
    ("T", "B", "match"), [(0.1, 1.0, "temperature_K=0.1"), (1.0, 12.0, "field_T=12")]
)
def test_out_of_range_raises_unless_extrapolate(T, B, match):
    with pytest.raises(OutOfRangeError, match=match):
        paramagnet_properties(T, B, "GGG")
    assert np.isfinite(paramagnet_properties(T, B, "GGG", extrapolate=True).entropy_J_molK)


def test_glf_mean_field_needs_curie_weiss_and_models_are_checked():
    assert GLF.curie_weiss_K is None
    with pytest.raises(ValueError, match="curie_weiss_K"):
        paramagnet_properties(1.0, 1.0, "GLF", model="mean_field")
    with pytest.raises(ValueError, match="internal_field_T"):
        paramagnet_properties(1.0, 1.0, "GGG", model="internal_field")
    with pytest.raises(ValueError, match="not one of"):
        paramagnet_properties(1.0, 1.0, "GGG", model="ising")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not one of"):
        paramagnet_properties(1.0, 1.0, "CPA")
    with pytest.raises(ValueError, match="<= 0"):
        paramagnet_properties(1.0, 1.0, "GGG", model="mean_field", curie_weiss_K=1.0)


@pytest.mark.parametrize("model", MODELS)
def test_nan_is_an_error_naming_the_argument(model):
    with pytest.raises(ValueError, match="temperature_K=nan"):
        props(np.array([1.0, np.nan]), 1.0, model)
    with pytest.raises(ValueError, match="field_T=nan"):
        props(1.0, np.array([1.0, np.nan]), model)


def test_model_spread_is_the_band_of_the_three_models():
    from amrr.properties.paramagnet import exchange_internal_field_T, model_spread

    T = np.array([0.75, 0.9, 1.2, 1.6, 0.9])
    B = np.array([0.75, 0.75, 0.75, 1.25, 1.5])
    band = model_spread(T, B)
    # the notes' ∂S/∂B spread (J/(kg K T)), ideal vs mean field, widened by the internal-field
    # model at (1.6 K, 1.25 T) and (0.9 K, 1.5 T): measured
    np.testing.assert_allclose(
        band.dS_dB_low_J_kgKT, [-28.2, -29.3, -29.2, -17.7, -23.9], atol=0.06
    )
    np.testing.assert_allclose(
        band.dS_dB_high_J_kgKT, [-18.6, -16.6, -13.7, -15.5, -9.7], atol=0.06
    )
    b = exchange_internal_field_T("GGG")
    for model in MODELS:
        p = paramagnet_properties(
            T, B, "GGG", model=model, internal_field_T=b if model == "internal_field" else None
        )
        assert np.all(band.dS_dB_low_J_kgKT <= p.dS_dB_J_kgKT)
        assert np.all(p.dS_dB_J_kgKT <= band.dS_dB_high_J_kgKT)
        assert np.all(band.entropy_low_J_kgK <= p.entropy_J_kgK)
        assert np.all(p.heat_capacity_J_kgK <= band.heat_capacity_high_J_kgK)


def test_zero_field_entropy_falls_below_1_K_in_the_exchange_internal_field_model():
    from amrr.properties.paramagnet import exchange_internal_field_T, model_spread

    b = exchange_internal_field_T("GGG")
    # b = (k_B|θ|/g μB) √(9/(2 z J(J+1))), θ = −2.3 K, z = 4, J = 7/2
    assert b == pytest.approx(2.3 * 0.744_368 * np.sqrt(9 / (8 * 15.75)), rel=1e-4)
    T = np.array([0.5, 0.9, 1.2, 20.0])
    p = paramagnet_properties(
        T, 0.0, "GGG", model="internal_field", internal_field_T=b, lattice=False
    )
    r_ln8 = 3 * 8.314462618 * np.log(8) / GGG.molar_mass_kg_mol
    # measured: S/(R ln 8) = 0.41, 0.66, 0.77 at 0.5, 0.9, 1.2 K; the spin heat capacity
    # peaks near 0.7 K at 22 J/(kg K)
    np.testing.assert_allclose(p.entropy_J_kgK[:3] / r_ln8, [0.41, 0.66, 0.77], atol=0.01)
    assert p.heat_capacity_J_kgK[1] == pytest.approx(20.6, abs=0.1)
    # high-T tail: C T²/(R per Gd) → (3/2) θ²/z, the exchange's second moment
    tail = p.heat_capacity_J_molK[3] * 20.0**2 / (3 * 8.314462618)
    assert tail == pytest.approx(1.5 * 2.3**2 / 4, rel=0.01)
    band = model_spread([0.5, 0.9], 0.0)
    assert np.all(band.entropy_low_J_kgK < 0.7 * band.entropy_high_J_kgK)
    assert np.all(band.heat_capacity_high_J_kgK > 20.0)
