"""Batched fits of chamber concentration curves, one module per model family.

Every fit takes padded (closures × samples) arrays of time and concentration with a mask and
returns a dataclass of (closures,) arrays, each with its standard error; nothing loops over
closures in Python.

| module | model |
|---|---|
| `linear` | ordinary least-squares line |
| `robust` | Huber M-estimator line (MASS::rlm) |
| `exponential` | LI-COR exponential, slope a(C′ₓ − C′₀) at t₀ |
| `hm` | Hutchinson–Mosier with 0 ≤ κ ≤ κ_max (Hüppi et al. 2018) |
| `quadratic` | second-order polynomial |
| `gasfluxes` | gasfluxes-compatible entry points on plain (t, C, V, A) |
"""

from soilflux.fit.exponential import ExponentialFit, fit_exponential
from soilflux.fit.hm import HMFit, fit_hm
from soilflux.fit.linear import LinearFit, fit_linear
from soilflux.fit.quadratic import QuadraticFit, fit_quadratic
from soilflux.fit.robust import RobustLinearFit, fit_robust_linear

__all__ = [
    "ExponentialFit",
    "HMFit",
    "LinearFit",
    "QuadraticFit",
    "RobustLinearFit",
    "fit_exponential",
    "fit_hm",
    "fit_linear",
    "fit_quadratic",
    "fit_robust_linear",
]
