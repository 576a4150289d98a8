"""Chamber physics: closed-form checks, published ranges, photosynthesis, validity."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from fluxfleet.sim import physics as ph


def _utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


def test_air_molar_density_ideal_gas() -> None:
    # 973 hPa, 20 °C: P/(RT) = 97300 / (8.314462618 * 293.15)
    rho = ph.air_molar_density_mol_m3(973.0, 20.0)
    assert float(rho) == pytest.approx(97300.0 / (8.314462618 * 293.15), rel=1e-12)


def test_saturation_vapour_pressure_magnus_values() -> None:
    # WMO-No. 8 Magnus form: 6.112 hPa at 0 °C; at 20 °C within 0.3 % of Goff–Gratch's 23.39
    e = ph.saturation_vapour_pressure_hpa(np.array([0.0, 20.0]))
    assert e[0] == pytest.approx(6.112)
    assert e[1] == pytest.approx(23.39, rel=3e-3)


def test_humidity_round_trip() -> None:
    w = ph.h2o_mol_mol_from_rh(65.0, 21.0, 970.0)
    assert float(ph.rh_pct_from_h2o(w, 21.0, 970.0)) == pytest.approx(65.0)
    # the same vapour seen by a sensor 1.5 K warmer has a lower RH
    assert float(ph.rh_pct_from_h2o(w, 22.5, 970.0)) < 65.0


@pytest.mark.parametrize(
    ("func", "args"),
    [
        (ph.air_molar_density_mol_m3, (2000.0, 20.0)),
        (ph.air_molar_density_mol_m3, (970.0, 90.0)),
        (ph.fick_efflux_umol_m2_s, (-5.0, 400.0, 1e-4)),
        (ph.fick_conductance_umol_m2_s_ppm, (1e-3, 0.1, 40.0)),
        (ph.gross_photosynthesis_umol_m2_s, (5000.0, 400.0, 20.0)),
        (ph.q10_factor, (80.0,)),
    ],
)
def test_validity_ranges_enforced(func: object, args: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="outside its validity range"):
        func(*args)  # type: ignore[operator]


def test_fick_efflux_linear_in_gradient_and_zero_without_one() -> None:
    g = ph.fick_conductance_umol_m2_s_ppm(2e-6, 0.1, 40.0)
    assert float(g) == pytest.approx(8e-4)
    f = ph.fick_efflux_umol_m2_s(np.array([450.0, 2450.0, 4450.0]), 450.0, g)
    np.testing.assert_allclose(f, [0.0, 1.6, 3.2])


def _closure(a: float, cx: float, c0: float, dt_s: float, t_end: float) -> np.ndarray:
    c = np.array([c0])
    out = [c0]
    for _ in range(round(t_end / dt_s)):
        c = ph.chamber_step(c, dt_s, a, cx)
        out.append(float(c[0]))
    return np.array(out)


def test_chamber_step_is_the_exact_exponential_for_any_step() -> None:
    """LI-8100A eq. 4-10: c′(t) = c′x + (c′0 − c′x) e^{−a t}, independent of the step."""
    a, cx, c0 = 7.5e-4, 2100.0, 450.0
    t = np.arange(0.0, 181.0, 3.0)
    analytic = cx + (c0 - cx) * np.exp(-a * t)
    np.testing.assert_allclose(_closure(a, cx, c0, 3.0, 180.0), analytic, rtol=1e-12)
    one_step = _closure(a, cx, c0, 180.0, 180.0)[-1]
    assert one_step == pytest.approx(analytic[-1], rel=1e-12)


def test_rate_and_target_recover_the_flux_by_licor_eq_4_7() -> None:
    """Initial slope × ρh(1 − w) is the soil efflux; the leak does not bias it at ambient."""
    column, w, g, cs, k, ca = 6.5, 0.015, 4e-4, 5000.0, 3e-4, 470.0
    a, cx = ph.chamber_rate_and_target(column, w, g, cs, k, ca, 0.0)
    slope0 = float(a * (cx - ca))  # dc′/dt at t = 0 with c′(0) = c′a
    flux = float(ph.fick_efflux_umol_m2_s(cs, ca, g))
    assert slope0 * column * (1 - w) == pytest.approx(flux, rel=1e-12)


def test_greenhouse_closure_curves_like_a_real_one() -> None:
    """Night closure: rise decelerates (HM-like) and the initial slope gives the true flux."""
    start = _utc(2023, 9, 15, 1)
    gh = ph.Greenhouse(20, start, 3600.0, seed=3)
    flux0 = gh.state.flux_soil_umol_m2_s.copy()
    column = gh.now["column_mol_m2"] * (1 - gh.state.h2o_mol_mol)
    closed = np.ones(20, dtype=bool)
    no_flush = np.zeros(20, dtype=bool)
    series = [gh.state.co2_dry_ppm.copy()]
    for _ in range(100):  # 300 s in 3-s steps
        gh.step(3.0, closed, no_flush)
        series.append(gh.state.co2_dry_ppm.copy())
    c = np.array(series)
    first = c[1] - c[0]
    # initial slope (3-s difference) reproduces the efflux to < 0.2 %
    np.testing.assert_allclose(first / 3.0 * column, flux0, rtol=2e-3)
    # concave: the last minute rises less than the first minute, for every chamber
    assert np.all((c[-1] - c[-21]) < (c[20] - c[0]))
    # ... yet a real closure: rise over 180 s of tens of ppm at the September median
    rise = c[60] - c[0]
    assert 10.0 < float(np.median(rise)) < 150.0


def test_fleet_fluxes_match_the_carbdown_night_distribution() -> None:
    """1,000 pots in September: median and spread of the Carbdown hourly night fluxes."""
    start = _utc(2023, 9, 15, 2)
    gh = ph.Greenhouse(1000, start, 600.0, seed=11)
    f = gh.state.flux_soil_umol_m2_s
    assert gh.now["lux"] == 0.0
    # Carbdown September median 1.84 µmol m⁻² s⁻¹; all months 5–95 % = 0.65–7.2
    assert 1.2 < float(np.median(f)) < 2.6
    assert float(np.percentile(f, 5)) > 0.3
    assert float(np.percentile(f, 95)) < 7.5


def test_monthly_medians_reproduce_published_flux() -> None:
    for month, flux in ph.CARBDOWN_FLUX_MEDIAN_UMOL_M2_S.items():
        t = _utc(2023, month, 15, 12)
        g = ph.monthly_conductance_umol_m2_s_ppm(t)
        cs = ph.monthly_soil_pco2_ppm(t)
        assert float(g * (cs - ph.CARBDOWN_AMBIENT_CO2_PPM)) == pytest.approx(flux, rel=0.06)


def test_sunny_closure_draws_co2_from_600_to_400_within_3_min() -> None:
    """The seed: on sunny days the closed transparent chamber falls from ~600 to ~400 ppm."""
    column, w, g, cs, k = 6.5, 0.02, 5e-4, 6000.0, 2e-4
    ppfd = 90_000.0 / ph.LUX_PER_PPFD_SUNLIGHT  # ≈ 90 klx full sun under glass
    c = np.array([600.0])
    for _ in range(180):
        gpp = ph.gross_photosynthesis_umol_m2_s(ppfd, c, 30.0)
        a, cx = ph.chamber_rate_and_target(column, w, g, cs, k, 600.0, gpp)
        c = ph.chamber_step(c, 1.0, a, cx)
    assert float(c[0]) < 420.0
    # and in the dark the same chamber rises
    d = np.array([600.0])
    a, cx = ph.chamber_rate_and_target(column, w, g, cs, k, 600.0, 0.0)
    assert float(ph.chamber_step(d, 180.0, a, cx)[0]) > 600.0


def test_photosynthesis_saturates_in_light_and_stops_at_compensation() -> None:
    low = ph.gross_photosynthesis_umol_m2_s(100.0, 600.0, 20.0)
    high = ph.gross_photosynthesis_umol_m2_s(2000.0, 600.0, 20.0)
    assert 0 < float(low) < float(high) < 20.0
    assert float(ph.gross_photosynthesis_umol_m2_s(2000.0, 40.0, 20.0)) == 0.0
    assert float(ph.gross_photosynthesis_umol_m2_s(0.0, 600.0, 20.0)) == 0.0


def test_clogged_pot_near_zero_flux_high_pco2_no_humidity_change() -> None:
    start = _utc(2023, 8, 10, 1)
    gh = ph.Greenhouse(4, start, 3600.0, seed=5)
    gh.clogged[:] = [True, False, True, False]
    gh.step(3.0, np.zeros(4, dtype=bool), np.ones(4, dtype=bool))
    w0 = gh.state.h2o_mol_mol.copy()
    for _ in range(60):
        gh.step(3.0, np.ones(4, dtype=bool), np.zeros(4, dtype=bool))
    f = gh.state.flux_soil_umol_m2_s
    assert np.all(f[[0, 2]] < 0.1)
    assert np.all(f[[1, 3]] > 0.3)
    assert np.all(gh.state.soil_pco2_ppm[[0, 2]] > 20_000)
    dw = (gh.state.h2o_mol_mol - w0) * 1000.0  # mmol/mol over 3 min
    assert np.all(np.abs(dw[[0, 2]]) < 0.05)
    assert np.all(dw[[1, 3]] > 0.1)


def test_solar_elevation_and_day_night_light() -> None:
    noon = _utc(2023, 6, 21, 11, 30)  # ≈ solar noon at 7° E
    el = float(ph.solar_elevation_deg(noon, 50.9, 7.0))
    assert el == pytest.approx(90.0 - 50.9 + 23.44, abs=1.0)
    assert float(ph.solar_elevation_deg(_utc(2023, 6, 21, 23, 30), 50.9, 7.0)) < 0
    drivers = ph.greenhouse_drivers(
        np.arange(_utc(2023, 9, 15), _utc(2023, 9, 16), 300.0),
        ph.Site(),
        np.random.default_rng(0),
        daily_cloud=np.ones(2),
    )
    hour = (drivers.time_s % 86400) / 3600
    assert np.all(drivers.lux_in_chamber[(hour < 3) | (hour > 21)] == 0)
    assert drivers.lux_in_chamber.max() > 30_000
    # greenhouse climate within the Carbdown ranges
    assert drivers.pressure_hpa.min() > 955
    assert drivers.pressure_hpa.max() < 990
    assert drivers.air_t_c.min() >= 18.9
    assert drivers.air_t_c.max() <= 24.1
    assert drivers.ambient_co2_ppm.min() > 430
    assert drivers.ambient_co2_ppm.max() < 490


def test_monthly_conductance_implies_a_moist_soil_diffusivity() -> None:
    g = ph.monthly_conductance_umol_m2_s_ppm(_utc(2023, 9, 15))
    rho = ph.air_molar_density_mol_m3(973.0, 20.0)
    d = float(g * ph.SOIL_PCO2_DEPTH_M / rho)
    assert 1e-7 < d < 4e-6  # well below free air (1.6e-5 m² s⁻¹)
    back = ph.fick_conductance_umol_m2_s_ppm(d, ph.SOIL_PCO2_DEPTH_M, rho)
    assert float(back) == pytest.approx(float(g))
