"""amrr.regenerator: eqs. 1–3, closed-form length, convergence, sensitivities."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from amrr.properties import AnalyticRefrigerant
from amrr.regenerator import (
    RegeneratorSpec,
    design_regenerator,
    ggg_heat_per_mass_J_kg,
    length_sensitivities,
    mixture_enthalpy_drop_J_mol,
    node_temperatures_K,
)
from hypothesis import given
from hypothesis import strategies as st

SPEC = RegeneratorSpec(inner_diameter_m=0.02, moles_per_blow_mol=0.3)


def test_first_law_closes():
    d = design_regenerator(SPEC)
    assert d.node_heat_J.sum() == pytest.approx(SPEC.moles_per_blow_mol * d.enthalpy_drop_J_mol)
    assert d.heat_to_ggg_J == pytest.approx(d.heat_per_length_J_m * d.length_m)
    assert np.all(d.node_heat_J > 0)  # a demagnetising blow absorbs heat everywhere


def test_ggg_mass_from_porosity():
    d = design_regenerator(SPEC)
    area = math.pi * 0.02**2 / 4
    assert d.ggg_mass_kg == pytest.approx(7080 * 0.62 * area * d.length_m)
    assert d.fill_fraction == pytest.approx(0.62)


def test_length_scales_with_moles_area_and_fill():
    base = design_regenerator(SPEC).length_m
    assert design_regenerator(replace(SPEC, moles_per_blow_mol=0.6)).length_m == pytest.approx(
        2 * base
    )
    assert design_regenerator(replace(SPEC, inner_diameter_m=0.04)).length_m == pytest.approx(
        base / 4
    )
    denser = design_regenerator(replace(SPEC, porosity=0.38 / 2)).length_m
    assert denser == pytest.approx(base * 0.62 / (1 - 0.19))


def test_field_sum_converges_to_the_entropy_difference():
    # Σ_j T ∂S/∂B ΔB → T [S(T, B_low) − S(T, B_high)] as M grows (the paper's left rule).
    ggg = AnalyticRefrigerant("GGG")
    T = np.array([0.8, 1.2, 1.6])
    exact = T * (ggg(T, 0.0).entropy_J_kgK - ggg(T, 0.75).entropy_J_kgK)
    q = ggg_heat_per_mass_J_kg(T, np.linspace(0.75, 0.0, 4001), ggg)
    np.testing.assert_allclose(q, exact, rtol=1e-3)


def test_convergence_orders_in_space_and_field():
    def length(n: int, m: int) -> float:
        return design_regenerator(replace(SPEC, space_nodes=n, field_steps=m)).length_m

    # Field steps: first order (each doubling halves the change).
    lm = [length(20, m) for m in (100, 200, 400, 800)]
    ratios = [(lm[i + 2] - lm[i + 1]) / (lm[i + 1] - lm[i]) for i in range(2)]
    assert all(0.4 < r < 0.6 for r in ratios)
    # Space nodes (midpoint rule): second order.
    ln = [length(n, 2000) for n in (5, 10, 20, 40)]
    ratios = [(ln[i + 2] - ln[i + 1]) / (ln[i + 1] - ln[i]) for i in range(2)]
    assert all(0.15 < r < 0.35 for r in ratios)
    # The defaults are within 0.3 % of the Richardson-extrapolated length.
    richardson = 2 * length(20, 3200) - length(20, 1600)
    assert length(20, 400) == pytest.approx(richardson, rel=3e-3)


def test_linear_profile_nodes():
    T = node_temperatures_K(1.6, 0.75, 4)
    np.testing.assert_allclose(T, 1.6 - 0.85 * np.array([0.125, 0.375, 0.625, 0.875]))


def test_sensitivities_of_the_geometric_inputs_are_exact_powers():
    s = length_sensitivities(SPEC)
    assert s["moles_per_blow_mol"] == pytest.approx(1.0, abs=1e-6)
    assert s["inner_diameter_m"] == pytest.approx(-2.0, abs=1e-5)
    assert s["ggg_density_kg_m3"] == pytest.approx(-1.0, abs=1e-5)
    assert s["porosity"] == pytest.approx(0.38 / 0.62, abs=1e-5)
    assert s["hot_temperature_K"] > 0  # more enthalpy to remove
    assert s["high_field_T"] < 0  # a larger swing shortens the bed
    assert set(s) >= {"x3", "cold_temperature_K", "low_field_T"}


def test_enthalpy_drop_is_the_mixture_models():
    dh = mixture_enthalpy_drop_J_mol(1.6, 0.75, 0.1)
    assert dh > 0


def test_bad_spec_names_the_field():
    with pytest.raises(ValueError, match="porosity"):
        RegeneratorSpec(inner_diameter_m=0.02, porosity=1.2)
    with pytest.raises(ValueError, match="high_field_T"):
        RegeneratorSpec(inner_diameter_m=0.02, high_field_T=0.0, low_field_T=0.5)


@given(
    diameter=st.floats(0.005, 0.1),
    moles=st.floats(1e-3, 5.0),
    hot=st.floats(1.0, 1.8),
    cold=st.floats(0.5, 0.95),
)
def test_length_invariants(diameter, moles, hot, cold):
    # ℓ D² / n depends only on temperatures, fields and the bed: geometry and flow scale out.
    spec = RegeneratorSpec(
        inner_diameter_m=diameter,
        moles_per_blow_mol=moles,
        hot_temperature_K=hot,
        cold_temperature_K=cold,
        space_nodes=5,
        field_steps=50,
    )
    d = design_regenerator(spec)
    ref = design_regenerator(replace(spec, inner_diameter_m=0.02, moles_per_blow_mol=0.1))
    assert d.length_m > 0
    assert d.length_m * diameter**2 / moles == pytest.approx(ref.length_m * 0.02**2 / 0.1, rel=1e-9)
    assert d.node_heat_J.sum() == pytest.approx(moles * d.enthalpy_drop_J_mol, rel=1e-9)


def test_eq2_against_an_independent_brillouin_paramagnet():
    # Ideal Gd3+ (J = 7/2, g = 2), written out here: S/R = ln Z − η⟨Jz⟩ per ion, 3 ions per
    # formula unit, M = 1.012353 kg/mol. Demagnetising to zero field, Σ_j T ∂S/∂B ΔB →
    # T [S(T, 0) − S(T, B)] = T [3 R ln 8 − S(T, B)] / M.
    from scipy.constants import R, k, physical_constants

    mu_b = physical_constants["Bohr magneton"][0]
    mj = np.arange(-3.5, 3.6, 1.0)

    def s_ideal(T: float, B: float) -> float:
        eta = 2.0 * mu_b * B / (k * T)
        w = np.exp(mj * eta)
        Z = w.sum()
        m = (mj * w).sum() / Z
        return 3 * R * (np.log(Z) - eta * m) / 1.012353

    ideal = AnalyticRefrigerant("GGG", model="ideal")
    T = np.array([0.9, 1.3])
    q = ggg_heat_per_mass_J_kg(T, np.linspace(0.75, 0.0, 8001), ideal)
    exact = [t * (3 * R * np.log(8) / 1.012353 - s_ideal(t, 0.75)) for t in T]
    np.testing.assert_allclose(q, exact, rtol=2e-3)
