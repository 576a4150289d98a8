"""Padded closure batches: the array layout every fit in `soilflux.fit` works on.

A batch of k closures with at most m samples is three (k, m) arrays: times `t`, concentrations
`c` and a boolean `mask` that says which cells are samples of the fit window.  Cells outside
the mask may hold anything (NaN, padding); they are zeroed here so that sums over the sample
axis are plain dot products.  Every fit returns arrays of shape (k,).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def quiet(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `func` with numpy's floating-point warnings off.

    Batched fits meet degenerate closures (empty windows, zero variance) by design; they
    come out as NaN and are flagged, not warned about one by one.
    """

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with np.errstate(all="ignore"):
            return func(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Batch:
    """Masked, zero-filled view of a batch of closures.

    Attributes
    ----------
    t : (k, m) float64
        Sample times, 0 outside the mask [s, or any time unit].
    c : (k, m) float64
        Concentrations, 0 outside the mask [µmol mol⁻¹, or any concentration unit].
    w : (k, m) float64
        1.0 inside the mask, 0.0 outside.
    mask : (k, m) bool
        Samples of the fit window.
    n : (k,) int64
        Samples per closure.
    """

    t: FloatArray
    c: FloatArray
    w: FloatArray
    mask: BoolArray
    n: IntArray
    # derived arrays several fits of the same batch share (computed once, read-only); the
    # batch's arrays must not change after a fit has read them
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def wsum(self, x: FloatArray) -> FloatArray:
        """Σ over each closure's window of `x` (x already zero outside the mask)."""
        return np.asarray(x.sum(axis=1), dtype=np.float64)

    def centred_c(self) -> tuple[FloatArray, FloatArray]:
        """Window mean c̄ (k,) and (c − c̄)·w (k, m), zero outside the window (cached)."""
        if "c" not in self._derived:
            mean = safe_divide(self.wsum(self.c), self.n.astype(np.float64))
            self._derived["c"] = _frozen(mean, (self.c - np.nan_to_num(mean)[:, None]) * self.w)
        out: tuple[FloatArray, FloatArray] = self._derived["c"]
        return out

    def centred_t(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Window mean t̄ (k,), (t − t̄)·w (k, m) and Σ(t − t̄)² (k,) (cached)."""
        if "t:centred" not in self._derived:
            mean = safe_divide(self.wsum(self.t), self.n.astype(np.float64))
            dt = (self.t - np.nan_to_num(mean)[:, None]) * self.w
            self._derived["t:centred"] = _frozen(mean, dt, np.einsum("ij,ij->i", dt, dt))
        out: tuple[FloatArray, FloatArray, FloatArray] = self._derived["t:centred"]
        return out

    def from_start(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Window start t_ref (k,) (NaN for an empty window), τ = (t − t_ref)·w (k, m) and
        the window's length, max τ (k,) (cached)."""
        if "t:start" not in self._derived:
            first = np.where(self.mask, self.t, np.inf).min(axis=1)
            t_ref = np.where(np.isfinite(first), first, np.nan)
            tau = (self.t - np.nan_to_num(t_ref)[:, None]) * self.w
            span = tau.max(axis=1) if tau.size else np.zeros(tau.shape[0])
            self._derived["t:start"] = _frozen(t_ref, tau, span)
        out: tuple[FloatArray, FloatArray, FloatArray] = self._derived["t:start"]
        return out

    def with_c(self, c: FloatArray) -> Batch:
        """The same windows with other concentrations (zero outside the window); keeps the
        derived arrays of the times."""
        other = Batch(t=self.t, c=c, w=self.w, mask=self.mask, n=self.n)
        other._derived.update({k: v for k, v in self._derived.items() if k.startswith("t:")})
        return other


def _frozen(*arrays: FloatArray) -> tuple[FloatArray, ...]:
    """The arrays, made read-only (they are shared between fits)."""
    for a in arrays:
        a.setflags(write=False)
    return arrays


def make_batch(t: npt.ArrayLike, c: npt.ArrayLike, mask: npt.ArrayLike | None = None) -> Batch:
    """Validate and zero-fill a batch.

    Parameters
    ----------
    t : array_like, shape (k, m) or (m,)
        Sample times [s].
    c : array_like, same shape
        Concentrations [µmol mol⁻¹].
    mask : array_like of bool, same shape, optional
        Samples to use; default: every cell where both `t` and `c` are finite.  Cells where
        `t` or `c` is not finite are always excluded.

    Returns
    -------
    Batch
    """
    t_arr = np.atleast_2d(np.asarray(t, dtype=np.float64))
    c_arr = np.atleast_2d(np.asarray(c, dtype=np.float64))
    if t_arr.shape != c_arr.shape or t_arr.ndim != 2:
        raise ValueError(
            f"t and c must have the same 1-D or 2-D shape, got {t_arr.shape} and {c_arr.shape}"
        )
    valid = np.isfinite(t_arr) & np.isfinite(c_arr)
    if mask is not None:
        m_arr = np.atleast_2d(np.asarray(mask, dtype=bool))
        if m_arr.shape != t_arr.shape:
            raise ValueError(f"mask must have the shape of t, got {m_arr.shape} and {t_arr.shape}")
        valid &= m_arr
    w = valid.astype(np.float64)
    return Batch(
        t=np.where(valid, t_arr, 0.0),
        c=np.where(valid, c_arr, 0.0),
        w=w,
        mask=valid,
        n=valid.sum(axis=1).astype(np.int64),
    )


def safe_divide(num: FloatArray, den: FloatArray) -> FloatArray:
    """num / den with NaN (no warning) where den is 0 or not finite."""
    good = np.isfinite(den) & (den != 0)
    shape = np.broadcast(num, den).shape
    if math.prod(shape) <= _SMALL and np.result_type(num, den) == np.float64:
        # fewer calls for the many per-closure vectors; x / 1 never warns, and the NaN put
        # in is NaN (not a NaN of num's, whose sign may differ)
        quotient = np.divide(num, np.where(good, den, 1.0))
        return np.asarray(np.where(good, quotient, np.nan), dtype=np.float64)
    out = np.full(shape, np.nan)
    np.divide(num, den, out=out, where=good)
    return out


#: Arrays up to this size take `safe_divide`'s short path (faster below, slower above) [-].
_SMALL = 16_384


def safe_sqrt(x: FloatArray) -> FloatArray:
    """sqrt(x) with NaN (no warning) where x < 0 or NaN."""
    good = np.isfinite(x) & (x >= 0)
    if np.size(x) <= _SMALL and np.result_type(x) == np.float64:
        # fewer calls for small arrays; √NaN is NaN without a warning
        return np.asarray(np.sqrt(np.where(good, x, np.nan)), dtype=np.float64)
    out = np.full(np.shape(x), np.nan)
    np.sqrt(x, out=out, where=good)
    return out


def gaussian_aicc(sse: FloatArray, n: IntArray, n_params: int) -> FloatArray:
    """AICc of a least-squares fit with Gaussian errors.

    AIC = n·ln(SSE/n) + n·(ln 2π + 1) + 2k, AICc = AIC + 2k(k+1)/(n − k − 1), with
    k = n_params + 1 (the residual variance counts), as R's ``AIC(lm)`` and gasfluxes' ``aicc``.
    Where n − k − 1 ≤ 0 the correction is undefined and AICc is +inf.

    Parameters
    ----------
    sse : (k,) float
        Residual sum of squares [concentration²].
    n : (k,) int
        Samples [-].
    n_params : int
        Fitted model parameters (excluding the variance) [-].
    """
    k = n_params + 1
    nf = n.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # SSE = 0 → −inf, as R
        aic = nf * np.log(safe_divide(sse, nf)) + nf * (np.log(2 * np.pi) + 1) + 2 * k
    den = nf - k - 1
    corr = np.full(nf.shape, np.inf)
    np.divide(2.0 * k * (k + 1), den, out=corr, where=den > 0)
    return np.asarray(aic + corr, dtype=np.float64)


def gaussian_aic(sse: FloatArray, n: IntArray, n_params: int) -> FloatArray:
    """AIC of a least-squares fit with Gaussian errors, k = n_params + 1 (R's ``AIC``)."""
    nf = n.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        aic = nf * np.log(safe_divide(sse, nf)) + nf * (np.log(2 * np.pi) + 1) + 2 * (n_params + 1)
    return np.asarray(aic, dtype=np.float64)


def inv_sym3(a: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Inverse of a batch of symmetric 3×3 matrices by the adjugate.

    Parameters
    ----------
    a : (k, 3, 3) float

    Returns
    -------
    inverse : (k, 3, 3) float
        NaN where the matrix is singular (relative determinant below 1e-14).
    ok : (k,) bool
    """
    a00, a01, a02 = a[:, 0, 0], a[:, 0, 1], a[:, 0, 2]
    a11, a12, a22 = a[:, 1, 1], a[:, 1, 2], a[:, 2, 2]
    c00 = a11 * a22 - a12 * a12
    c01 = a02 * a12 - a01 * a22
    c02 = a01 * a12 - a02 * a11
    c11 = a00 * a22 - a02 * a02
    c12 = a01 * a02 - a00 * a12
    c22 = a00 * a11 - a01 * a01
    det = a00 * c00 + a01 * c01 + a02 * c02
    scale = np.abs(a00 * a11 * a22)
    ok = np.isfinite(det) & (np.abs(det) > 1e-14 * scale) & (scale > 0)
    inv_det = safe_divide(np.ones_like(det), np.where(ok, det, np.nan))
    out = np.empty_like(a)
    out[:, 0, 0] = c00 * inv_det
    out[:, 0, 1] = out[:, 1, 0] = c01 * inv_det
    out[:, 0, 2] = out[:, 2, 0] = c02 * inv_det
    out[:, 1, 1] = c11 * inv_det
    out[:, 1, 2] = out[:, 2, 1] = c12 * inv_det
    out[:, 2, 2] = c22 * inv_det
    return out, ok


def compact_windows(
    t: FloatArray, c: FloatArray, win: BoolArray
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Shift each row's window to column 0 and drop the columns no window uses."""
    k, m = t.shape
    any_win = win.any(axis=1)
    first = np.where(any_win, np.argmax(win, axis=1), 0)
    last = np.where(any_win, m - np.argmax(win[:, ::-1], axis=1), 0)
    width = max(int((last - first).max()) if k else 0, 1)
    if width <= m and not first.any():  # every window starts in column 0: no shift
        inside = np.arange(width)[None, :] < last[:, None]
        return t[:, :width].copy(), c[:, :width].copy(), win[:, :width] & inside
    idx = first[:, None] + np.arange(width)[None, :]
    inside = idx < last[:, None]
    idx = np.minimum(idx, m - 1)
    return (
        np.take_along_axis(t, idx, axis=1),
        np.take_along_axis(c, idx, axis=1),
        np.take_along_axis(win, idx, axis=1) & inside,
    )
