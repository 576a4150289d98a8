"""Conductor of the regenerator magnets: the NbTi wire, its critical current and the quench.

:class:`Wire` (areas, copper resistivity), Bottura's NbTi critical surface, the magnet's load
line against it and the discharge of a quenched coil through back-to-back protection diodes
(the paper's two 1N4001 in the mandrel's diode pocket). The fields and the winding are in
:mod:`amrr.magnet`.

SI units: lengths [m], areas [m²], currents [A], fields [T], energies [J], voltages [V].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq

from amrr.properties.validity import FloatArray, Range


def _positive(name: str, value: ArrayLike) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if np.any(~np.isfinite(arr)) or np.any(arr <= 0.0):
        raise ValueError(f"{name} must be finite and > 0; got {value!r}")
    return arr


# ----------------------------------------------------------------------------- wire


@dataclass(frozen=True)
class Wire:
    """A round NbTi/Cu multifilament wire.

    Attributes
    ----------
    bare_diameter_m : float
        Conductor diameter without insulation [m].
    insulated_diameter_m : float
        Diameter with insulation [m] (sets the winding pitch).
    filaments : int
        Number of NbTi filaments [-].
    filament_diameter_m : float
        Filament diameter [m].
    copper_rrr : float
        Residual resistance ratio of the copper matrix [-] (ρ(273 K)/ρ(4 K)).
    """

    bare_diameter_m: float
    insulated_diameter_m: float
    filaments: int
    filament_diameter_m: float
    copper_rrr: float = 50.0

    def __post_init__(self) -> None:
        for name in ("bare_diameter_m", "insulated_diameter_m", "filament_diameter_m"):
            _positive(name, getattr(self, name))
        if self.insulated_diameter_m < self.bare_diameter_m:
            raise ValueError("insulated_diameter_m must be ≥ bare_diameter_m")
        if self.superconductor_area_m2 >= math.pi * self.bare_diameter_m**2 / 4.0:
            raise ValueError("the filaments do not fit in the bare wire (filaments × area)")

    @property
    def superconductor_area_m2(self) -> float:
        """NbTi cross-section, filaments × π d_f²/4 [m²]."""
        return self.filaments * math.pi * self.filament_diameter_m**2 / 4.0

    @property
    def copper_area_m2(self) -> float:
        """Copper matrix cross-section [m²]."""
        return math.pi * self.bare_diameter_m**2 / 4.0 - self.superconductor_area_m2

    @property
    def copper_resistivity_ohm_m(self) -> float:
        """Low-temperature copper resistivity ρ(273 K)/RRR, ρ(273 K) = 1.54e-8 Ω m [Ω m].

        Magnetoresistance is neglected (≈ +10 % at 1.5 T for RRR 50; Ekin, *Experimental
        Techniques for Low-Temperature Measurements*, OUP 2006, appendix A3).
        """
        return 1.54e-8 / self.copper_rrr


PAPER_WIRE = Wire(
    bare_diameter_m=0.102e-3,
    insulated_diameter_m=0.127e-3,
    filaments=54,
    filament_diameter_m=9e-6,
    copper_rrr=50.0,
)
"""The paper's wire: 54 NbTi filaments of 9 µm in Cu, 0.127 mm insulated. The bare
diameter (0.102 mm) and RRR (50) are assumptions: the paper does not give them."""


# ----------------------------------------------------------------------------- NbTi


@dataclass(frozen=True)
class NbTiCriticalSurface:
    """Bottura's fit of the NbTi critical surface.

    Jc(B, T) = C0/B · b^α (1 − b)^β (1 − t^ν)^γ,  b = B/B_c2(T),  t = T/T_c0,
    B_c2(T) = B_c20 (1 − t^ν).

    Attributes
    ----------
    c0_AT_m2 : float
        Normalisation C0 [A T/m²].
    critical_temperature_K : float
        T_c0 [K].
    upper_critical_field_T : float
        B_c20 [T].
    alpha, beta, gamma, nu : float
        Exponents [-].
    source : str
        Where the numbers come from.
    """

    c0_AT_m2: float = 7.86e10
    critical_temperature_K: float = 9.5
    upper_critical_field_T: float = 14.5
    alpha: float = 0.6
    beta: float = 1.0
    gamma: float = 2.0
    nu: float = 1.7
    source: str = (
        "L. Bottura, 'A practical fit for the critical surface of NbTi', IEEE Trans. Appl. "
        "Supercond. 10 (2000) 1054; parameters of the LHC strand scaled to Jc = 3000 A/mm² "
        "at 4.2 K, 5 T (CryoSoft material library, NbTi.f). A fine-filament (9 µm) "
        "commercial wire may differ by tens of per cent: use the maker's Ic(B) when known."
    )

    def upper_critical_field_at_T(self, temperature_K: ArrayLike) -> FloatArray:
        """B_c2(T) = B_c20 (1 − (T/T_c0)^ν) [T]."""
        t = np.asarray(temperature_K, dtype=np.float64) / self.critical_temperature_K
        return np.asarray(self.upper_critical_field_T * (1.0 - t**self.nu), dtype=np.float64)

    def critical_current_density_A_m2(
        self, field_T: ArrayLike, temperature_K: ArrayLike
    ) -> FloatArray:
        """Jc in the NbTi [A/m²]; valid 0.1 T ≤ B < B_c2(T), 1.5 K ≤ T < T_c0.

        Raises ValueError outside (the fit diverges as B → 0 and is not data there).
        """
        B = Range("field_T", 0.1, self.upper_critical_field_T, "Bottura NbTi fit").check(field_T)
        T = Range("temperature_K", 1.5, self.critical_temperature_K, "Bottura NbTi fit").check(
            temperature_K
        )
        Bc2 = self.upper_critical_field_at_T(T)
        b = B / Bc2
        if np.any(b >= 1.0):
            raise ValueError("field_T is at or above B_c2(T): NbTi is normal there")
        t = T / self.critical_temperature_K
        jc = (
            self.c0_AT_m2
            / B
            * b**self.alpha
            * (1.0 - b) ** self.beta
            * (1.0 - t**self.nu) ** self.gamma
        )
        return np.asarray(jc, dtype=np.float64)


NBTI_BOTTURA = NbTiCriticalSurface()


@dataclass(frozen=True)
class LoadLine:
    """Operating point of a magnet against its conductor's critical current.

    Attributes
    ----------
    field_per_current_T_A : float
        Peak field on the winding per ampere, k = B_peak/I [T/A].
    operating_current_A : float
        I_op [A].
    peak_field_T : float
        Peak field on the winding at I_op [T].
    critical_current_A : float
        Current where the load line B = k I meets I_c(B) [A].
    critical_field_T : float
        Peak field at that current [T].
    current_margin : float
        I_op / I_c on the load line [-] (< ~0.8 is usual practice).
    temperature_K : float
        Bath temperature of the fit [K].
    """

    field_per_current_T_A: float
    operating_current_A: float
    peak_field_T: float
    critical_current_A: float
    critical_field_T: float
    current_margin: float
    temperature_K: float


def load_line(
    peak_field_T: float,
    operating_current_A: float,
    wire: Wire,
    temperature_K: float = 4.2,
    surface: NbTiCriticalSurface = NBTI_BOTTURA,
) -> LoadLine:
    """Intersect the magnet's load line B = k I with I_c(B, T) = Jc A_NbTi [A].

    Parameters
    ----------
    peak_field_T : float
        Peak field on the winding at ``operating_current_A`` [T].
    operating_current_A : float
        I_op [A].
    wire : Wire
        Conductor (its NbTi area).
    temperature_K : float
        Bath temperature [K] (4.2 K: the fit's reference; lower is conservative to use 4.2).
    surface : NbTiCriticalSurface
        Critical-surface fit.
    """
    k = float(_positive("peak_field_T", peak_field_T)) / float(
        _positive("operating_current_A", operating_current_A)
    )
    area = wire.superconductor_area_m2
    bc2 = float(surface.upper_critical_field_at_T(temperature_K))

    def excess(current: float) -> float:
        return float(surface.critical_current_density_A_m2(k * current, temperature_K)) * area - (
            current
        )

    lo = 0.1 / k
    hi = bc2 * (1.0 - 1e-9) / k
    ic = float(brentq(excess, lo, hi, xtol=1e-9)) if excess(lo) > 0.0 else lo
    return LoadLine(
        field_per_current_T_A=k,
        operating_current_A=operating_current_A,
        peak_field_T=peak_field_T,
        critical_current_A=ic,
        critical_field_T=k * ic,
        current_margin=operating_current_A / ic,
        temperature_K=temperature_K,
    )


# ----------------------------------------------------------------------------- quench


@dataclass(frozen=True)
class Quench:
    """A quench discharged through back-to-back diodes across the coil.

    Attributes
    ----------
    stored_energy_J : float
        ½ L I² [J].
    terminal_voltage_V : float
        Peak voltage across the coil's leads, clamped by the conducting diode [V].
    internal_voltage_bound_V : float
        Upper bound of the resistive voltage inside the winding, R_n I0 (whole winding
        normal at once) [V].
    normal_resistance_ohm : float
        Resistance of the whole winding's copper at low temperature, R_n [Ω].
    decay_time_s : float
        Time for the current to reach zero, τ ln(1 + R_n I0 / V_d), τ = L/R_n [s].
    diode_energy_J : float
        Energy dissipated in the diodes [J]; the rest heats the winding.
    coil_energy_J : float
        Energy dissipated in the winding [J].
    max_ramp_rate_A_s : float
        Fastest charge/discharge before the diodes conduct, V_d / L [A/s].
    """

    stored_energy_J: float
    terminal_voltage_V: float
    internal_voltage_bound_V: float
    normal_resistance_ohm: float
    decay_time_s: float
    diode_energy_J: float
    coil_energy_J: float
    max_ramp_rate_A_s: float


def diode_quench(
    inductance_H_: float, current_A: float, normal_resistance_ohm: float, diode_voltage_V: float
) -> Quench:
    """Discharge of a quenched coil through back-to-back diodes (lumped model).

    L dI/dt = −R_n I − V_d with R_n the winding's normal resistance (taken constant: the
    fully normal winding, the fastest and most even discharge) and V_d the diode's
    forward voltage. Then I(t) = (I0 + V_d/R_n) e^(−t/τ) − V_d/R_n, τ = L/R_n; the
    diodes take V_d ∫ I dt = V_d [τ I0 − (V_d τ/R_n) ln(1 + R_n I0/V_d)] and the
    winding the rest of ½ L I0².

    Parameters
    ----------
    inductance_H_ : float
        Coil inductance [H].
    current_A : float
        Current at the quench [A].
    normal_resistance_ohm : float
        Normal-state resistance of the winding [Ω].
    diode_voltage_V : float
        Forward voltage of one diode at the operating temperature [V] (cold silicon
        diodes conduct at ≈ 1–1.5 V; measured value preferred).

    References
    ----------
    Wilson, *Superconducting Magnets* (OUP 1983), ch. 9 (quench protection).
    """
    Lh = float(_positive("inductance_H", inductance_H_))
    I0 = float(_positive("current_A", current_A))
    R = float(_positive("normal_resistance_ohm", normal_resistance_ohm))
    Vd = float(_positive("diode_voltage_V", diode_voltage_V))
    tau = Lh / R
    charge = tau * I0 - (Vd * tau / R) * math.log1p(R * I0 / Vd)
    energy = 0.5 * Lh * I0**2
    diode = Vd * charge
    return Quench(
        stored_energy_J=energy,
        terminal_voltage_V=Vd,
        internal_voltage_bound_V=R * I0,
        normal_resistance_ohm=R,
        decay_time_s=tau * math.log1p(R * I0 / Vd),
        diode_energy_J=diode,
        coil_energy_J=energy - diode,
        max_ramp_rate_A_s=Vd / Lh,
    )
