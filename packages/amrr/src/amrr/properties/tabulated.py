"""A user's measured entropy table S(T, B), interpolated thermodynamically consistently.

The analytic spin models of :mod:`.paramagnet` differ by up to a factor two in ∂S/∂B at
0.9–1.2 K for GGG, so measured data (e.g. digitised from Fisher et al., J. Chem. Phys. 59,
4652 (1973), or Kleinhans et al., arXiv:2204.01752) should be preferred when available.

One smooth surface carries everything: S(T, B) is a bicubic tensor-product spline
(:class:`scipy.interpolate.RectBivariateSpline`, interpolating by default, optionally
smoothing), and (∂S/∂T)_B, (∂S/∂B)_T and C_B = T (∂S/∂T)_B are its analytic derivatives, so
the heat and the magnetocaloric heat T (∂S/∂B) used by a regenerator model come from one
consistent entropy function (dQ = T dS = C_B dT + T (∂S/∂B) dB integrates to zero around
any closed path inside the table).

File format (CSV, ``#`` comments allowed): a header with ``temperature_K``, ``field_T`` and
one entropy column, ``entropy_J_kgK`` or ``entropy_J_molK``; one row per (T, B) point of a
full rectangular grid, any order.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import RectBivariateSpline

from amrr.properties.validity import FloatArray, Range

ENTROPY_COLUMNS = ("entropy_J_kgK", "entropy_J_molK")


class TableError(ValueError):
    """A measured table is malformed; the message names the file and line."""


@dataclass(frozen=True)
class TabulatedEntropy:
    """Entropy and its derivatives interpolated from a measured table.

    Attributes
    ----------
    temperature_K, field_T : ndarray
        State [K], [T].
    entropy : ndarray
        S in the table's unit (``unit``): [J/(kg K)] or [J/(mol K)].
    dS_dT : ndarray
        (∂S/∂T)_B [unit/K].
    dS_dB : ndarray
        (∂S/∂B)_T [unit/T].
    heat_capacity : ndarray
        C_B = T (∂S/∂T)_B [unit·K, i.e. J/(kg K) or J/(mol K)].
    unit : str
        ``"J_kgK"`` or ``"J_molK"``.
    """

    temperature_K: FloatArray
    field_T: FloatArray
    entropy: FloatArray
    dS_dT: FloatArray
    dS_dB: FloatArray
    heat_capacity: FloatArray
    unit: str


class EntropyTable:
    """Measured S(T, B) on a rectangular grid, as one smooth bicubic surface.

    Parameters
    ----------
    temperature_K : array_like
        Strictly increasing grid temperatures [K] (≥ 4 points).
    field_T : array_like
        Strictly increasing grid fields [T] (≥ 4 points).
    entropy : array_like
        S[i, j] at (temperature_K[i], field_T[j]) in ``unit``.
    unit : {"J_kgK", "J_molK"}
        Unit of ``entropy``.
    smoothing : float
        ``s`` of :class:`~scipy.interpolate.RectBivariateSpline`: 0 interpolates the
        points exactly; a positive value (≈ n_points × σ², σ the noise in S) smooths noise.
    source : str
        Where the data came from (kept for provenance).
    """

    def __init__(
        self,
        temperature_K: ArrayLike,
        field_T: ArrayLike,
        entropy: ArrayLike,
        *,
        unit: str = "J_kgK",
        smoothing: float = 0.0,
        source: str = "",
    ) -> None:
        T = np.asarray(temperature_K, dtype=np.float64)
        B = np.asarray(field_T, dtype=np.float64)
        S = np.asarray(entropy, dtype=np.float64)
        if unit not in ("J_kgK", "J_molK"):
            raise ValueError(f"unit={unit!r} must be 'J_kgK' or 'J_molK'")
        if T.ndim != 1 or B.ndim != 1 or S.shape != (T.size, B.size):
            raise ValueError(
                f"entropy must have shape (len(temperature_K), len(field_T)) = "
                f"({T.size}, {B.size}), got {S.shape}"
            )
        if T.size < 4 or B.size < 4:
            raise ValueError("a bicubic surface needs at least 4 temperatures and 4 fields")
        if np.any(np.diff(T) <= 0) or np.any(np.diff(B) <= 0):
            raise ValueError("temperature_K and field_T must be strictly increasing")
        if not np.all(np.isfinite(S)):
            raise ValueError("entropy contains NaN or inf")
        self.unit = unit
        self.source = source
        self.temperature_range = Range(
            "temperature_K", float(T[0]), float(T[-1]), "table", limit_low=0.0, limit_low_open=True
        )
        self.field_range = Range("field_T", float(B[0]), float(B[-1]), "table", limit_low=0.0)
        self._spline = RectBivariateSpline(T, B, S, kx=3, ky=3, s=smoothing)

    @classmethod
    def from_csv(cls, path: str | Path, *, smoothing: float = 0.0) -> EntropyTable:
        """Read a long-format CSV (see the module docstring) into an :class:`EntropyTable`.

        Raises
        ------
        TableError
            Missing column, unparsable number, duplicate or missing grid point; the message
            names the file and line.
        """
        p = Path(path)
        rows: list[tuple[float, float, float]] = []
        with p.open(newline="") as fh:
            lines = [(n, ln) for n, ln in enumerate(fh, start=1) if not ln.lstrip().startswith("#")]
        reader = csv.reader([ln for _, ln in lines])
        header: list[str] | None = None
        col: dict[str, int] = {}
        unit = ""
        for (lineno, _), rec in zip(lines, reader, strict=True):
            if not rec or all(not c.strip() for c in rec):
                continue
            if header is None:
                header = [c.strip() for c in rec]
                col = {name: i for i, name in enumerate(header)}
                for need in ("temperature_K", "field_T"):
                    if need not in col:
                        raise TableError(f"{p}:{lineno}: header lacks column {need!r}")
                found = [c for c in ENTROPY_COLUMNS if c in col]
                if len(found) != 1:
                    raise TableError(f"{p}:{lineno}: header needs exactly one of {ENTROPY_COLUMNS}")
                unit = found[0].removeprefix("entropy_")
                continue
            try:
                vals = tuple(
                    float(rec[col[c]]) for c in ("temperature_K", "field_T", "entropy_" + unit)
                )
            except (ValueError, IndexError) as exc:
                raise TableError(f"{p}:{lineno}: cannot read a number ({exc})") from exc
            rows.append((vals[0], vals[1], vals[2]))
        if header is None or not rows:
            raise TableError(f"{p}: no header or no data rows")
        data = np.array(rows)
        Ts = np.unique(data[:, 0])
        Bs = np.unique(data[:, 1])
        S = np.full((Ts.size, Bs.size), np.nan)
        i = np.searchsorted(Ts, data[:, 0])
        j = np.searchsorted(Bs, data[:, 1])
        seen = np.zeros(S.shape, dtype=int)
        np.add.at(seen, (i, j), 1)
        if np.any(seen > 1):
            a, b = np.argwhere(seen > 1)[0]
            raise TableError(f"{p}: duplicate point temperature_K={Ts[a]}, field_T={Bs[b]}")
        if np.any(seen == 0):
            a, b = np.argwhere(seen == 0)[0]
            raise TableError(
                f"{p}: the grid is not rectangular: no row for temperature_K={Ts[a]}, "
                f"field_T={Bs[b]}"
            )
        S[i, j] = data[:, 2]
        return cls(Ts, Bs, S, unit=unit, smoothing=smoothing, source=str(p))

    def __call__(
        self, temperature_K: ArrayLike, field_T: ArrayLike, *, extrapolate: bool = False
    ) -> TabulatedEntropy:
        """Evaluate S, (∂S/∂T)_B, (∂S/∂B)_T and C_B at (T [K], B [T]).

        Raises :class:`~amrr.properties.validity.OutOfRangeError` outside the table unless
        ``extrapolate`` (then the edge polynomial pieces are continued).
        """
        T = self.temperature_range.check(temperature_K, extrapolate=extrapolate)
        B = self.field_range.check(field_T, extrapolate=extrapolate)
        T, B = np.broadcast_arrays(T, B)
        sp = self._spline
        S = sp.ev(T, B)
        dS_dT = sp.ev(T, B, dx=1)
        dS_dB = sp.ev(T, B, dy=1)
        return TabulatedEntropy(
            temperature_K=np.asarray(T, dtype=np.float64),
            field_T=np.asarray(B, dtype=np.float64),
            entropy=np.asarray(S, dtype=np.float64),
            dS_dT=np.asarray(dS_dT, dtype=np.float64),
            dS_dB=np.asarray(dS_dB, dtype=np.float64),
            heat_capacity=np.asarray(T * dS_dT, dtype=np.float64),
            unit=self.unit,
        )

    def unphysical_points(self, n: int = 101) -> tuple[FloatArray, FloatArray]:
        """States on an n × n grid where the surface breaks thermodynamic stability.

        A paramagnet needs C_B = T ∂S/∂T ≥ 0 everywhere and ∂S/∂B ≤ 0 for B ≥ 0; an
        interpolating spline through noisy data can violate both between the points. Use
        this after loading and raise ``smoothing`` until it returns nothing.

        Returns
        -------
        temperature_K, field_T : ndarray
            Offending states [K], [T] (empty when the surface is physical).
        """
        T = np.linspace(self.temperature_range.low, self.temperature_range.high, n)
        B = np.linspace(self.field_range.low, self.field_range.high, n)
        TT, BB = np.meshgrid(T, B, indexing="ij")
        r = self(TT, BB)
        tol = 1e-9 * float(np.max(np.abs(r.entropy)))
        bad = (r.dS_dT < -tol) | ((BB > 0.0) & (r.dS_dB > tol))
        return TT[bad], BB[bad]

    def entropy_change_along_path(self, temperature_K: ArrayLike, field_T: ArrayLike) -> float:
        """∫ dS = ∫ [(∂S/∂T) dT + (∂S/∂B) dB] along a polyline of states [unit].

        Integrated from the surface's derivatives (trapezoidal rule per segment), the way a
        regenerator model accumulates heat. Around a closed path it must vanish (to the
        quadrature error), which is what "one consistent surface" means in practice.
        """
        T = np.asarray(temperature_K, dtype=np.float64)
        B = np.asarray(field_T, dtype=np.float64)
        r = self(T, B, extrapolate=True)
        dT = np.diff(T)
        dB = np.diff(B)
        dsdt = 0.5 * (r.dS_dT[1:] + r.dS_dT[:-1])
        dsdb = 0.5 * (r.dS_dB[1:] + r.dS_dB[:-1])
        return float(np.sum(dsdt * dT + dsdb * dB))
