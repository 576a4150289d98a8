"""amrr.superconductor: the wire, Bottura's NbTi critical surface, load line, diode quench."""

from __future__ import annotations

import math

import pytest
from amrr.superconductor import (
    NBTI_BOTTURA,
    PAPER_WIRE,
    Wire,
    diode_quench,
    load_line,
)


def test_bottura_fit_reproduces_its_normalisation():
    jc = NBTI_BOTTURA.critical_current_density_A_m2(5.0, 4.2)
    assert float(jc) == pytest.approx(3.0e9, rel=0.01)  # 3000 A/mm² at 4.2 K, 5 T
    with pytest.raises(ValueError, match="field_T"):
        NBTI_BOTTURA.critical_current_density_A_m2(11.5, 4.2)  # above B_c2(4.2 K)


def test_load_line_intersects_the_critical_surface():
    ll = load_line(1.65, 4.7, PAPER_WIRE, 4.2)
    ic_there = (
        float(NBTI_BOTTURA.critical_current_density_A_m2(ll.critical_field_T, 4.2))
        * PAPER_WIRE.superconductor_area_m2
    )
    assert ll.critical_current_A == pytest.approx(ic_there, rel=1e-6)
    assert 0 < ll.current_margin < 1
    colder = load_line(1.65, 4.7, PAPER_WIRE, 2.0)
    assert colder.critical_current_A > ll.critical_current_A


def test_diode_quench_energy_balance():
    q = diode_quench(3.3, 4.7, 100.0, 1.0)
    assert q.stored_energy_J == pytest.approx(0.5 * 3.3 * 4.7**2)
    assert q.diode_energy_J + q.coil_energy_J == pytest.approx(q.stored_energy_J)
    assert 0 < q.diode_energy_J < q.stored_energy_J
    # Without resistance all the energy would go to the diode: R → 0 limit.
    small_r = diode_quench(3.3, 4.7, 1e-6, 1.0)
    assert small_r.diode_energy_J == pytest.approx(small_r.stored_energy_J, rel=1e-4)
    assert q.max_ramp_rate_A_s == pytest.approx(1.0 / 3.3)


def test_paper_wire_areas():
    # 54 filaments of 9 µm: 3.44e-9 m² of NbTi; copper is the rest of the 0.102-mm core.
    assert PAPER_WIRE.superconductor_area_m2 == pytest.approx(54 * math.pi * 4.5e-6**2)
    assert PAPER_WIRE.copper_area_m2 == pytest.approx(
        math.pi * 0.051e-3**2 - 54 * math.pi * 4.5e-6**2
    )
    with pytest.raises(ValueError, match="filaments do not fit"):
        Wire(0.01e-3, 0.02e-3, 54, 9e-6)
