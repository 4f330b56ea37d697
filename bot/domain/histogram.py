"""Durations in log-spaced buckets, and the median and 90th percentile read back.

A duration of h hours goes into bucket 0 when under a second, else into bucket
1 + floor(log(h / 1 s) / log(1.05)): each bucket spans a factor of 1.05 and is read
back as its geometric middle. So a percentile read from buckets is within 2.47% of
the exact one (sqrt(1.05) - 1) from a second up, and within a second below that: the
nearest-rank p90 is one bucket's middle, and the median is one middle or the mean of
two (each within the bound, so their mean is too).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping

import numpy as np

RATIO = 1.05
FLOOR_HOURS = 1 / 3600  # a second
RELATIVE_ERROR = math.sqrt(RATIO) - 1
_LOG = math.log(RATIO)


def bucket(hours: float) -> int:
    """The bucket a duration (in hours, >= 0) goes into."""
    if hours < FLOOR_HOURS:
        return 0
    return 1 + int(math.log(hours / FLOOR_HOURS) / _LOG)


def bucket_hours(index: int) -> float:
    """What a bucket reads back as: 0 for the first, else its geometric middle."""
    return 0.0 if index <= 0 else FLOOR_HOURS * RATIO ** (index - 0.5)


def percentiles(counts: Mapping[int, int]) -> tuple[int, float | None, float | None]:
    """(count, median, nearest-rank p90) of the durations a histogram holds, the way
    `Spread.of` computes them from the durations themselves."""
    total = sum(counts.values())
    if not total:
        return 0, None, None
    ordered = sorted((b, n) for b, n in counts.items() if n)

    def nth(rank: int) -> float:  # 0-based rank in the sorted durations
        for index, n in ordered:
            if rank < n:
                return bucket_hours(index)
            rank -= n
        raise IndexError(rank)

    half = total // 2
    median = nth(half) if total % 2 else (nth(half - 1) + nth(half)) / 2
    return total, median, nth(math.ceil(0.9 * total) - 1)


def encode(counts: Mapping[int, int]) -> str | None:
    """A histogram as kept in a roll-up row: a flat JSON list, bucket then count, in
    bucket order (None when empty)."""
    pairs = [str(x) for b, n in sorted(counts.items()) if n for x in (b, n)]
    return f"[{','.join(pairs)}]" if pairs else None


def merge(counts: dict[int, int], text: str | None) -> None:
    """Add a kept histogram (see `encode`) into `counts`."""
    if text:
        flat = json.loads(text)
        for index, n in zip(flat[::2], flat[1::2], strict=True):
            counts[index] = counts.get(index, 0) + n


def merged(texts: Iterable[str | None]) -> dict[int, int]:
    """The sum of many kept histograms (see `encode`), added in one pass in numpy: a
    period of a big workspace reads thousands of them, whose buckets one by one in
    Python cost most of `/recover stats` (counts stay exact: integers under 2**53)."""
    inner = ",".join(text[1:-1] for text in texts if text)
    if not inner:
        return {}
    flat = np.fromstring(inner, dtype=np.int64, sep=",")  # numbers, no Python ints
    if flat.size % 2:
        raise ValueError("a kept histogram is bucket, count pairs")
    counts = np.bincount(flat[::2], weights=flat[1::2])
    kept = np.flatnonzero(counts)
    return dict(zip(kept.tolist(), counts[kept].astype(np.int64).tolist(), strict=True))
