"""Exponential approach to an asymptote, batched: LI-COR's exponential model.

LI-8100A manual eq. 4-13 / appendix D:

    C′(t) = C′ₓ + (C′₀ − C′ₓ)·exp(−a(t − t₀)),   ∂C′/∂t at t₀ = a(C′ₓ − C′₀)

where C′₀ is the initial value (10-s regression at lid closing) and t₀ the time at which the
fitted curve passes through C′₀ (eq. D-1).  Internally the curve is written in a form that is
regular as a → 0 (where it becomes a straight line):

    C(τ) = c₁ + s·g(a, τ),  g = (1 − e^{−aτ}) / a,  τ = t − t_ref,

so c₁ = C(t_ref), s = dC/dt at t_ref and C′ₓ = c₁ + s/a.  Since dC/dt = s − a(C − c₁), the slope
where the curve equals C′₀ is s + a(c₁ − C′₀) = a(C′ₓ − C′₀), without solving for t₀.

Solver: variable projection.  For a given a, (c₁, s) is a linear least-squares problem solved in
closed form; a is found by Gauss–Newton on the projected problem (Golub & Pereyra 1973), with
step halving when the residual grows, for every closure of the batch at once.  The start value
of a comes from a quadratic fit (a ≈ −2β₂/β₁).  Standard errors: σ²(JᵀJ)⁻¹ of the full
three-parameter model and the delta method.

References
----------
LI-COR Biosciences (2015), LI-8100A manual, §4 and appendix D.
Golub, G. H., Pereyra, V. (1973). SIAM J. Numer. Anal. 10(2):413–432.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from soilflux.fit._batch import (
    Batch,
    BoolArray,
    FloatArray,
    IntArray,
    gaussian_aicc,
    inv_sym3,
    make_batch,
    quiet,
    safe_divide,
    safe_sqrt,
)
from soilflux.fit.quadratic import fit_quadratic_batch, window_start

#: Largest |a|·(window length) accepted: beyond it the curve is a step, not a closure.
MAX_CURVATURE = 30.0
#: Smallest a: the diffusion model's a = k + g·s/v (LI-8100A eq. 4-17) is not negative; a = 0 is
#: the straight line, which the parameterisation contains.
MIN_CURVATURE = 0.0


@dataclass(frozen=True)
class ExpCurve:
    """Least-squares curve C(τ) = c₁ + s·(1 − e^{−aτ})/a per closure; fields of shape (k,).

    Attributes
    ----------
    c1 : C at the window start t_ref [concentration unit]
    s : dC/dt at t_ref [concentration per time unit]
    a : curvature a = κ [time unit⁻¹]
    t_ref : window start [time unit]
    span : window length [time unit]
    cov : (k, 3, 3) covariance of (c1, s, a)
    sse : residual sum of squares [concentration unit²]
    n : samples [-]
    converged : Gauss–Newton converged
    at_bound : a ended on a bound
    """

    c1: FloatArray
    s: FloatArray
    a: FloatArray
    t_ref: FloatArray
    span: FloatArray
    cov: FloatArray
    sse: FloatArray
    n: IntArray
    converged: BoolArray
    at_bound: BoolArray

    def asymptote(self) -> FloatArray:
        """C′ₓ = c₁ + s/a, the concentration approached [concentration unit]."""
        return safe_divide(self.c1 * self.a + self.s, self.a)

    def slope_at_level(self, level: FloatArray) -> tuple[FloatArray, FloatArray]:
        """dC/dt where the curve equals `level`: s + a(c₁ − level), and its standard error."""
        slope = self.s + self.a * (self.c1 - level)
        grad = np.stack([self.a, np.ones_like(self.a), self.c1 - level], axis=1)
        var = np.einsum("ki,kij,kj->k", grad, self.cov, grad)
        return slope, safe_sqrt(var)

    def slope_at_time(self, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        """dC/dt = s·e^{−a(t − t_ref)} at time `t`, and its standard error."""
        tau = t - self.t_ref
        e = np.exp(-self.a * tau)
        slope = self.s * e
        grad = np.stack([np.zeros_like(e), e, -tau * self.s * e], axis=1)
        var = np.einsum("ki,kij,kj->k", grad, self.cov, grad)
        return slope, safe_sqrt(var)

    def time_at_level(self, level: FloatArray) -> FloatArray:
        """t₀ at which the curve equals `level` (LI-COR eq. D-1); NaN if it never does."""
        d = safe_divide(level - self.c1, self.s)  # = g(a, τ₀)
        arg = 1.0 - self.a * d
        small = np.abs(self.a * d) < 1e-8
        tau_exp = safe_divide(-np.log(np.where(arg > 0, arg, np.nan)), self.a)
        return self.t_ref + np.where(small, d, tau_exp)


def _g_only(a: FloatArray, tau: FloatArray, tmax: FloatArray) -> FloatArray:
    """g of `_g_dg` alone (same numbers), for the final residuals."""
    tiny = np.abs(a) * tmax < 1e-4
    ab = a[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.multiply(tau, -ab)
        np.exp(g, out=g)
        np.subtract(1.0, g, out=g)
        g /= ab
    if tiny.any():
        tt = tau[tiny]
        x = a[tiny][:, None] * tt
        g[tiny] = tt * (1.0 - x / 2.0 + x * x / 6.0)
    return g


def _g_dg(
    a: FloatArray, tau: FloatArray, tmax: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """g = (1 − e^{−aτ})/a and ∂g/∂a = (τe^{−aτ} − g)/a, regular at a = 0 (τ = 0 → 0).

    `tmax` is each row's largest τ, if the caller has it.
    """
    if tmax is None:
        tmax = tau.max(axis=1) if tau.size else np.zeros(a.shape)
    tiny = np.abs(a) * tmax < 1e-4
    # every row by the closed form, in place (whole arrays: no gather or scatter of the
    # others); the few rows with tiny aτ then get the series (0/0 there until then)
    ab = a[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.multiply(tau, -ab)
        np.exp(e, out=e)
        g = np.subtract(1.0, e)
        g /= ab
        dg = np.multiply(tau, e, out=e)
        dg -= g
        dg /= ab
    if not tiny.any():
        return g, dg
    at = a[tiny][:, None]
    tt = tau[tiny]
    x = at * tt
    g[tiny] = tt * (1.0 - x / 2.0 + x * x / 6.0)
    dg[tiny] = -tt * tt * (0.5 - x / 3.0 + x * x / 8.0)
    return g, dg


@dataclass
class _Eval:
    c1: FloatArray
    s: FloatArray
    sse: FloatArray
    step: FloatArray
    jtr: FloatArray
    jtj: FloatArray
    lag: FloatArray | None = None


@dataclass(frozen=True)
class _Fixed:
    """The sums of a fit that do not depend on a, per closure (k,): Σy, Σy², and with the
    lag term Σh, Σh², Σyh; and the largest τ.  Computed once, not at every iteration."""

    sy: FloatArray
    syy: FloatArray
    tmax: FloatArray
    sh: FloatArray  # zeros without the lag term
    shh: FloatArray
    syh: FloatArray

    @staticmethod
    def of(y: FloatArray, tau: FloatArray, h: FloatArray | None) -> _Fixed:
        tmax = tau.max(axis=1) if tau.size else np.zeros(tau.shape[0])
        sy, syy = y.sum(axis=1), np.einsum("ij,ij->i", y, y)
        if h is None:
            zero = np.zeros_like(sy)
            return _Fixed(sy=sy, syy=syy, tmax=tmax, sh=zero, shh=zero, syh=zero)
        return _Fixed(
            sy=sy,
            syy=syy,
            tmax=tmax,
            sh=h.sum(axis=1),
            shh=np.einsum("ij,ij->i", h, h),
            syh=np.einsum("ij,ij->i", y, h),
        )

    def take(self, idx: npt.NDArray[np.int64]) -> _Fixed:
        return _Fixed(
            self.sy[idx], self.syy[idx], self.tmax[idx], self.sh[idx], self.shh[idx], self.syh[idx]
        )


def _evaluate(y: FloatArray, tau: FloatArray, n: FloatArray, a: FloatArray, fx: _Fixed) -> _Eval:
    """Projected least squares at fixed a, and the Gauss–Newton step for a."""
    g, dg = _g_dg(a, tau, fx.tmax)
    sg = g.sum(axis=1)
    sgg = np.einsum("ij,ij->i", g, g)
    sy = fx.sy
    syg = np.einsum("ij,ij->i", y, g)
    syy = fx.syy
    sdg = dg.sum(axis=1)
    sgdg = np.einsum("ij,ij->i", g, dg)
    sdgdg = np.einsum("ij,ij->i", dg, dg)
    sydg = np.einsum("ij,ij->i", y, dg)
    det = n * sgg - sg * sg
    s = safe_divide(n * syg - sg * sy, det)
    c1 = safe_divide(sy - s * sg, n)
    sse = syy - c1 * sy - s * syg
    # Gauss–Newton step on the projected problem: δa = Jₐᵀr / ‖P⊥Jₐ‖², Jₐ = s·∂g/∂a
    jtr = s * (sydg - c1 * sdg - s * sgdg)
    b0 = safe_divide(sgg * sdg - sg * sgdg, det)
    b1 = safe_divide(n * sgdg - sg * sdg, det)
    perp = sdgdg - b0 * sdg - b1 * sgdg
    step = safe_divide(jtr, s * s * perp)
    jtj = np.empty((n.size, 3, 3))
    jtj[:, 0, 0], jtj[:, 0, 1], jtj[:, 0, 2] = n, sg, s * sdg
    jtj[:, 1, 1], jtj[:, 1, 2], jtj[:, 2, 2] = sgg, s * sgdg, s * s * sdgdg
    jtj[:, 1, 0], jtj[:, 2, 0], jtj[:, 2, 1] = jtj[:, 0, 1], jtj[:, 0, 2], jtj[:, 1, 2]
    return _Eval(c1=c1, s=s, sse=sse, step=step, jtr=jtr, jtj=jtj)


def _evaluate_lag(
    y: FloatArray, tau: FloatArray, n: FloatArray, a: FloatArray, h: FloatArray, fx: _Fixed
) -> _Eval:
    """As `_evaluate`, with the sensor-lag transient h = e^{−t/τ_s} as a third linear term.

    The linear parameters are (c₁, s, B); rows whose transient vanishes on the window get
    B = 0.  `jtj` is the 4×4 Gauss–Newton matrix of (c₁, s, B, a).
    """
    g, dg = _g_dg(a, tau, fx.tmax)
    sg, sh, sy = g.sum(axis=1), fx.sh, fx.sy
    sgg = np.einsum("ij,ij->i", g, g)
    sgh = np.einsum("ij,ij->i", g, h)
    shh = fx.shh
    syg = np.einsum("ij,ij->i", y, g)
    syh = fx.syh
    syy = fx.syy
    sdg = dg.sum(axis=1)
    sgdg = np.einsum("ij,ij->i", g, dg)
    shdg = np.einsum("ij,ij->i", h, dg)
    sdgdg = np.einsum("ij,ij->i", dg, dg)
    sydg = np.einsum("ij,ij->i", y, dg)
    gone = ~(shh > 1e-12 * np.maximum(n, 1.0))
    sh, sgh, syh, shdg = (np.where(gone, 0.0, v) for v in (sh, sgh, syh, shdg))
    shh = np.where(gone, 1.0, shh)
    m = np.empty((n.size, 3, 3))
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = n, sg, sh
    m[:, 1, 1], m[:, 1, 2], m[:, 2, 2] = sgg, sgh, shh
    m[:, 1, 0], m[:, 2, 0], m[:, 2, 1] = sg, sh, sgh
    minv, _ = inv_sym3(m)
    rhs = np.stack([sy, syg, syh], axis=1)
    coef = np.einsum("kij,kj->ki", minv, rhs)
    c1, s, lag = coef[:, 0], coef[:, 1], coef[:, 2]
    sse = syy - c1 * sy - s * syg - lag * syh
    v = np.stack([sdg, sgdg, shdg], axis=1)
    beta = np.einsum("kij,kj->ki", minv, v)
    perp = sdgdg - np.einsum("ki,ki->k", beta, v)
    jtr = s * (sydg - c1 * sdg - s * sgdg - lag * shdg)
    step = safe_divide(jtr, s * s * perp)
    jtj = np.empty((n.size, 4, 4))
    jtj[:, :3, :3] = m
    jtj[:, :3, 3] = jtj[:, 3, :3] = s[:, None] * v
    jtj[:, 3, 3] = s * s * sdgdg
    return _Eval(c1=c1, s=s, sse=sse, step=step, jtr=jtr, jtj=jtj, lag=lag)


def _cov_from_jtj(jtj: FloatArray, s2: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Covariance of (c₁, s, a) from a 3×3 or 4×4 (with the lag term) Gauss–Newton matrix."""
    if jtj.shape[1] == 3:
        inv3, ok3 = inv_sym3(np.nan_to_num(jtj))
        return inv3 * s2[:, None, None], ok3
    a = np.nan_to_num(jtj)
    det = np.linalg.det(a)
    scale = np.prod(np.abs(np.einsum("kii->ki", a)), axis=1)
    ok = np.asarray(np.isfinite(jtj).all(axis=(1, 2)) & (np.abs(det) > 1e-14 * scale), dtype=bool)
    safe = np.where(ok[:, None, None], a, np.eye(4))
    inv = np.linalg.inv(safe)
    sel = [0, 1, 3]
    cov = inv[:, sel][:, :, sel] * s2[:, None, None]
    return np.where(ok[:, None, None], cov, np.nan), ok


