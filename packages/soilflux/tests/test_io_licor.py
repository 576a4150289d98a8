"""LI-COR readers (.81x and Smart Chamber JSON) on hand-made files and the vendor's files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from soilflux.io import InputError, read, read_licor81x, read_licorjson

COLUMNS = "Type\tEtime\tDate\tTcham\tPressure\tH2O\tCO2\tCdry\tRH"


def record_81x(
    obs: int, rows: list[tuple[float, float, float, float]], deadband: str = "00:20"
) -> str:
    """One .81x record; rows of (Tcham, Pressure, H2O, CO2), Etime from −2 s."""
    head = [
        "LI-8100:\t     239\t      7d",
        "File Name:\ttest",
        f"Obs#:\t{obs}",
        "Port#:\t3",
        "Label:\tcollar 3",
        "Observation Length:\t01:30",
        "TSource:\tTcham",
        "Vcham:\t4073.5",
        "Offset:\t2.0",
        "Area:\t317.8",
        "Vtotal:\t4900.0",
        "Labels_01:\t9",
        COLUMNS,
    ]
    body = []
    for k, (tc, p, h2o, co2) in enumerate(rows):
        etime = k - 2
        stamp = pd.Timestamp("2024-05-01 10:00:00") + pd.Timedelta(seconds=k)
        cdry = co2 / (1 - h2o / 1000)
        fields = [1, etime, f"{stamp:%Y-%m-%d %H:%M:%S}", repr(tc), repr(p), repr(h2o), repr(co2)]
        body.append("\t".join(map(str, [*fields, f"{cdry:.2f}", 50])))
    body.append("2\t0\t2024-05-01 10:00:02\t1\t1\t1\t1\t1\t1")  # instrument summary rows
    foot = [
        "CrvFitStatus:\tExp",
        "Exp_Flux:\t1.50",
        "Exp_dCdry/dt:\t0.2500",
        "Exp_R2:\t0.9900",
        "Lin_Flux:\t1.20",
        "Lin_dCdry/dt:\t0.2000",
        "Lin_R2:\t0.9800",
        "Crv_#Smp:\t70",
        f"Dead Band:\t{deadband}",
    ]
    return "\n".join(head + body + foot) + "\n"


row = st.tuples(
    st.floats(-10, 45, allow_nan=False).map(lambda v: round(v, 2)),
    st.floats(80, 105, allow_nan=False).map(lambda v: round(v, 2)),
    st.floats(0, 40, allow_nan=False).map(lambda v: round(v, 3)),
    st.floats(300, 3000, allow_nan=False).map(lambda v: round(v, 2)),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(st.lists(row, min_size=3, max_size=12), min_size=1, max_size=3))
def test_81x_round_trip(
    tmp_path: Path, records: list[list[tuple[float, float, float, float]]]
) -> None:
    path = tmp_path / "multi.81x"
    path.write_text("".join(record_81x(i + 1, rows) for i, rows in enumerate(records)))
    data, meta = read(path)
    assert meta.format == "licor-81x"
    assert meta.issues == []
    assert meta.observations.index.tolist() == [f"multi#{i + 1}" for i in range(len(records))]
    expected = [r for rows in records for r in rows]  # summary rows (Type 2) are not samples
    assert len(data) == len(expected)
    got = data[["temperature_c", "pressure_kpa", "h2o_mmol_mol", "co2_ppm"]].to_numpy()
    np.testing.assert_array_equal(got, np.array(expected, dtype=float))
    first = data.groupby("closure_id")["elapsed_s"].min()
    assert (first == -2.0).all()
    assert (data["deadband_s"] == 20.0).all()
    assert (data["obs_length_s"] == 90.0).all()
    assert (data["volume_cm3"] == 4900.0).all()
    obs = meta.observations.iloc[0]
    assert obs["vendor_model"] == "Exp"
    assert obs["vendor_flux_co2"] == 1.5
    assert obs["vendor_flux_linear_co2"] == 1.2
    assert obs["chamber"] == "port3"


def test_81x_bad_value_and_bad_row(tmp_path: Path) -> None:
    text = record_81x(1, [(20.0, 100.0, 10.0, 400.0)] * 4)
    lines = text.splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("1\t0\t"))
    fields = lines[k].split("\t")
    fields[6] = "40O.1"  # letter O in CO2
    lines[k] = "\t".join(fields)
    path = tmp_path / "bad.81x"
    path.write_text("\n".join(lines) + "\n")
    data, meta = read(path)
    assert len(data) == 4
    assert [(i.line, i.field, i.value) for i in meta.issues] == [(k + 1, "co2_ppm", "40O.1")]
    with pytest.raises(InputError, match=rf"bad\.81x:{k + 1}: field 'co2_ppm'"):
        read(path, strict=True)
    lines[k] = "1\t0\t2024-05-01 10:00:02\t20"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"bad\.81x:{k + 1}: 4 fields"):
        read(path)


def test_81x_missing_geometry(tmp_path: Path) -> None:
    text = record_81x(1, [(20.0, 100.0, 10.0, 400.0)] * 3).replace("Vtotal:\t4900.0\n", "")
    path = tmp_path / "nov.81x"
    path.write_text(text)
    with pytest.raises(InputError, match="Vtotal"):
        read_licor81x(path)


def test_json_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"datasets": [\n{"1": }]}')
    with pytest.raises(InputError, match=r"broken\.json:2: invalid JSON"):
        read_licorjson(path)
    path.write_text(
        json.dumps({"datasets": [{"1": {"reps": {"REP_1": {"header": {}, "data": {}}}}}]})
    )
    with pytest.raises(InputError, match="TotalVolume"):
        read_licorjson(path)


@pytest.mark.reference
def test_reads_the_vendor_81x(reference_dir: Path) -> None:
    data, meta = read(reference_dir / "flux" / "LI8150.81x")
    obs = meta.observations.loc["LI8150#1"]
    assert (obs["volume_cm3"], obs["area_cm2"], obs["deadband_s"], obs["obs_length_s"]) == (
        5339.2,
        317.8,
        25.0,
        120.0,
    )
    assert (obs["vendor_flux_co2"], obs["vendor_dcdt_co2"], obs["vendor_r2_co2"]) == (
        2.25,
        0.35,
        0.9988,
    )
    assert len(data) == 182  # Type-1 rows, Etime −62 … 119
    assert data["elapsed_s"].iloc[0] == -62.0
    # The file's own dry column equals CO2 / (1 − H2O/1000): the wet reading is what we keep.
    lines = (reference_dir / "flux" / "LI8150.81x").read_text().splitlines()
    first = lines[data["line"].iloc[0] - 1].split("\t")
    assert float(first[6]) == data["co2_ppm"].iloc[0]
    assert float(first[7]) == pytest.approx(
        data["co2_ppm"].iloc[0] / (1 - data["h2o_mmol_mol"].iloc[0] / 1000), abs=0.01
    )


@pytest.mark.reference
def test_reads_the_vendor_smart_chamber_json(reference_dir: Path) -> None:
    path = reference_dir / "flux" / "LI8200-01S.json"
    data, meta = read(path)
    obs = meta.observations
    assert obs.index.tolist() == [
        "LI8200-01S#47/REP_1",
        "LI8200-01S#47/REP_2",
        "LI8200-01S#48/REP_1",
        "LI8200-01S#48/REP_2",
    ]
    assert (obs["volume_cm3"] == 6835.06).all()
    assert (obs["area_cm2"] == 318.0).all()
    assert (obs["deadband_s"] == 5.0).all()
    np.testing.assert_allclose(obs["vendor_flux_co2"], [6.6457, 2.78851, np.nan, 5.72601])
    np.testing.assert_allclose(
        obs["vendor_flux_ch4"], [-0.120484e-3, -0.104297e-3, np.nan, -0.239531e-3]
    )
    assert obs["vendor_curved_co2"].tolist() == [False, False, False, True]
    # Local time America/New_York (EDT, UTC−4) → UTC.
    assert obs["start"].iloc[0] == pd.Timestamp("2024-06-13T12:15:03Z")
    # Dry → wet and back is exact.
    document = json.loads(path.read_text())
    rep = document["datasets"][0]["47"]["reps"]["REP_1"]["data"]
    first = data[data["closure_id"] == "LI8200-01S#47/REP_1"]
    dry = first["co2_ppm"] / (1 - first["h2o_mmol_mol"] / 1000)
    np.testing.assert_allclose(dry, rep["co2"], rtol=1e-12)
    assert any("dry" in note for note in meta.notes)


def smart_chamber(reps: list[list[tuple[float, float, float]]], model: str) -> dict[str, object]:
    """A Smart Chamber document; each rep a list of (co2, ch4, h2o) per second."""
    datasets: list[dict[str, object]] = []
    for k, rows in enumerate(reps):
        n = len(rows)
        rep = {
            "header": {
                "Chamber": "82s-1",
                "InstrumentModel": model,
                "Date": f"2024-06-13 08:{10 + k:02d}:00",
                "TimeZone": "Europe/Berlin",
                "DeadBand": 5,
                "Area": 318,
                "Offset": 8,
                "TotalVolume": 6835.06,
            },
            "labels": {
                "etime": "timestamp",
                "pressure": "chamber_p",
                "temperature": "chamber_t",
                "h2o": "h2o",
            },
            "data": {
                "timestamp": list(range(n)),
                "chamber_p": [101.3] * n,
                "chamber_t": [20.0] * n,
                "co2": [r[0] for r in rows],
                "ch4": [r[1] for r in rows],
                "h2o": [r[2] for r in rows],
            },
            "footer": {
                "fluxes": [{"name": "co2", "F_o": 1.5, "C_x": 1e6, "n": n, "slope": 0.1, "r2": 0.9}]
            },
        }
        datasets.append({str(40 + k): {"reps": {"REP_1": rep}}})
    return {"name": "x", "datasets": datasets}


json_row = st.tuples(
    st.floats(300, 3000, allow_nan=False),
    st.floats(1500, 3000, allow_nan=False),
    st.floats(0, 40, allow_nan=False),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    reps=st.lists(st.lists(json_row, min_size=2, max_size=15), min_size=1, max_size=3),
    model=st.sampled_from(["LI-7810", "LI-870"]),
)
def test_smart_chamber_round_trip(
    tmp_path: Path, reps: list[list[tuple[float, float, float]]], model: str
) -> None:
    path = tmp_path / "sc.json"
    path.write_text(json.dumps(smart_chamber(reps, model)))
    data, meta = read(path)
    assert meta.format == "licor-json"
    assert meta.issues == []
    assert len(meta.observations) == len(reps)
    for k, rows in enumerate(reps):
        got = data[data["closure_id"] == f"sc#{40 + k}/REP_1"]
        co2, ch4, h2o = (np.array([r[i] for r in rows]) for i in range(3))
        np.testing.assert_array_equal(got["h2o_mmol_mol"], h2o)
        # dry analysers: stored wet, c = c′(1 − w); the engine's c/(1 − w) gives c′ back
        factor = (1 - h2o / 1000) if model == "LI-7810" else 1.0
        np.testing.assert_allclose(got["co2_ppm"], co2 * factor, rtol=1e-14)
        np.testing.assert_allclose(got["ch4_ppb"], ch4 * factor, rtol=1e-14)
        # 08:10 in Berlin (CEST, UTC+2) is 06:10 UTC
        assert got["time"].iloc[0] == pd.Timestamp(f"2024-06-13T06:{10 + k:02d}:00Z")
        assert got["elapsed_s"].tolist() == list(range(len(rows)))


def test_smart_chamber_bad_number_is_reported(tmp_path: Path) -> None:
    document = smart_chamber([[(400.0, 2000.0, 10.0)] * 4], "LI-7810")
    document["datasets"][0]["40"]["reps"]["REP_1"]["data"]["co2"][2] = "oops"  # type: ignore[index]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    data, meta = read(path)
    assert [i.field for i in meta.issues] == ["datasets[0].40.reps.REP_1.data.co2[2]"]
    assert np.isnan(data["co2_ppm"].iloc[2])
    with pytest.raises(InputError, match=r"data\.co2\[2\]"):
        read(path, strict=True)


def test_81x_clock_time_zone(tmp_path: Path) -> None:
    path = tmp_path / "tz.81x"
    path.write_text(record_81x(1, [(20.0, 100.0, 10.0, 400.0)] * 3))
    utc, _ = read(path)
    local, meta = read(path, tz="America/Chicago")  # CDT, UTC−5 in May
    assert (local["time"] - utc["time"] == pd.Timedelta(hours=5)).all()
    assert "'Date' read in time zone America/Chicago" in meta.notes


def with_annotation(text: str, *, drop_trailing: bool) -> str:
    """The record with an LI-8100A 'Annotation' column; Type-1 rows leave it off when asked."""
    out = []
    for line in text.splitlines():
        if line.startswith("Type\t"):
            line += "\tAnnotation"
        elif line.startswith(("1\t", "2\t")) and not drop_trailing:
            line += "\t"
        out.append(line)
    return "\n".join(out) + "\n"


def test_81x_rows_without_the_empty_trailing_annotation(tmp_path: Path) -> None:
    rows = [(20.0, 100.0, 10.0, 400.0 + k) for k in range(5)]
    path = tmp_path / "ann.81x"
    path.write_text(with_annotation(record_81x(1, rows), drop_trailing=True))
    data, meta = read(path)
    assert meta.issues == []
    np.testing.assert_array_equal(data["co2_ppm"], [r[3] for r in rows])
    # the same file with the empty field written out reads the same
    full = tmp_path / "full.81x"
    full.write_text(with_annotation(record_81x(1, rows), drop_trailing=False))
    pd.testing.assert_frame_equal(
        data.drop(columns="closure_id"), read(full)[0].drop(columns="closure_id")
    )


def test_81x_row_short_of_a_data_column_is_refused(tmp_path: Path) -> None:
    text = with_annotation(record_81x(1, [(20.0, 100.0, 10.0, 400.0)] * 4), drop_trailing=True)
    lines = text.splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("1\t0\t"))
    lines[k] = lines[k].rsplit("\t", 1)[0]  # RH (a data column) missing as well
    path = tmp_path / "short.81x"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"short\.81x:{k + 1}: 8 fields .*\(no value for 'RH'\)$"):
        read(path)


def test_81x_empty_value_in_a_data_column_names_the_line(tmp_path: Path) -> None:
    text = record_81x(1, [(20.0, 100.0, 10.0, 400.0)] * 4)
    lines = text.splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("1\t0\t"))
    fields = lines[k].split("\t")
    fields[6] = ""  # CO2 empty
    lines[k] = "\t".join(fields)
    path = tmp_path / "empty.81x"
    path.write_text("\n".join(lines) + "\n")
    _, meta = read(path)
    assert [(i.line, i.field, i.message) for i in meta.issues] == [
        (k + 1, "co2_ppm", "empty; set to missing")
    ]
    with pytest.raises(InputError, match=rf"empty\.81x:{k + 1}: field 'co2_ppm': empty"):
        read(path, strict=True)
