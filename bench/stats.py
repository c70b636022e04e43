"""The one percentile the benchmarks report (nearest rank on the sorted values)."""
from __future__ import annotations

from typing import Sequence


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")