@quiet
def fit_exp_curve_batch(
    b: Batch,
    a_start: FloatArray | None = None,
    a_bounds: tuple[FloatArray | float, FloatArray | float] | None = None,
    *,
    lag_basis: FloatArray | None = None,
    maxiter: int = 40,
    tol: float = 1e-8,
) -> ExpCurve:
    """Least-squares C(τ) = c₁ + s·(1 − e^{−aτ})/a for every closure of a `Batch`.

    Parameters
    ----------
    b : Batch
        Times [time unit] and concentrations [concentration unit].
    a_start : (k,) float, optional
        Start value of a [time unit⁻¹]; default from a quadratic fit, a ≈ −2β₂/β₁.
    a_bounds : (lower, upper), optional
        Bounds on a [time unit⁻¹]; default (0, 30 / window length).
    maxiter : int
        Gauss–Newton iterations.
    tol : float
        Convergence when |Δa|·(window length) < tol.
    lag_basis : (k, m) float, optional
        Sensor-lag transient e^{−t/τ_s} on the window (zero outside); fitted as an extra
        linear term B·e^{−t/τ_s} (see `soilflux.fit.lag`).

    Returns
    -------
    ExpCurve
    """
    k = b.t.shape[0]
    n = b.n.astype(np.float64)
    t_ref, tau, span = b.from_start()
    span_safe = np.where(span > 0, span, 1.0)
    if a_bounds is None:
        lo = MIN_CURVATURE / span_safe
        hi = MAX_CURVATURE / span_safe
    else:
        lo = np.broadcast_to(np.asarray(a_bounds[0], dtype=np.float64), (k,)).copy()
        hi = np.broadcast_to(np.asarray(a_bounds[1], dtype=np.float64), (k,)).copy()
    if a_start is None:
        q = fit_quadratic_batch(b)
        a_start = safe_divide(-2.0 * q.b2, q.b1)
    a_try = np.clip(np.nan_to_num(np.asarray(a_start, dtype=np.float64)), lo, hi)
    c_mean, y = b.centred_c()

    a_best = np.full(k, np.nan)
    c1_best = np.full(k, np.nan)
    s_best = np.full(k, np.nan)
    lag_best = np.zeros(k)
    p = 3 if lag_basis is None else 4
    jtj_best = np.full((k, p, p), np.nan)
    br_lo, br_hi = lo.copy(), hi.copy()
    a_prev = np.full(k, np.nan)
    g_prev = np.full(k, np.nan)
    converged = np.zeros(k, dtype=bool)
    active = (b.n >= 4) & (span > 0)
    fixed = _Fixed.of(y, tau, lag_basis)
    # working set: rows still iterating, compacted whenever a row has left it (the rows
    # would be gathered for the iteration anyway), so the first (all-rows) iterations copy
    # nothing and an iteration no row leaves copies nothing; every step is per row (same
    # numbers)
    ws = np.arange(k)
    y_w, tau_w, h_w = y, tau, lag_basis
    for _ in range(maxiter):
        act = active[ws]
        if not act.any():
            break
        if not act.all():
            ws, y_w, tau_w = ws[act], y_w[act], tau_w[act]
            h_w = None if h_w is None else h_w[act]
        idx = ws
        a_cur = a_try[idx]
        if h_w is None:
            ev = _evaluate(y_w, tau_w, n[idx], a_cur, fixed.take(idx))
        else:
            ev = _evaluate_lag(y_w, tau_w, n[idx], a_cur, h_w, fixed.take(idx))
            lag_best[idx] = np.asarray(ev.lag)
        finite = np.isfinite(ev.sse) & np.isfinite(ev.step)
        a_best[idx] = np.where(finite, a_cur, np.nan)
        c1_best[idx], s_best[idx], jtj_best[idx] = ev.c1, ev.s, ev.jtj
        # safeguarded Newton on the profile gradient (dSSE/da = −2·Jₐᵀr): keep a bracket
        # [br_lo, br_hi] around the minimum, bisect whenever the Gauss–Newton step leaves it
        up = ev.step > 0
        br_lo[idx] = np.where(up, a_cur, br_lo[idx])
        br_hi[idx] = np.where(up, br_hi[idx], a_cur)
        sp = span_safe[idx]
        newton = a_cur + np.clip(np.nan_to_num(ev.step), -2.0 / sp, 2.0 / sp)
        # secant on the gradient once two points are known (superlinear where Gauss–Newton
        # is only linear: large residuals, nearly straight closures)
        secant = a_cur - ev.jtr * safe_divide(a_cur - a_prev[idx], ev.jtr - g_prev[idx])
        newton = np.where(np.isfinite(secant), secant, newton)
        a_prev[idx], g_prev[idx] = a_cur, ev.jtr
        inside = (newton > br_lo[idx]) & (newton < br_hi[idx])
        # a step beyond an untried bound tries the bound itself (optimum outside the range)
        to_hi = (newton >= br_hi[idx]) & (br_hi[idx] == hi[idx]) & (a_cur != hi[idx])
        to_lo = (newton <= br_lo[idx]) & (br_lo[idx] == lo[idx]) & (a_cur != lo[idx])
        mid = 0.5 * (br_lo[idx] + br_hi[idx])
        a_new = np.where(inside, newton, np.where(to_hi, hi[idx], np.where(to_lo, lo[idx], mid)))
        a_try[idx] = a_new
        done = (np.abs(a_new - a_cur) * sp < tol) | ((br_hi[idx] - br_lo[idx]) * sp < tol)
        done |= ev.step == 0
        done |= ((a_cur >= hi[idx]) & up) | ((a_cur <= lo[idx]) & ~up)  # pinned on a bound
        converged[idx[done & finite]] = True
        active[idx[done | ~finite]] = False
    # final residuals and covariance at the best a
    g = _g_only(np.nan_to_num(a_best), tau, fixed.tmax)
    resid = (y - np.nan_to_num(c1_best)[:, None] * b.w - np.nan_to_num(s_best)[:, None] * g) * b.w
    if lag_basis is not None:
        resid -= np.nan_to_num(lag_best)[:, None] * lag_basis
    sse = np.einsum("ij,ij->i", resid, resid)
    cov, nonsing = _cov_from_jtj(jtj_best, safe_divide(sse, n - p))
    # on a bound: within the convergence tolerance (bisection approaches a bound from inside)
    near = 100 * tol / span_safe
    at_bound = (np.abs(a_best - lo) <= near) | (np.abs(a_best - hi) <= near)
    good = converged & nonsing & np.isfinite(a_best)
    nan = np.where(good | at_bound, 0.0, np.nan)
    return ExpCurve(
        c1=c1_best + c_mean + nan,
        s=s_best + nan,
        a=a_best + nan,
        t_ref=t_ref.copy(),
        span=span.copy(),
        cov=cov,
        sse=np.where(np.isfinite(a_best), sse, np.nan),
        n=b.n,
        converged=good,
        at_bound=at_bound & np.isfinite(a_best),
    )


