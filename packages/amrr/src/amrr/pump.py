"""Superfluid magnetic pump (SMP): mixture displaced per blow by the two GGG pump beds.

Two canisters of GGG joined by a superleak (4 nm pores, only superfluid 4He passes). In a
blow the field of one bed rises (B_low → B_high) while the other's falls. In the
magnetising bed the GGG's entropy falls by ΔS_GGG; the heat Q = T ΔS_GGG it releases is
taken up by the helium, promoting superfluid into the normal (entropy-carrying) state;
superfluid 4He enters through the superleak with no entropy and the mixture, which carries
the normal component and the 3He viscously locked to it, is pushed out of the normal port
(paper C21_097 "AMRR System Operation"; Jahromi, PhD thesis, UW–Madison).

The model here is the reversible, isothermal limit: the entropy given up by the GGG leaves
with the displaced mixture, so the moles displaced in a blow are::

    n_out = m_GGG |ΔS_GGG(T, B_low → B_high)| / s_mix(T, x3)

(per kg GGG entropy [J/(kg K)], mixture molar entropy [J/(mol K)]). For x3 → 0 this is the
fountain-pump (heat-flush) relation for pure He II, ṁ = Q̇ / (T s4): the mass of superfluid
turned normal by the heat. The superfluid 4He crossing the superleak fills the volume the
mixture leaves, n4_in = n_out v_mix / v4. Losses (finite heat transfer, the superleak's
critical velocity, the bed's own heat capacity in a ramp that is not isothermal) make a real
pump displace less: this is an upper bound at the stated temperature.

SI units: masses [kg], fields [T], temperatures [K], amounts [mol].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amrr.properties.constants import M4_KG_MOL
from amrr.properties.helium4 import helium4_svp
from amrr.properties.mixture import mixture_properties
from amrr.properties.refrigerant import Refrigerant
from amrr.properties.validity import FloatArray
from amrr.regenerator import default_refrigerant


@dataclass(frozen=True)
class PumpSpec:
    """One superfluid magnetic pump: two identical GGG beds.

    Attributes
    ----------
    ggg_mass_kg : float
        GGG in each bed [kg].
    temperature_K : float
        Bed temperature (held by the hot heat exchangers) [K].
    low_field_T, high_field_T : float
        Field swing of each bed's magnet over a blow [T].
    x3 : float
        3He mole fraction of the mixture [-].
    """

    ggg_mass_kg: float
    temperature_K: float = 1.6
    low_field_T: float = 0.0
    high_field_T: float = 1.0
    x3: float = 0.1

    def __post_init__(self) -> None:
        if not self.ggg_mass_kg > 0:
            raise ValueError(f"ggg_mass_kg={self.ggg_mass_kg!r} must be > 0")
        if not self.high_field_T > self.low_field_T >= 0:
            raise ValueError("need high_field_T > low_field_T ≥ 0 [T]")


@dataclass(frozen=True)
class PumpDisplacement:
    """What one blow of the pump moves.

    Attributes
    ----------
    spec : PumpSpec
        The inputs.
    ggg_entropy_change_J_kgK : float
        |S(T, B_low) − S(T, B_high)| of the GGG [J/(kg K)].
    heat_per_bed_J : float
        Heat released by the magnetising bed, T m |ΔS| [J] (absorbed by the other).
    moles_per_blow_mol : float
        Mixture displaced out of the magnetising bed [mol].
    mixture_volume_per_blow_m3 : float
        Its volume, n v_mix [m³].
    superfluid_moles_per_blow_mol : float
        Superfluid 4He through the superleak, n v_mix / v4 [mol].
    pure_he4_equivalent_mol : float
        Moles of pure He II turned normal by the same heat, Q/(T s4) [mol] (the
        fountain-pump relation; for comparison).
    superfluid_fraction : float
        ρs/ρ of pure He II at the bed temperature [-].
    """

    spec: PumpSpec
    ggg_entropy_change_J_kgK: float
    heat_per_bed_J: float
    moles_per_blow_mol: float
    mixture_volume_per_blow_m3: float
    superfluid_moles_per_blow_mol: float
    pure_he4_equivalent_mol: float
    superfluid_fraction: float


def pump_displacement(spec: PumpSpec, refrigerant: Refrigerant | None = None) -> PumpDisplacement:
    """Moles of mixture one blow displaces (reversible, isothermal SMP) [mol].

    Parameters
    ----------
    spec : PumpSpec
        Bed mass, temperature, field swing, mixture composition.
    refrigerant : Refrigerant, optional
        S(T, B) per kg; default GGG (:class:`~amrr.properties.AnalyticRefrigerant`).

    Returns
    -------
    PumpDisplacement
        n_out = m |ΔS_GGG| / s_mix(T, x3) and the related quantities.
    """
    ref = default_refrigerant() if refrigerant is None else refrigerant
    T = spec.temperature_K
    s = ref(np.array([T, T]), np.array([spec.low_field_T, spec.high_field_T])).entropy_J_kgK
    ds = float(s[0] - s[1])
    if not ds > 0:
        raise ValueError("the GGG entropy does not fall on magnetisation at these inputs")
    mix = mixture_properties(T, spec.x3)
    he4 = helium4_svp(T)
    heat = T * spec.ggg_mass_kg * ds
    n_out = spec.ggg_mass_kg * ds / float(mix.entropy_J_molK)
    v4 = M4_KG_MOL / float(he4.density_kg_m3)
    v_mix = float(mix.molar_volume_m3_mol)
    return PumpDisplacement(
        spec=spec,
        ggg_entropy_change_J_kgK=ds,
        heat_per_bed_J=heat,
        moles_per_blow_mol=n_out,
        mixture_volume_per_blow_m3=n_out * v_mix,
        superfluid_moles_per_blow_mol=n_out * v_mix / v4,
        pure_he4_equivalent_mol=heat / (T * float(he4.entropy_J_molK)),
        superfluid_fraction=float(he4.superfluid_fraction),
    )


@dataclass(frozen=True)
class PumpFlow:
    """The mixture flow of one blow for a given field ramp of the magnetising pump bed.

    Attributes
    ----------
    time_s : ndarray
        Times from the start of the blow, 0 … P [s].
    field_T : ndarray
        The magnetising bed's field B_p(t) [T].
    molar_flow_mol_s : ndarray
        Displaced mixture ṅ(t) = m |∂S/∂B|(T, B_p) |dB_p/dt| / s_mix(T, x3) [mol/s].
    moles_per_blow_mol : float
        ∫ ṅ dt over the blow [mol] (equals :func:`pump_displacement`'s for a monotonic ramp).
    """

    time_s: FloatArray
    field_T: FloatArray
    molar_flow_mol_s: FloatArray
    moles_per_blow_mol: float

    @property
    def peak_to_mean(self) -> float:
        """max ṅ / mean ṅ [-] (1 for a constant flow)."""
        mean = self.moles_per_blow_mol / float(self.time_s[-1] - self.time_s[0])
        return float(np.max(self.molar_flow_mol_s) / mean)

    def flow_at(self, t_s: float) -> float:
        """ṅ at a time of the blow [mol/s] (linear interpolation)."""
        return float(np.interp(t_s, self.time_s, self.molar_flow_mol_s))


def linear_ramp_flow(
    spec: PumpSpec,
    blow_s: float,
    refrigerant: Refrigerant | None = None,
    *,
    bed: str = "magnetising",
    points: int = 401,
) -> PumpFlow:
    """Flow over a blow when the pump beds' fields ramp linearly over the blow P.

    Isothermal bed (the limit of :func:`pump_displacement`): the heat a bed exchanges,
    T m |∂S/∂B| |Ḃ|, is carried by the displaced mixture, so ṅ(t) = m |∂S/∂B|(T, B_p(t))
    |Ḃ| / s_mix (Jahromi's SMP; the paper's "AMRR System Operation"). ``bed`` says whose
    heat sets the flow: the ``"magnetising"`` bed (B_low → B_high, its released heat pushes
    mixture out) or the ``"demagnetising"`` one (B_high → B_low, its absorbed heat draws
    it in). The reversible model cannot say which (both hold only if the pump buffers the
    difference); they are the two limits, mirror images in time. ∂S/∂B vanishes at B = 0
    (S is even in B), so the magnetising limit starts each blow with no flow and the
    demagnetising one ends it so; the moles per blow are those of :func:`pump_displacement`.

    Parameters
    ----------
    spec : PumpSpec
        Bed mass, temperature [K], field swing [T], x3 [-].
    blow_s : float
        Blow duration P [s] (> 0).
    refrigerant : Refrigerant, optional
        Pump bed material (default GGG with its default spin model).
    bed : {"magnetising", "demagnetising"}
        Which bed's heat sets the flow.
    points : int
        Time samples over the blow (≥ 3).
    """
    if bed not in ("magnetising", "demagnetising"):
        raise ValueError(f"bed={bed!r} must be 'magnetising' or 'demagnetising'")
    if not blow_s > 0:
        raise ValueError(f"blow_s={blow_s!r} must be > 0 [s]")
    if points < 3:
        raise ValueError(f"points={points!r} must be >= 3")
    ref = default_refrigerant() if refrigerant is None else refrigerant
    t = np.linspace(0.0, blow_s, points)
    rate = (spec.high_field_T - spec.low_field_T) / blow_s
    field = spec.low_field_T + rate * t if bed == "magnetising" else spec.high_field_T - rate * t
    T = np.full_like(t, spec.temperature_K)
    dsdb = np.abs(ref(T, field).dS_dB_J_kgKT)
    s_mix = float(mixture_properties(spec.temperature_K, spec.x3).entropy_J_molK)
    ndot = spec.ggg_mass_kg * dsdb * rate / s_mix
    # trapezoid: the ramp's ∫|∂S/∂B| dB = ΔS to the quadrature error of `points`
    moles = float(np.sum(0.5 * (ndot[1:] + ndot[:-1]) * np.diff(t)))
    return PumpFlow(t, field, np.asarray(ndot, dtype=np.float64), moles)
