"""``fluxfleet`` against hostile inputs (fluxfleet.toml), and Ctrl-C on a long ``sim``.

Every case must end with exit 1 (bad data) or 2 (bad usage), a message on stderr naming
the file, line, field or option, no traceback and nothing left behind
(:mod:`testsupport.hostile`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from fluxfleet.cli import app
from fluxfleet.sim.faults import KINDS, FaultFileError, resolve_schedule
from hypothesis import example, given
from hypothesis import strategies as st

from testsupport.hostile import Case, check, load_corpus, materialise, run, snapshot
from testsupport.services import Broker

CASES = load_corpus("fluxfleet")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus(case: Case, tmp_path: Path) -> None:
    materialise(case, tmp_path, {})
    before = snapshot(tmp_path)
    outcome = run(case, app, "fluxfleet", tmp_path)
    check(case, outcome, before, snapshot(tmp_path))


def _group_alive(pgid: int) -> list[str]:
    """Live (not zombie) processes of process group ``pgid``, from /proc."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            alive.append(f"{entry.name} {stat[: stat.rindex(')') + 1]}")
    return alive


@pytest.mark.service
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list the process group")
def test_ctrl_c_stops_a_long_sim_at_once(mosquitto: Broker, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole foreground process group, as a terminal sends it) on a
    24-h, 20-chamber run with worker processes: exit 130 with a word on what was kept,
    no truth file (whole or partial), no process of the run left alive."""
    truth = tmp_path / "truth.parquet"
    exe = Path(sys.executable).with_name("fluxfleet")
    argv = [str(exe), "sim", "--chambers", "20", "--hours", "24", "--workers", "2",
            "--broker", mosquitto.url, "--truth", str(truth)]  # fmt: skip
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,  # its own process group, like a shell job
        # A terminal's job gets the default SIGINT action (a background job would ignore it).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        # Wait until the run is under way: the workers report progress on stderr.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_group_alive(proc.pid)) < 3:
            time.sleep(0.2)
        time.sleep(3.0)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)
        # A hang bound, not a speed figure: before the fix this took 60 s.
        out, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    assert "interrupted after" in err
    assert "nothing is written" in err
    assert "Traceback" not in out + err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    time.sleep(0.5)
    assert _group_alive(proc.pid) == []


@pytest.mark.slow
def test_demo_with_two_chambers_says_why_it_has_no_faults(tmp_path: Path) -> None:
    """Issue 16: a 2-chamber demo printed an empty 'faults:' line."""
    from typer.testing import CliRunner

    out = tmp_path / "demo.png"
    argv = ["demo", "--chambers", "2", "--hours", "0.5", "--out", str(out)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.endswith(
        "faults: none (chambers 0 and 1 are fault-free references: use 3 or more)"
    )
    assert out.is_file()


FAULT_CELLS = st.sampled_from(
    ["", "nan", "inf", "-1", "1e308", "clogged", "reboot", "exploded", "2", "0.5", "x", "\x00"]
)


@st.composite
def mutated_fault_file(draw: st.DrawFn) -> tuple[str, bytes]:
    rows = [["kind", "chamber", "start_h", "end_h", "skew_ms"],
            ["clogged", "2", "0.5", "1.5", ""], ["clock_skew", "3", "1", "2", "90000"],
            ["reboot", "3", "2.5", "", ""]]  # fmt: skip
    for _ in range(draw(st.integers(0, 4))):
        row = draw(st.integers(0, len(rows) - 1))
        col = draw(st.integers(0, 4))
        rows[row][col] = draw(st.one_of(FAULT_CELLS, st.text(max_size=6)))
    if draw(st.booleans()):
        drop = draw(st.integers(0, 4))
        rows = [[c for i, c in enumerate(r) if i != drop] for r in rows]
    text = "\n".join(",".join(r) for r in rows) + "\n"
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.booleans()):  # the same schedule as JSON, sometimes cut short
        records = [dict(zip(rows[0], r, strict=False)) for r in rows[1:]]
        data = json.dumps(records).encode()[: draw(st.integers(0, 400))]
        return "faults.json", data
    return "faults.csv", data


@given(file=mutated_fault_file())
@example(file=("faults.csv", b"kind,chamber,start_h\nclogged,2,0.5\n"))  # issue 16: no end_h
@example(file=("faults.csv", b"\xff\xfe\x00garbage"))  # issue 16: UnicodeDecodeError
@example(file=("faults.csv", b"kind,chamber,start_h,end_h,skew_ms\nclogged,2,0.5,1.5,inf\n"))
def test_fault_file_mutations(file: tuple[str, bytes]) -> None:
    """Any fault file: a schedule of valid faults, or FaultFileError naming the file."""
    name, data = file
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        error = None
        try:
            faults = resolve_schedule(str(path), 4, 3 * 3600.0, 0)
        except FaultFileError as exc:
            faults, error = [], str(exc)
    if error is not None:
        assert name in error
    for fault in faults:
        assert fault.kind in KINDS
        assert 0 <= fault.start_s <= fault.end_s
        assert fault.kind == "reboot" or fault.end_s >= fault.start_s
