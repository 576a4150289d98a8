"""Command-line checks of ``amrr``: bad usage is refused before any work, naming the option.

The exit codes of every CLI in this repository (CONTRIBUTING.md): 0 done, 1 bad input data,
2 bad usage (an option that cannot be right), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from pathlib import Path

import typer

EXIT_USAGE = 2

#: Argument names of the property functions → the options that carry them, so that a
#: ValueError from a property function is reported against the option the user typed.
OPTION_OF_ARGUMENT = {
    "temperature_K": "--temperature-K",
    "field_T": "--field-T",
    "x3": "--x3",
    "curie_weiss_K": "--curie-weiss-K",
    "internal_field_T": "--internal-field-T",
}


def finite(value: float | None, param: typer.CallbackParam) -> float | None:
    """Option callback: refuse NaN and ±inf (exit 2, naming the option)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, got {value}")
    return value


def float_list(text: str, option: str) -> list[float]:
    """``"0,0.5,1"`` → ``[0.0, 0.5, 1.0]``; anything else is refused (exit 2, naming option)."""
    values: list[float] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise typer.BadParameter(
                f"expected comma-separated numbers, got {part!r} in {text!r}", param_hint=option
            ) from None
        if not math.isfinite(value):
            raise typer.BadParameter(f"{part!r} is not a finite number", param_hint=option)
        values.append(value)
    if not values:
        raise typer.BadParameter(f"no numbers in {text!r}", param_hint=option)
    return values


def check_plot_path(path: Path, option: str = "--plot") -> Path:
    """Refuse a chart path that cannot be written, before any work: not ``.png``, a
    directory, a directory that does not exist (never created) or takes no new file."""
    if path.suffix.lower() != ".png":
        raise typer.BadParameter(f"{path}: the chart is a PNG, end it in .png", param_hint=option)
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a directory, not a file", param_hint=option)
    parent = path.absolute().parent
    if not parent.is_dir():
        raise typer.BadParameter(
            f"{path}: directory {parent} does not exist (create it first)", param_hint=option
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=parent)
    except OSError as exc:
        raise typer.BadParameter(
            f"{path}: cannot write into {parent}: {exc.strerror or exc}", param_hint=option
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return path


def option_named_in(message: str) -> str | None:
    """The option whose argument a property function's error message names, if any."""
    for argument, option in OPTION_OF_ARGUMENT.items():
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(argument)}(?![A-Za-z0-9_])", message):
            return option
    return None
