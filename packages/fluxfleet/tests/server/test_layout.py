"""The store's samples in soilflux's generic layout (what ``fluxfleet export`` writes)."""

from __future__ import annotations

import math

import pyarrow as pa  # type: ignore[import-untyped]
from fluxfleet.ingest.layout import generic_samples, generic_samples_table
from fluxfleet.store import schema


def _samples(rows: list[dict[str, object]]) -> pa.Table:
    base = {
        "location": "5.1.A", "boot": 1, "rh_percent": 60.0, "scd30_temperature_c": 20.0,
        "temperature_c": 18.0, "pressure_hpa": 1000.0, "lux": 0.0, "lid_deg": 0,
        "fan_pct": 40, "flags": 0, "co2_ppm": 420.0,
    }  # fmt: skip
    full = [{**base, **r, "received": r["time"]} for r in rows]
    return pa.Table.from_pylist(full, schema=schema.SAMPLES)


def test_rows_in_each_devices_seq_order_even_where_its_clock_stepped_back() -> None:
    # as the store reads them: by device and time; b's clock was set back by NTP at seq 3
    rows = [
        {"device": "a", "seq": 1, "time": 1_000, "cyc": 7, "phase": "open"},
        {"device": "a", "seq": 2, "time": 4_000, "cyc": 7, "phase": "closing"},
        {"device": "b", "seq": 3, "time": 2_000, "cyc": 9, "phase": "extended"},
        {"device": "b", "seq": 1, "time": 60_000, "cyc": 9, "phase": "closed"},
        {"device": "b", "seq": 2, "time": 63_000, "cyc": 9, "phase": "flush"},
    ]
    out = generic_samples_table(_samples(rows), 2000.0, 300.0)
    assert out["device"].to_pylist() == ["a", "a", "b", "b", "b"]
    assert out["seq"].to_pylist() == [1, 2, 1, 2, 3]
    assert out["phase"].to_pylist() == ["open", "closing", "closed", "flush", "closed"]
    assert out["firmware_phase"].to_pylist() == ["open", "closing", "closed", "flush", "extended"]
    assert out["closure_id"].to_pylist() == [None, "7", "9", None, "9"]
    assert out["volume_cm3"].to_pylist() == [2000.0] * 5
    assert out["area_cm2"].to_pylist() == [300.0] * 5


def test_water_vapour_only_where_its_inputs_are_valid() -> None:
    rows = [
        {"device": "a", "seq": 1, "time": 0, "cyc": 1, "phase": "open"},
        {"device": "a", "seq": 2, "time": 3_000, "cyc": 1, "phase": "open",
         "scd30_temperature_c": 55.0},  # outside e_s's validity range
        {"device": "a", "seq": 3, "time": 6_000, "cyc": 1, "phase": "open", "rh_percent": None},
    ]  # fmt: skip
    h2o = generic_samples_table(_samples(rows), 2000.0, 300.0)["h2o_mmol_mol"].to_pylist()
    # W = 1000 · RH/100 · e_s(20 °C) / P with e_s ≈ 2.338 kPa (Buck) and P = 100 kPa
    assert 13.5 < h2o[0] < 14.5
    assert math.isnan(h2o[1])
    assert math.isnan(h2o[2])


def test_frame_is_the_tables_pandas_view() -> None:
    rows = [
        {"device": "a", "seq": 2, "time": 3_000, "cyc": 4, "phase": "closed"},
        {"device": "a", "seq": 1, "time": 6_000, "cyc": 4, "phase": "open"},
    ]
    frame = generic_samples(_samples(rows), 2000.0, 300.0)
    assert frame["seq"].tolist() == [1, 2]
    assert str(frame["closure_id"].dtype) == "string"
    assert frame["closure_id"].isna().tolist() == [True, False]
