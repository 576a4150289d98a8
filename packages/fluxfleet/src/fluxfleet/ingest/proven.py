"""What the batch validators share: the proven rows of a batch and cached topic checks.

Two validators prove telemetry valid a batch at a time (:mod:`~fluxfleet.ingest.arrowcheck`
with Arrow's JSON reader, :mod:`~fluxfleet.ingest.fastcheck` with orjson); both hand back
:class:`TelemetryRows`, and anything they cannot prove is left to the firmware's
:mod:`~fluxfleet.firmware.protocol`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from fluxfleet.firmware import protocol as _protocol

protocol: Any = _protocol  # MicroPython module without annotations

SAMPLE_KEYS = (
    "seq", "ts", "cyc", "ph", "co2_ppm", "rh_pct", "t_c", "ta_c", "p_hpa", "lux",
    "lid_deg", "fan_pct", "fl",
)  # fmt: skip
"""The sample fields, the keys of :attr:`TelemetryRows.columns`."""

READINGS = ("co2_ppm", "rh_pct", "t_c", "ta_c", "p_hpa", "lux")
"""The sample readings: numbers or null within ``protocol.READING_LIMITS``."""

MAX_OPEN = 600
"""Most ``[`` and ``{`` a payload proven here may hold: Python's ``json`` (the protocol's
decoder) refuses nesting deeper than its recursion limit (about 990 levels at the default
limit of 1,000), orjson and Arrow read deeper. 500 samples need 502."""

INT_LIMITS = (("lid_deg", 0, 270), ("fan_pct", 0, 100), ("fl", 0, 255))
"""The sample's small integers and their ranges (inclusive), as in ``protocol._check_sample``."""


@dataclass
class TelemetryRows:
    """The samples of the proven telemetry messages of a batch, as columns.

    ``message[k]`` is the batch index of the k-th proven message (increasing), ``device[k]``
    its device and ``boot``/``loc``/``ts`` its header; its samples are rows
    ``starts[k]:starts[k+1]`` of the columns (``starts`` has one more entry).
    """

    message: list[int]
    device: list[str]
    boot: np.ndarray
    """Boot count of each message [-] (int64)."""
    loc: list[str]
    ts: np.ndarray
    """Message time of each message [ms since the epoch] (int64)."""
    starts: np.ndarray
    columns: dict[str, Any]
    """Sample field -> int64 array (integers), float64 array with NaN for null
    (readings) or an Arrow string array (``ph``)."""

    @staticmethod
    def empty() -> TelemetryRows:
        return TelemetryRows(
            [], [], np.zeros(0, np.int64), [], np.zeros(0, np.int64), np.zeros(1, np.int64), {}
        )

    def take(self, keep: np.ndarray) -> TelemetryRows:
        """Only the messages where ``keep`` (bool, one per message) is True."""
        if keep.all():
            return self
        counts = np.diff(self.starts)
        kept = np.flatnonzero(keep)
        starts = np.zeros(len(kept) + 1, dtype=np.int64)
        np.cumsum(counts[kept], out=starts[1:])
        if not len(kept):
            return TelemetryRows.empty()
        rows = np.repeat(keep, counts)
        return TelemetryRows(
            [self.message[k] for k in kept],
            [self.device[k] for k in kept],
            self.boot[kept],
            [self.loc[k] for k in kept],
            self.ts[kept],
            starts,
            {
                k: (v.filter(pa.array(rows)) if k == "ph" else v[rows])
                for k, v in self.columns.items()
            },
        )


def merge(a: TelemetryRows, b: TelemetryRows) -> TelemetryRows:
    """The proven messages of ``a`` and ``b`` (disjoint), in batch order."""
    if not a.message:
        return b
    if not b.message:
        return a
    message = a.message + b.message
    order = np.argsort(np.array(message), kind="stable")
    counts = np.concatenate([np.diff(a.starts), np.diff(b.starts)])[order]
    first = np.concatenate([a.starts[:-1], b.starts[:-1] + a.starts[-1]])[order]
    starts = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    # row index of each output row: its message's first row in a+b plus its rank within
    rows = np.repeat(first - starts[:-1], counts) + np.arange(starts[-1])
    columns: dict[str, Any] = {}
    for key in SAMPLE_KEYS:
        if key == "ph":
            both = pa.concat_arrays([a.columns[key], b.columns[key]])
            columns[key] = both.take(pa.array(rows))
        else:
            columns[key] = np.concatenate([a.columns[key], b.columns[key]])[rows]
    return TelemetryRows(
        [message[k] for k in order],
        [(a.device + b.device)[k] for k in order],
        np.concatenate([a.boot, b.boot])[order],
        [(a.loc + b.loc)[k] for k in order],
        np.concatenate([a.ts, b.ts])[order],
        starts,
        columns,
    )


@lru_cache(maxsize=65536)
def telemetry_device(topic: str) -> str | None:
    """The device of a valid telemetry topic; None for any other topic."""
    try:
        device, kind = protocol.parse_topic(topic)
    except Exception:
        return None
    return str(device) if kind == "telemetry" else None


@lru_cache(maxsize=65536)
def location_ok(loc: str) -> bool:
    """Whether ``loc`` is a location code the protocol accepts."""
    try:
        protocol.check_location(loc)
    except protocol.ProtocolError:
        return False
    return True
