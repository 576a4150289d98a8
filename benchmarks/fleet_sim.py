"""Benchmark: a simulated fleet through a real Mosquitto — samples per second.

Starts Mosquitto on a free port (as the tests do), subscribes a counter to every
telemetry topic, runs ``--chambers`` virtual devices (the real firmware controller) for
``--hours`` simulated hours as fast as possible, and prints a table: samples taken by the
devices, samples received through the broker, wall time and samples/s.

    python benchmarks/fleet_sim.py                   # 50 chambers x 24 h (the target)
    python benchmarks/fleet_sim.py --hours 1         # a quick look
    python benchmarks/fleet_sim.py --accuracy        # soilflux vs truth, noise x method

``--accuracy`` runs no broker (in-process link, same firmware and samples): 24 chambers for
8 night hours (2023-09-15 20:00 UTC), for SCD30 noise 0, 1, 2 and 3 ppm, and prints for the
fleet's options (soilflux's chamber-shared HM) and each per-closure soilflux method the share
of valid night closures within ±5 % / ±10 % of the truth; then the fleet's flux when the
sensor's τ differs from the 20 s soilflux is told, and the information bound of one closure.
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def main() -> None:
    # imported here, not at the top: the simulation's worker processes (spawned) import
    # this module again and should not pay for the broker helpers
    from fluxfleet.sim.broker import find_mosquitto, local_mosquitto
    from fluxfleet.sim.collect import SampleCounter
    from fluxfleet.sim.faults import default_schedule
    from fluxfleet.sim.fleet import FleetConfig
    from fluxfleet.sim.runner import run_fleet

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chambers", type=int, default=50)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--faults", choices=("default", "none"), default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--accuracy", action="store_true", help="soilflux vs truth table instead")
    args = ap.parse_args()
    if args.accuracy:
        accuracy()
        return
    cfg = FleetConfig(chambers=args.chambers, duration_s=args.hours * 3600.0, seed=args.seed)
    faults = (
        default_schedule(cfg.chambers, cfg.duration_s, cfg.seed) if args.faults == "default" else []
    )
    exe = find_mosquitto()
    if exe is None:
        raise SystemExit("fleet_sim: mosquitto is not installed (apt-get install mosquitto)")
    with local_mosquitto(exe) as (host, port):
        counter = SampleCounter(host, port)
        t0 = time.monotonic()
        result = run_fleet(cfg, faults, (host, port), workers=args.workers)
        sim_wall = time.monotonic() - t0
        # wait for the counter to drain what is still in flight
        last, deadline = -1, time.monotonic() + 30
        while counter.samples != last and time.monotonic() < deadline:
            last = counter.samples
            time.sleep(0.5)
        counter.close()
    expected = int(cfg.chambers * cfg.duration_s / 3.0)
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"command: python benchmarks/fleet_sim.py --chambers {args.chambers} "
        f"--hours {args.hours:g} --workers {args.workers} --faults {args.faults}"
    )
    print()
    print(
        "| chambers | sim hours | workers | samples taken | samples received | "
        "messages | MB | wall s | samples/s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {cfg.chambers} | {args.hours:g} | {result.workers} | {result.samples:,} | "
        f"{counter.samples:,} | {counter.messages:,} | {counter.bytes / 1e6:.0f} | "
        f"{sim_wall:.1f} | {result.samples / sim_wall:,.0f} |"
    )
    print()
    print(
        f"nominal samples (chambers x hours x 1200): {expected:,}; closures in truth: "
        f"{len(result.closures):,}"
    )


def accuracy() -> None:
    """soilflux vs the simulator's truth for sensor noise × fit method (no broker)."""
    import datetime as dt
    from dataclasses import replace

    import pandas as pd
    from fluxfleet.flux_options import FLEET_FLUX_OPTIONS
    from fluxfleet.sim.collect import Gather
    from fluxfleet.sim.compare import Comparison, compare
    from fluxfleet.sim.fleet import Fleet, FleetConfig
    from fluxfleet.sim.sensors import SensorSpec
    from soilflux.options import FluxOptions

    start = dt.datetime(2023, 9, 15, 20, tzinfo=dt.UTC).timestamp()
    print("24 chambers x 8 night hours, seed 7; valid = no soilflux drop flag, no fault")
    print()
    print(
        "| SCD30 noise [ppm] | τ [s] | method | closures | within ±5 % | within ±10 % | "
        "median error | IQR of error | within 2 SE |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")

    def run(noise: float, tau: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        gather = Gather()
        spec = SensorSpec(co2_noise_ppm=noise, scd30_tau_s=tau)
        cfg = FleetConfig(chambers=24, start_s=start, duration_s=8 * 3600.0, seed=7, sensors=spec)
        fleet = Fleet(cfg, [], None, gather)
        fleet.run()
        return gather.samples(), gather.cycles(), fleet.truth.closures()

    def row(label: str, noise: float, tau: float, cmp: Comparison) -> None:
        err = cmp.night_valid()["rel_error"]
        print(
            f"| {noise:g} | {tau:g} | {label} | {len(err)} | {cmp.within(0.05):.1%} | "
            f"{cmp.within(0.10):.1%} | {err.median():+.1%} | "
            f"{err.quantile(0.75) - err.quantile(0.25):.1%} | {cmp.within_se(2.0):.1%} |",
            flush=True,
        )

    for noise, tau in ((0.0, 1e-6), (0.0, 20.0), (1.0, 20.0), (2.0, 20.0), (3.0, 20.0)):
        samples, cycles, truth = run(noise, tau)
        # the platform's options, told the sensor's τ (as measured from the flushes)
        fleet_opts = replace(FLEET_FLUX_OPTIONS, sensor_lag_s=tau)
        row("fleet (hm_shared)", noise, tau, compare(samples, cycles, truth, fleet_opts))
        for method in ("auto", "linear", "hm", "exp"):
            cmp = compare(samples, cycles, truth, FluxOptions(method=method))  # type: ignore[arg-type]
            row(method, noise, tau, cmp)
    print()
    print("The fleet's flux when soilflux is told τ = 20 s but the sensor's differs (1 ppm):")
    print()
    print(
        "| SCD30 noise [ppm] | τ [s] | method | closures | within ±5 % | within ±10 % | "
        "median error | IQR of error | within 2 SE |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for tau in (15.0, 18.0, 22.0, 25.0):
        s_, c_, t_ = run(1.0, tau)
        row("fleet, told 20 s", 1.0, tau, compare(s_, c_, t_, FLEET_FLUX_OPTIONS))
        row("auto, told 20 s", 1.0, tau, compare(s_, c_, t_, FluxOptions()))
    information_bound(truth)


def information_bound(truth: object) -> None:
    """Share within ±5 % an ideal unbiased straight-line fit could reach (white noise σ).

    For each valid night closure: SE of the OLS slope = σ / √Σ(t − t̄)² over the samples
    after a dead band, relative to the true initial dC′/dt; share = mean of
    P(|N(0, SE)| < 5 %). No curvature, no lag: an upper bound for any fit of one closure.
    """
    import numpy as np
    import pandas as pd
    from fluxfleet.sim.physics import air_molar_density_mol_m3
    from scipy.stats import norm

    t = truth if isinstance(truth, pd.DataFrame) else pd.DataFrame()
    t = t[t["complete"] & t["night"] & (t["faults"] == "")]
    rho = air_molar_density_mol_m3(t["pressure_kpa"] * 10.0, t["temperature_c"])
    column = rho * t["volume_cm3"] / t["area_cm2"] / 100.0 * (1 - t["h2o_start_mmol_mol"] / 1e3)
    dcdt = (t["flux_true_umol_m2_s"] / column).to_numpy()
    duration = (t["end"] - t["start"]).dt.total_seconds().to_numpy()
    print()
    print("Upper bound: ideal unbiased straight-line fit, white noise σ, 3-s samples")
    print()
    print("| dead band [s] | σ [ppm] | median relative SE | share within ±5 % |")
    print("|---:|---:|---:|---:|")
    for deadband in (0.0, 20.0, 40.0):
        n = np.floor((duration - deadband) / 3.0) + 1
        sxx = n * (n**2 - 1) / 12.0 * 9.0  # Σ(t − t̄)² of n samples 3 s apart
        for sigma in (1.0, 2.0, 3.0):
            se = sigma / np.sqrt(sxx) / dcdt
            share = float(np.mean(2 * norm.cdf(0.05 / se) - 1))
            print(f"| {deadband:g} | {sigma:g} | {np.median(se):.1%} | {share:.1%} |")


if __name__ == "__main__":
    main()
