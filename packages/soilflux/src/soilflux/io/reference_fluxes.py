"""A reference flux meter's own results, one row per observation, from its files.

For comparing chambers with a reference instrument the instrument's reported flux is the
reference (not a flux recomputed here): LI-COR's ``.81x``, ``.82z`` and Smart Chamber JSON
files carry it (``vendor_flux_co2`` of each reader's ``observations``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from soilflux.io import read
from soilflux.io.errors import InputError

LICOR_FORMATS = ("licor-81x", "licor-82z", "licor-json")


def read_reference_fluxes(path: str | Path, *, tz: str = "UTC") -> pd.DataFrame:
    """The reported CO₂ flux and start time of every observation in a LI-COR file.

    Parameters
    ----------
    path : str or Path
        An ``.81x``, ``.82z`` or Smart Chamber ``.json`` file.
    tz : str
        IANA time zone of the instrument's clock (``.81x``/``.82z``; JSON is absolute).

    Returns
    -------
    pandas.DataFrame
        ``closure_id``, ``time`` (the observation's first sample, UTC),
        ``flux_umol_m2_s`` [µmol m⁻² s⁻¹] (the instrument's reported flux; NaN where its
        fit failed), ``source`` (the file name).

    Raises
    ------
    InputError
        The file cannot be read, is not a LI-COR file, or reports no CO₂ flux.
    """
    path = Path(path)
    data, meta = read(path, tz=tz, strict=False)
    if meta.format not in LICOR_FORMATS:
        raise InputError(
            path, None, None, f"not a LI-COR file ({meta.format}; expected .81x, .82z, .json)"
        )
    obs = meta.observations
    if "vendor_flux_co2" not in obs.columns:
        raise InputError(path, None, "vendor_flux_co2", "the file reports no CO₂ flux")
    start = pd.to_datetime(data["time"], utc=True).groupby(data["closure_id"]).min()
    out = pd.DataFrame(
        {
            "closure_id": obs.index.astype(str),
            "time": start.reindex(obs.index).to_numpy(),
            "flux_umol_m2_s": pd.to_numeric(obs["vendor_flux_co2"], errors="coerce").to_numpy(),
        }
    )
    out["time"] = pd.to_datetime(out["time"], utc=True)
    out["source"] = path.name
    return out
