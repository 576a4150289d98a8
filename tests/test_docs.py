"""The docs run: their marked examples, and the figures they quote.

An example is run when its fenced block's info string says ``test`` (```` ```console test ````
or ```` ```sh test ````; add ``reference`` when it needs ``../shared/reference``): in
``console`` blocks the ``$`` lines are commands, in ``sh`` blocks every line is. Each runs
with bash in a scratch copy of the checkout (symlinks, so written files land in the scratch
folder), ``.venv/bin`` first on PATH and ``../shared/reference`` beside it, and must exit 0
without a traceback. Quoted figures between ``<!-- figures: NAME -->`` markers must be what
a run gives now (``tools/doc_figures.py --check``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [
    ROOT / "README.md",
    *sorted(ROOT.glob("packages/*/README.md")),
    *sorted((ROOT / "docs").rglob("*.md")),
]
BLOCK = re.compile(r"^```(\w+)[ \t]+([^\n]*)\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Example:
    """A marked block of a doc: where it is, its commands, whether it needs the reference."""

    where: str
    commands: list[str]
    needs_reference: bool


def _commands(language: str, body: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", body)  # continuation lines
    lines = [line.strip() for line in joined.splitlines()]
    if language == "console":
        return [line[2:] for line in lines if line.startswith("$ ")]
    return [line for line in lines if line and not line.startswith("#")]


def marked_examples() -> list[Example]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in BLOCK.finditer(text):
            language, words, body = match.group(1), match.group(2).split(), match.group(3)
            if "test" not in words:
                continue
            line = text[: match.start()].count("\n") + 1
            found.append(
                Example(
                    where=f"{doc.relative_to(ROOT)}:{line}",
                    commands=_commands(language, body),
                    needs_reference="reference" in words or "shared/reference" in body,
                )
            )
    return found


EXAMPLES = marked_examples()


def test_there_are_marked_examples() -> None:
    assert len(EXAMPLES) >= 3, [e.where for e in EXAMPLES]
    assert all(e.commands for e in EXAMPLES), [e.where for e in EXAMPLES if not e.commands]


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.where for e in EXAMPLES])
def test_doc_example_runs(example: Example, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in (".git",):
            (checkout / entry.name).symlink_to(entry)
    if example.needs_reference:
        reference: Path = request.getfixturevalue("reference_dir")
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "reference").symlink_to(reference)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SHARED_REFERENCE", None)  # the docs say ../shared/reference: use that
    for command in example.commands:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        shown = f"{example.where}: $ {command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        assert done.returncode == 0, shown
        assert "Traceback" not in done.stdout + done.stderr, shown


@pytest.mark.reference
@pytest.mark.slow
def test_quoted_figures_come_from_a_run(reference_dir: Path) -> None:
    """The LI-COR comparison in the soilflux README (and any other marked figures) is what
    soilflux computes now: a change of the numbers means regenerating the docs."""
    env = {**os.environ, "SHARED_REFERENCE": str(reference_dir)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "doc_figures.py"), "--check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_figure_sections_are_known() -> None:
    """Every marked figures section names a generator of tools/doc_figures.py."""
    text = (ROOT / "tools" / "doc_figures.py").read_text()
    known = set(re.findall(r'"([\w-]+)": \w+\}', text))
    for doc in DOCS:
        for name in re.findall(r"<!-- figures: ([\w-]+) -->", doc.read_text()):
            assert name in known, f"{doc}: figures section {name!r} has no generator"