@quiet
def solve_fixed_a(b: Batch, a: FloatArray, lag_basis: FloatArray | None = None) -> ExpCurve:
    """Least-squares (c₁, s) at a fixed curvature a (e.g. a κ bound) for a `Batch`.

    The covariance has var(a) = 0: a is not estimated.  With `lag_basis`, the transient
    term is fitted too (see `fit_exp_curve_batch`).
    """
    k = b.t.shape[0]
    n = b.n.astype(np.float64)
    t_ref = window_start(b)
    tau = (b.t - np.nan_to_num(t_ref)[:, None]) * b.w
    span = tau.max(axis=1) if tau.size else np.zeros(k)
    c_mean = safe_divide(b.wsum(b.c), n)
    y = (b.c - np.nan_to_num(c_mean)[:, None]) * b.w
    a_arr = np.asarray(a, dtype=np.float64)
    a0 = np.nan_to_num(a_arr)
    g, _ = _g_dg(a0, tau)
    fixed = _Fixed.of(y, tau, lag_basis)
    if lag_basis is None:
        ev = _evaluate(y, tau, n, a0, fixed)
        n_params = 2
    else:
        ev = _evaluate_lag(y, tau, n, a0, lag_basis, fixed)
        n_params = 3
    resid = (y - np.nan_to_num(ev.c1)[:, None] * b.w - np.nan_to_num(ev.s)[:, None] * g) * b.w
    if lag_basis is not None:
        resid -= np.nan_to_num(np.asarray(ev.lag))[:, None] * lag_basis
    sse = np.einsum("ij,ij->i", resid, resid)
    s2 = safe_divide(sse, n - n_params)
    cov = np.zeros((k, 3, 3))
    if lag_basis is None:
        det = ev.jtj[:, 0, 0] * ev.jtj[:, 1, 1] - ev.jtj[:, 0, 1] ** 2
        cov[:, 0, 0] = safe_divide(ev.jtj[:, 1, 1], det) * s2
        cov[:, 1, 1] = safe_divide(ev.jtj[:, 0, 0], det) * s2
        cov[:, 0, 1] = cov[:, 1, 0] = -safe_divide(ev.jtj[:, 0, 1], det) * s2
    else:
        minv, _ = inv_sym3(ev.jtj[:, :3, :3])
        cov[:, :2, :2] = minv[:, :2, :2] * s2[:, None, None]
    ok = (b.n >= n_params + 1) & np.isfinite(ev.s) & np.isfinite(a_arr)
    nan = np.where(ok, 0.0, np.nan)
    return ExpCurve(
        c1=ev.c1 + c_mean + nan,
        s=ev.s + nan,
        a=a_arr + nan,
        t_ref=t_ref,
        span=span,
        cov=cov,
        sse=sse + nan,
        n=b.n,
        converged=ok,
        at_bound=np.ones(k, dtype=bool),
    )


