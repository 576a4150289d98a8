"""``soilflux`` against hostile inputs: the corpus (soilflux.toml) and mutated tables.

Every case must end with exit 1 (bad data) or 2 (bad usage), a message on stderr naming
the file, line, field or option, no traceback and nothing left behind
(:mod:`testsupport.hostile`). Hypothesis mutates a valid generic table (cells, delimiter,
truncation, columns) and holds the generic reader to the same rules.
"""

from __future__ import annotations

import functools
import gzip
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from soilflux.cli import app
from typer.testing import CliRunner

from testsupport.hostile import Case, check, load_corpus, materialise, run, snapshot

CASES = load_corpus("soilflux")
HEADER = "time,chamber,co2_ppm,temperature_c,pressure_hpa,h2o_mmol_mol,phase"


def records_csv(closures: int = 1) -> str:
    """A valid generic long table: 2 chambers, ``closures`` closures each (5-s samples,
    flush then 150 s closed), CO2 rising 0.2 ppm/s with a little deterministic noise."""
    rng = np.random.default_rng(3)
    lines = [HEADER]
    for k in range(closures):
        for chamber in ("dev-a", "dev-b"):
            base = 60 + 600 * k + (300 if chamber == "dev-b" else 0)
            for i in range(-4, 31):
                t = base + 5 * i
                co2 = 420.0 + (0.2 * 5 * i if i >= 0 else 0.0) + rng.normal(0, 0.3)
                stamp = f"2023-10-02T00:{t // 60:02d}:{t % 60:02d}Z"
                phase = "closed" if i >= 0 else "flush"
                lines.append(f"{stamp},{chamber},{co2:.2f},20.0,1000.0,15.0,{phase}")
    return "\n".join(lines) + "\n"


def chambers_csv() -> str:
    return "chamber,volume_cm3,area_cm2,location\ndev-a,5000,300,9.1.A\ndev-b,5000,300,9.1.B\n"


@functools.cache
def fluxes_csv() -> bytes:
    """The fluxes table ``soilflux compute`` makes of :func:`records_csv`."""
    with tempfile.TemporaryDirectory() as tmp:
        records, out = Path(tmp) / "rec.csv", Path(tmp) / "fluxes.csv"
        records.write_text(records_csv(closures=3))
        args = [str(records), "--volume-cm3", "5000", "--area-cm2", "300", "-o", str(out), "-q"]
        result = CliRunner().invoke(app, ["compute", *args])
        assert result.exit_code == 0, result.output
        return out.read_bytes()


def reference_file(name: str) -> bytes:
    """A file of ../shared/reference/flux (cases using it say needs = "reference")."""
    root = Path(__file__).resolve().parents[2]
    folder = Path(os.environ.get("SHARED_REFERENCE", root.parent / "shared" / "reference"))
    return (folder / "flux" / name).read_bytes()


FIXTURES = {
    "records": lambda: records_csv().encode(),
    "records-gz": lambda: gzip.compress(records_csv().encode(), mtime=0),
    "chambers": lambda: chambers_csv().encode(),
    "fluxes": fluxes_csv,
    "licor-json": lambda: reference_file("LI8200-01S.json"),
    "licor-81x": lambda: reference_file("LI8150.81x"),
}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    ref = request.getfixturevalue("reference_dir") if case.needs == "reference" else None
    materialise(case, tmp_path, FIXTURES)
    before = snapshot(tmp_path)
    outcome = run(case, app, "soilflux", tmp_path, ref)
    check(case, outcome, before, snapshot(tmp_path))


def test_the_valid_table_is_computed() -> None:
    """The mutations below start from a table that works (else they would test nothing)."""
    assert b"co2" in fluxes_csv()


# --------------------------------------------------------------------- mutated tables

CELLS = st.sampled_from(
    ["", "nan", "NaN", "inf", "-inf", "-1", "0", "1e308", "abc", "ajar", "CLOSED", "NA",
     "2023-13-45T00:00:00Z", "1,5", '"', "\x00", "🌱"]
)  # fmt: skip


