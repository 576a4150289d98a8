"""amrr.cycle.axial and axial conduction in the magnetic regenerator."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from amrr.cycle.axial import dispersion_conductivity_W_mK, zehner_schlunder_conductivity_W_mK
from amrr.cycle.bed import assemble_triplets
from amrr.cycle.from_design import cycle_from_design, design_cooling
from amrr.cycle.magnetic import MagneticRegenerator, MixtureTable
from amrr.design import default_design, evaluate
from hypothesis import example, given
from hypothesis import strategies as st

# ----------------------------------------------------------------------------- correlations


def test_zehner_schlunder_is_the_fluid_when_both_phases_conduct_alike():
    for eps in (0.3, 0.38, 0.6):
        assert float(zehner_schlunder_conductivity_W_mK(eps, 0.02, 0.02)) == pytest.approx(
            0.02, rel=1e-5
        )


@given(
    st.floats(0.2, 0.8),
    st.floats(1e-3, 1.0),
    st.floats(2.0, 1e4),
)
@example(0.38, 0.02, 50.0)
@example(0.2, 1.0, 1.25 * 4.0 ** (10 / 9))  # κ = B, the removable singularity
def test_zehner_schlunder_lies_between_the_wiener_bounds(eps, kf, kappa):
    # An empirical fit: for κ ≥ 2 it lies between the series and parallel bounds; near
    # κ = 1 it exceeds the parallel bound by up to ~1e-4 relative (make fuzz: 1.2e-4 at
    # ε = 0.8, κ = 0.97), where both bounds and the fit are within 3 % of k_f anyway.
    ks = kappa * kf
    k = float(zehner_schlunder_conductivity_W_mK(eps, kf, ks))
    series = 1.0 / (eps / kf + (1.0 - eps) / ks)
    parallel = eps * kf + (1.0 - eps) * ks
    assert series * (1 - 1e-9) <= k <= parallel * (1 + 1e-9)


def test_zehner_schlunder_bridges_its_singularity_smoothly():
    # make fuzz found κ = 1 within 10⁻³ of B = 1.000535 (ε = 0.54992): the bridge must still
    # give k_f there, and both sides of B must join
    assert float(zehner_schlunder_conductivity_W_mK(0.54992, 1.0, 1.0)) == pytest.approx(
        1.0, abs=1e-6
    )
    eps = 0.4
    b = 1.25 * 1.5 ** (10 / 9)
    k = zehner_schlunder_conductivity_W_mK(eps, 1.0, b * np.linspace(0.997, 1.003, 13))
    steps = np.diff(k)
    assert np.all(steps > 0)
    # no jump where the bridge hands over to the formula (at 1 ± 10⁻³)
    assert np.max(steps) < 1.05 * np.min(steps)


def test_zehner_schlunder_grows_with_the_solid_but_only_logarithmically():
    # point contacts: ten times more conductive particles add a constant, not a factor
    k = zehner_schlunder_conductivity_W_mK(0.4, 1.0, np.array([10.0, 100.0, 1000.0, 1e4]))
    assert np.all(np.diff(k) > 0)
    # the values of the correlation's published curve at ε = 0.4 (VDI Heat Atlas M5 fig.)
    assert k[0] == pytest.approx(3.64, abs=0.01)
    assert k[2] == pytest.approx(15.5, abs=0.1)
    steps = np.diff(k)
    assert np.all(np.abs(steps / steps[-1] - 1.0) < 0.25)


def test_zehner_schlunder_refuses_bad_input():
    with pytest.raises(ValueError, match="porosity"):
        zehner_schlunder_conductivity_W_mK(0.9, 0.02, 1.0)
    with pytest.raises(ValueError, match="> 0"):
        zehner_schlunder_conductivity_W_mK(0.4, 0.0, 1.0)


def test_dispersion_is_half_of_rho_cp_u_dp():
    # 0.5 Pr Re k_f = 0.5 ρ c_p u d_p; per mole ρ c_p u = ṅ c / A
    ndot, c, dp, area = 4e-3, 10.0, 1e-3, 5e-4
    assert float(dispersion_conductivity_W_mK(ndot, c, dp, area)) == pytest.approx(
        0.5 * (ndot * c / area) * dp
    )
    assert float(dispersion_conductivity_W_mK(-ndot, c, dp, area)) > 0.0


# ----------------------------------------------------------------------------- the bar


@given(st.lists(st.floats(1e-3, 1e3), min_size=2, max_size=40), st.floats(0.3, 1.6))
@example([1.0, 1.0, 1.0, 1.0], 0.9)
@example([3.0, 6.0], 1.6 - 1e-16)
@example([1.0, 0.0625, 864.0, 0.0625], 1.0)  # found by make fuzz: round-off of the solve
def test_the_conduction_network_of_a_bar_with_fixed_end_temperatures(conductances, cold_K):
    # A bar between T_H (node 0) and T_C (node N) at steady state: the same heat flows
    # through every cell, so T_i = T_H − (T_H − T_C) Σ_{c<i} 1/K_c / Σ 1/K_c — linear for a
    # uniform bar. The bed's solid rows (fluid decoupled) must give exactly that.
    k = np.asarray(conductances)
    n = k.size
    hot_K = 1.6
    _, op, _, _ = assemble_triplets(
        np.zeros(n), np.ones(n + 1), np.zeros(n), k, np.zeros(n), 0, 0.0
    )
    size = 2 * (n + 1)
    a = np.zeros((size, size))
    np.add.at(a, (op[0], op[1]), op[2])
    solid = a[1::2, 1::2]  # rows and columns of T_s
    inner = slice(1, n)
    ends = np.array([hot_K, cold_K])
    rhs = -solid[inner][:, [0, n]] @ ends
    t_inner = np.linalg.solve(solid[inner, inner], rhs)
    resistance = np.concatenate([[0.0], np.cumsum(1.0 / k)])
    expected = hot_K - (hot_K - cold_K) * resistance / resistance[-1]
    # round-off of the tridiagonal solve grows with the conductance ratio and n²
    tol = 1e-14 * n**2 * float(k.max() / k.min())
    assert np.allclose(t_inner, expected[1:-1], rtol=0, atol=max(tol, 1e-12))
    # and the end rows give the heat through the bar, (T_H − T_C)/Σ 1/K_c [W]
    t = np.concatenate([[hot_K], t_inner, [cold_K]])
    q = (hot_K - cold_K) / resistance[-1]
    roundoff = 1e-12 * float(k.max())
    assert (solid @ t)[0] == pytest.approx(-q, rel=1e-9, abs=roundoff)
    assert (solid @ t)[n] == pytest.approx(q, rel=1e-9, abs=roundoff)


# ----------------------------------------------------------------------------- the regenerator

GRID = {"cells": 10, "steps_per_blow": 20, "steps_per_hold": 3}


@pytest.fixture(scope="module")
def paper():
    design = default_design()
    return cycle_from_design(design, result=evaluate(design, sensitivities=False), **GRID)


def test_the_regenerator_conducts_k_e0_a_over_dx_between_nodes(paper):
    spec = replace(paper.spec, axial_conduction=True)
    model = MagneticRegenerator(spec, paper.point, paper.schedule)
    k_e0 = float(
        zehner_schlunder_conductivity_W_mK(
            spec.porosity, spec.fluid_conductivity_W_mK, spec.solid_conductivity_W_mK
        )
    )
    dx = spec.length_m / spec.cells
    assert np.allclose(model.stagnant_conductance_W_K, k_e0 * spec.area_m2 / dx)
    # dispersion per unit molar heat capacity: 0.5 ṅ d_p/A · A/Δx
    assert model.dispersion_W_K_per_J_molK == pytest.approx(
        0.5 * paper.point.molar_flow_mol_s * spec.particle_diameter_m / dx
    )
    off = MagneticRegenerator(paper.spec, paper.point, paper.schedule)
    assert not off.stagnant_conductance_W_K.any()
    assert off.dispersion_W_K_per_J_molK == 0.0


def test_axial_conduction_leaks_heat_to_the_cold_end(paper):
    # The bed's stagnant conduction from T_H to T_C is of the order k_e0 A (T_H − T_C)/L;
    # switched on, the cooling falls by at least half of that (the profile is not linear
    # and dispersion adds to it).
    table = MixtureTable.build(paper.spec.x3)
    off, _ = design_cooling(paper, table=table)
    on_cycle = replace(paper, spec=replace(paper.spec, axial_conduction=True))
    on, css = design_cooling(on_cycle, table=table)
    assert css.converged
    s, p = paper.spec, paper.point
    k_e0 = float(
        zehner_schlunder_conductivity_W_mK(
            s.porosity, s.fluid_conductivity_W_mK, s.solid_conductivity_W_mK
        )
    )
    leak = k_e0 * s.area_m2 * (p.hot_K - p.cold_K) / s.length_m
    drop = off.cycle.cooling_power_W - on.cycle.cooling_power_W
    assert drop > 0.5 * leak
    # the drop is no bookkeeping artefact: the cycle's first-law error in watts (a few
    # per cent of the magnetic work on this grid, docs §7) is small beside it
    c = on.cycle
    assert abs(c.energy_residual_fraction * c.magnetic_work_W) < 0.05 * drop
