"""Superconducting solenoids of the regenerators: field, winding, inductance, margin, quench.

The paper (Cryocoolers 21, paper C21_097, eq. 4, after Jahromi's thesis) designs each
regenerator magnet with the on-axis field of a finite solenoid::

    B(x) = μ0 N I / 2 · [ (x + L/2) / √((x + L/2)² + R²) − (x − L/2) / √((x − L/2)² + R²) ]

with N the turns per unit length, x measured from the coil's centre and R the effective
radius "at half of the coil thickness". This module has eq. 4, the thick multi-layer coil
(eq. 4 integrated over the winding radius, closed form), the off-axis field by Biot–Savart
(current loops with complete elliptic integrals, summed over the winding by Gauss–Legendre
quadrature), the winding that reaches a target centre field, wire length, inductance
(filament method), stored energy and the peak field on the winding; the conductor, its
load line against NbTi's critical surface and the quench through back-to-back diodes are in
:mod:`amrr.superconductor`.

SI units throughout: lengths [m], currents [A], fields [T], inductance [H], energy [J].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import ArrayLike
from scipy.constants import mu_0
from scipy.special import ellipe, ellipk

from amrr.properties.validity import FloatArray
from amrr.superconductor import (
    NBTI_BOTTURA,
    PAPER_WIRE,
    LoadLine,
    NbTiCriticalSurface,
    Quench,
    Wire,
    diode_quench,
    load_line,
)

__all__ = [
    "MU0",
    "NBTI_BOTTURA",
    "PAPER_WIRE",
    "LoadLine",
    "MagnetDesign",
    "NbTiCriticalSurface",
    "Quench",
    "Winding",
    "Wire",
    "design_magnet",
    "diode_quench",
    "inductance_H",
    "load_line",
    "long_solenoid_inductance_H",
    "loop_field_T",
    "max_axial_gradient_T_m",
    "mutual_inductance_H",
    "peak_winding_field_T",
    "solenoid_axial_field_T",
    "thick_solenoid_axial_field_T",
    "thick_solenoid_field_T",
    "turns_per_m_for_centre_field",
    "winding_for_centre_field",
]

MU0: float = float(mu_0)  #: vacuum permeability [N/A²] (CODATA 2018, ≈ 4π × 10⁻⁷)

_POSITIVE = "a physical size or current must be positive"


def _positive(name: str, value: ArrayLike) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if np.any(~np.isfinite(arr)) or np.any(arr <= 0.0):
        raise ValueError(f"{name} must be finite and > 0 ({_POSITIVE}); got {value!r}")
    return arr


# ----------------------------------------------------------------------------- eq. 4


def solenoid_axial_field_T(
    position_m: ArrayLike,
    turns_per_m: ArrayLike,
    current_A: ArrayLike,
    length_m: ArrayLike,
    radius_m: ArrayLike,
) -> FloatArray:
    """On-axis field of a finite thin solenoid (paper eq. 4) [T].

    Parameters
    ----------
    position_m : array_like
        Axial position x from the coil's centre [m].
    turns_per_m : array_like
        Turns per unit length N [1/m] (all layers: total turns / winding length).
    current_A : array_like
        Coil current I [A].
    length_m : array_like
        Winding length L [m].
    radius_m : array_like
        Effective radius R [m]; the paper takes it at half the winding thickness.

    Returns
    -------
    ndarray
        B(x) = μ0 N I/2 [(x + L/2)/√((x + L/2)² + R²) − (x − L/2)/√((x − L/2)² + R²)] [T].

    References
    ----------
    Paper C21_097 (Cryocoolers 21) eq. 4, derived in Jahromi (PhD thesis, UW–Madison);
    the current-sheet result of any electromagnetism text.
    """
    x = np.asarray(position_m, dtype=np.float64)
    n = _positive("turns_per_m", turns_per_m)
    current = np.asarray(current_A, dtype=np.float64)
    L = _positive("length_m", length_m)
    R = _positive("radius_m", radius_m)
    a, b = x + L / 2.0, x - L / 2.0
    return np.asarray(
        MU0 * n * current / 2.0 * (a / np.hypot(a, R) - b / np.hypot(b, R)), dtype=np.float64
    )


def turns_per_m_for_centre_field(
    centre_field_T: ArrayLike, current_A: ArrayLike, length_m: ArrayLike, radius_m: ArrayLike
) -> FloatArray:
    """Turns per unit length that give ``centre_field_T`` at the centre (eq. 4 inverted) [1/m].

    N = B0 / (μ0 I) · √(L² + 4R²) / L; the infinite-solenoid limit is B0/(μ0 I).

    Parameters
    ----------
    centre_field_T : array_like
        Target field at x = 0 [T].
    current_A, length_m, radius_m : array_like
        Current [A], winding length [m], effective radius [m].
    """
    B0 = _positive("centre_field_T", centre_field_T)
    current = _positive("current_A", current_A)
    L = _positive("length_m", length_m)
    R = _positive("radius_m", radius_m)
    return np.asarray(B0 / (MU0 * current) * np.hypot(L, 2.0 * R) / L, dtype=np.float64)


def thick_solenoid_axial_field_T(
    position_m: ArrayLike,
    current_density_A_m2: ArrayLike,
    length_m: ArrayLike,
    inner_radius_m: ArrayLike,
    outer_radius_m: ArrayLike,
) -> FloatArray:
    """On-axis field of a thick solenoid of uniform current density [T].

    Eq. 4 integrated over the winding radius (dN I = J dr)::

        B(x) = μ0 J / 2 · [ u₊ ln((a2 + √(a2² + u₊²)) / (a1 + √(a1² + u₊²)))
                          − u₋ ln((a2 + √(a2² + u₋²)) / (a1 + √(a1² + u₋²))) ],
        u± = x ± L/2.

    Parameters
    ----------
    position_m : array_like
        Axial position from the centre [m].
    current_density_A_m2 : array_like
        Engineering current density J = N_total I / (L (a2 − a1)) [A/m²].
    length_m : array_like
        Winding length L [m].
    inner_radius_m, outer_radius_m : array_like
        Winding radii a1 < a2 [m].

    References
    ----------
    Montgomery, *Solenoid Magnet Design* (Wiley 1969), ch. 1 (the Fabry factor form).
    """
    x = np.asarray(position_m, dtype=np.float64)
    J = np.asarray(current_density_A_m2, dtype=np.float64)
    L = _positive("length_m", length_m)
    a1 = _positive("inner_radius_m", inner_radius_m)
    a2 = _positive("outer_radius_m", outer_radius_m)
    if np.any(a2 <= a1):
        raise ValueError("outer_radius_m must exceed inner_radius_m")

    def term(u: FloatArray) -> FloatArray:
        return np.asarray(
            u * np.log((a2 + np.hypot(a2, u)) / (a1 + np.hypot(a1, u))), dtype=np.float64
        )

    return np.asarray(MU0 * J / 2.0 * (term(x + L / 2.0) - term(x - L / 2.0)), dtype=np.float64)


# ----------------------------------------------------------------------------- Biot–Savart


def loop_field_T(
    radial_m: ArrayLike,
    axial_m: ArrayLike,
    loop_radius_m: ArrayLike,
    current_A: ArrayLike = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """Field (B_r, B_z) of a circular current loop, exact (Biot–Savart) [T].

    With m = k² = 4 a r / ((a + r)² + z²)::

        B_z = μ0 I / (2π √((a + r)² + z²)) · [K(m) + (a² − r² − z²) / ((a − r)² + z²) E(m)]
        B_r = μ0 I z / (2π r √((a + r)² + z²)) · [−K(m) + (a² + r² + z²) / ((a − r)² + z²) E(m)]

    (B_r = 0 on the axis.) Singular only on the loop itself.

    Parameters
    ----------
    radial_m : array_like
        Radius r of the field point [m], ≥ 0.
    axial_m : array_like
        Axial distance z of the field point from the loop's plane [m].
    loop_radius_m : array_like
        Loop radius a [m].
    current_A : array_like
        Loop current I [A].

    References
    ----------
    Smythe, *Static and Dynamic Electricity* (1950) §7.10; Simpson, Lane, Immer & Youngquist,
    "Simple analytic expressions for the magnetic field of a circular current loop",
    NASA/TM-2013-217919. K, E: :func:`scipy.special.ellipk`, :func:`scipy.special.ellipe`
    (parameter m = k²).
    """
    r = np.abs(np.asarray(radial_m, dtype=np.float64))
    z = np.asarray(axial_m, dtype=np.float64)
    a = np.asarray(loop_radius_m, dtype=np.float64)
    current = np.asarray(current_A, dtype=np.float64)
    alpha2 = (a - r) ** 2 + z**2
    beta2 = (a + r) ** 2 + z**2
    beta = np.sqrt(beta2)
    m = 4.0 * a * r / beta2
    K = ellipk(m)
    E = ellipe(m)
    c = MU0 * current / (2.0 * np.pi * beta)
    Bz = c * (K + (a**2 - r**2 - z**2) / alpha2 * E)
    on_axis = r < 1e-12 * np.maximum(a, 1e-30)
    r_safe = np.where(on_axis, 1.0, r)
    Br = np.where(on_axis, 0.0, c * z / r_safe * (-K + (a**2 + r**2 + z**2) / alpha2 * E))
    return np.asarray(Br, dtype=np.float64), np.asarray(Bz, dtype=np.float64)


@cache
def _gauss_legendre(nodes: int) -> tuple[FloatArray, FloatArray]:
    x, w = np.polynomial.legendre.leggauss(nodes)
    return np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)


def thick_solenoid_field_T(
    radial_m: ArrayLike,
    axial_m: ArrayLike,
    current_density_A_m2: float,
    length_m: float,
    inner_radius_m: float,
    outer_radius_m: float,
    *,
    radial_nodes: int = 24,
    axial_nodes: int = 96,
) -> tuple[FloatArray, FloatArray]:
    """Field (B_r, B_z) anywhere of a thick solenoid of uniform current density [T].

    Biot–Savart: :func:`loop_field_T` integrated over the winding cross-section
    (a1 ≤ a ≤ a2, −L/2 ≤ z' ≤ L/2) with Gauss–Legendre quadrature, the loop at (a, z')
    carrying J da dz'. Accurate to < 10⁻⁶ relative in the bore with the default nodes;
    on the winding itself (peak-field points) the integrand has an integrable log
    singularity and the quadrature converges to ~10⁻³.

    Parameters
    ----------
    radial_m, axial_m : array_like
        Field points (r ≥ 0, z from the coil's centre) [m], broadcast together.
    current_density_A_m2 : float
        Engineering current density J [A/m²].
    length_m, inner_radius_m, outer_radius_m : float
        Winding length and radii [m].
    radial_nodes, axial_nodes : int
        Quadrature nodes across the thickness and along the length.
    """
    r = np.asarray(radial_m, dtype=np.float64)
    z = np.asarray(axial_m, dtype=np.float64)
    r, z = np.broadcast_arrays(r, z)
    L = float(_positive("length_m", length_m))
    a1 = float(_positive("inner_radius_m", inner_radius_m))
    a2 = float(_positive("outer_radius_m", outer_radius_m))
    if a2 <= a1:
        raise ValueError("outer_radius_m must exceed inner_radius_m")
    xr, wr = _gauss_legendre(radial_nodes)
    xz, wz = _gauss_legendre(axial_nodes)
    a = (a1 + a2) / 2.0 + (a2 - a1) / 2.0 * xr
    zs = L / 2.0 * xz
    weights = np.outer(wr * (a2 - a1) / 2.0, wz * L / 2.0) * current_density_A_m2
    shape = r.shape
    rf, zf = r.reshape(-1, 1, 1), z.reshape(-1, 1, 1)
    Br, Bz = loop_field_T(rf, zf - zs[None, None, :], a[None, :, None])
    br = np.sum(Br * weights[None], axis=(1, 2)).reshape(shape)
    bz = np.sum(Bz * weights[None], axis=(1, 2)).reshape(shape)
    return np.asarray(br, dtype=np.float64), np.asarray(bz, dtype=np.float64)


# ----------------------------------------------------------------------------- winding


@dataclass(frozen=True)
class Winding:
    """A layer-wound solenoid on a mandrel (square packing: axial and radial pitch = d).

    Attributes
    ----------
    wire : Wire
        The conductor.
    inner_radius_m : float
        Radius of the first layer's inner face (mandrel + ground insulation) [m].
    length_m : float
        Winding length between the flanges [m].
    layers : int
        Number of layers [-].
    """

    wire: Wire
    inner_radius_m: float
    length_m: float
    layers: int

    def __post_init__(self) -> None:
        _positive("inner_radius_m", self.inner_radius_m)
        _positive("length_m", self.length_m)
        if self.layers < 1:
            raise ValueError("layers must be ≥ 1")
        if self.turns_per_layer < 1:
            raise ValueError("length_m is shorter than one wire diameter")

    @property
    def pitch_m(self) -> float:
        """Winding pitch = insulated diameter [m]."""
        return self.wire.insulated_diameter_m

    @property
    def turns_per_layer(self) -> int:
        """Turns in one layer, floor(L/d) [-]."""
        return math.floor(self.length_m / self.pitch_m + 1e-9)

    @property
    def turns(self) -> int:
        """Total turns [-]."""
        return self.turns_per_layer * self.layers

    @property
    def thickness_m(self) -> float:
        """Radial build, layers × d [m]."""
        return self.layers * self.pitch_m

    @property
    def outer_radius_m(self) -> float:
        """Outer radius of the winding [m]."""
        return self.inner_radius_m + self.thickness_m

    @property
    def mean_radius_m(self) -> float:
        """Radius at half the winding thickness (the paper's R in eq. 4) [m]."""
        return self.inner_radius_m + self.thickness_m / 2.0

    @property
    def turns_per_m(self) -> float:
        """Total turns per unit length N (eq. 4) [1/m]."""
        return self.turns / self.length_m

    @property
    def layer_radii_m(self) -> FloatArray:
        """Radius of each layer's wire centre [m]."""
        return np.asarray(
            self.inner_radius_m + (np.arange(self.layers) + 0.5) * self.pitch_m, dtype=np.float64
        )

    @property
    def wire_length_m(self) -> float:
        """Conductor length Σ_layers 2π r_k × turns per layer [m] (leads excluded)."""
        return float(2.0 * np.pi * self.layer_radii_m.sum() * self.turns_per_layer)

    def current_density_A_m2(self, current_A: float) -> float:
        """Engineering current density N I / (L t) [A/m²] over the winding pack."""
        return self.turns * current_A / (self.length_m * self.thickness_m)

    def axial_field_T(self, position_m: ArrayLike, current_A: float) -> FloatArray:
        """On-axis field, eq. 4 summed layer by layer (each layer a thin sheet) [T].

        This is eq. 4 integrated over the winding radius by the midpoint rule on the
        actual layers; :func:`thick_solenoid_axial_field_T` is its continuum limit.
        """
        x = np.asarray(position_m, dtype=np.float64)
        n_layer = self.turns_per_layer / self.length_m
        fields = solenoid_axial_field_T(
            x[..., None], n_layer, current_A, self.length_m, self.layer_radii_m
        )
        return np.asarray(fields.sum(axis=-1), dtype=np.float64)

    def eq4_axial_field_T(self, position_m: ArrayLike, current_A: float) -> FloatArray:
        """On-axis field as the paper computes it: eq. 4 with N = turns/L, R = mean radius [T]."""
        return solenoid_axial_field_T(
            position_m, self.turns_per_m, current_A, self.length_m, self.mean_radius_m
        )

    def field_T(
        self, radial_m: ArrayLike, axial_m: ArrayLike, current_A: float
    ) -> tuple[FloatArray, FloatArray]:
        """Off-axis field (B_r, B_z) by Biot–Savart over the winding pack [T]."""
        return thick_solenoid_field_T(
            radial_m,
            axial_m,
            self.current_density_A_m2(current_A),
            self.length_m,
            self.inner_radius_m,
            self.outer_radius_m,
        )


def winding_for_centre_field(
    centre_field_T: float,
    wire: Wire,
    current_A: float,
    mandrel_radius_m: float,
    length_m: float,
    *,
    ground_insulation_m: float = 0.0,
    max_layers: int = 2000,
) -> Winding:
    """The fewest layers whose centre field reaches ``centre_field_T`` [T].

    Each layer adds, at the centre, μ0 (n_layer I) (L/2)/√((L/2)² + r_k²) (eq. 4 for a
    thin sheet at the layer radius r_k); layers are added until the sum reaches the
    target.

    Parameters
    ----------
    centre_field_T : float
        Target field at the centre [T].
    wire : Wire
        Conductor (its insulated diameter is the pitch).
    current_A : float
        Operating current [A].
    mandrel_radius_m : float
        Outer radius of the mandrel's winding surface [m].
    length_m : float
        Winding length [m].
    ground_insulation_m : float
        Insulation between mandrel and first layer (the paper's 0.025 mm Kapton) [m].
    max_layers : int
        Refuse designs that need more layers.

    Raises
    ------
    ValueError
        If the target cannot be reached within ``max_layers`` (the field per layer falls
        as the radius grows, so a short coil may never get there).
    """
    _positive("centre_field_T", centre_field_T)
    _positive("current_A", current_A)
    inner = float(_positive("mandrel_radius_m", mandrel_radius_m)) + ground_insulation_m
    trial = Winding(wire, inner, length_m, max_layers)
    n_layer = trial.turns_per_layer / length_m
    per_layer = (
        MU0 * n_layer * current_A * (length_m / 2.0) / np.hypot(length_m / 2.0, trial.layer_radii_m)
    )
    cumulative = np.cumsum(per_layer)
    reached = np.flatnonzero(cumulative >= centre_field_T)
    if reached.size == 0:
        raise ValueError(
            f"centre_field_T={centre_field_T:g} T is not reached with {max_layers} layers "
            f"(at most {cumulative[-1]:.3g} T): use a longer winding or a higher current"
        )
    return Winding(wire, inner, length_m, int(reached[0]) + 1)


# ----------------------------------------------------------------------------- inductance


def mutual_inductance_H(
    radius_a_m: ArrayLike, radius_b_m: ArrayLike, separation_m: ArrayLike
) -> FloatArray:
    """Mutual inductance of two coaxial circular filaments (Maxwell) [H].

    M = μ0 √(ab) [(2/k − k) K(k²) − (2/k) E(k²)],  k² = 4ab / ((a + b)² + d²).

    References
    ----------
    Grover, *Inductance Calculations* (1946, Dover 2004), ch. 13, eq. (1);
    Maxwell, *Treatise* vol. 2 §701.
    """
    a = np.asarray(radius_a_m, dtype=np.float64)
    b = np.asarray(radius_b_m, dtype=np.float64)
    d = np.asarray(separation_m, dtype=np.float64)
    m = 4.0 * a * b / ((a + b) ** 2 + d**2)
    k = np.sqrt(m)
    return np.asarray(
        MU0 * np.sqrt(a * b) * ((2.0 / k - k) * ellipk(m) - 2.0 / k * ellipe(m)),
        dtype=np.float64,
    )


def inductance_H(
    length_m: float,
    inner_radius_m: float,
    outer_radius_m: float,
    turns: float,
    *,
    radial_cells: int = 8,
    axial_cells: int = 200,
    self_gmd_m: float | None = None,
) -> float:
    """Self-inductance of a solenoid with a rectangular winding section (filament method) [H].

    The section is cut into radial_cells × axial_cells cells, each a filament at its
    centre carrying w = turns/cells turns: L = Σ_{i≠j} w² M_ij + Σ_i w² L_i, with
    L_i = μ0 a_i [ln(8 a_i / g) − 2] the self-inductance of a loop whose section has the
    geometric mean distance g = 0.2235 (Δr + Δz) of a rectangle.

    Parameters
    ----------
    length_m, inner_radius_m, outer_radius_m : float
        Winding length and radii [m] (a thin sheet: outer − inner ≪ radius).
    turns : float
        Total turns N [-].
    radial_cells, axial_cells : int
        Discretisation. For a continuous current sheet the result converges to first order
        in the cell size (tests check it); with one cell per turn and ``self_gmd_m`` the
        wire's own GMD, it is the inductance of the actual round wires (the GMD of two
        round wires is their centre distance, so the filament mutuals are then exact).
    self_gmd_m : float, optional
        Geometric mean distance of a cell's section from itself [m]; default the
        rectangle's 0.2235 (Δr + Δz). A round wire of radius ρ: e^(−1/4) ρ.

    References
    ----------
    Grover (1946) ch. 2 (GMD of a rectangle, 0.2235 (b + c)) and ch. 13 (loop
    self-inductance); Lyle's method of filaments.
    """
    L = float(_positive("length_m", length_m))
    a1 = float(_positive("inner_radius_m", inner_radius_m))
    a2 = float(_positive("outer_radius_m", outer_radius_m))
    if a2 <= a1:
        raise ValueError("outer_radius_m must exceed inner_radius_m")
    dr = (a2 - a1) / radial_cells
    dz = L / axial_cells
    radii = a1 + (np.arange(radial_cells) + 0.5) * dr
    w = turns / (radial_cells * axial_cells)
    # All axial separations are multiples of dz: M depends only on (i_r, j_r, |Δk|).
    lags = np.arange(axial_cells) * dz
    # M_ij = M_ji: evaluate the radial pairs i ≤ j only and count the others twice.
    ii, jj = np.triu_indices(radial_cells)
    pair_weight = np.where(ii == jj, 1.0, 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        M = mutual_inductance_H(radii[ii][:, None], radii[jj][:, None], lags[None, :])
    gmd = 0.2235 * (dr + dz) if self_gmd_m is None else float(_positive("self_gmd_m", self_gmd_m))
    diagonal = ii == jj
    M[diagonal, 0] = MU0 * radii * (np.log(8.0 * radii / gmd) - 2.0)
    # Number of (k, l) pairs in an axial_cells-long column with |k − l| = lag.
    counts = np.where(lags == 0.0, axial_cells, 2.0 * (axial_cells - np.arange(axial_cells)))
    return float(w * w * np.sum(pair_weight[:, None] * M * counts[None, :]))


def long_solenoid_inductance_H(turns: float, radius_m: float, length_m: float) -> float:
    """Inductance of a long thin solenoid with Nagaoka's first end corrections [H].

    L = μ0 N² π R² / ℓ · [1 − 8R/(3πℓ) + R²/(2ℓ²)]  (ℓ ≫ R); the bracket is the
    expansion of Nagaoka's coefficient for a long current sheet.

    References
    ----------
    Nagaoka, J. Coll. Sci. Tokyo 27 (1909) 18; Rosa & Grover, Bull. Bur. Stand. 8 (1912),
    formula (77).
    """
    R = float(_positive("radius_m", radius_m))
    ell = float(_positive("length_m", length_m))
    beta = R / ell
    return (
        MU0 * turns**2 * math.pi * R**2 / ell * (1.0 - 8.0 * beta / (3.0 * math.pi) + beta**2 / 2)
    )


# ----------------------------------------------------------------------------- design


@dataclass(frozen=True)
class MagnetDesign:
    """A regenerator magnet sized for a centre field.

    Attributes
    ----------
    winding : Winding
        Layers, turns, radii.
    current_A : float
        Operating current [A].
    centre_field_T : float
        Field at the centre, layer-by-layer eq. 4 [T].
    centre_field_eq4_T : float
        The same coil by the paper's eq. 4 with R at half the winding thickness [T].
    turns_per_m : float
        Total turns per unit length [1/m].
    wire_length_m : float
        Conductor length [m].
    inductance_H : float
        Self-inductance [H].
    stored_energy_J : float
        ½ L I² [J].
    peak_field_T : float
        Largest |B| on the winding (Biot–Savart) [T].
    load_line : LoadLine
        Margin against NbTi's critical current.
    quench : Quench
        Diode discharge.
    ramp_voltage_V : float
        L ΔI/Δt for the field swing in the ramp time [V]; above the diodes' forward
        voltage the diodes would shunt part of the ramp current.
    """

    winding: Winding
    current_A: float
    centre_field_T: float
    centre_field_eq4_T: float
    turns_per_m: float
    wire_length_m: float
    inductance_H: float
    stored_energy_J: float
    peak_field_T: float
    load_line: LoadLine
    quench: Quench
    ramp_voltage_V: float


def peak_winding_field_T(winding: Winding, current_A: float, points: int = 41) -> float:
    """Largest |B| on the winding pack (inner face along z, mid-plane across r) [T].

    In a solenoid the maximum sits on the inner face near the mid-plane; both lines are
    sampled with :meth:`Winding.field_T`.
    """
    z = np.linspace(0.0, winding.length_m / 2.0, points)
    r_in = np.full_like(z, winding.inner_radius_m)
    r = np.linspace(winding.inner_radius_m, winding.outer_radius_m, points)
    rr = np.concatenate([r_in, r])
    zz = np.concatenate([z, np.zeros_like(r)])
    Br, Bz = winding.field_T(rr, zz, current_A)
    return float(np.max(np.hypot(Br, Bz)))


def design_magnet(
    centre_field_T: float,
    wire: Wire,
    current_A: float,
    mandrel_radius_m: float,
    length_m: float,
    *,
    ground_insulation_m: float = 0.0,
    bath_temperature_K: float = 4.2,
    diode_voltage_V: float = 1.0,
    ramp_time_s: float = 80.0,
    swing_field_T: float | None = None,
) -> MagnetDesign:
    """Size a regenerator magnet and evaluate it (winding, L, energy, margin, quench).

    Parameters
    ----------
    centre_field_T : float
        Target centre field [T] (the paper: 1.5 T).
    wire : Wire
        Conductor.
    current_A : float
        Operating current [A] (the paper: 4.7 A).
    mandrel_radius_m, length_m : float
        Winding-surface radius and winding length [m].
    ground_insulation_m : float
        Insulation on the mandrel [m].
    bath_temperature_K : float
        Conductor temperature for the critical current [K].
    diode_voltage_V : float
        Forward voltage of the protection diodes [V].
    ramp_time_s : float
        Time over which the field swings (the paper's 80 s blow) [s].
    swing_field_T : float, optional
        Field swing during ``ramp_time_s`` [T] (default: the full centre field).
    """
    winding = winding_for_centre_field(
        centre_field_T,
        wire,
        current_A,
        mandrel_radius_m,
        length_m,
        ground_insulation_m=ground_insulation_m,
    )
    centre = float(winding.axial_field_T(0.0, current_A))
    eq4 = float(winding.eq4_axial_field_T(0.0, current_A))
    # One filament per turn (cells of one pitch square): the Toeplitz structure keeps it cheap.
    induct = inductance_H(
        winding.length_m,
        winding.inner_radius_m,
        winding.outer_radius_m,
        winding.turns,
        radial_cells=winding.layers,
        axial_cells=winding.turns_per_layer,
        self_gmd_m=math.exp(-0.25) * wire.bare_diameter_m / 2.0,
    )
    peak = peak_winding_field_T(winding, current_A)
    ll = load_line(peak, current_A, wire, bath_temperature_K)
    resistance = wire.copper_resistivity_ohm_m * winding.wire_length_m / wire.copper_area_m2
    q = diode_quench(induct, current_A, resistance, diode_voltage_V)
    swing = centre_field_T if swing_field_T is None else swing_field_T
    swing_current = current_A * swing / centre
    return MagnetDesign(
        winding=winding,
        current_A=current_A,
        centre_field_T=centre,
        centre_field_eq4_T=eq4,
        turns_per_m=winding.turns_per_m,
        wire_length_m=winding.wire_length_m,
        inductance_H=induct,
        stored_energy_J=0.5 * induct * current_A**2,
        peak_field_T=peak,
        load_line=ll,
        quench=q,
        ramp_voltage_V=induct * swing_current / float(_positive("ramp_time_s", ramp_time_s)),
    )


def max_axial_gradient_T_m(winding: Winding, current_A: float, points: int = 401) -> float:
    """Largest |dB_z/dz| on the axis, from ±1.5 L about the centre [T/m].

    Differentiates eq. 4 summed over the layers analytically:
    d/dx [u/√(u² + R²)] = R² / (u² + R²)^(3/2).
    """
    x = np.linspace(-1.5 * winding.length_m, 1.5 * winding.length_m, points)[:, None]
    R = winding.layer_radii_m[None, :]
    n_layer = winding.turns_per_layer / winding.length_m
    a, b = x + winding.length_m / 2.0, x - winding.length_m / 2.0
    grad = (
        MU0
        * n_layer
        * current_A
        / 2.0
        * (R**2 / (a**2 + R**2) ** 1.5 - R**2 / (b**2 + R**2) ** 1.5)
    )
    return float(np.max(np.abs(grad.sum(axis=1))))
