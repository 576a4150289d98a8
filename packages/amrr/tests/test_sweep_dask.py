"""`amrr sweep --scheduler`: the same sweep on a real local Dask distributed cluster."""

from __future__ import annotations

import pytest
from amrr.cli import app
from amrr.design import default_design
from amrr.sweep import evaluate_point, grid, parse_vary, run_dask
from typer.testing import CliRunner

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        dashboard_address=None,
    ) as c:
        yield c


def test_dask_rows_equal_local_rows_in_order(cluster):
    design = default_design()
    points = grid([parse_vary("cycle.x3=0.05:0.15:3")])
    rows = run_dask(design, points, cluster.scheduler_address)
    assert [r["cycle.x3"] for r in rows] == [p["cycle.x3"] for p in points]
    for p, row in zip(points, rows, strict=True):
        assert row == evaluate_point(design, p)


def test_cli_sweep_on_the_scheduler(cluster, tmp_path):
    d = tmp_path / "d.toml"
    d.write_text("")
    out = tmp_path / "s.csv"
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            str(d),
            "--vary",
            "regenerator.porosity=0.3:0.4:2",
            "--scheduler",
            cluster.scheduler_address,
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 3


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(RuntimeError, match="cannot reach the Dask scheduler"):
        run_dask(default_design(), [{}], "tcp://127.0.0.1:9", timeout_s=1.0)
