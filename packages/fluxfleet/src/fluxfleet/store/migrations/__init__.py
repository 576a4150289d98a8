"""Versioned schema migrations, one directory of ``NNNN_name.sql`` files per backend.

A store applies, in order and each in its own transaction, the files whose version is
not yet in its ``schema_migrations`` table. A migration, once released, is never edited:
a change is a new file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(backend: str) -> list[Migration]:
    """The migrations of ``backend`` (``duckdb`` or ``postgresql``), by version."""
    out = []
    for path in sorted((HERE / backend).glob("*.sql")):
        m = _NAME.match(path.name)
        if m is None:
            raise RuntimeError(f"migration file {path} is not named NNNN_name.sql")
        out.append(Migration(int(m.group(1)), m.group(2), path.read_text()))
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions in {HERE / backend}")
    return out