@dataclass(frozen=True)
class ExponentialFit:
    """LI-COR exponential fit per closure; fields of shape (k,).

    Attributes
    ----------
    slope, slope_se : ∂C′/∂t at t₀, a(C′ₓ − C′₀), and its standard error [conc per time]
    t0 : time at which the curve passes through C′₀ [time unit]
    a : curvature [time unit⁻¹]
    cx : asymptote C′ₓ [concentration unit]
    curve : the underlying `ExpCurve`
    sse, aicc, n : residual sum of squares [conc²], AICc [-], samples [-]
    ok : converged, a strictly inside its bounds, finite slope
    """

    slope: FloatArray
    slope_se: FloatArray
    t0: FloatArray
    a: FloatArray
    cx: FloatArray
    curve: ExpCurve
    sse: FloatArray
    aicc: FloatArray
    n: IntArray
    ok: BoolArray

    n_params = 3


@quiet
def exponential_from_curve(curve: ExpCurve, c0: FloatArray) -> ExponentialFit:
    """LI-COR slope a(C′ₓ − C′₀) at t₀ from a fitted `ExpCurve` and C′₀."""
    slope, se = curve.slope_at_level(c0)
    # a on its lower bound 0 is the straight line (no curvature): a valid LI-COR fit whose
    # slope is the line's; on the upper bound the curve is a step, not a closure
    line = curve.at_bound & (np.abs(curve.a * curve.span) < 1e-6)
    ok = curve.converged & (~curve.at_bound | line) & np.isfinite(slope) & np.isfinite(se)
    nan = np.where(ok, 0.0, np.nan)
    return ExponentialFit(
        slope=slope + nan,
        slope_se=se + nan,
        t0=curve.time_at_level(c0) + nan,
        a=curve.a + nan,
        cx=curve.asymptote() + nan,
        curve=curve,
        sse=curve.sse + nan,
        aicc=gaussian_aicc(curve.sse, curve.n, 3) + nan,
        n=curve.n,
        ok=ok,
    )


