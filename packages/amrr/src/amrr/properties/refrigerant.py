"""One interface over analytic spin models and measured tables of a magnetic refrigerant.

A regenerator or cycle model needs, per kg of refrigerant, S(T, B), C_B = T ∂S/∂T and
∂S/∂B (dQ = T dS = C_B dT + T ∂S/∂B dB). :class:`AnalyticRefrigerant` takes them from
:mod:`.paramagnet`, :class:`TabulatedRefrigerant` from a measured table
(:mod:`.tabulated`); both return :class:`RefrigerantState`, so the caller switches between
a model and data with one argument. Thin wrappers: no physics of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from amrr.properties.paramagnet import (
    MATERIALS,
    Model,
    ParamagnetParameters,
    paramagnet_properties,
)
from amrr.properties.tabulated import EntropyTable
from amrr.properties.validity import FloatArray


@dataclass(frozen=True)
class RefrigerantState:
    """Specific properties of a magnetic refrigerant at (T, B).

    Attributes
    ----------
    temperature_K, field_T : ndarray
        State [K], [T].
    entropy_J_kgK : ndarray
        Specific entropy [J/(kg K)].
    heat_capacity_J_kgK : ndarray
        C_B = T (∂S/∂T)_B [J/(kg K)].
    dS_dB_J_kgKT : ndarray
        (∂S/∂B)_T [J/(kg K T)].
    """

    temperature_K: FloatArray
    field_T: FloatArray
    entropy_J_kgK: FloatArray
    heat_capacity_J_kgK: FloatArray
    dS_dB_J_kgKT: FloatArray


class Refrigerant(Protocol):
    """Anything that gives :class:`RefrigerantState` at (T [K], B [T])."""

    name: str

    def __call__(
        self, temperature_K: ArrayLike, field_T: ArrayLike, *, extrapolate: bool = False
    ) -> RefrigerantState: ...


@dataclass(frozen=True)
class AnalyticRefrigerant:
    """A refrigerant described by a spin model of :mod:`.paramagnet`.

    Attributes
    ----------
    material : str or ParamagnetParameters
        ``"GGG"``, ``"GLF"`` or a parameter set.
    model : str, optional
        Spin model (default: the material's documented default).
    curie_weiss_K : float, optional
        Curie–Weiss θ override [K].
    internal_field_T : float, optional
        Internal field b [T] for ``model="internal_field"``.
    """

    material: str | ParamagnetParameters = "GGG"
    model: Model | None = None
    curie_weiss_K: float | None = None
    internal_field_T: float | None = None

    @property
    def name(self) -> str:
        """Material name and model, e.g. ``"GGG (mean_field)"``."""
        p = self.material if isinstance(self.material, ParamagnetParameters) else None
        params = p if p is not None else MATERIALS[str(self.material).upper()]
        return f"{params.name} ({self.model or params.default_model})"

    def __call__(
        self, temperature_K: ArrayLike, field_T: ArrayLike, *, extrapolate: bool = False
    ) -> RefrigerantState:
        """Evaluate at (T [K], B [T])."""
        p = paramagnet_properties(
            temperature_K,
            field_T,
            self.material,
            model=self.model,
            curie_weiss_K=self.curie_weiss_K,
            internal_field_T=self.internal_field_T,
            extrapolate=extrapolate,
        )
        return RefrigerantState(
            temperature_K=p.temperature_K,
            field_T=p.field_T,
            entropy_J_kgK=p.entropy_J_kgK,
            heat_capacity_J_kgK=p.heat_capacity_J_kgK,
            dS_dB_J_kgKT=p.dS_dB_J_kgKT,
        )


@dataclass(frozen=True)
class TabulatedRefrigerant:
    """A refrigerant described by a measured :class:`~.tabulated.EntropyTable`.

    Attributes
    ----------
    table : EntropyTable
        The measured S(T, B) surface.
    name : str
        Label (e.g. ``"GGG, Fisher et al. 1973"``).
    molar_mass_kg_mol : float, optional
        Needed only when the table is per mole [kg/mol].
    """

    table: EntropyTable
    name: str = "tabulated"
    molar_mass_kg_mol: float | None = None

    def __call__(
        self, temperature_K: ArrayLike, field_T: ArrayLike, *, extrapolate: bool = False
    ) -> RefrigerantState:
        """Evaluate at (T [K], B [T])."""
        r = self.table(temperature_K, field_T, extrapolate=extrapolate)
        if r.unit == "J_kgK":
            scale = 1.0
        elif self.molar_mass_kg_mol is None:
            raise ValueError("the table is per mole: give molar_mass_kg_mol to get per-kg values")
        else:
            scale = 1.0 / self.molar_mass_kg_mol
        return RefrigerantState(
            temperature_K=r.temperature_K,
            field_T=r.field_T,
            entropy_J_kgK=np.asarray(r.entropy * scale, dtype=np.float64),
            heat_capacity_J_kgK=np.asarray(r.heat_capacity * scale, dtype=np.float64),
            dS_dB_J_kgKT=np.asarray(r.dS_dB * scale, dtype=np.float64),
        )
