"""Figures quoted in the docs, made by a run: print them, check the docs, or write them in.

A quoted figure sits between two markers in a Markdown file::

    <!-- figures: licor-table -->
    | ... the generated table ... |
    <!-- /figures -->

``python tools/doc_figures.py --check`` regenerates every marked section and exits 1, with
a diff, where a doc differs from the run (``tests/test_docs.py`` runs it); ``--write``
puts the run's figures in. ``licor-table`` is ``soilflux demo``'s comparison of the LI-COR
reference files (``../shared/reference/flux`` or ``$SHARED_REFERENCE``) with the
instrument's own fluxes.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [
    ROOT / "README.md",
    *sorted(ROOT.glob("packages/*/README.md")),
    *sorted((ROOT / "docs").rglob("*.md")),
]
SECTION = re.compile(r"(<!-- figures: ([\w-]+) -->\n)(.*?)(<!-- /figures -->)", re.S)
# Column slices of the demo's fixed-width table (soilflux.cli._vendor_comparison).
COLUMNS = {"file": (0, 16), "observation": (16, 29), "gas": (29, 34), "model": (34, 41),
           "LI-COR": (41, 52), "soilflux": (52, 63), "diff %": (63, 72)}  # fmt: skip


def reference_dir() -> Path | None:
    """``$SHARED_REFERENCE`` or ``../shared/reference`` beside the checkout, if present."""
    path = Path(os.environ.get("SHARED_REFERENCE", ROOT.parent / "shared" / "reference"))
    return path if (path / "flux").is_dir() else None


def licor_table() -> str:
    """``soilflux demo --synthetic 0``'s LI-COR comparison as a Markdown table."""
    ref = reference_dir()
    if ref is None:
        raise SystemExit("licor-table needs ../shared/reference (or $SHARED_REFERENCE)")
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(sys.executable).with_name("soilflux")
        argv = [str(exe), "demo", "--synthetic", "0", "--reference", str(ref)]
        done = subprocess.run(
            [*argv, "--plot", f"{tmp}/demo.png"], capture_output=True, text=True, check=True
        )
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("file ")) + 2
    rows = []
    for line in lines[start:]:
        if not line.strip() or line.startswith("Fluxes in"):
            break
        cells = [line[a:b].strip() for a, b in COLUMNS.values()]
        cells[-1] = cells[-1] + " %" if cells[-1] else ""
        rows.append("| " + " | ".join(cells) + " |")
    header = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + "---|" * 4 + "---:|" * 3
    note = (
        "\nFluxes in µmol m⁻² s⁻¹ (CO2) and nmol m⁻² s⁻¹ (CH4); `model` is the one the "
        "instrument used; `failed` where the instrument gave no flux.\n"
    )
    return "\n".join([header, rule, *rows]) + "\n" + note


GENERATORS: dict[str, Callable[[], str]] = {"licor-table": licor_table}


def sections(text: str) -> list[tuple[str, str]]:
    """(name, current content) of every marked section of a document."""
    return [(m.group(2), m.group(3)) for m in SECTION.finditer(text)]


def regenerate(text: str, cache: dict[str, str]) -> str:
    """The document with every marked section replaced by a fresh run's figures."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in GENERATORS:
            raise SystemExit(f"unknown figures section {name!r} (known: {', '.join(GENERATORS)})")
        if name not in cache:
            cache[name] = GENERATORS[name]()
        return match.group(1) + cache[name] + match.group(4)

    return SECTION.sub(fill, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 where a doc has drifted")
    mode.add_argument("--write", action="store_true", help="put the run's figures in the docs")
    args = parser.parse_args()
    cache: dict[str, str] = {}
    drifted = 0
    for doc in DOCS:
        text = doc.read_text()
        if not sections(text):
            continue
        fresh = regenerate(text, cache)
        if fresh == text:
            continue
        if args.write:
            doc.write_text(fresh)
            print(f"wrote the figures into {doc.relative_to(ROOT)}")
        else:
            drifted += 1
            name = str(doc.relative_to(ROOT))
            diff = difflib.unified_diff(
                text.splitlines(),
                fresh.splitlines(),
                f"{name} (docs)",
                f"{name} (run)",
                lineterm="",
            )
            print("\n".join(diff))
    if drifted:
        print(f"{drifted} document(s) quote figures a run no longer gives: "
              "python tools/doc_figures.py --write", file=sys.stderr)  # fmt: skip
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
