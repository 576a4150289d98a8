"""End to end: ``fluxfleet sim`` → Mosquitto → ``fluxfleet ingest`` → store, on each backend.

Every sample once (no seq gap, no duplicate), a closure row for every closure the
simulator finished, a flux for every closure row, and those fluxes equal to what
``soilflux compute`` gives on the samples ``fluxfleet export`` writes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fluxfleet.store import open_store

from .conftest import (
    FLUXFLEET,
    IngestProcess,
    check_samples,
    ram_loss_allowance,
    run_sim,
    truth_samples,
)

pytestmark = pytest.mark.slow

CHAMBERS, HOURS = 12, 6.0


def test_sim_to_store_every_sample_once(broker: Any, store_url: str, tmp_path: Path) -> None:
    ingest = IngestProcess(
        broker.url, store_url, tmp_path, "--client-id", "e2e", "--idle-exit-s", "5"
    )
    truth = tmp_path / "truth.parquet"
    run_sim(broker.url, truth, CHAMBERS, HOURS, "--seed", "3")
    log = ingest.wait()
    taken = truth_samples(truth)
    closures_truth = pd.read_parquet(truth)
    with open_store(store_url) as st:
        n, devices, gaps = check_samples(st)
        closures = st.read("closures").to_pandas()
        fluxes = st.read("fluxes").to_pandas()
        dead = st.read("dead_letters").num_rows
    print(
        f"\n{store_url.split(':')[0]}: taken {taken}, stored {n} from {devices} devices, "
        f"{gaps} seq gaps, {len(closures)} closure rows ({len(closures_truth)} in the truth, "
        f"{int(closures_truth['complete'].sum())} complete), {len(fluxes)} fluxes, "
        f"{dead} dead letters\n{log.splitlines()[-1]}"
    )
    assert devices == CHAMBERS
    # the store loses nothing; only the firmware's own RAM loss at an unplanned reset
    # shows, as one seq gap that never repeats a seq (see ram_loss_allowance)
    allowed = ram_loss_allowance(truth)
    assert 0 <= taken - n <= allowed
    assert gaps <= allowed
    assert dead == 0
    complete = closures_truth[closures_truth["complete"]]
    want = set(zip(complete["chamber"], complete["cyc"], strict=True))
    have = set(zip(closures["device"], closures["cyc"], strict=True))
    assert want <= have, f"closures missing from the store: {sorted(want - have)[:10]}"
    assert set(zip(fluxes["device"], fluxes["cyc"], strict=True)) == have

    # the stored (live) fluxes are what soilflux computes offline on the exported samples
    export = tmp_path / "samples.parquet"
    out = subprocess.run(
        [FLUXFLEET, "export", "--store", store_url, "--table", "samples", "-o", str(export)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    offline = tmp_path / "offline.csv"
    sf = Path(FLUXFLEET).with_name("soilflux")
    out = subprocess.run(
        [str(sf), "compute", str(export), "--hm-fallback", "shared", "--sensor-lag-s", "20",
         "-o", str(offline), "-q"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    off = pd.read_csv(offline, dtype={"closure_id": str})
    off = off[off["gas"].str.startswith("co2")]
    off = off.assign(device=off["chamber"], cyc=off["closure_id"].astype(int))
    both = fluxes.merge(off, on=["device", "cyc"], suffixes=("", "_offline"))
    assert len(both) == len(fluxes)
    np.testing.assert_allclose(
        both["flux_umol_m2_s"], both["flux_umol_m2_s_offline"], rtol=1e-12, atol=0
    )
    assert both["flux_umol_m2_s"].notna().sum() > 0.9 * len(both)
    for col in ("model", "flags"):  # no model / no flag: None in the store, empty in CSV
        stored = both[col].fillna("").astype(str).tolist()
        assert stored == both[f"{col}_offline"].fillna("").astype(str).tolist(), col
