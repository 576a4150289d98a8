"""Chamber physics of the simulated greenhouse.

One module per physical concept would be nicer still; the concepts here are small:

* the greenhouse climate (air temperature, humidity, pressure, ambient CO2, light) with
  diurnal and seasonal cycles,
* soil CO2 efflux by Fick's first law from the soil CO2 partial pressure, with the
  chamber's feedback (the efflux falls as the chamber CO2 rises),
* gross photosynthesis of the plants under the transparent lid,
* water-vapour efflux (evaporation and transpiration),
* the chamber mass balance with a lid leak and the open-lid flush,

as pure vectorised functions, and :class:`Greenhouse`, which holds the state of N
chambers and advances it (orchestration only, no physics of its own beyond calling the
functions).

The chamber mass balance is the one LI-COR's soil-flux theory uses (LI-8100A manual,
ch. 4, eq. 4-7), so a flux computed from the simulated samples with eq. 4-12 is directly
comparable with the true flux::

    F = (ρ h) (1 − w) dc′/dt        ρ = P / (R T),  h = V / S,  c′ = c / (1 − w)

Realistic ranges come from the seed authors' published data (Carbdown 2023 greenhouse,
``reference/carbdown/``, MIT): hourly night fluxes 0.3–7 µmol m⁻² s⁻¹ (median 1.6),
chamber start CO2 440–500 ppm, chamber pressure 967–978 hPa (IQR), air 19–21 °C,
RH 57–71 % (IQR), soil pCO2 monthly medians 2,100–8,200 ppm, > 20,000 ppm in clogged pots.
Those numbers are typed in below with their source; the files themselves are never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

R_J_MOL_K = 8.314462618
"""Molar gas constant [J mol⁻¹ K⁻¹] (CODATA 2018)."""

# --------------------------------------------------------------------------- published data

#: Monthly medians of the Carbdown 2023 hourly night-time chamber fluxes [µmol m⁻² s⁻¹],
#: July–December (reference/carbdown/fluxmeter_hourly_2023.csv, column "Avg Flux",
#: grouped by "Month"; filtered by the authors for ≤ 10 lux and clogged pots).
CARBDOWN_FLUX_MEDIAN_UMOL_M2_S: dict[int, float] = {
    7: 4.97,
    8: 3.00,
    9: 1.84,
    10: 1.81,
    11: 1.08,
    12: 0.90,
}

#: Monthly medians of the Carbdown 2023 daily soil pCO2 [ppm], January–December
#: (reference/carbdown/soil_pco2_daily_2023.csv, column "Value", grouped by month).
CARBDOWN_SOIL_PCO2_MEDIAN_PPM: dict[int, float] = {
    1: 2137.0,
    2: 2908.0,
    3: 3980.0,
    4: 5861.0,
    5: 7414.0,
    6: 8160.0,
    7: 6820.0,
    8: 5469.0,
    9: 4949.0,
    10: 4322.0,
    11: 3760.0,
    12: 3593.0,
}

#: Carbdown 2023 chamber conditions at closure start (same hourly file; medians and IQR):
#: pressure 973 hPa (967–978), air temperature 20 °C (19–21), RH 65 % (57–71),
#: start CO2 463 ppm (441–495), lower by day (≈ 440) than at night (≈ 477).
CARBDOWN_PRESSURE_HPA = 973.0
CARBDOWN_AIR_T_C = 20.0
CARBDOWN_RH_PCT = 65.0
CARBDOWN_AMBIENT_CO2_PPM = 463.0

#: Clogged pots: soil pCO2 > 20,000 ppm with near-zero efflux (seed, "clogged pots").
CLOGGED_SOIL_PCO2_PPM = 22000.0


# --------------------------------------------------------------------------- thermodynamics


def _check_range(name: str, values: ArrayLike, lo: float, hi: float) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size and (np.nanmin(arr) < lo or np.nanmax(arr) > hi):
        raise ValueError(
            f"{name} outside its validity range [{lo}, {hi}]: "
            f"min {np.nanmin(arr):g}, max {np.nanmax(arr):g}"
        )
    return arr


def air_molar_density_mol_m3(pressure_hpa: ArrayLike, temperature_c: ArrayLike) -> FloatArray:
    """Molar density of moist air by the ideal-gas law, ρ = P / (R T).

    Parameters
    ----------
    pressure_hpa : array_like
        Air pressure [hPa], valid 300–1100.
    temperature_c : array_like
        Air temperature [°C], valid −40–60.

    Returns
    -------
    ndarray
        Molar density [mol m⁻³].
    """
    p = _check_range("pressure_hpa", pressure_hpa, 300.0, 1100.0)
    t = _check_range("temperature_c", temperature_c, -40.0, 60.0)
    return p * 100.0 / (R_J_MOL_K * (t + 273.15))


def saturation_vapour_pressure_hpa(temperature_c: ArrayLike) -> FloatArray:
    """Saturation vapour pressure over water, Magnus form.

    e_s = 6.112 exp(17.62 T / (243.12 + T)) (WMO-No. 8, 2018, Annex 4.B; Sonntag 1990),
    valid −45–60 °C over liquid water.

    Parameters
    ----------
    temperature_c : array_like
        Temperature [°C].

    Returns
    -------
    ndarray
        Saturation vapour pressure [hPa].
    """
    t = _check_range("temperature_c", temperature_c, -45.0, 60.0)
    return 6.112 * np.exp(17.62 * t / (243.12 + t))


def h2o_mol_mol_from_rh(
    rh_pct: ArrayLike, temperature_c: ArrayLike, pressure_hpa: ArrayLike
) -> FloatArray:
    """Water-vapour mole fraction from relative humidity, w = RH e_s(T) / P.

    Parameters
    ----------
    rh_pct : array_like
        Relative humidity [%], valid 0–100.
    temperature_c : array_like
        Temperature at which RH is taken [°C].
    pressure_hpa : array_like
        Air pressure [hPa].

    Returns
    -------
    ndarray
        Water-vapour mole fraction [mol mol⁻¹].
    """
    rh = _check_range("rh_pct", rh_pct, 0.0, 100.0)
    p = _check_range("pressure_hpa", pressure_hpa, 300.0, 1100.0)
    return rh / 100.0 * saturation_vapour_pressure_hpa(temperature_c) / p


def rh_pct_from_h2o(
    h2o_mol_mol: ArrayLike, temperature_c: ArrayLike, pressure_hpa: ArrayLike
) -> FloatArray:
    """Relative humidity from the water-vapour mole fraction, RH = 100 w P / e_s(T).

    Parameters
    ----------
    h2o_mol_mol : array_like
        Water-vapour mole fraction [mol mol⁻¹].
    temperature_c : array_like
        Temperature at which RH is wanted [°C].
    pressure_hpa : array_like
        Air pressure [hPa].

    Returns
    -------
    ndarray
        Relative humidity [%], capped at 100 (condensation).
    """
    w = np.asarray(h2o_mol_mol, dtype=np.float64)
    p = np.asarray(pressure_hpa, dtype=np.float64)
    return np.minimum(100.0 * w * p / saturation_vapour_pressure_hpa(temperature_c), 100.0)


# --------------------------------------------------------------------------- sun and light


def solar_elevation_deg(time_s: ArrayLike, latitude_deg: float, longitude_deg: float) -> FloatArray:
    """Solar elevation angle, low-precision almanac formula.

    Declination and equation of time from Spencer (1971), hour angle from UTC and
    longitude; accurate to ≈ 0.5° — ample for a light driver.

    Parameters
    ----------
    time_s : array_like
        UTC time [s since the Unix epoch].
    latitude_deg, longitude_deg : float
        Site latitude and longitude (east positive) [°].

    Returns
    -------
    ndarray
        Solar elevation [°], negative below the horizon.
    """
    t = np.asarray(time_s, dtype=np.float64)
    day = t / 86400.0
    doy = np.floor(day - np.floor(day / 365.2425) * 365.2425) + 1.0
    gamma = 2.0 * np.pi * (doy - 1.0) / 365.0
    decl = (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
        + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma)
        + 0.00148 * np.sin(3 * gamma)
    )
    eot_min = 229.18 * (
        0.000075
        + 0.001868 * np.cos(gamma)
        - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma)
        - 0.040849 * np.sin(2 * gamma)
    )
    utc_h = (t % 86400.0) / 3600.0
    solar_h = utc_h + longitude_deg / 15.0 + eot_min / 60.0
    hour_angle = np.deg2rad(15.0 * (solar_h - 12.0))
    lat = np.deg2rad(latitude_deg)
    sin_el = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    return np.asarray(np.rad2deg(np.arcsin(np.clip(sin_el, -1.0, 1.0))), dtype=np.float64)


def clear_sky_illuminance_lux(elevation_deg: ArrayLike) -> FloatArray:
    """Global horizontal illuminance under a clear sky.

    E_v = 128 klx · sin(h)^1.15 for h > 0 (Kasten & Young-type air-mass fit; the
    constant is the CIE clear-sky luminous solar constant reduced to ≈ 1 klx at
    h = 0.5°), and 0 at night. ±20 % — enough for a greenhouse light driver.

    Parameters
    ----------
    elevation_deg : array_like
        Solar elevation [°].

    Returns
    -------
    ndarray
        Illuminance [lx].
    """
    el = np.asarray(elevation_deg, dtype=np.float64)
    s = np.sin(np.deg2rad(np.clip(el, 0.0, 90.0)))
    return np.where(el > 0.0, 128_000.0 * s**1.15, 0.0)


LUX_PER_PPFD_SUNLIGHT = 54.0
"""Illuminance per photosynthetic photon flux density for daylight [lx per µmol m⁻² s⁻¹]
(Thimijan & Heins 1983, HortScience 18:818, Table 1: sunlight 54)."""


# --------------------------------------------------------------------------- soil and plants


def fick_conductance_umol_m2_s_ppm(
    diffusivity_m2_s: ArrayLike, depth_m: ArrayLike, molar_density_mol_m3: ArrayLike
) -> FloatArray:
    """Soil-gas conductance of Fick's first law discretised over one layer, g = D_s ρ / z.

    Parameters
    ----------
    diffusivity_m2_s : array_like
        Effective soil-gas diffusivity D_s [m² s⁻¹], valid 0–2e-5 (free air ≈ 1.6e-5).
    depth_m : array_like
        Depth of the soil-air CO2 partial pressure below the surface z [m], > 0.
    molar_density_mol_m3 : array_like
        Molar density of the soil air [mol m⁻³].

    Returns
    -------
    ndarray
        Conductance g [µmol m⁻² s⁻¹ per µmol mol⁻¹].
    """
    d = _check_range("diffusivity_m2_s", diffusivity_m2_s, 0.0, 2e-5)
    z = _check_range("depth_m", depth_m, 1e-4, 10.0)
    return d * np.asarray(molar_density_mol_m3, dtype=np.float64) / z


def fick_efflux_umol_m2_s(
    soil_pco2_ppm: ArrayLike, surface_co2_ppm: ArrayLike, conductance_umol_m2_s_ppm: ArrayLike
) -> FloatArray:
    """Soil CO2 efflux by Fick's first law, F = g (C_soil − C_surface).

    F = −D_s ∂C/∂z, discretised as D_s ρ (C_soil − C_surface) / z (Fick 1855; the
    gradient method of Maier & Schack-Kirchner 2014, Agric. For. Meteorol. 191:38).
    The chamber feedback follows: as the chamber CO2 rises, the gradient and the efflux
    fall (LI-8100A manual eq. 4-9).

    Parameters
    ----------
    soil_pco2_ppm : array_like
        Soil-air CO2 mole fraction at depth [µmol mol⁻¹], valid 0–100,000.
    surface_co2_ppm : array_like
        CO2 mole fraction of the air above the soil (chamber) [µmol mol⁻¹].
    conductance_umol_m2_s_ppm : array_like
        Conductance g [µmol m⁻² s⁻¹ per µmol mol⁻¹].

    Returns
    -------
    ndarray
        Efflux [µmol m⁻² s⁻¹], positive out of the soil.
    """
    cs = _check_range("soil_pco2_ppm", soil_pco2_ppm, 0.0, 100_000.0)
    return np.asarray(conductance_umol_m2_s_ppm, dtype=np.float64) * (
        cs - np.asarray(surface_co2_ppm, dtype=np.float64)
    )


def gross_photosynthesis_umol_m2_s(
    ppfd_umol_m2_s: ArrayLike,
    co2_ppm: ArrayLike,
    gpp_max_umol_m2_s: ArrayLike,
    quantum_yield: float = 0.05,
    compensation_ppm: float = 50.0,
    half_saturation_ppm: float = 400.0,
) -> FloatArray:
    """Canopy gross photosynthesis, light × CO2 response.

    Rectangular hyperbola in light (Michaelis–Menten form of Ruimy et al. 1995,
    Adv. Ecol. Res. 26:1) times a Michaelis–Menten CO2 response above the compensation
    point Γ::

        GPP = α I P_m / (α I + P_m) · max(c − Γ, 0) / (c − Γ + K)

    With P_m ≈ 20 µmol m⁻² s⁻¹ and full sun this draws a 16-cm chamber down from
    600 to 400 ppm in under 3 min, as the seed authors saw on sunny days.

    Parameters
    ----------
    ppfd_umol_m2_s : array_like
        Photosynthetic photon flux density I [µmol m⁻² s⁻¹], valid 0–3000.
    co2_ppm : array_like
        CO2 mole fraction around the leaves c [µmol mol⁻¹].
    gpp_max_umol_m2_s : array_like
        Light- and CO2-saturated canopy photosynthesis P_m [µmol m⁻² s⁻¹].
    quantum_yield : float
        Initial slope α [mol CO2 per mol photons], default 0.05.
    compensation_ppm : float
        CO2 compensation point Γ [µmol mol⁻¹] (C3 grass ≈ 50).
    half_saturation_ppm : float
        K [µmol mol⁻¹].

    Returns
    -------
    ndarray
        GPP [µmol m⁻² s⁻¹], ≥ 0.
    """
    i = _check_range("ppfd_umol_m2_s", ppfd_umol_m2_s, 0.0, 3000.0)
    pm = np.asarray(gpp_max_umol_m2_s, dtype=np.float64)
    light = np.where(pm > 0.0, quantum_yield * i * pm / (quantum_yield * i + pm + 1e-300), 0.0)
    excess = np.maximum(np.asarray(co2_ppm, dtype=np.float64) - compensation_ppm, 0.0)
    return light * excess / (excess + half_saturation_ppm)


def q10_factor(temperature_c: ArrayLike, q10: float = 2.0, reference_c: float = 20.0) -> FloatArray:
    """Temperature response of soil respiration, Q10^((T − T_ref)/10) (van 't Hoff).

    Parameters
    ----------
    temperature_c : array_like
        Soil temperature [°C], valid −10–50.
    q10 : float
        Rate increase per 10 K [-] (soil respiration ≈ 2; Davidson et al. 2006).
    reference_c : float
        Reference temperature [°C].

    Returns
    -------
    ndarray
        Multiplier [-].
    """
    t = _check_range("temperature_c", temperature_c, -10.0, 50.0)
    return np.asarray(q10 ** ((t - reference_c) / 10.0), dtype=np.float64)


# --------------------------------------------------------------------------- chamber balance


def chamber_step(
    co2_dry_ppm: ArrayLike,
    dt_s: float,
    rate_s: ArrayLike,
    target_ppm: ArrayLike,
) -> FloatArray:
    """Exact step of the linear chamber balance dc′/dt = a (c′_x − c′) over dt.

    c′(t + dt) = c′_x + (c′(t) − c′_x) e^{−a dt} (LI-8100A manual eq. 4-10 with
    eq. 4-17 for the leak). ``a`` and ``c′_x`` come from :func:`chamber_rate_and_target`.

    Parameters
    ----------
    co2_dry_ppm : array_like
        Dry CO2 mole fraction c′ at t [µmol mol⁻¹].
    dt_s : float
        Step [s], ≥ 0.
    rate_s : array_like
        Relaxation rate a [s⁻¹], ≥ 0.
    target_ppm : array_like
        Asymptote c′_x [µmol mol⁻¹].

    Returns
    -------
    ndarray
        c′(t + dt) [µmol mol⁻¹].
    """
    if dt_s < 0:
        raise ValueError(f"dt_s must be ≥ 0, got {dt_s}")
    a = np.asarray(rate_s, dtype=np.float64)
    cx = np.asarray(target_ppm, dtype=np.float64)
    return cx + (np.asarray(co2_dry_ppm, dtype=np.float64) - cx) * np.exp(-a * dt_s)


def chamber_rate_and_target(
    column_mol_m2: ArrayLike,
    h2o_mol_mol: ArrayLike,
    conductance_umol_m2_s_ppm: ArrayLike,
    soil_pco2_ppm: ArrayLike,
    exchange_rate_s: ArrayLike,
    ambient_co2_dry_ppm: ArrayLike,
    uptake_umol_m2_s: ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Rate and asymptote of the closed-chamber CO2 balance.

    From F = ρ h (1 − w) dc′/dt (LI-8100A eq. 4-7) with the Fick efflux
    g (C_s − c′), an air exchange k (c′_a − c′) (lid leak, or the fan's flush when the
    lid is open) and an uptake U (photosynthesis, frozen over the step)::

        dc′/dt = [g (C_s − c′) − U] / (ρ h (1 − w)) + k (c′_a − c′)
               = a (c′_x − c′),   a = g/(ρ h (1 − w)) + k,
               c′_x = [(g C_s − U)/(ρ h (1 − w)) + k c′_a] / a

    Parameters
    ----------
    column_mol_m2 : array_like
        Moles of chamber air per soil area ρ h = ρ V / S [mol m⁻²].
    h2o_mol_mol : array_like
        Water-vapour mole fraction w [mol mol⁻¹].
    conductance_umol_m2_s_ppm : array_like
        Soil conductance g [µmol m⁻² s⁻¹ ppm⁻¹].
    soil_pco2_ppm : array_like
        Soil-air CO2 C_s [µmol mol⁻¹].
    exchange_rate_s : array_like
        Air exchange rate with the greenhouse k [s⁻¹].
    ambient_co2_dry_ppm : array_like
        Greenhouse air c′_a [µmol mol⁻¹].
    uptake_umol_m2_s : array_like
        Photosynthetic uptake U [µmol m⁻² s⁻¹].

    Returns
    -------
    rate_s, target_ppm : ndarray
        a [s⁻¹] and c′_x [µmol mol⁻¹].
    """
    dry_column = np.asarray(column_mol_m2, dtype=np.float64) * (
        1.0 - np.asarray(h2o_mol_mol, dtype=np.float64)
    )
    g = np.asarray(conductance_umol_m2_s_ppm, dtype=np.float64)
    k = np.asarray(exchange_rate_s, dtype=np.float64)
    a = g / dry_column + k
    source = (g * np.asarray(soil_pco2_ppm) - np.asarray(uptake_umol_m2_s)) / dry_column
    target = (source + k * np.asarray(ambient_co2_dry_ppm)) / np.maximum(a, 1e-300)
    return a, target


def water_step(
    h2o_mol_mol: ArrayLike,
    dt_s: float,
    column_mol_m2: ArrayLike,
    evaporation_mmol_m2_s: ArrayLike,
    exchange_rate_s: ArrayLike,
    ambient_h2o_mol_mol: ArrayLike,
    saturation_h2o_mol_mol: ArrayLike,
) -> FloatArray:
    """Step of the chamber water-vapour balance, capped at saturation.

    dw/dt = E (1 − w) / (ρ h) + k (w_a − w) with E frozen over the step (evaporation
    and transpiration; LI-8100A manual eq. 4-2 for the (1 − w) dilution term).

    Parameters
    ----------
    h2o_mol_mol : array_like
        w at t [mol mol⁻¹].
    dt_s : float
        Step [s].
    column_mol_m2 : array_like
        ρ h [mol m⁻²].
    evaporation_mmol_m2_s : array_like
        Water-vapour efflux E [mmol m⁻² s⁻¹].
    exchange_rate_s : array_like
        k [s⁻¹].
    ambient_h2o_mol_mol : array_like
        Greenhouse w_a [mol mol⁻¹].
    saturation_h2o_mol_mol : array_like
        Saturation mole fraction at the chamber temperature [mol mol⁻¹].

    Returns
    -------
    ndarray
        w at t + dt [mol mol⁻¹].
    """
    w = np.asarray(h2o_mol_mol, dtype=np.float64)
    src = np.asarray(evaporation_mmol_m2_s) * 1e-3 * (1.0 - w) / np.asarray(column_mol_m2)
    k = np.asarray(exchange_rate_s, dtype=np.float64)
    if np.any(k <= 0.0):
        raise ValueError("exchange_rate_s must be > 0 (a chamber always leaks a little)")
    target = np.asarray(ambient_h2o_mol_mol) + src / k
    stepped = target + (w - target) * np.exp(-k * dt_s)
    return np.asarray(np.minimum(stepped, saturation_h2o_mol_mol), dtype=np.float64)


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Site:
    """Where the greenhouse is and what its climate does (all units in the names)."""

    latitude_deg: float = 50.9
    """Assumed: central Germany (the seed's greenhouse is in Germany; exact site unknown)."""
    longitude_deg: float = 7.0
    greenhouse_transmission: float = 0.65
    """Glass roof and frame [-] (typical single-glass greenhouse 0.6–0.7)."""
    chamber_transmission: float = 0.85
    """Transparent bucket wall [-] (assumed)."""
    pressure_mean_hpa: float = CARBDOWN_PRESSURE_HPA
    pressure_synoptic_hpa: float = 6.0
    """Amplitude of slow weather-driven swings [hPa] (Carbdown IQR 967–978)."""
    air_t_day_c: float = 24.0
    air_t_night_c: float = 19.0
    rh_mean_pct: float = CARBDOWN_RH_PCT
    ambient_co2_night_ppm: float = 480.0
    """Carbdown start CO2 ≈ 477 ppm at night, ≈ 440 ppm by day (hourly medians)."""
    ambient_co2_day_ppm: float = 440.0


@dataclass(frozen=True)
class ChamberGeometry:
    """Bucket on pot. Chamber height 16–17 cm (seed); pot diameter assumed 24 cm."""

    area_cm2: float = 452.4
    height_cm: float = 16.5

    @property
    def volume_cm3(self) -> float:
        """Chamber volume [cm³]."""
        return self.area_cm2 * self.height_cm


@dataclass(frozen=True)
class PotParameters:
    """Per-pot soil and plant parameters, drawn once per chamber (arrays of length N)."""

    pco2_factor: FloatArray
    """Multiplier on the month's median soil pCO2 [-]."""
    conductance_factor: FloatArray
    """Multiplier on the month's median conductance [-] (soil type, compaction)."""
    gpp_max_umol_m2_s: FloatArray
    """Light-saturated canopy photosynthesis [µmol m⁻² s⁻¹] (grass cut before install)."""
    leak_rate_s: FloatArray
    """Lid leak with the lid closed [s⁻¹]: the bucket sits on the pot rim, a good seal in
    a windless greenhouse (seed); 5e-5–4e-4 s⁻¹ (time constants 0.7–5.5 h) assumed."""
    evaporation_night_mmol_m2_s: FloatArray
    """Night-time evaporation from the soil [mmol m⁻² s⁻¹]."""
    transpiration_max_mmol_m2_s: FloatArray
    """Transpiration in full light [mmol m⁻² s⁻¹]."""

    @staticmethod
    def draw(n: int, rng: np.random.Generator) -> PotParameters:
        """Draw parameters for ``n`` pots.

        The spread of ``pco2_factor × conductance_factor`` (lognormal, σ_ln ≈ 0.55)
        reproduces the Carbdown hourly flux spread around its month median
        (5–95 % of 0.65–7.2 around 1.6 over July–December).
        """
        return PotParameters(
            pco2_factor=rng.lognormal(0.0, 0.35, n),
            conductance_factor=rng.lognormal(0.0, 0.4, n),
            gpp_max_umol_m2_s=rng.uniform(8.0, 30.0, n),
            leak_rate_s=rng.uniform(5e-5, 4e-4, n),
            evaporation_night_mmol_m2_s=rng.uniform(0.02, 0.08, n),
            transpiration_max_mmol_m2_s=rng.uniform(0.5, 2.0, n),
        )


SOIL_PCO2_DEPTH_M = 0.10
"""Depth of the Carbdown soil pCO2 sensors, assumed [m]."""

OPEN_EXCHANGE_RATE_S = 0.05
"""Air exchange of the open chamber with the fan moving ambient air in [s⁻¹] (assumed)."""
FLUSH_EXCHANGE_RATE_S = 0.12
"""Air exchange of the open chamber at full fan speed [s⁻¹] (assumed)."""
CLOGGED_CONDUCTANCE_FACTOR = 0.002
"""A clogged (waterlogged) pot keeps 0.2 % of its soil-gas conductance (assumed), so its
efflux is near zero (seed: "close to zero fluxes" from pots with soil pCO2 > 20,000 ppm)."""


def _month_interp(time_s: FloatArray, table: dict[int, float]) -> FloatArray:
    """Interpolate monthly values (placed mid-month) at times, wrapping over the year."""
    months = np.array(sorted(table), dtype=np.float64)
    vals = np.array([table[int(m)] for m in months])
    doy = (time_s / 86400.0) % 365.2425
    mid = (months - 0.5) * 365.2425 / 12.0
    xp = np.concatenate([mid - 365.2425, mid, mid + 365.2425])
    fp = np.concatenate([vals, vals, vals])
    return np.asarray(np.interp(doy, xp, fp), dtype=np.float64)


def monthly_conductance_umol_m2_s_ppm(time_s: ArrayLike) -> FloatArray:
    """Median soil conductance by time of year, from the Carbdown monthly medians.

    g_month = F_median / (C_soil,median − C_ambient), with F from
    :data:`CARBDOWN_FLUX_MEDIAN_UMOL_M2_S` (July–December) and C_soil from
    :data:`CARBDOWN_SOIL_PCO2_MEDIAN_PPM`; linear in time between mid-months, and
    between December and July across the winter (no published fluxes for January–June).
    With the pCO2 measured at :data:`SOIL_PCO2_DEPTH_M` this is an effective soil-gas
    diffusivity D_s = g z / ρ ≈ 1e-6 m² s⁻¹ in September (:func:`fick_conductance_umol_m2_s_ppm`
    inverted), a moist soil's value (free air: 1.6e-5).

    Parameters
    ----------
    time_s : array_like
        UTC time [s since the Unix epoch].

    Returns
    -------
    ndarray
        g [µmol m⁻² s⁻¹ ppm⁻¹].
    """
    g = {
        m: f / (CARBDOWN_SOIL_PCO2_MEDIAN_PPM[m] - CARBDOWN_AMBIENT_CO2_PPM)
        for m, f in CARBDOWN_FLUX_MEDIAN_UMOL_M2_S.items()
    }
    return _month_interp(np.asarray(time_s, dtype=np.float64), g)


def monthly_soil_pco2_ppm(time_s: ArrayLike) -> FloatArray:
    """Median soil pCO2 by time of year (Carbdown 2023 monthly medians, interpolated).

    Parameters
    ----------
    time_s : array_like
        UTC time [s since the Unix epoch].

    Returns
    -------
    ndarray
        Soil pCO2 [µmol mol⁻¹].
    """
    return _month_interp(np.asarray(time_s, dtype=np.float64), CARBDOWN_SOIL_PCO2_MEDIAN_PPM)


# --------------------------------------------------------------------------- drivers


@dataclass
class Drivers:
    """Greenhouse forcing on a time grid, shape (T,) or (T, N); units in the names."""

    time_s: FloatArray
    air_t_c: FloatArray
    soil_t_c: FloatArray
    pressure_hpa: FloatArray
    ambient_co2_ppm: FloatArray
    """Wet ambient CO2 mole fraction [µmol mol⁻¹]."""
    ambient_h2o_mol_mol: FloatArray
    lux_in_chamber: FloatArray
    """Illuminance inside a chamber (T,) [lx]."""


def greenhouse_drivers(
    time_s: ArrayLike, site: Site, rng: np.random.Generator, daily_cloud: FloatArray | None = None
) -> Drivers:
    """Greenhouse climate on a time grid: diurnal and seasonal cycles with weather.

    * light: clear-sky illuminance × a daily cloud factor (uniform 0.2–1) × the glass
      and bucket transmissions;
    * air temperature: night value plus (day − night) × relative light, smoothed by a
      1-h thermal lag; soil temperature follows it with a 4-h lag (damped);
    * pressure: mean ± slow synoptic sinusoid (period ≈ 4 d) with a random phase;
    * ambient CO2: night value by night, falling toward the day value under light
      (greenhouse plants draw it down), 1-h lag;
    * humidity: constant relative humidity at the air temperature.

    Parameters
    ----------
    time_s : array_like
        Regular UTC time grid [s since the Unix epoch], shape (T,).
    site : Site
        Climate parameters.
    rng : numpy.random.Generator
        Source of the weather randomness.
    daily_cloud : ndarray, optional
        Cloud factor per day from the first day of the grid [-] (1 = clear).

    Returns
    -------
    Drivers
    """
    t = np.asarray(time_s, dtype=np.float64)
    if t.ndim != 1 or t.size < 2:
        raise ValueError("time_s must be a 1-D grid of at least two times")
    dt = float(t[1] - t[0])
    day_index = ((t - t[0]) // 86400).astype(np.int64)
    if daily_cloud is None:
        daily_cloud = rng.uniform(0.2, 1.0, int(day_index[-1]) + 1)
    el = solar_elevation_deg(t, site.latitude_deg, site.longitude_deg)
    outdoor = clear_sky_illuminance_lux(el) * daily_cloud[day_index]
    lux = outdoor * site.greenhouse_transmission * site.chamber_transmission
    rel_light = np.clip(lux / 40_000.0, 0.0, 1.0)

    def lag(x: FloatArray, tau_s: float) -> FloatArray:
        """First-order lag (thermal or mixing inertia) on the grid."""
        alpha = 1.0 - np.exp(-dt / tau_s)
        out = np.empty_like(x)
        acc = float(x[0])
        for i, v in enumerate(x.tolist()):
            acc += alpha * (v - acc)
            out[i] = acc
        return out

    air = lag(site.air_t_night_c + (site.air_t_day_c - site.air_t_night_c) * rel_light, 3600.0)
    soil_base = float(np.mean(air))
    soil = soil_base + 0.5 * (lag(air, 4 * 3600.0) - soil_base)
    phase = rng.uniform(0.0, 2.0 * np.pi)
    pressure = site.pressure_mean_hpa + site.pressure_synoptic_hpa * np.sin(
        2.0 * np.pi * t / (4.1 * 86400.0) + phase
    )
    co2 = lag(
        site.ambient_co2_night_ppm
        + (site.ambient_co2_day_ppm - site.ambient_co2_night_ppm) * rel_light,
        3600.0,
    )
    w = h2o_mol_mol_from_rh(np.full_like(t, site.rh_mean_pct), air, pressure)
    return Drivers(
        time_s=t,
        air_t_c=air,
        soil_t_c=soil,
        pressure_hpa=pressure,
        ambient_co2_ppm=co2,
        ambient_h2o_mol_mol=w,
        lux_in_chamber=lux,
    )


# --------------------------------------------------------------------------- orchestration


@dataclass
class ChamberState:
    """State of N chambers (arrays of length N)."""

    co2_dry_ppm: FloatArray
    h2o_mol_mol: FloatArray
    lid_closed: NDArray[np.bool_]
    flux_soil_umol_m2_s: FloatArray = field(default_factory=lambda: np.zeros(0))
    """Soil CO2 efflux at the current instant [µmol m⁻² s⁻¹]."""
    gpp_umol_m2_s: FloatArray = field(default_factory=lambda: np.zeros(0))
    soil_pco2_ppm: FloatArray = field(default_factory=lambda: np.zeros(0))


class Greenhouse:
    """N chambers on N pots under one greenhouse climate.

    Holds no physics of its own: the drivers and the monthly soil parameters are
    evaluated once on a 30-s grid; each :meth:`step` interpolates them at the step's
    start, freezes them over the step and advances every chamber with the exact
    solution of the linear balance (:func:`chamber_rate_and_target`,
    :func:`chamber_step`, :func:`water_step`).

    Parameters
    ----------
    n : int
        Number of chambers.
    start_s : float
        Simulation start, UTC [s since the Unix epoch].
    duration_s : float
        Simulated span [s].
    seed : int
        Seed of every random draw.
    site, geometry : Site, ChamberGeometry
        Climate and chamber geometry.
    """

    DRIVER_STEP_S = 30.0

    def __init__(
        self,
        n: int,
        start_s: float,
        duration_s: float,
        seed: int = 0,
        site: Site | None = None,
        geometry: ChamberGeometry | None = None,
    ) -> None:
        if n < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        self.n = n
        self.site = site or Site()
        self.geometry = geometry or ChamberGeometry()
        self.rng = np.random.default_rng(seed)
        self.pots = PotParameters.draw(n, self.rng)
        self.start_s = float(start_s)
        grid = self.start_s + np.arange(
            0.0, duration_s + 3 * self.DRIVER_STEP_S, self.DRIVER_STEP_S
        )
        dv = greenhouse_drivers(grid, self.site, self.rng)
        self.drivers = dv
        w = dv.ambient_h2o_mol_mol
        column = air_molar_density_mol_m3(dv.pressure_hpa, dv.air_t_c) * (
            self.geometry.height_cm / 100.0
        )
        rel_light = np.clip(dv.lux_in_chamber / 40_000.0, 0.0, 1.0)
        ppfd = np.minimum(dv.lux_in_chamber / LUX_PER_PPFD_SUNLIGHT, 3000.0)
        # columns of the per-instant table, interpolated linearly in time
        self._names = (
            "air_t_c",
            "soil_t_c",
            "pressure_hpa",
            "ambient_co2_ppm",
            "ambient_co2_dry_ppm",
            "ambient_h2o_mol_mol",
            "lux",
            "column_mol_m2",
            "rel_light",
            "ppfd_umol_m2_s",
            "conductance_month",
            "pco2_month_q10",
            "h2o_sat_mol_mol",
        )
        self._table = np.stack(
            [
                dv.air_t_c,
                dv.soil_t_c,
                dv.pressure_hpa,
                dv.ambient_co2_ppm,
                dv.ambient_co2_ppm / (1.0 - w),
                w,
                dv.lux_in_chamber,
                column,
                rel_light,
                ppfd,
                monthly_conductance_umol_m2_s_ppm(grid),
                monthly_soil_pco2_ppm(grid) * q10_factor(dv.soil_t_c),
                saturation_vapour_pressure_hpa(dv.air_t_c) / dv.pressure_hpa,
            ],
            axis=1,
        )
        self.clogged = np.zeros(n, dtype=bool)
        self._zeros = np.zeros(n)
        self.time_s = self.start_s
        self.now: dict[str, float] = {}
        self._refresh_now()
        self.state = ChamberState(
            co2_dry_ppm=np.full(n, self.now["ambient_co2_dry_ppm"]),
            h2o_mol_mol=np.full(n, self.now["ambient_h2o_mol_mol"]),
            lid_closed=np.zeros(n, dtype=bool),
        )
        self._update_diagnostics()

    def _refresh_now(self) -> None:
        i = (self.time_s - self.start_s) / self.DRIVER_STEP_S
        j = int(min(max(i, 0.0), self._table.shape[0] - 2))
        f = min(max(i - j, 0.0), 1.0)
        row = self._table[j] + f * (self._table[j + 1] - self._table[j])
        self.now = dict(zip(self._names, row.tolist(), strict=True))

    def conditions(self) -> dict[str, float]:
        """Greenhouse conditions now (units in the keys)."""
        return dict(self.now)

    def conductance_umol_m2_s_ppm(self) -> FloatArray:
        """Soil conductance of each pot now [µmol m⁻² s⁻¹ ppm⁻¹] (clogged pots ≈ 0)."""
        g = self.now["conductance_month"] * self.pots.conductance_factor
        return np.where(self.clogged, g * CLOGGED_CONDUCTANCE_FACTOR, g)

    def soil_pco2_ppm(self) -> FloatArray:
        """Soil pCO2 of each pot now [µmol mol⁻¹]: month median × pot × Q10(T_soil).

        A clogged pot holds at least :data:`CLOGGED_SOIL_PCO2_PPM` (seed: > 20,000).
        """
        base = self.now["pco2_month_q10"] * self.pots.pco2_factor
        return np.where(self.clogged, np.maximum(base, CLOGGED_SOIL_PCO2_PPM), base)

    def _update_diagnostics(self) -> None:
        s = self.state
        s.soil_pco2_ppm = self.soil_pco2_ppm()
        self._g = self.conductance_umol_m2_s_ppm()
        s.flux_soil_umol_m2_s = self._g * (s.soil_pco2_ppm - s.co2_dry_ppm)
        ppfd = self.now["ppfd_umol_m2_s"]
        if ppfd <= 0.0:  # night: no photosynthesis (skip the arithmetic)
            s.gpp_umol_m2_s = self._zeros
        else:
            s.gpp_umol_m2_s = gross_photosynthesis_umol_m2_s(
                ppfd, s.co2_dry_ppm, self.pots.gpp_max_umol_m2_s
            )

    def refresh(self) -> None:
        """Recompute the diagnostics (efflux, GPP) after a parameter change (a fault)."""
        self._update_diagnostics()

    def _evaporation(self, rel_light: float) -> FloatArray:
        """Evaporation plus transpiration of each pot now [mmol m⁻² s⁻¹]."""
        pots = self.pots
        if rel_light <= 0.0:
            return pots.evaporation_night_mmol_m2_s
        return pots.evaporation_night_mmol_m2_s + pots.transpiration_max_mmol_m2_s * rel_light

    def co2_wet_ppm(self) -> FloatArray:
        """True wet CO2 mole fraction in each chamber, c = c′ (1 − w) [µmol mol⁻¹]."""
        return self.state.co2_dry_ppm * (1.0 - self.state.h2o_mol_mol)

    def step(
        self, dt_s: float, lid_closed: NDArray[np.bool_], fan_flush: NDArray[np.bool_]
    ) -> None:
        """Advance every chamber by ``dt_s`` [s] with the lid and fan states given.

        Parameters
        ----------
        dt_s : float
            Step [s].
        lid_closed : ndarray of bool
            True where the lid seals the pot during the step.
        fan_flush : ndarray of bool
            True where the fan runs at full speed (flush) during the step.
        """
        d = self.now
        s = self.state
        s.lid_closed = lid_closed
        column = d["column_mol_m2"]
        k = np.where(
            lid_closed,
            self.pots.leak_rate_s,
            np.where(fan_flush, FLUSH_EXCHANGE_RATE_S, OPEN_EXCHANGE_RATE_S),
        )
        a, target = chamber_rate_and_target(
            column,
            s.h2o_mol_mol,
            self._g,
            s.soil_pco2_ppm,
            k,
            d["ambient_co2_dry_ppm"],
            s.gpp_umol_m2_s,
        )
        co2 = chamber_step(s.co2_dry_ppm, dt_s, a, target)
        if self.clogged.any():
            evap = np.where(self.clogged, 0.0, self._evaporation(d["rel_light"]))
        else:
            evap = self._evaporation(d["rel_light"])
        s.h2o_mol_mol = water_step(
            s.h2o_mol_mol,
            dt_s,
            column,
            evap,
            k,
            d["ambient_h2o_mol_mol"],
            d["h2o_sat_mol_mol"],
        )
        s.co2_dry_ppm = co2
        self.time_s += dt_s
        self._refresh_now()
        self._update_diagnostics()
