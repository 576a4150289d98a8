"""The soilflux options the fleet computes its fluxes with.

Every chamber closes every 10 min and carries an SCD30 (τ63 = 20 s, a few ppm of noise per
3-s reading), so the platform uses soilflux's chamber-shared HM (``hm_fallback="shared"``,
`soilflux.fit.shared`): the curvature κ of each pot's rise is fitted jointly over the
chamber's good closures within ±3 h, the sensor's lag is part of the model from the lid
closing, and each closure's flux is a two-parameter regression.  On the simulated fleet at
3 ppm that puts 69 % of valid night closures within ±5 % of the truth against 33 % for the
per-closure kappa.max rule, median error −0.1 % (benchmarks/RESULTS.md, 2026-11-21, "the
chamber-shared HM").  Closures without enough neighbours (a chamber's first hours) fall back
to the kappa.max rule.
"""

from __future__ import annotations

from soilflux.options import SCD30_RESPONSE_TIME_S, FluxOptions

FLEET_FLUX_OPTIONS = FluxOptions(hm_fallback="shared", sensor_lag_s=SCD30_RESPONSE_TIME_S)
"""Options of ``soilflux.pipeline.compute_fluxes`` for the fleet's closures."""
