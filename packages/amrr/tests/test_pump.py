"""amrr.pump: the superfluid magnetic pump's displacement per blow."""

from __future__ import annotations

import numpy as np
import pytest
from amrr.properties import AnalyticRefrigerant, helium4_svp, mixture_properties
from amrr.pump import PumpSpec, linear_ramp_flow, pump_displacement


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


@pytest.mark.parametrize("model", ["mean_field", "ideal", "internal_field"])
def test_linear_ramp_moves_the_blows_moles_with_no_flow_at_zero_field(model):
    ref = AnalyticRefrigerant(
        "GGG", model=model, internal_field_T=0.458 if model == "internal_field" else None
    )
    spec = PumpSpec(0.1, 1.6, 0.0, 1.5, 0.10)
    flow = linear_ramp_flow(spec, 80.0, ref, points=801)
    # ∫ ṅ dt = m ΔS / s_mix, the reversible displacement, to the trapezoid's error
    assert flow.moles_per_blow_mol == pytest.approx(
        pump_displacement(spec, ref).moles_per_blow_mol, rel=1e-4
    )
    # S is even in B: ∂S/∂B = 0 at zero field, so the ramp starts with no flow
    assert flow.molar_flow_mol_s[0] == pytest.approx(0.0, abs=1e-12)
    assert flow.peak_to_mean > 1.0
    assert flow.flow_at(40.0) == pytest.approx(
        float(np.interp(40.0, flow.time_s, flow.molar_flow_mol_s))
    )


def test_linear_ramp_flow_by_hand_at_one_instant():
    # ṅ(t) = m |∂S/∂B|(T, B(t)) Ḃ / s_mix at t = 20 s of an 80-s 0 → 1.5 T ramp
    ref = AnalyticRefrigerant("GGG")
    spec = PumpSpec(0.2, 1.5, 0.0, 1.5, 0.05)
    flow = linear_ramp_flow(spec, 80.0, ref, points=81)
    b, rate = 0.375, 1.5 / 80.0
    dsdb = abs(float(ref(np.array([1.5]), np.array([b])).dS_dB_J_kgKT[0]))
    s_mix = float(mixture_properties(1.5, 0.05).entropy_J_molK)
    assert flow.molar_flow_mol_s[20] == pytest.approx(0.2 * dsdb * rate / s_mix, rel=1e-12)


@pytest.mark.parametrize(("blow_s", "points", "match"), [(0.0, 10, "blow_s"), (80.0, 2, "points")])
def test_linear_ramp_bad_inputs(blow_s, points, match):
    with pytest.raises(ValueError, match=match):
        linear_ramp_flow(PumpSpec(0.1), blow_s, points=points)
