"""The firmware's layering rules, checked on the source tree."""

from __future__ import annotations

import ast
import importlib

import pytest
from fluxfleet.keys import FIRMWARE_DIR

HARDWARE_MODULES = {"machine", "network", "M5", "esp32", "esp", "neopixel", "bluetooth"}
DEVICE_ONLY = {"hal/core2.py", "boot.py"}  # import machine / the on-flash package layout


def sources() -> list[str]:
    return sorted(
        p.relative_to(FIRMWARE_DIR).as_posix()
        for p in FIRMWARE_DIR.rglob("*.py")
        if "__pycache__" not in p.parts
    )


def imported_roots(path: str) -> set[str]:
    tree = ast.parse((FIRMWARE_DIR / path).read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sources())
def test_only_hal_imports_hardware_modules(path):
    hw = imported_roots(path) & HARDWARE_MODULES
    if path.startswith("hal/"):
        return
    assert not hw, f"{path} imports {sorted(hw)}: hardware access belongs in hal/"


@pytest.mark.parametrize("path", [p for p in sources() if p not in DEVICE_ONLY])
def test_every_other_module_imports_under_cpython(path):
    name = "fluxfleet.firmware." + path[:-3].replace("/", ".").removesuffix(".__init__")
    importlib.import_module(name.removesuffix(".__init__"))


def test_no_module_imports_typing_or_dataclasses():
    for path in sources():
        bad = imported_roots(path) & {"typing", "dataclasses", "abc", "enum"}
        assert not bad, f"{path} imports {sorted(bad)}, which MicroPython lacks"
