"""Options of the flux computation, declared once.

`FluxOptions` is the single place where every tunable of `soilflux.pipeline.compute_fluxes`
lives, with its unit in its name and its default documented.  It is a frozen dataclass, so a
set of options can be shared and compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Method = Literal["auto", "linear", "robust", "exp", "hm", "quadratic", "hm_shared", "hm_averaged"]
MdfForm = Literal["christiansen", "nickerson"]
HmFallback = Literal["averaged", "pooled", "robust", "shared"]

METHODS: tuple[str, ...] = (
    "auto",
    "linear",
    "robust",
    "exp",
    "hm",
    "quadratic",
    "hm_shared",
    "hm_averaged",
)

#: Sensirion SCD30 datasheet (v1.0, 2020): CO2 repeatability ±10 ppm.  Used as the default
#: analyser precision A_a [µmol mol⁻¹] of CO2 in the minimal detectable flux and κ_max.
SCD30_REPEATABILITY_PPM = 10.0

#: Sensirion SCD30 datasheet: CO2 response time τ63 = 20 s (first-order sensor lag) [s].
SCD30_RESPONSE_TIME_S = 20.0

#: Default analyser precision per gas [µmol mol⁻¹] (1σ) where `precision_ppm` is not given.
#: CO2: SCD30 repeatability (datasheet).  CH4: LI-COR LI-7810 datasheet, 0.6 ppb at 1 s.
#: N2O: LI-COR LI-7820 datasheet, 0.4 ppb at 1 s.
DEFAULT_PRECISION_PPM: Mapping[str, float] = MappingProxyType(
    {"co2": SCD30_REPEATABILITY_PPM, "ch4": 0.6e-3, "n2o": 0.4e-3}
)


@dataclass(frozen=True)
class FluxOptions:
    """Options of `soilflux.pipeline.compute_fluxes`.

    Attributes
    ----------
    deadband_s : float or "auto"
        Time skipped after the lid closes before the fit window starts [s].  ``"auto"``
        chooses it per closure (`soilflux.deadband.auto_deadband`).  A closure's own
        ``deadband_s`` (e.g. from a LI-COR file) takes precedence.
    method : {"auto", "linear", "robust", "exp", "hm", "quadratic", "hm_shared", "hm_averaged"}
        Model whose flux becomes ``flux_umol_m2_s``.  ``"auto"`` applies the selection
        rule `hm_fallback`.  ``"hm_averaged"``: the lag-aware HM averaged over κ
        (`soilflux.fit.averaged`).  ``"hm_shared"``: the HM
        curve with κ shared by the chamber's neighbouring closures (`soilflux.fit.shared`);
        closures without a pool get no flux (``fit_failed``).
    precision_ppm : float or None
        Analyser precision A_a (1σ) for CO2 [µmol mol⁻¹]; None → SCD30 datasheet
        repeatability, 10 ppm.  Other gases use `DEFAULT_PRECISION_PPM` unless given in
        `gas_precision_ppm`.
    lux_threshold : float
        ``daylight`` flag when the closure's mean illuminance exceeds it [lx].
    flux_threshold_umol_m2_s : float
        ``below_threshold`` flag when the selected CO2 flux is below it [µmol m⁻² s⁻¹].
    min_samples : int
        ``short`` flag (and no fit) when the fit window holds fewer samples [-].
    chunk_closures : int
        Closures processed together; bounds memory (about 40 float64 arrays of
        chunk_closures × samples-per-closure per worker) [-].  A few thousand keeps the
        arrays in the CPU caches.
    workers : int or None
        Threads working on chunks at once; None → min(2, CPU count).
    initial_window_s : float
        Length of the regressions giving P0, T0, W0 and C′0 at the lid-closing instant [s]
        (LI-COR: 10 s).
    initial_window_closed : bool
        False (default): those regressions take the samples with 0 ≤ t < `initial_window_s`,
        as the LI-8100A/8150 firmware does (its ``.81x`` Type-2 initial values: 10 samples at
        1 Hz).  True: 0 ≤ t ≤ `initial_window_s`, as the 8200-01S Smart Chamber firmware
        does (its JSON footers' P_o, T_o, W_o and C_o: 11 samples from t = 0 s, 10 from
        t = 1 s).  Only C′0 (the exponential and quadratic slopes at C′0) and, by less than
        1e-5 relative, the flux term depend on it.  See docs/soilflux/methods.md §7.1.
    auto_deadband_min_s, auto_deadband_max_s : float
        Range searched by the automatic dead band [s].  The lower end is raised to one
        (with `lag_compensation`) or `lag_multiple` sensor time constants `sensor_lag_s`.
    sensor_lag_s : float
        First-order response time of the gas analyser [s]; default: SCD30 datasheet, 20 s.
        Set it to the analyser's (≈1 s for LI-COR analysers) for other instruments.
    lag_compensation : bool
        With the automatic dead band, fit the sensor's first-order transient B·e^{−t/τ_s} as
        an extra term of every model (`soilflux.fit.lag`) on closures without a dead band of
        their own; the dead band then skips only one time constant.  A fixed dead band
        (option or file) means plain models: the caller has chosen the window.
    lag_multiple : float
        Without lag compensation, the automatic dead band skips at least this many sensor
        time constants, so that the transient has decayed to e^{−lag_multiple} [-].
    mdf_form : {"christiansen", "nickerson"}
        Which minimal detectable flux goes into the ``mdf`` column.
    g_factor_limit : float
        HM is not selected when |F_HM / F_linear| exceeds it (goFlux default 2) [-].
    hm_max_relative_se : float
        HM is not selected when its flux standard error exceeds this fraction of |F_HM| [-].
    hm_fallback : {"averaged", "robust", "pooled", "shared"}
        The selection rule of ``method="auto"``.  ``"averaged"`` (default): model
        ``"hm_averaged"``, the posterior median of the initial slope of the analyser-lagged
        HM curve fitted from the lid closing, averaged over a prior of straight (κ = 0,
        probability `averaged_prior_straight`) and curved rises (κ·T from
        `averaged_min_kappa_span` to `averaged_max_kappa_span`), per closure
        (`soilflux.fit.averaged`); where it has no fit, the robust line, else the linear
        fit.  ``"pooled"`` (opt-in): the robust line
        divided by the factor by which a line through an HM curve falls below its initial
        slope, at the closure's κ shrunk toward the call's pooled κ (model ``"hm_pooled"``;
        HM itself only where it is sound and κ̂·T > 2); it over-corrects where noise hides κ
        (+10.9 % median on the simulated SCD30 fleet at 3 ppm, methods §5.1), hence not the
        default.  ``"robust"`` (the default until 2026-12): HM where sound, else the robust
        line as it is (gasfluxes' kappa.max rule with goFlux's g-factor), per closure.  ``"shared"``
        (opt-in; for fleets of chambers closing every few minutes): model ``"hm_shared"``
        wherever the closure's chamber has at least `shared_min_closures` good closures
        within `shared_window_s` (`soilflux.fit.shared`: HM with κ fitted jointly over them,
        the analyser's lag from equilibrium, the window from the lid closing), else the
        ``"robust"`` rule.  See docs/soilflux/methods.md §5.
    averaged_prior_straight : float
        With ``"averaged"``: prior probability that a closure is straight (κ = 0) [-].
    averaged_max_kappa_span : float
        With ``"averaged"``: largest κ·T of the curved prior, T the window's length [-].
    averaged_min_kappa_span : float
        With ``"averaged"``: smallest κ·T of the curved prior, ≤ 0 (< 0: rises bending
        upward, which noise makes of straight ones as often as downward; 0: none) [-].
    averaged_max_variance_ratio : float
        With ``"averaged"``: the closure keeps the kappa.max rule when the residual variance
        of the averaged HM (lag fixed from the lid closing) exceeds this multiple of the
        free-lag exponential's on the main window (the record does not follow the assumed
        lag: another analyser, no equilibrium at closing) [-].
    pooled_min_closures : int
        With ``"pooled"``: calls of fewer closures (e.g. one closure computed live) use the
        ``"robust"`` rule, since there is no pool to borrow κ from [-].
    pooled_calibration_relative_se : float
        With ``"pooled"``: closures whose sound HM flux has a relative standard error below
        this calibrate the line's curvature correction against HM (the sensor lag) [-].
    shared_window_s : float
        With ``"hm_shared"``: closures of the same chamber starting within ±half this of a
        closure's start share its κ [s].
    shared_min_closures : int
        With ``"hm_shared"``: fewer good closures in the window → no shared κ [-].
    shared_deadband_s : float
        With ``"hm_shared"``: the window starts this long after the lid closed, for closures
        without a dead band of their own (the model carries the sensor lag, so 0 s) [s].
    saturation_fraction : float
        ``saturated`` flag when the fitted curve has covered this fraction of its rise to
        the asymptote by the end of the window (and the record rises by at least
        `stuck_co2_rise_ppm`, so that noise is not called a curve) [-].
    analyser_max_ppm : float
        ``saturated`` flag when a CO2 reading reaches the analyser's upper range [µmol mol⁻¹]
        (SCD30: 10 000 ppm specified range).
    stuck_co2_rise_ppm : float
        ``stuck_chamber`` needs the fitted CO2 change across the window to be below this
        [µmol mol⁻¹] (the fleet firmware's own 5 ppm rule).
    stuck_h2o_change_mmol_mol : float
        ... and the water mole fraction not risen across the closure by this [mmol mol⁻¹]
        (a sealed chamber over soil only gains water; a fall means exchange with drier air).
    clogged_flux_umol_m2_s : float
        ``clogged``: |selected CO2 flux| below this, or not different from zero by
        `clogged_z` standard errors, while the chamber otherwise works [µmol m⁻² s⁻¹].
    clogged_z : float
        See `clogged_flux_umol_m2_s` [-].
    not_flushed_ppm : float
        ``not_flushed`` (and ``stuck_chamber``) when a closure's C′₀ exceeds the lowest C′₀
        of the same chamber's closures of the preceding `not_flushed_window_s` by more than
        this [µmol mol⁻¹] (`soilflux.qc.not_flushed`).
    not_flushed_window_s : float
        See `not_flushed_ppm` [s].
    not_flushed_step_fraction : float
        ... or when C′₀ rose from the previous closure's (at most `not_flushed_max_gap_s`
        earlier) by at least this fraction of that closure's own CO2 rise [-] ...
    not_flushed_min_step_ppm : float
        ... and by at least this [µmol mol⁻¹].
    not_flushed_max_gap_s : float
        See `not_flushed_step_fraction` [s].
    gap_factor : float
        ``gap`` flag when a step between window samples exceeds this multiple of the
        closure's median sampling step [-].
    gas_precision_ppm : mapping of gas → float
        Analyser precision for gases other than CO2 [µmol mol⁻¹].
    """

    deadband_s: float | Literal["auto"] = "auto"
    method: Method = "auto"
    precision_ppm: float | None = None
    lux_threshold: float = 10.0
    flux_threshold_umol_m2_s: float = 0.1
    min_samples: int = 5
    chunk_closures: int = 2_000
    workers: int | None = None
    initial_window_s: float = 10.0
    initial_window_closed: bool = False
    auto_deadband_min_s: float = 0.0
    auto_deadband_max_s: float = 60.0
    sensor_lag_s: float = SCD30_RESPONSE_TIME_S
    lag_compensation: bool = True
    lag_multiple: float = 4.0
    mdf_form: MdfForm = "christiansen"
    g_factor_limit: float = 2.0
    hm_max_relative_se: float = 0.5
    hm_fallback: HmFallback = "averaged"
    averaged_prior_straight: float = 0.03
    averaged_max_kappa_span: float = 2.0
    averaged_min_kappa_span: float = -1.0
    averaged_max_variance_ratio: float = 1.5
    pooled_min_closures: int = 20
    pooled_calibration_relative_se: float = 0.1
    shared_window_s: float = 6 * 3600.0
    shared_min_closures: int = 6
    shared_deadband_s: float = 0.0
    saturation_fraction: float = 0.8
    analyser_max_ppm: float = 10_000.0
    stuck_co2_rise_ppm: float = 5.0
    stuck_h2o_change_mmol_mol: float = 0.1
    clogged_flux_umol_m2_s: float = 0.05
    clogged_z: float = 2.0
    gap_factor: float = 3.0
    not_flushed_ppm: float = 100.0
    not_flushed_window_s: float = 6 * 3600.0
    not_flushed_step_fraction: float = 0.5
    not_flushed_min_step_ppm: float = 25.0
    not_flushed_max_gap_s: float = 3600.0
    gas_precision_ppm: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_PRECISION_PPM)
    )

    def __post_init__(self) -> None:
        if isinstance(self.deadband_s, str):
            if self.deadband_s != "auto":
                raise ValueError(
                    f"deadband_s must be a number of seconds or 'auto', got {self.deadband_s!r}"
                )
        elif not (math.isfinite(self.deadband_s) and self.deadband_s >= 0):
            raise ValueError(f"deadband_s must be >= 0 s, got {self.deadband_s!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.mdf_form not in ("christiansen", "nickerson"):
            raise ValueError(
                f"mdf_form must be 'christiansen' or 'nickerson', got {self.mdf_form!r}"
            )
        if self.precision_ppm is not None and not self.precision_ppm > 0:
            raise ValueError(f"precision_ppm must be > 0 µmol/mol, got {self.precision_ppm!r}")
        if self.min_samples < 3:
            raise ValueError(f"min_samples must be >= 3, got {self.min_samples!r}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1 or None, got {self.workers!r}")
        if self.chunk_closures < 1:
            raise ValueError(f"chunk_closures must be >= 1, got {self.chunk_closures!r}")
        if not self.initial_window_s > 0:
            raise ValueError(f"initial_window_s must be > 0 s, got {self.initial_window_s!r}")
        if not 0 <= self.auto_deadband_min_s <= self.auto_deadband_max_s:
            raise ValueError(
                "need 0 <= auto_deadband_min_s <= auto_deadband_max_s, got "
                f"{self.auto_deadband_min_s!r}, {self.auto_deadband_max_s!r}"
            )
        if not (self.sensor_lag_s >= 0 and self.lag_multiple >= 0):
            raise ValueError(
                "sensor_lag_s and lag_multiple must be >= 0, got "
                f"{self.sensor_lag_s!r}, {self.lag_multiple!r}"
            )
        if not 0 < self.saturation_fraction < 1:
            raise ValueError(
                f"saturation_fraction must be in (0, 1), got {self.saturation_fraction!r}"
            )
        if self.hm_fallback not in ("averaged", "pooled", "robust", "shared"):
            raise ValueError(
                "hm_fallback must be 'averaged', 'pooled', 'robust' or 'shared', got "
                f"{self.hm_fallback!r}"
            )
        if not 0 < self.averaged_prior_straight < 1:
            raise ValueError(
                f"averaged_prior_straight must be in (0, 1), got {self.averaged_prior_straight!r}"
            )
        if not self.averaged_max_variance_ratio >= 1:
            raise ValueError(
                "averaged_max_variance_ratio must be >= 1, got "
                f"{self.averaged_max_variance_ratio!r}"
            )
        if not (math.isfinite(self.averaged_max_kappa_span) and self.averaged_max_kappa_span > 0):
            raise ValueError(
                f"averaged_max_kappa_span must be > 0, got {self.averaged_max_kappa_span!r}"
            )
        if not (math.isfinite(self.averaged_min_kappa_span) and self.averaged_min_kappa_span <= 0):
            raise ValueError(
                f"averaged_min_kappa_span must be <= 0, got {self.averaged_min_kappa_span!r}"
            )
        if not (math.isfinite(self.shared_window_s) and self.shared_window_s > 0):
            raise ValueError(f"shared_window_s must be > 0 s, got {self.shared_window_s!r}")
        if self.shared_min_closures < 2:
            raise ValueError(f"shared_min_closures must be >= 2, got {self.shared_min_closures!r}")
        if not (math.isfinite(self.shared_deadband_s) and self.shared_deadband_s >= 0):
            raise ValueError(f"shared_deadband_s must be >= 0 s, got {self.shared_deadband_s!r}")
        if self.pooled_min_closures < 2:
            raise ValueError(f"pooled_min_closures must be >= 2, got {self.pooled_min_closures!r}")
        if not self.pooled_calibration_relative_se > 0:
            raise ValueError(
                "pooled_calibration_relative_se must be > 0, got "
                f"{self.pooled_calibration_relative_se!r}"
            )
        if not self.g_factor_limit >= 1:
            raise ValueError(f"g_factor_limit must be >= 1, got {self.g_factor_limit!r}")
        if not self.gap_factor > 1:
            raise ValueError(f"gap_factor must be > 1, got {self.gap_factor!r}")
        if not (
            self.not_flushed_ppm > 0
            and self.not_flushed_window_s >= 0
            and self.not_flushed_step_fraction > 0
            and self.not_flushed_min_step_ppm > 0
            and self.not_flushed_max_gap_s >= 0
        ):
            raise ValueError(
                "not_flushed_ppm, not_flushed_step_fraction and not_flushed_min_step_ppm must "
                "be > 0, not_flushed_window_s and not_flushed_max_gap_s >= 0"
            )
        for gas, value in self.gas_precision_ppm.items():
            if not value > 0:
                raise ValueError(f"gas_precision_ppm[{gas!r}] must be > 0 µmol/mol, got {value!r}")

    def precision_for(self, gas: str) -> float:
        """Analyser precision A_a of `gas` ("co2", "ch4", "n2o") [µmol mol⁻¹]."""
        if gas == "co2":
            return SCD30_REPEATABILITY_PPM if self.precision_ppm is None else self.precision_ppm
        if gas in self.gas_precision_ppm:
            return float(self.gas_precision_ppm[gas])
        if gas in DEFAULT_PRECISION_PPM:
            return DEFAULT_PRECISION_PPM[gas]
        raise ValueError(f"no analyser precision known for gas {gas!r}; set gas_precision_ppm")

    @property
    def initial_window_end_s(self) -> float:
        """Exclusive end of the initial-value window, as `soilflux.flux.initial_values` takes it.

        `initial_window_s`, or with `initial_window_closed` the next float above it: t < that
        exactly when t ≤ `initial_window_s` [s].
        """
        end = float(self.initial_window_s)
        return math.nextafter(end, math.inf) if self.initial_window_closed else end

    @property
    def averages_kappa(self) -> bool:
        """Whether the call computes the κ-averaged HM (model ``"hm_averaged"``)."""
        return self.method == "hm_averaged" or (
            self.method == "auto" and self.hm_fallback == "averaged"
        )

    @property
    def shares_kappa(self) -> bool:
        """Whether the call fits the chamber-shared HM (model ``"hm_shared"``)."""
        return self.method == "hm_shared" or (
            self.method == "auto" and self.hm_fallback == "shared"
        )

    def auto_deadband_range_s(self) -> tuple[float, float]:
        """(lowest, highest) dead band the automatic rule may choose [s]."""
        skip = 1.0 if self.lag_compensation else self.lag_multiple
        lo = max(self.auto_deadband_min_s, skip * self.sensor_lag_s)
        return lo, max(lo, self.auto_deadband_max_s)
