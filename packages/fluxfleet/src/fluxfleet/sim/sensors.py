"""Sensor models of the simulated chambers, vectorised over N devices.

* Sensirion SCD30 (CO2, RH, T): first-order response τ63 = 20 s, white noise, a
  per-device calibration offset until a forced recalibration (FRC), self-heating.
* QMP6988 (pressure, air temperature): per-device offset and noise.
* BH1750 (illuminance): per-device gain error, 1-lx resolution, 65,535-lx range.

Datasheet figures used (and how they are read — a datasheet's "±" is not a σ, so the
interpretation is stated for each):

SCD30 (Sensirion datasheet v1.0, May 2020, Table 1):
    accuracy ±(30 ppm + 3 %) (400–10,000 ppm) → factory offset σ = 30 ppm per device;
    repeatability ±10 ppm → read as a ±3σ band of consecutive readings, σ = 3 ppm;
    response time τ63 = 20 s; range 0–40,000 ppm;
    RH accuracy ±3 %RH → per-device offset σ = 1.5 %RH, noise 0.1 %RH;
    T accuracy ±(0.4 °C + 0.023 (T − 25 °C)) → offset σ = 0.2 °C.
    Seed: the SCD30 "is constantly 1–2 °C warmer than the air" (self-heating) → +1.5 °C;
    after an FRC the fleet spread was 14–17 ppm (1 σ, 85 sensors) → residual offset
    σ = 15 ppm.
QMP6988 (QST datasheet; M5Stack ENV III): absolute pressure ±1 hPa → offset σ = 0.5 hPa,
    noise 0.03 hPa (relative accuracy ±0.06 hPa); temperature ±0.5 °C → offset σ = 0.25 °C.
BH1750 (ROHM datasheet, H-resolution mode): 1 lx resolution, 1–65,535 lx, measurement
    accuracy ratio 1.2 ± 20 % → per-device gain σ = 7 % about 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fluxfleet.sim.physics import rh_pct_from_h2o

FloatArray = NDArray[np.float64]

SCD30_TAU_S = 20.0
"""SCD30 response time τ63 [s] (datasheet)."""
SCD30_RANGE_PPM = 40_000.0
SCD30_SELF_HEATING_C = 1.5
BH1750_MAX_LUX = 65_535.0


@dataclass(frozen=True)
class SensorSpec:
    """Noise and calibration parameters (units in the names)."""

    scd30_tau_s: float = SCD30_TAU_S
    """SCD30 first-order response time [s] (datasheet τ63 = 20 s)."""
    co2_noise_ppm: float = 3.0
    co2_factory_offset_ppm: float = 30.0
    co2_frc_residual_ppm: float = 15.0
    rh_noise_pct: float = 0.1
    rh_offset_pct: float = 1.5
    scd_t_noise_c: float = 0.05
    scd_t_offset_c: float = 0.2
    pressure_noise_hpa: float = 0.03
    pressure_offset_hpa: float = 0.5
    baro_t_noise_c: float = 0.02
    baro_t_offset_c: float = 0.25
    lux_gain_sd: float = 0.07


def first_order_lag(
    y_prev: FloatArray, x_prev: FloatArray, x_now: FloatArray, dt_s: float, tau_s: float
) -> FloatArray:
    """Exact step of a first-order sensor response to an input linear over the step.

    τ dy/dt = x − y with x(t) linear from x_prev to x_now over dt (ramp-invariant
    discretisation)::

        y₁ = x₁ − τ s + (y₀ − x₀ + τ s) e^{−dt/τ},   s = (x₁ − x₀)/dt

    Parameters
    ----------
    y_prev : ndarray
        Output at the start of the step [same unit as x].
    x_prev, x_now : ndarray
        Input at the start and end of the step.
    dt_s : float
        Step [s], > 0.
    tau_s : float
        Time constant [s], > 0.

    Returns
    -------
    ndarray
        Output at the end of the step.
    """
    if dt_s <= 0 or tau_s <= 0:
        raise ValueError(f"dt_s and tau_s must be > 0, got {dt_s}, {tau_s}")
    s = (x_now - x_prev) / dt_s
    e = np.exp(-dt_s / tau_s)
    return np.asarray(x_now - tau_s * s + (y_prev - x_prev + tau_s * s) * e, dtype=np.float64)


@dataclass
class Readings:
    """One reading of every sensor of N devices (arrays of length N; NaN = no reading)."""

    co2_ppm: FloatArray
    rh_pct: FloatArray
    scd_t_c: FloatArray
    pressure_hpa: FloatArray
    air_t_c: FloatArray
    lux: FloatArray


class SensorBank:
    """The SCD30, QMP6988 and BH1750 of N devices.

    Call :meth:`advance` once per physics step with the true chamber CO2 and
    :meth:`read` when a reading is wanted; it returns :class:`Readings`.
    :meth:`forced_recalibration` models the SCD30 FRC command.
    """

    def __init__(self, n: int, rng: np.random.Generator, spec: SensorSpec | None = None) -> None:
        self.n = n
        self.rng = rng
        self.spec = spec or SensorSpec()
        sp = self.spec
        self.co2_offset_ppm = rng.normal(0.0, sp.co2_factory_offset_ppm, n)
        self.calibrated = np.zeros(n, dtype=bool)
        self.rh_offset_pct = rng.normal(0.0, sp.rh_offset_pct, n)
        self.scd_t_offset_c = rng.normal(0.0, sp.scd_t_offset_c, n)
        self.pressure_offset_hpa = rng.normal(0.0, sp.pressure_offset_hpa, n)
        self.baro_t_offset_c = rng.normal(0.0, sp.baro_t_offset_c, n)
        self.lux_gain = rng.normal(1.0, sp.lux_gain_sd, n)
        self._co2_lagged: FloatArray | None = None
        self._co2_input: FloatArray | None = None

    def true_co2_seen(self) -> FloatArray:
        """What the SCD30's optics see now (lagged true wet CO2) [ppm]."""
        if self._co2_lagged is None:
            raise RuntimeError("no update yet")
        return self._co2_lagged

    def advance(self, dt_s: float, co2_wet_ppm: FloatArray) -> None:
        """Advance the SCD30's response by ``dt_s`` [s] toward the true wet CO2 [ppm].

        Call once per physics step so the 20-s response is followed at that resolution.
        """
        x = np.asarray(co2_wet_ppm, dtype=np.float64)
        if self._co2_lagged is None or self._co2_input is None:
            self._co2_lagged = x.copy()
        else:
            self._co2_lagged = first_order_lag(
                self._co2_lagged, self._co2_input, x, dt_s, self.spec.scd30_tau_s
            )
        self._co2_input = x.copy()

    def read(
        self,
        h2o_mol_mol: FloatArray,
        air_t_c: float | FloatArray,
        pressure_hpa: float | FloatArray,
        lux: float | FloatArray,
    ) -> Readings:
        """Read every sensor now (after :meth:`advance`).

        Parameters
        ----------
        h2o_mol_mol : ndarray
            True water-vapour mole fraction [mol mol⁻¹].
        air_t_c, pressure_hpa, lux : float or ndarray
            True air temperature [°C], pressure [hPa] and illuminance [lx].

        Returns
        -------
        Readings
        """
        n, sp, rng = self.n, self.spec, self.rng
        lagged = self.true_co2_seen()
        co2 = lagged + self.co2_offset_ppm + rng.normal(0.0, sp.co2_noise_ppm, n)
        t_air = np.broadcast_to(np.asarray(air_t_c, dtype=np.float64), (n,))
        p = np.broadcast_to(np.asarray(pressure_hpa, dtype=np.float64), (n,))
        scd_t = t_air + SCD30_SELF_HEATING_C
        # the SCD30's RH refers to its own (warmer) temperature: same vapour pressure
        rh = rh_pct_from_h2o(h2o_mol_mol, scd_t, p)
        rh = rh + self.rh_offset_pct + rng.normal(0.0, sp.rh_noise_pct, n)
        lux_true = np.broadcast_to(np.asarray(lux, dtype=np.float64), (n,))
        return Readings(
            co2_ppm=np.clip(co2, 0.0, SCD30_RANGE_PPM),
            rh_pct=np.clip(rh, 0.0, 100.0),
            scd_t_c=scd_t + self.scd_t_offset_c + rng.normal(0.0, sp.scd_t_noise_c, n),
            pressure_hpa=p + self.pressure_offset_hpa + rng.normal(0.0, sp.pressure_noise_hpa, n),
            air_t_c=t_air + self.baro_t_offset_c + rng.normal(0.0, sp.baro_t_noise_c, n),
            lux=np.clip(np.round(lux_true * self.lux_gain), 0.0, BH1750_MAX_LUX),
        )

    def forced_recalibration(self, device: int, reference_ppm: float) -> None:
        """SCD30 FRC on ``device``: its current reading becomes ``reference_ppm``.

        The residual offset is (reference − true concentration seen) plus a device
        scatter of σ = 15 ppm (seed: fleet spread after FRC 14–17 ppm).

        Parameters
        ----------
        device : int
            Device index.
        reference_ppm : float
            FRC reference [µmol mol⁻¹] (the fleet uses 420).
        """
        seen = self.true_co2_seen()[device]
        self.co2_offset_ppm[device] = (
            reference_ppm - seen + self.rng.normal(0.0, self.spec.co2_frc_residual_ppm)
        )
        self.calibrated[device] = True
