"""Print the passive-regenerator validation table of docs/amrr/cycle.md.

Run: ``python3 -m uv run --frozen python tools/amrr_effectiveness_table.py``

For each NTU (1–500) and utilisation U (0.01–1): ε of the cycle solver (default grid,
Anderson to 1e-10 K), ε of the independent first-order reference
(:mod:`amrr.cycle.reference`, Richardson-extrapolated) and their relative difference; and
the small-U limit NTU/(2 + NTU).
"""

from __future__ import annotations

from amrr.cycle import passive_effectiveness, small_utilisation_limit
from amrr.cycle.reference import reference_effectiveness

NTUS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 500.0)
US = (0.01, 0.03, 0.1, 0.3, 1.0)


def main() -> None:
    print("| NTU | U | ε solver | ε reference | rel. difference | NTU/(2+NTU) |")
    print("|---:|---:|---:|---:|---:|---:|")
    worst = 0.0
    for ntu in NTUS:
        for u in US:
            got = passive_effectiveness(ntu, u, method="anderson").effectiveness
            ref = reference_effectiveness(ntu, u)
            rel = (got - ref) / ref
            worst = max(worst, abs(rel))
            print(
                f"| {ntu:g} | {u:g} | {got:.6f} | {ref:.6f} | {rel:+.2e} | "
                f"{small_utilisation_limit(ntu):.6f} |",
                flush=True,
            )
    print(f"\nlargest |relative difference|: {worst:.2e}")


if __name__ == "__main__":
    main()
