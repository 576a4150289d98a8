"""Compile every firmware source with mpy-cross: the check that it is MicroPython.

Exits non-zero, naming each file and mpy-cross's message, when any file fails to compile.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parent.parent / "packages/fluxfleet/src/fluxfleet/firmware"


def main() -> int:
    if not FIRMWARE.is_dir():
        print(f"no firmware folder yet at {FIRMWARE}; nothing to compile")
        return 0
    sources = sorted(FIRMWARE.rglob("*.py"))
    failures = 0
    with tempfile.TemporaryDirectory() as out:
        for src in sources:
            dest = Path(out) / (src.stem + ".mpy")
            result = subprocess.run(
                [sys.executable, "-m", "mpy_cross", "-o", str(dest), str(src)],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                failures += 1
                print(f"FAIL {src}: {result.stderr.strip() or result.stdout.strip()}")
    print(f"mpy-cross: {len(sources) - failures}/{len(sources)} firmware files compile")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
