"""The hostile-input harness of the command lines: a corpus of bad inputs kept as data.

Each CLI has a TOML corpus in ``tests/cli_hostile/`` with one ``[[case]]`` per bad input a
user gave or could give::

    [[case]]
    id = "compute-empty-file"            # unique, shown by pytest
    argv = ["compute", "{tmp}/in.csv", "-o", "{tmp}/out.csv"]
    files."in.csv" = ""                  # files created in {tmp} first (see below)
    exit = 1                             # 1 bad input data, 2 bad usage
    stderr = ["in.csv"]                  # substrings stderr must contain: file/line/field/option
    subprocess = false                   # true: run the installed console script
    needs = "reference"                  # optional: skip without ../shared/reference

``{tmp}`` is the case's own empty directory and ``{ref}`` the shared reference folder.
A file is a text (written as UTF-8) or a table: ``{hex = "00ff"}`` (bytes),
``{dir = true}`` (a directory), or ``{fixture = "NAME"}`` (a valid file the test module
provides) changed by ``sub = [[regex, replacement], ...]`` (on the text, each once unless
``all = true``) and ``head = N`` (only the first N bytes: a truncated file).

For every case the harness asserts: the exit code, each ``stderr`` substring, no
``Traceback`` anywhere, and nothing left behind in ``{tmp}`` (no new file or directory, no
file changed). ``exit = 0`` is allowed for inputs that must be *accepted* with a warning
(a pinned regression); then ``outputs`` lists the files expected in ``{tmp}``.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO_ROOT / "tests" / "cli_hostile"

Fixtures = Mapping[str, Callable[[], bytes]]


@dataclass(frozen=True)
class Case:
    """One hostile input and the answer the CLI owes it."""

    id: str
    argv: list[str]
    exit: int
    stderr: list[str]
    files: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    subprocess: bool = False
    needs: str | None = None


def load_corpus(name: str) -> list[Case]:
    """The cases of ``tests/cli_hostile/<name>.toml``, checked for shape."""
    path = CORPUS_DIR / f"{name}.toml"
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    cases = [Case(**entry) for entry in raw["case"]]
    ids = [c.id for c in cases]
    duplicated = {i for i in ids if ids.count(i) > 1}
    if duplicated:
        raise ValueError(f"{path}: duplicate case ids {sorted(duplicated)}")
    for case in cases:
        if case.exit not in (0, 1, 2):
            raise ValueError(f"{path}: case {case.id}: exit must be 0, 1 or 2")
        if case.exit != 0 and not case.stderr:
            raise ValueError(f"{path}: case {case.id}: say what stderr must name")
    return cases


def materialise(case: Case, tmp: Path, fixtures: Fixtures) -> None:
    """Create the case's files in ``tmp``."""
    for name, spec in case.files.items():
        target = tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, str):
            target.write_bytes(spec.encode("utf-8"))
        elif spec.get("dir"):
            target.mkdir()
        elif "hex" in spec:
            target.write_bytes(bytes.fromhex(spec["hex"]))
        else:
            data = fixtures[spec["fixture"]]()
            if "sub" in spec:
                text = data.decode("utf-8")
                for pattern, replacement in spec["sub"]:
                    count = 0 if spec.get("all") else 1
                    changed = re.sub(pattern, replacement, text, count=count)
                    if changed == text:
                        raise ValueError(f"case {case.id}: {pattern!r} changes nothing")
                    text = changed
                data = text.encode("utf-8")
            if "head" in spec:
                data = data[: int(spec["head"])]
            target.write_bytes(data)


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with a digest of its content ('dir' for directories)."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@dataclass
class Outcome:
    """What a run gave."""

    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None


def run(case: Case, app: typer.Typer, script: str, tmp: Path, ref: Path | None = None) -> Outcome:
    """Run the case in-process (typer's CliRunner) or as the installed console script."""
    argv = [a.replace("{tmp}", str(tmp)).replace("{ref}", str(ref or "")) for a in case.argv]
    if case.subprocess:
        exe = Path(sys.executable).with_name(script)
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
        done = subprocess.run(
            [str(exe), *argv], capture_output=True, text=True, timeout=120, env=env, cwd=tmp
        )
        return Outcome(done.returncode, done.stdout, done.stderr)
    result = CliRunner().invoke(app, argv, terminal_width=200)
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return Outcome(result.exit_code, result.stdout, result.stderr, exception)


def check(case: Case, outcome: Outcome, before: dict[str, str], after: dict[str, str]) -> None:
    """The harness's assertions (see the module docstring)."""
    shown = f"exit {outcome.exit_code}\n--- stdout\n{outcome.stdout}\n--- stderr\n{outcome.stderr}"
    assert outcome.exception is None, f"{case.id}: unexpected {outcome.exception!r}\n{shown}"
    assert "Traceback" not in outcome.stdout + outcome.stderr, f"{case.id}: traceback\n{shown}"
    assert outcome.exit_code == case.exit, f"{case.id}: expected exit {case.exit}\n{shown}"
    for needle in case.stderr:
        assert needle in outcome.stderr, f"{case.id}: stderr lacks {needle!r}\n{shown}"
    expected = dict(before)
    for name in case.outputs:
        assert name in after, f"{case.id}: {name} not written\n{shown}"
        expected[name] = after[name]
    left = {k: v for k, v in after.items() if expected.get(k) != v}
    gone = set(before) - set(after)
    assert not left, f"{case.id}: left behind or changed: {sorted(left)}\n{shown}"
    assert not gone, f"{case.id}: removed: {sorted(gone)}\n{shown}"
