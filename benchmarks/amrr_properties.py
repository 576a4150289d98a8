"""Throughput of ``amrr.properties``: evaluations per second on 10⁶-point arrays.

Run: ``python3 -m uv run --frozen python benchmarks/amrr_properties.py [--points N] [--repeat R]``

Each family is called once on random state points inside its validity range (all
properties of the family are computed in that one call); the best of ``repeat`` wall-clock
times is reported. The first (cache-filling) call is made before timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import numpy as np
from amrr.properties import (
    concentrated_properties,
    fountain_pressure_Pa,
    helium4_svp,
    mixture_properties,
)
from amrr.properties.concentrated import PHASE_EQUILIBRIUM_FIT_CONSTANTS
from amrr.properties.paramagnet import paramagnet_properties
from amrr.properties.phase_diagram import superfluid_boundary_x3, x_concentrated, x_dilute
from amrr.properties.tabulated import EntropyTable
from amrr.properties.vapour_pressure import helium3_vapour_pressure_Pa


def families(n: int, rng: np.random.Generator) -> list[tuple[str, Callable[[], object]]]:
    T_ggg = rng.uniform(0.5, 2.0, n)
    B = rng.uniform(0.0, 2.0, n)
    T_he = rng.uniform(0.5, 2.15, n)
    T_mix = rng.uniform(0.15, 1.8, n)
    x_mix = rng.uniform(0.0, 1.0, n) * superfluid_boundary_x3(T_mix)
    T_sep = rng.uniform(0.15, 0.867, n)
    x_con = x_concentrated(T_sep) + rng.uniform(0.0, 1.0, n) * (1.0 - x_concentrated(T_sep))
    T_vp3 = rng.uniform(0.65, 3.2, n)
    grid_T = np.linspace(0.5, 2.5, 41)
    grid_B = np.linspace(0.0, 2.0, 41)
    S = paramagnet_properties(grid_T[:, None], grid_B, "GGG", model="ideal").entropy_J_kgK
    table = EntropyTable(grid_T, grid_B, S)
    return [
        ("GGG ideal Brillouin (S, C, M, dS/dT, dS/dB)",
         lambda: paramagnet_properties(T_ggg, B, "GGG", model="ideal")),
        ("GGG mean field θ=-2.3 K (self-consistent)",
         lambda: paramagnet_properties(T_ggg, B, "GGG", model="mean_field")),
        ("GGG internal field b=0.3 T",
         lambda: paramagnet_properties(T_ggg, B, "GGG", model="internal_field",
                                       internal_field_T=0.3)),
        ("GLF ideal Brillouin", lambda: paramagnet_properties(T_ggg, B, "GLF")),
        ("measured S(T,B) table (bicubic: S, dS/dT, dS/dB)", lambda: table(T_ggg, B)),
        ("He II at SVP (s, h, c, rho, rho_s, rho s)", lambda: helium4_svp(T_he)),
        ("He II fountain pressure", lambda: fountain_pressure_Pa(T_he, 0.9)),
        ("mixture phase-separation line x_dil", lambda: x_dilute(T_sep)),
        ("3He-4He mixture (g, s, h, C, mu3, mu4, pi)", lambda: mixture_properties(T_mix, x_mix)),
        ("concentrated phase, line match (default)",
         lambda: concentrated_properties(T_sep, x_con)),
        ("concentrated phase, four constants only",
         lambda: concentrated_properties(T_sep, x_con, params=PHASE_EQUILIBRIUM_FIT_CONSTANTS)),
        ("3He vapour pressure ITS-90 (Newton on ln p)", lambda: helium3_vapour_pressure_Pa(T_vp3)),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, numpy {np.__version__}")  # fmt: skip
    print(f"points per call: {args.points:,}; best of {args.repeat}\n")
    print(f"| {'property family':<50} | {'time [s]':>8} | {'evaluations/s':>13} |")
    print(f"|{'-' * 52}|{'-' * 10}|{'-' * 15}|")
    for name, fn in families(args.points, rng):
        fn()  # warm caches (spline construction, Fermi tables)
        best = min(_timed(fn) for _ in range(args.repeat))
        print(f"| {name:<50} | {best:8.3f} | {args.points / best:13.3g} |")


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
