"""Sensor-lag compensation: the first-order transient as an extra term of every model.

A gas analyser with a first-order response of time constant τ_s (the SCD30: τ63 = 20 s)
reports y with τ_s·dy/dt + y = C(t), y(0) = C(0).  For each model family soilflux fits, the
response to the model's curve is the same family plus one term:

* line C₀ + bt            → y = (C₀ − bτ_s) + bt + B e^{−t/τ_s}
* quadratic               → quadratic (coefficients shifted) + B e^{−t/τ_s}
* exponential c₁ + s(1 − e^{−aτ})/a → c₁′ + s′(1 − e^{−aτ})/a + B e^{−t/τ_s}, s′ = s/(1 − aτ_s)

(t since the lid closed).  Fitting B·e^{−t/τ_s} as an extra linear term therefore makes every
model exact for a first-order lag, and the window may start long before the transient has
died out.  The slope is then evaluated where the lag-free part of the curve passes through
C′₀ — for the exponential that gives exactly the true initial slope s (s′ e^{−at*} with
(1 − e^{−at*})/a = τ_s), for the line its slope b.

soilflux applies it to closures without a dead band of their own (generic and fleet records)
when `FluxOptions.sensor_lag_s > 0`; closures from LI-COR files keep the instrument's own
dead band and plain models, so they match the vendor's numbers.
"""

from __future__ import annotations

import numpy as np

from soilflux.fit._batch import FloatArray


def lag_basis(t_s: FloatArray, mask: FloatArray, tau_s: FloatArray | float) -> FloatArray:
    """The transient e^{−t/τ_s} on each closure's window, zero elsewhere.

    Parameters
    ----------
    t_s : (k, m) float
        Time since the lid closed [s].
    mask : (k, m) float or bool
        Window (1/True) or not.
    tau_s : (k,) float or float
        Sensor time constant [s]; 0 or NaN for a closure → no transient term (all zeros).

    Returns
    -------
    (k, m) float
    """
    tau = np.broadcast_to(np.asarray(tau_s, dtype=np.float64), (t_s.shape[0],))
    use = np.isfinite(tau) & (tau > 0)
    safe = np.where(use, tau, 1.0)
    h = np.exp(-np.where(np.asarray(mask, dtype=bool), t_s, np.inf) / safe[:, None])
    return np.where(use[:, None], h, 0.0)
