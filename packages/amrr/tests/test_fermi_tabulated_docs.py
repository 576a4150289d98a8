"""Ideal Fermi gas limits, the measured-table interpolator, and the docstring examples."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest
from amrr.properties import OutOfRangeError, paramagnet_properties
from amrr.properties.fermi import fermi_gas
from amrr.properties.tabulated import EntropyTable, TableError


def test_fermi_gas_limits_and_known_values():
    # degenerate: S/Nk = π²/2 τ; classical: C_V/Nk = 3/2, P/nkT = 1
    tau = np.array([0.005, 0.011, 0.015])
    np.testing.assert_allclose(fermi_gas(tau).entropy, np.pi**2 / 2 * tau, rtol=1e-3)
    hot = fermi_gas(np.array([1e4, 1e13]))
    np.testing.assert_allclose(hot.heat_capacity_v, 1.5, rtol=1e-5)
    np.testing.assert_allclose(hot.pressure_ratio, 1.0, rtol=1e-5)
    # values at T = T_F, 1.5 T_F, 2 T_F, 3 T_F (research notes §3.2)
    g = fermi_gas(np.array([1.0, 1.5, 2.0, 3.0]))
    np.testing.assert_allclose(g.entropy, [2.85, 3.43, 3.85, 4.45], atol=0.006)
    np.testing.assert_allclose(g.heat_capacity_v / 1.5, [0.937, 0.965, 0.977, 0.987], atol=6e-4)
    # C_V = τ dS/dτ across the table and both asymptotic branches
    t = np.geomspace(1e-3, 1e14, 60)
    h = 1e-6
    dS = (fermi_gas(t * (1 + h)).entropy - fermi_gas(t * (1 - h)).entropy) / (2 * h)
    np.testing.assert_allclose(dS, fermi_gas(t).heat_capacity_v, rtol=1e-4, atol=1e-8)


def ideal_ggg_table():
    T = np.linspace(0.5, 3.0, 26)
    B = np.linspace(0.0, 2.0, 21)
    S = paramagnet_properties(T[:, None], B[None, :], "GGG", model="ideal").entropy_J_kgK
    return T, B, S


def test_table_reproduces_smooth_model_and_its_derivatives():
    T, B, S = ideal_ggg_table()
    table = EntropyTable(T, B, S, unit="J_kgK")
    Tq = np.array([0.77, 1.13, 1.61, 2.42])
    Bq = np.array([0.33, 0.9, 1.27, 1.77])
    r = table(Tq, Bq)
    exact = paramagnet_properties(Tq, Bq, "GGG", model="ideal")
    np.testing.assert_allclose(r.entropy, exact.entropy_J_kgK, rtol=2e-3)
    np.testing.assert_allclose(r.dS_dB, exact.dS_dB_J_kgKT, rtol=2e-2)
    np.testing.assert_allclose(r.heat_capacity, exact.heat_capacity_J_kgK, rtol=3e-2)


def test_table_derivatives_integrate_back_to_zero_around_a_cycle():
    T, B, S = ideal_ggg_table()
    table = EntropyTable(T, B, S)
    s = np.linspace(0, 2 * np.pi, 4001)
    path_T = 1.5 + 0.6 * np.cos(s)
    path_B = 1.0 + 0.7 * np.sin(s)
    assert table.entropy_change_along_path(path_T, path_B) == pytest.approx(0.0, abs=1e-5)
    # and an open path recovers the surface difference
    line_T = np.linspace(0.8, 2.2, 2001)
    line_B = np.linspace(1.5, 0.2, 2001)
    delta = float(table(2.2, 0.2).entropy - table(0.8, 1.5).entropy)
    assert table.entropy_change_along_path(line_T, line_B) == pytest.approx(delta, rel=1e-6)


def test_table_from_csv_and_errors(tmp_path):
    T, B, S = ideal_ggg_table()
    good = tmp_path / "ggg.csv"
    lines = ["# digitised test table", "temperature_K,field_T,entropy_J_kgK"]
    lines += [f"{t},{b},{S[i, j]}" for i, t in enumerate(T) for j, b in enumerate(B)]
    good.write_text("\n".join(lines) + "\n")
    table = EntropyTable.from_csv(good)
    assert float(table(1.0, 1.0).entropy) == pytest.approx(float(S[5, 10]), rel=1e-12)
    with pytest.raises(OutOfRangeError, match="temperature_K"):
        table(0.3, 1.0)
    assert np.isfinite(table(0.45, 1.0, extrapolate=True).entropy)

    missing = tmp_path / "missing.csv"
    missing.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(TableError, match="not rectangular"):
        EntropyTable.from_csv(missing)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*lines[:5], "1.0,abc,3.0"]) + "\n")
    with pytest.raises(TableError, match=r"bad\.csv:6"):
        EntropyTable.from_csv(bad)
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("T,B,S\n1,2,3\n")
    with pytest.raises(TableError, match="temperature_K"):
        EntropyTable.from_csv(nohead)


@pytest.mark.parametrize(
    "module",
    [
        "amrr.properties.paramagnet",
        "amrr.properties.helium4",
        "amrr.properties.mixture",
        "amrr.properties.phase_diagram",
        "amrr.properties.fermi",
        "amrr.properties.helium3",
        "amrr.properties.concentrated",
        "amrr.properties.vapour_pressure",
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_unphysical_points_found_in_noisy_table_and_reduced_by_smoothing():
    T, B, S = ideal_ggg_table()
    assert EntropyTable(T, B, S).unphysical_points()[0].size == 0
    rng = np.random.default_rng(3)
    noisy = S + rng.normal(0.0, 0.3, S.shape)  # 0.3 J/(kg K) noise
    assert EntropyTable(T, B, noisy).unphysical_points()[0].size > 0
    smooth = EntropyTable(T, B, noisy, smoothing=noisy.size * 0.3**2)
    assert (
        smooth.unphysical_points()[0].size < EntropyTable(T, B, noisy).unphysical_points()[0].size
    )


def test_refrigerant_interface_switches_model_and_table():
    from amrr.properties import AnalyticRefrigerant, TabulatedRefrigerant

    T, B, S = ideal_ggg_table()
    model = AnalyticRefrigerant("GGG", model="ideal")
    data = TabulatedRefrigerant(EntropyTable(T, B, S), name="GGG ideal, tabulated")
    a = model(1.3, 0.8)
    b = data(1.3, 0.8)
    assert model.name == "GGG (ideal)"
    assert float(b.entropy_J_kgK) == pytest.approx(float(a.entropy_J_kgK), rel=2e-3)
    assert float(b.dS_dB_J_kgKT) == pytest.approx(float(a.dS_dB_J_kgKT), rel=2e-2)
    per_mol = TabulatedRefrigerant(EntropyTable(T, B, S * 1.012353, unit="J_molK"))
    with pytest.raises(ValueError, match="molar_mass_kg_mol"):
        per_mol(1.3, 0.8)
    ok = TabulatedRefrigerant(per_mol.table, molar_mass_kg_mol=1.012353)(1.3, 0.8)
    assert float(ok.entropy_J_kgK) == pytest.approx(float(b.entropy_J_kgK), rel=1e-12)
