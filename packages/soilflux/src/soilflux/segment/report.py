"""What segmentation did to the records: :class:`SegmentReport` and the segment flags."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

#: Flags segmentation may set on a closure (``segment_flags``; see :mod:`soilflux.segment`).
SEGMENT_FLAGS: tuple[str, ...] = (
    "clock_jump",
    "out_of_order",
    "duplicate_time",
    "gap",
    "missing_values",
    "short",
    "long",
    "trimmed",
)


@dataclass
class SegmentReport:
    """What segmentation did to the records.

    Attributes
    ----------
    closures : int
        Closures found.
    rows_in_closures : int
        Samples that ended in a closure.
    rows_outside : int
        Samples outside any closure (open, flush, ... phases; rows without closure id).
    duplicates_dropped : int
        Samples dropped as repeated timestamps (exact repeats included).
    out_of_order : int
        Samples that arrived after a younger one.
    clock_jumps : int
        Backward clock jumps repaired.
    gaps : int
        Steps longer than ``gap_factor`` median steps inside closures.
    missing_gas : int
        Samples in closures left out for want of a gas value.
    flag_counts : dict
        Closures carrying each segment flag.
    """

    closures: int = 0
    rows_in_closures: int = 0
    rows_outside: int = 0
    duplicates_dropped: int = 0
    out_of_order: int = 0
    clock_jumps: int = 0
    gaps: int = 0
    missing_gas: int = 0
    flag_counts: dict[str, int] = field(default_factory=dict)

    def add(self, other: SegmentReport) -> None:
        """Add the counts of ``other`` (another piece of the same file) to these."""
        for name in (
            "closures",
            "rows_in_closures",
            "rows_outside",
            "duplicates_dropped",
            "out_of_order",
            "clock_jumps",
            "gaps",
            "missing_gas",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for flag, n in other.flag_counts.items():
            self.flag_counts[flag] = self.flag_counts.get(flag, 0) + n

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [
            f"{self.closures} closures from {self.rows_in_closures} samples "
            f"({self.rows_outside} samples outside closures)"
        ]
        for label, n in (
            ("duplicate timestamps dropped", self.duplicates_dropped),
            ("samples out of order (sorted)", self.out_of_order),
            ("backward clock jumps repaired", self.clock_jumps),
            ("gaps inside closures", self.gaps),
            ("samples without a gas value left out", self.missing_gas),
        ):
            if n:
                out.append(f"{n} {label}")
        out.extend(f"{n} closures flagged {flag}" for flag, n in sorted(self.flag_counts.items()))
        return out


def joined_flags(
    flags: dict[str, npt.NDArray[np.bool_]], n: int
) -> tuple[pd.api.extensions.ExtensionArray, dict[str, int]]:
    """Each closure's flags as one comma-separated string, and how many closures carry each.

    Parameters
    ----------
    flags : dict of (n,) bool
        Flag name → closures that carry it, in the order the names are joined.
    n : int
        Number of closures.

    Returns
    -------
    strings : (n,) string array
        ``"gap,short"``, or ``""`` for none.
    counts : dict
        Closures per flag, only the flags that occur.
    """
    names = list(flags)
    counts = {name: int(np.count_nonzero(mask)) for name, mask in flags.items()}
    # each closure's set of flags as bits: few distinct sets, each joined once
    bits = np.zeros(n, dtype=np.int64)
    for i, mask in enumerate(flags.values()):
        bits |= np.asarray(mask, dtype=np.int64) << i
    sets, which = np.unique(bits, return_inverse=True)
    texts = [",".join(name for i, name in enumerate(names) if s >> i & 1) for s in sets.tolist()]
    strings = pd.array(texts, dtype="string").take(which)
    return strings, {k: v for k, v in counts.items() if v}