def fit_exponential(
    t: npt.ArrayLike,
    c: npt.ArrayLike,
    c0: npt.ArrayLike,
    mask: npt.ArrayLike | None = None,
    *,
    a_start: npt.ArrayLike | None = None,
) -> ExponentialFit:
    """LI-COR exponential fit C′(t) = C′ₓ + (C′₀ − C′ₓ)·e^{−a(t − t₀)} of a padded batch.

    Parameters
    ----------
    t : array_like, shape (k, m) or (m,)
        Sample times [s].
    c : array_like, same shape
        Dry mole fractions C′ [µmol mol⁻¹] of the fit window.
    c0 : array_like, shape (k,)
        Initial value C′₀ at lid closing [µmol mol⁻¹] (see `soilflux.flux.initial_values`).
    mask : array_like of bool, optional
        Samples in the fit window.
    a_start : array_like, shape (k,), optional
        Start value of a [s⁻¹].

    Returns
    -------
    ExponentialFit
        slope = a(C′ₓ − C′₀) [µmol mol⁻¹ s⁻¹] (LI-8100A appendix D, eq. D-2).
    """
    b = make_batch(t, c, mask)
    start = None if a_start is None else np.atleast_1d(np.asarray(a_start, dtype=np.float64))
    curve = fit_exp_curve_batch(b, start)
    return exponential_from_curve(curve, np.atleast_1d(np.asarray(c0, dtype=np.float64)))
