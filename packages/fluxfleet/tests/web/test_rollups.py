"""web.rollups: a result is kept while the store's fluxes are unchanged, and computed
again once a flux is stored, recomputed or deleted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from fluxfleet.store import open_store, schema
from fluxfleet.web import rollups

T0 = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def _fluxes(cycles: range, computed: dt.datetime) -> pa.Table:
    n = len(cycles)
    return pa.table(
        {
            "device": ["ch000"] * n,
            "cyc": list(cycles),
            "location": ["5.1.A"] * n,
            "start": [T0 + dt.timedelta(minutes=10 * c) for c in cycles],
            "end": [T0 + dt.timedelta(minutes=10 * c + 3) for c in cycles],
            "flux_umol_m2_s": [1.0 + c for c in cycles],
            "flux_se_umol_m2_s": [0.1] * n,
            "model": ["hm"] * n,
            "flags": [""] * n,
            "n_fit": [53] * n,
            "r2": [0.99] * n,
            "deadband_s": [20.0] * n,
            "computed": [computed] * n,
        }
    ).cast(schema.FLUXES)


@pytest.fixture
def url(tmp_path: Path) -> str:
    rollups.clear()
    url = f"duckdb:///{tmp_path}/fleet.duckdb"
    with open_store(url) as st:
        st.write_fluxes(_fluxes(range(3), T0))
    return url


def _mean(url: str, calls: list[int], key: str = "k") -> pd.DataFrame:
    with open_store(url, read_only=True) as st:

        def compute() -> pd.DataFrame:
            calls.append(1)
            return st.read("fluxes").to_pandas()[["cyc", "flux_umol_m2_s"]]

        return rollups.cached(st, "mean", key, compute)


def test_kept_while_the_fluxes_are_unchanged(url: str) -> None:
    calls: list[int] = []
    first = _mean(url, calls)
    first["flux_umol_m2_s"] = 0.0  # a caller's change does not reach the kept result
    again = _mean(url, calls)
    assert len(calls) == 1
    assert again["flux_umol_m2_s"].tolist() == [1.0, 2.0, 3.0]
    _mean(url, calls, key="other")
    assert len(calls) == 2


def test_computed_again_after_a_new_or_recomputed_flux(url: str) -> None:
    calls: list[int] = []
    _mean(url, calls)
    with open_store(url) as st:
        st.write_fluxes(_fluxes(range(3, 4), T0))  # a new closure, same computed time
    assert _mean(url, calls)["cyc"].tolist() == [0, 1, 2, 3]
    with open_store(url) as st:  # cycle 1 recomputed later: same count, newer computed
        st.execute([("DELETE FROM fluxes WHERE cyc = 1", [])])
        st.write_fluxes(_fluxes(range(1, 2), T0 + dt.timedelta(hours=1)))
    assert len(_mean(url, calls)) == 4
    with open_store(url) as st:
        st.execute([("DELETE FROM fluxes WHERE cyc = 0", [])])
    assert _mean(url, calls)["cyc"].tolist() == [1, 2, 3]
    assert len(calls) == 4


def _samples(seqs: range, received: dt.datetime) -> pa.Table:
    rows = [
        {"device": "ch000", "seq": q, "time": T0 + dt.timedelta(seconds=3 * q),
         "location": "5.1.A", "boot": 1, "cyc": 0, "phase": "open", "co2_ppm": 420.0 + q,
         "rh_percent": 60.0, "scd30_temperature_c": 20.0, "temperature_c": 18.0,
         "pressure_hpa": 1013.0, "lux": 0.0, "lid_deg": 90, "fan_pct": 40, "flags": 0,
         "received": received}
        for q in seqs
    ]  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema.SAMPLES)


def test_kept_by_the_samples_of_a_window(url: str) -> None:
    """A read of samples is kept while its window's samples are unchanged: a sample
    stored inside the window computes it again, one outside does not."""
    from fluxfleet.store import Batch

    window = (T0, T0 + dt.timedelta(minutes=1))  # seq 0..19
    with open_store(url) as st:
        st.write(Batch(samples=_samples(range(10), T0)))
    calls: list[int] = []

    def read() -> list[float]:
        with open_store(url, read_only=True) as st:

            def compute() -> list[float]:
                calls.append(1)
                return st.read("samples", *window)["co2_ppm"].to_pylist()

            return rollups.cached(
                st, "co2", window, compute, lambda s: rollups.samples_version(s, *window)
            )

    assert read() == [420.0 + q for q in range(10)]
    assert read() == [420.0 + q for q in range(10)]
    assert len(calls) == 1
    with open_store(url) as st:
        st.write(Batch(samples=_samples(range(100, 101), T0)))  # outside the window
    read()
    assert len(calls) == 1
    with open_store(url) as st:
        st.write(Batch(samples=_samples(range(10, 12), T0)))  # inside
    assert read() == [420.0 + q for q in range(12)]
    assert len(calls) == 2
