"""amrr.pump: the superfluid magnetic pump's displacement per blow."""

from __future__ import annotations

import pytest
from amrr.properties import AnalyticRefrigerant, helium4_svp, mixture_properties
from amrr.pump import PumpSpec, pump_displacement


def test_displacement_is_the_entropy_balance():
    spec = PumpSpec(ggg_mass_kg=0.1, temperature_K=1.6, low_field_T=0.0, high_field_T=1.5)
    p = pump_displacement(spec)
    ggg = AnalyticRefrigerant("GGG")
    ds = float(ggg(1.6, 0.0).entropy_J_kgK - ggg(1.6, 1.5).entropy_J_kgK)
    s_mix = float(mixture_properties(1.6, 0.1).entropy_J_molK)
    assert p.moles_per_blow_mol == pytest.approx(0.1 * ds / s_mix)
    assert p.heat_per_bed_J == pytest.approx(1.6 * 0.1 * ds)


def test_pure_he4_limit_is_the_fountain_pump_relation():
    # x3 → 0: the displaced moles are the He II turned normal by the heat, Q / (T s4).
    for T in (1.2, 1.6):
        p = pump_displacement(PumpSpec(0.1, T, 0.0, 1.5, x3=1e-8))
        assert p.moles_per_blow_mol == pytest.approx(p.pure_he4_equivalent_mol, rel=1e-3)
        assert p.superfluid_fraction == pytest.approx(float(helium4_svp(T).superfluid_fraction))


def test_displacement_scales_with_bed_mass_and_grows_with_swing():
    a = pump_displacement(PumpSpec(0.1, 1.6, 0.0, 1.0))
    b = pump_displacement(PumpSpec(0.2, 1.6, 0.0, 1.0))
    c = pump_displacement(PumpSpec(0.1, 1.6, 0.0, 1.5))
    assert b.moles_per_blow_mol == pytest.approx(2 * a.moles_per_blow_mol)
    assert c.moles_per_blow_mol > a.moles_per_blow_mol
    # Volume continuity through the superleak.
    assert a.superfluid_moles_per_blow_mol > a.moles_per_blow_mol * 0.99


def test_bad_pump_inputs():
    with pytest.raises(ValueError, match="ggg_mass_kg"):
        PumpSpec(0.0)
    with pytest.raises(ValueError, match="high_field_T"):
        PumpSpec(0.1, high_field_T=0.0)
