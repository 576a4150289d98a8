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

The building blocks of the batched fits are public too, for fits of other curves built
the same way (``fluxfleet.sensor_lag`` fits the sensor's response to a flush with them):
`Batch` and `make_batch` (padded, masked, weighted arrays), `centred` and
`centred_regression` (weighted least squares on centred columns), `grid_minimum` (a
profile's minimum on a grid, refined by a parabola), `safe_divide`, `safe_sqrt` and the
`quiet` decorator (NaN instead of floating-point warnings on empty rows).
"""

from soilflux.fit._batch import (
    Batch,
    BoolArray,
    FloatArray,
    IntArray,
    make_batch,
    quiet,
    safe_divide,
    safe_sqrt,
)
from soilflux.fit._lstsq import centred, centred_regression
from soilflux.fit._profile import GridMinimum, grid_minimum
from soilflux.fit.exponential import ExponentialFit, fit_exponential
from soilflux.fit.hm import HMFit, fit_hm
from soilflux.fit.linear import LinearFit, fit_linear
from soilflux.fit.quadratic import QuadraticFit, fit_quadratic
from soilflux.fit.robust import RobustLinearFit, fit_robust_linear

__all__ = [
    "Batch",
    "BoolArray",
    "ExponentialFit",
    "FloatArray",
    "GridMinimum",
    "HMFit",
    "IntArray",
    "LinearFit",
    "QuadraticFit",
    "RobustLinearFit",
    "centred",
    "centred_regression",
    "fit_exponential",
    "fit_hm",
    "fit_linear",
    "fit_quadratic",
    "fit_robust_linear",
    "grid_minimum",
    "make_batch",
    "quiet",
    "safe_divide",
    "safe_sqrt",
]
