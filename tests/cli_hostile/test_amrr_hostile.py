"""``amrr`` against hostile inputs (amrr.toml): exit 2 naming the option, no traceback,
nothing left behind (:mod:`testsupport.hostile`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from amrr.cli import app
from typer.testing import CliRunner

from testsupport.hostile import Case, check, load_corpus, materialise, run, snapshot

CASES = load_corpus("amrr")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus(case: Case, tmp_path: Path) -> None:
    materialise(case, tmp_path, {})
    before = snapshot(tmp_path)
    outcome = run(case, app, "amrr", tmp_path)
    check(case, outcome, before, snapshot(tmp_path))


@pytest.mark.parametrize("command", [["ggg"], ["glf"], ["he4"], ["mixture", "--x3", "0.05"]])
def test_props_accepts_json(command: list[str]) -> None:
    """--json is accepted on every props command (JSON is the default)."""
    argv = ["props", command[0], "--temperature-K", "0.9", *command[1:]]
    plain = CliRunner().invoke(app, argv)
    with_json = CliRunner().invoke(app, [*argv, "--json"])
    assert with_json.exit_code == 0, with_json.output
    assert json.loads(with_json.stdout) == json.loads(plain.stdout)
