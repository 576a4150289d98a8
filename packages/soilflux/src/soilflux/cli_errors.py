"""Command-line checks shared by the commands: bad usage is refused before any work.

The exit codes of every CLI in this repository (``soilflux``, ``fluxfleet``, ``amrr``;
CONTRIBUTING.md): 0 done, 1 bad input data (a file that cannot be used), 2 bad usage (an
option or argument that cannot be right, checked before any work), 130 interrupted (Ctrl-C).
Messages go to stderr and name the file, line and field, or the option.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import typer

EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def check_output(path: Path, option: str, suffixes: Iterable[str] | None = None) -> Path:
    """Refuse an output path that cannot be written, before the work that would fill it.

    Checked: the suffix (one of ``suffixes``, when given), that the path is not a
    directory, and that its directory exists (it is never created) and takes a new file
    (probed with a temporary file, removed at once: file permissions alone do not tell for
    root, /proc or a read-only mount).

    Parameters
    ----------
    path : Path
        The output file.
    option : str
        The option or argument that named it (``-o``, ``--plot``), for the message.
    suffixes : iterable of str, optional
        Accepted suffixes, lower case with the dot (``.csv``).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    typer.BadParameter
        Exit code 2, the message naming ``option``.
    """
    if suffixes is not None:
        allowed = tuple(suffixes)
        if path.suffix.lower() not in allowed:
            raise typer.BadParameter(
                f"{path}: must end in {' or '.join(allowed)}", param_hint=option
            )
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a directory, not a file", param_hint=option)
    parent = path.absolute().parent
    if not parent.exists():
        raise typer.BadParameter(
            f"{path}: directory {parent} does not exist (create it first)", param_hint=option
        )
    if not parent.is_dir():
        raise typer.BadParameter(f"{path}: {parent} is not a directory", param_hint=option)
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=parent)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise typer.BadParameter(
            f"{path}: cannot write into {parent}: {reason}", param_hint=option
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return path


def check_positive(value: float | None, option: str, unit: str) -> None:
    """Refuse a value that is not a finite number > 0 (exit 2, naming ``option``)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a number > 0 {unit}, got {value:g}", param_hint=option)


def check_time_zone(name: str, option: str = "--tz") -> str:
    """Refuse an unknown IANA time zone name (exit 2, naming ``option``)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(
            f"unknown time zone {name!r} (an IANA name such as UTC or Europe/Berlin)",
            param_hint=option,
        ) from None
    return name
