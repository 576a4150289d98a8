"""amrr.budget: Kevlar suspension, parasitic heat, net cooling."""

from __future__ import annotations

import math

import pytest
from amrr.budget import (
    KEVLAR_49,
    STANDARD_GRAVITY_M_S2,
    cooling_budget,
    gross_cooling_W,
    magnetic_force_bound_N,
    radiation_heat_W,
    size_suspension,
)
from hypothesis import given
from hypothesis import strategies as st


def _suspension(**kw):
    args = dict(
        launch_acceleration_g=20.0,
        magnetic_force_N=5.0,
        safety_factor=4.0,
        strands=6,
        loaded_strands=3,
        strand_length_m=0.01,
        cold_temperature_K=0.75,
        warm_temperature_K=1.6,
    )
    args.update(kw)
    return size_suspension(0.1, **args)


def test_strands_carry_the_design_load_at_the_allowed_stress():
    s = _suspension()
    load = 4.0 * (0.1 * STANDARD_GRAVITY_M_S2 * 20 + 5.0)
    assert s.design_load_N == pytest.approx(load)
    stress = s.design_load_N / (3 * s.strand_area_m2)
    assert stress == pytest.approx(2.5e9)
    assert s.strand_diameter_m == pytest.approx(math.sqrt(4 * s.strand_area_m2 / math.pi))


def test_conducted_heat_is_the_conductivity_integral():
    s = _suspension()
    n1 = KEVLAR_49.conductivity_exponent + 1
    integral = KEVLAR_49.conductivity_at_1K_W_mK * (1.6**n1 - 0.75**n1) / n1
    assert s.conducted_heat_W == pytest.approx(6 * s.strand_area_m2 / 0.01 * integral)


@given(cold=st.floats(0.1, 1.5), warm=st.floats(1.6, 3.2))
def test_conductivity_integral_matches_quadrature(cold, warm):
    from scipy.integrate import quad

    numeric, _ = quad(lambda t: float(KEVLAR_49.conductivity_W_mK(t)), cold, warm)
    assert KEVLAR_49.conductivity_integral_W_m(cold, warm) == pytest.approx(numeric, rel=1e-8)


def test_kevlar_law_refuses_outside_its_data():
    with pytest.raises(ValueError, match="temperature_K"):
        KEVLAR_49.conductivity_W_mK(4.2)


def test_heavier_loads_conduct_more_heat():
    assert _suspension(safety_factor=8.0).conducted_heat_W == pytest.approx(
        2 * _suspension().conducted_heat_W
    )


def test_budget_and_gross_cooling():
    gross = gross_cooling_W(0.3, 0.2, 180.0)
    assert gross == pytest.approx(2 * 0.3 * 0.2 / 180)
    b = cooling_budget(gross, 1e-5, 1e-7, 5e-5)
    assert b.net_cooling_W == pytest.approx(gross - 1e-5 - 1e-7 - 5e-5)


def test_magnetic_force_bound_and_radiation():
    assert magnetic_force_bound_N(0.1, 20.0, 30.0) == pytest.approx(60.0)
    assert radiation_heat_W(1e-3, 0.75, 1.6, 0.1) == pytest.approx(
        5.670374419e-8 * 0.1 * 1e-3 * (1.6**4 - 0.75**4)
    )


def test_bad_suspension_inputs():
    with pytest.raises(ValueError, match="loaded_strands"):
        _suspension(loaded_strands=7)
    with pytest.raises(ValueError, match="safety_factor"):
        _suspension(safety_factor=0.0)
