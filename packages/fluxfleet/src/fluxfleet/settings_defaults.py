"""The settings' defaults, and the settings of a command that only its options can set.

:mod:`fluxfleet.settings` declares every setting once, with pydantic-settings. Importing it
costs ≈ 0.4 CPU-s (pydantic's ``BaseModel`` and the settings sources), a fifth of the 2-s
budget of ``fluxfleet export`` of a day (benchmarks/RESULTS.md, "PostgreSQL one-day export:
where the CPU goes"). When no ``--config`` is given and no ``FLUXFLEET_*`` variable is set,
nothing but the command's own options can change a setting, and the declared defaults are
the answer: :func:`options_only` gives them without that import. The defaults live here, and
:mod:`fluxfleet.settings` takes them from here, so they are still written once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "FLUXFLEET_"
"""Prefix of the settings' environment variables (pydantic-settings matches it in any case)."""
DEFAULT_AREA_CM2 = 452.4
"""Soil area of a chamber: a 24-cm pot [cm²] (the simulator's assumed bucket on pot)."""
DEFAULT_VOLUME_CM3 = 452.4 * 16.5
"""Chamber volume: the pot area × the 16.5-cm bucket height (seed: 16–17 cm) [cm³]."""
DEFAULT_DATA_DIR = Path("var")
"""Where the embedded store and other server files live, by default."""


def store_url(store: str, data_dir: Path) -> str:
    """``store``, or the embedded DuckDB file under ``data_dir`` when ``store`` is empty."""
    if store:
        return store
    return "duckdb:///" + (data_dir / "fluxfleet.duckdb").as_posix()  # absolute: duckdb:////…


def environment_sets_any(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a ``FLUXFLEET_*`` variable (any case, as pydantic-settings reads them) is set."""
    env = os.environ if environ is None else environ
    return any(k.upper().startswith(ENV_PREFIX) for k in env)


@dataclass(frozen=True)
class OptionsOnly:
    """The settings a store command reads, from its options and the declared defaults.

    Valid only where :func:`options_only` returns it: no config file, no environment.
    """

    store: str = ""
    data_dir: Path = DEFAULT_DATA_DIR
    chamber_volume_cm3: float = DEFAULT_VOLUME_CM3
    chamber_area_cm2: float = DEFAULT_AREA_CM2

    @property
    def store_url(self) -> str:
        """As :attr:`fluxfleet.settings.Settings.store_url`."""
        return store_url(self.store, self.data_dir)


def options_only(config: Path | None, store: str | None) -> OptionsOnly | None:
    """The settings when only the command's ``store`` option can set them; None otherwise.

    None when ``config`` is given or a ``FLUXFLEET_*`` variable is set: then the caller loads
    :func:`fluxfleet.settings.load_settings`, which reads those sources.
    """
    if config is not None or environment_sets_any():
        return None
    return OptionsOnly(store=store or "")