@st.composite
def mutated_table(draw: st.DrawFn) -> bytes:
    lines = records_csv().splitlines()
    n_cols = len(HEADER.split(","))
    for _ in range(draw(st.integers(0, 4))):
        row = draw(st.integers(0, len(lines) - 1))
        cells = lines[row].split(",")
        col = draw(st.integers(0, n_cols - 1))
        if col < len(cells):
            cells[col] = draw(st.one_of(CELLS, st.text(max_size=8)))
        lines[row] = ",".join(cells)
    if draw(st.booleans()):
        drop = draw(st.integers(0, n_cols - 1))
        lines = [",".join(c for i, c in enumerate(line.split(",")) if i != drop) for line in lines]
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t", "|"]))
    text = "\n".join(line.replace(",", delimiter) for line in lines) + "\n"
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@given(data=mutated_table())
@example(data=records_csv().replace(",closed\n", ",ajar\n", 1).encode())  # issue 16
@example(data=records_csv().replace(",closed\n", ",ajar\n").encode())
@example(data=b"")
@example(data=records_csv().replace("2023-10-02T00:00:40Z", "-1", 1).encode())  # year -1
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_generic_reader_mutations(data: bytes) -> None:
    """Any mutation: computed (exit 0, the table written) or refused (exit 1 naming the
    file, or 2), never a traceback, never a half-written or stray file."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in.csv").write_bytes(data)
        argv = ["compute", "{tmp}/in.csv", "--volume-cm3", "5000", "--area-cm2", "300",
                "-o", "{tmp}/out.csv", "-q"]  # fmt: skip
        case = Case(id="mutation", argv=argv, exit=0, stderr=[])
        before = snapshot(root)
        outcome = run(case, app, "soilflux", root)
        assert outcome.exception is None, outcome
        assert "Traceback" not in outcome.stdout + outcome.stderr
        assert outcome.exit_code in (0, 1), outcome
        after = snapshot(root)
        if outcome.exit_code == 0:
            assert set(after) - set(before) == {"out.csv"}
        else:
            assert "in.csv" in outcome.stderr, outcome
            assert after == before


@st.composite
def mutated_fluxes(draw: st.DrawFn) -> bytes:
    lines = fluxes_csv().decode().splitlines()
    n_cols = len(lines[0].split(","))
    for _ in range(draw(st.integers(0, 4))):
        row = draw(st.integers(0, len(lines) - 1))
        cells = lines[row].split(",")
        cells[draw(st.integers(0, n_cols - 1)) % len(cells)] = draw(
            st.one_of(CELLS, st.text(max_size=8))
        )
        lines[row] = ",".join(cells)
    data = ("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@given(data=mutated_fluxes(), by=st.sampled_from(["hour", "location", "variant"]))
@example(data=fluxes_csv()[:1500], by="hour")  # issue 16: a truncated table used silently
@example(data=b"c", by="hour")  # "fluxes has no 'flags' column" did not name the file
@example(  # a text cell in a number column was a TypeError in the hourly mean
    data=re.sub(rb"^(0,(?:[^,]*,){7})[^,]*", rb"\1abc", fluxes_csv(), count=1, flags=re.M),
    by="hour",
)
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_summarize_mutations(data: bytes, by: str) -> None:
    """Any damaged fluxes table: summarized (exit 0) or refused naming the file (exit 1) or
    the option (exit 2), never a traceback, never a stray file."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "fluxes.csv").write_bytes(data)
        argv = ["summarize", "{tmp}/fluxes.csv", "--by", by, "-o", "{tmp}/out.csv", "-q"]
        case = Case(id="mutation", argv=argv, exit=0, stderr=[])
        before = snapshot(root)
        outcome = run(case, app, "soilflux", root)
        assert outcome.exception is None, outcome
        assert "Traceback" not in outcome.stdout + outcome.stderr
        after = snapshot(root)
        if outcome.exit_code == 0:
            assert "out.csv" in after
        else:
            assert outcome.exit_code in (1, 2), outcome
            assert "fluxes.csv" in outcome.stderr or "--" in outcome.stderr, outcome
            assert after == before
