"""Ideal spin-½ Fermi gas at any degeneracy, as functions of the reduced temperature T/T_F.

Used for the 3He quasiparticles of a 3He-4He mixture (Landau–Pomeranchuk picture:
3He atoms dissolved in He II behave as a Fermi gas of effective mass m*).

With η = μ/(k_B T) and the complete Fermi–Dirac integrals
f_j(η) = (1/Γ(j+1)) ∫₀^∞ ε^j / (1 + e^(ε−η)) dε (Pathria & Beale, *Statistical Mechanics*,
3rd ed., §8.1)::

    f_{3/2}(η) = (4 / (3√π)) (T_F/T)^{3/2}              (fixes η at given T/T_F)
    P/(n k T) = f_{5/2}/f_{3/2}
    U/(N k T) = (3/2) f_{5/2}/f_{3/2}
    S/(N k)   = (5/2) f_{5/2}/f_{3/2} − η
    A/(N k T) = η − f_{5/2}/f_{3/2}
    C_V/(N k) = (15/4) f_{5/2}/f_{3/2} − (9/4) f_{3/2}/f_{1/2}

The f_j are computed once (trapezoidal rule in t = √ε, spectrally accurate for this smooth
even integrand) on η ∈ [−40, 100], i.e. T/T_F ∈ [~0.01, ~10¹¹], and each ratio is splined in
ln(T/T_F). Beyond the table the degenerate (Sommerfeld) and classical limits take over.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import CubicSpline
from scipy.special import gamma

from amrr.properties.validity import FloatArray


@dataclass(frozen=True)
class FermiGas:
    """Dimensionless ideal-Fermi-gas functions of τ = T/T_F (all per particle, over k_B).

    Attributes
    ----------
    eta : ndarray
        Reduced chemical potential μ/(k_B T) [-].
    pressure_ratio : ndarray
        P/(n k_B T) = f_{5/2}/f_{3/2} [-].
    entropy : ndarray
        S/(N k_B) [-].
    heat_capacity_v : ndarray
        C_V/(N k_B) [-].
    """

    eta: FloatArray
    pressure_ratio: FloatArray
    entropy: FloatArray
    heat_capacity_v: FloatArray

    @property
    def free_energy_over_kT(self) -> FloatArray:
        """Helmholtz energy per particle A/(N k_B T) = η − P/(n k_B T) [-]."""
        return self.eta - self.pressure_ratio

    @property
    def energy_over_kT(self) -> FloatArray:
        """Internal energy per particle U/(N k_B T) = (3/2) P/(n k_B T) [-]."""
        return 1.5 * self.pressure_ratio


@cache
def _tables() -> tuple[CubicSpline, CubicSpline, CubicSpline, float, float]:
    eta = np.linspace(-40.0, 100.0, 2801)
    t = np.linspace(0.0, np.sqrt(eta.max() + 60.0), 6401)
    dt = t[1] - t[0]
    f = {}
    for nu in (0.5, 1.5, 2.5):
        # f_nu = (1/Γ(nu)) ∫0^∞ eps^(nu-1)/(1+exp(eps-eta)) d eps; eps = t^2 gives
        # (2/Γ(nu)) ∫ t^(2 nu - 1)/(1+exp(t^2-eta)) dt, smooth and even in t.
        j = nu - 1.0
        acc = np.empty_like(eta)
        for k0 in range(0, eta.size, 256):
            e = eta[k0 : k0 + 256, None]
            integrand = 2.0 * t ** (2 * j + 1) / (1.0 + np.exp(np.minimum(t * t - e, 700.0)))
            acc[k0 : k0 + 256] = dt * (
                integrand.sum(axis=1) - 0.5 * (integrand[:, 0] + integrand[:, -1])
            )
        f[nu] = acc / gamma(nu)
    ln_tau = (2.0 / 3.0) * (np.log(4.0 / (3.0 * np.sqrt(np.pi))) - np.log(f[1.5]))
    order = np.argsort(ln_tau)
    x = ln_tau[order]
    r52 = (f[2.5] / f[1.5])[order]
    r3212 = (f[1.5] / f[0.5])[order]
    return (
        CubicSpline(x, eta[order]),
        CubicSpline(x, r52),
        CubicSpline(x, r3212),
        float(x[0]),
        float(x[-1]),
    )


def fermi_gas(reduced_temperature: ArrayLike) -> FermiGas:
    """Ideal spin-½ Fermi gas functions at τ = T/T_F.

    Parameters
    ----------
    reduced_temperature : array_like
        τ = T/T_F [-], > 0.

    Returns
    -------
    FermiGas
        Dimensionless functions (see the class).

    Examples
    --------
    >>> round(float(fermi_gas(1.0).entropy), 2)  # S/(N k) at T = T_F
    2.85
    """
    tau = np.asarray(reduced_temperature, dtype=np.float64)
    eta_s, r52_s, r3212_s, x_lo, x_hi = _tables()
    x = np.log(tau)
    xc = np.clip(x, x_lo, x_hi)
    eta = np.asarray(eta_s(xc), dtype=np.float64)
    r52 = np.asarray(r52_s(xc), dtype=np.float64)
    r3212 = np.asarray(r3212_s(xc), dtype=np.float64)
    # Sommerfeld limit below the table (τ < ~0.01): η = 1/τ − π²τ/12, P/nkT = 2/(5τ) + π²τ/6 ...
    deg = x < x_lo
    if np.any(deg):
        td = tau[deg]
        eta[deg] = 1.0 / td - np.pi**2 * td / 12.0
        r52[deg] = 0.4 / td + np.pi**2 * td / 6.0
        r3212[deg] = (2.0 / 3.0) / td + np.pi**2 * td / 18.0
    # Classical limit above it: z = e^η small, f_j ≈ z − z²/2^(j+1).
    cla = x > x_hi
    if np.any(cla):
        la = np.log(4.0 / (3.0 * np.sqrt(np.pi))) - 1.5 * x[cla]  # ln f_{3/2}
        a = np.exp(la)
        eta[cla] = la + a / 2.0**1.5
        r52[cla] = 1.0 + a / 2.0**2.5
        r3212[cla] = 1.0 + a / 2.0**1.5
    entropy = 2.5 * r52 - eta
    cv = 3.75 * r52 - 2.25 * r3212
    return FermiGas(eta=eta, pressure_ratio=r52, entropy=entropy, heat_capacity_v=cv)
