"""``soilflux compute --jobs N``: files on worker processes give the serial output exactly."""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from soilflux.cli import app
from soilflux.cli_parallel import FluxJob, _Dispatch, compute_files
from soilflux.cli_parts import iter_parts, make_reading
from soilflux.options import FluxOptions
from typer.testing import CliRunner

from testsupport.fleet_export import fleet_record, split

runner = CliRunner()


def cli(paths: list[Path], out: Path, jobs: int, *extra: str) -> pd.DataFrame:
    args = ["compute", *map(str, paths), "-o", str(out), "--volume-cm3", "5000"]
    result = runner.invoke(app, [*args, "--area-cm2", "300", "--jobs", str(jobs), *extra])
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out)


@pytest.mark.parametrize("with_ids", [True, False])
def test_processes_give_the_serial_output(tmp_path: Path, with_ids: bool) -> None:
    """Five files with closures open across each boundary (closures found from ids, or from
    phase runs): 2 and 3 worker processes give the one-process table exactly."""
    paths = split(fleet_record(with_ids=with_ids), tmp_path, 5)
    serial = cli(paths, tmp_path / "one.parquet", 1)
    assert len(serial) == 240
    for jobs in (2, 3):
        got = cli(paths, tmp_path / f"jobs{jobs}.parquet", jobs)
        pd.testing.assert_frame_equal(got, serial, check_exact=True)


def test_options_reach_the_workers(tmp_path: Path) -> None:
    """Options applied per part (a dead band and window replacing the files', a method)
    are applied in the workers as in one process; CSV input too."""
    paths = split(fleet_record(120, seed=5), tmp_path, 3, ".csv")
    extra = ("--deadband", "25", "--obs-length", "150", "--method", "linear")
    serial = cli(paths, tmp_path / "one.parquet", 1, *extra)
    got = cli(paths, tmp_path / "two.parquet", 2, *extra)
    pd.testing.assert_frame_equal(got, serial, check_exact=True)
    assert (serial["model"] == "linear").all()


def test_compute_files_reports_as_iter_parts(tmp_path: Path) -> None:
    """The reports and read metadata come back in file order, as the serial reader's."""
    paths = split(fleet_record(96, seed=7), tmp_path, 4)
    meta_serial: list = []
    reports_serial: list = []
    parts = list(iter_parts(paths, volume_cm3=5000.0, area_cm2=300.0,
                            metadata=meta_serial, reports=reports_serial))  # fmt: skip
    meta: list = []
    reports: list = []
    reading = make_reading(volume_cm3=5000.0, area_cm2=300.0, metadata=meta)
    results, n = compute_files(
        paths, reading, FluxJob(FluxOptions()), jobs=2, metadata=meta, reports=reports
    )
    assert n == sum(len(c) for _, c in parts) == 96
    assert [m.path for m in meta] == [m.path for m in meta_serial]
    assert [r.closures for r in reports] == [r.closures for r in reports_serial]
    assert pd.concat(results)["closure"].tolist() == list(range(96))


def test_first_bad_file_is_reported(tmp_path: Path) -> None:
    """Two unreadable files: the earlier is named, exit 1, no traceback, as in one process."""
    paths = split(fleet_record(96, seed=8), tmp_path, 4)
    for k in (1, 3):
        frame = pd.read_parquet(paths[k]).drop(columns=["co2_ppm"])
        frame.to_parquet(paths[k], index=False)
    outputs = []
    for jobs in (1, 2):
        args = ["compute", *map(str, paths), "-o", str(tmp_path / "x.parquet")]
        result = runner.invoke(
            app, [*args, "--volume-cm3", "5000", "--area-cm2", "300", "--jobs", str(jobs)]
        )
        assert result.exit_code == 1, result.output
        assert "part1.parquet" in result.output
        assert "Traceback" not in result.output
        outputs.append(result.output.splitlines()[-1])
    assert outputs[0] == outputs[1]


def test_jobs_must_be_positive(tmp_path: Path) -> None:
    paths = split(fleet_record(24, seed=9), tmp_path, 2)
    result = runner.invoke(
        app, ["compute", *map(str, paths), "-o", str(tmp_path / "x.parquet"), "--jobs", "0"]
    )
    assert result.exit_code == 2
    assert "--jobs" in result.output


def test_dispatch_hands_each_carry_to_the_next_files_worker() -> None:
    """Files go out in order to whichever worker asks; file i's carry reaches the worker of
    file i + 1 whether it arrives before or after that file is handed out; the last
    file's carry stays with the parent; a worker asking after the last file gets None."""
    inboxes: list[queue.Queue[Any]] = [queue.Queue(), queue.Queue()]
    paths = [Path(f"f{i}") for i in range(3)]
    d = _Dispatch(paths, inboxes)
    d.want(1)  # worker 1 gets file 0 and, at once, file 0's (empty) carry
    assert [inboxes[1].get_nowait(), inboxes[1].get_nowait()] == [(0, paths[0]), None]
    d.carry(0, "carry-0")  # before file 1 is handed out: held
    assert inboxes[0].empty()
    assert inboxes[1].empty()
    d.want(0)
    assert [inboxes[0].get_nowait(), inboxes[0].get_nowait()] == [(1, paths[1]), "carry-0"]
    d.want(1)  # file 2, its carry (file 1's) not yet there
    assert inboxes[1].get_nowait() == (2, paths[2])
    assert inboxes[1].empty()
    d.carry(1, "carry-1")
    assert inboxes[1].get_nowait() == "carry-1"
    d.carry(2, "carry-2")
    assert d.last_carry == "carry-2"
    d.want(0)
    assert inboxes[0].get_nowait() is None
