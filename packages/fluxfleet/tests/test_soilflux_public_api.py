"""The platform uses only soilflux's public API (no ``soilflux.x._private`` imports)."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCES = Path(__file__).resolve().parents[1] / "src" / "fluxfleet"


def test_no_private_soilflux_imports() -> None:
    offenders = []
    for path in sorted(SOURCES.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                private = [p for p in parts[1:] if p.startswith("_") and not p.endswith("__")]
                if parts[0] == "soilflux" and private:
                    offenders.append(f"{path.relative_to(SOURCES)}:{node.lineno}: {name}")
    assert sorted(set(offenders)) == []
    assert any(SOURCES.rglob("sensor_lag.py"))  # the scan saw the module that used to
