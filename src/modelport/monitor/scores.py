"""Drift and data-quality scores: pure functions of a reference and a live sample.

Each takes plain NumPy arrays (or share maps) so that it can be checked against values
computed by hand; profile.py and report.py decide what to compare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from scipy import stats  # type: ignore[import-untyped]

__all__ = [
    "EPSILON",
    "Status",
    "bin_shares",
    "chi_square",
    "ks",
    "psi",
    "share_shift",
    "status_of",
    "worst",
]

Status = Literal["ok", "warn", "alert"]
_RANK: dict[Status, int] = {"ok": 0, "warn": 1, "alert": 2}
#: Floor for an empty bin's share: PSI takes log(live / reference), infinite at zero.
EPSILON = 1e-4


def psi(reference: Sequence[float] | np.ndarray, live: Sequence[float] | np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins.

    sum((live - ref) * ln(live / ref)); empty bins count as EPSILON so the sum stays finite.
    """
    ref = np.maximum(np.asarray(reference, dtype=float), EPSILON)
    cur = np.maximum(np.asarray(live, dtype=float), EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` in each bin cut at the inner ``edges`` (len(edges) + 1 bins).

    A value equal to an edge falls in the bin above it, as in the reference profile.
    """
    if values.size == 0:
        return np.zeros(len(edges) + 1)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / values.size


def ks(reference: np.ndarray, live: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov: (largest gap between the two CDFs, p-value)."""
    if reference.size == 0 or live.size == 0:
        return 0.0, 1.0
    result = stats.ks_2samp(reference, live)
    return float(result.statistic), float(result.pvalue)


def chi_square(reference: Mapping[str, float], live: Mapping[str, int]) -> tuple[float, float]:
    """Pearson chi-square of live category counts against the reference shares:
    (statistic, p-value). Categories the reference never saw are left to the unseen rate."""
    known = [name for name in reference if reference[name] > 0]
    observed = np.array([live.get(name, 0) for name in known], dtype=float)
    total = observed.sum()
    if len(known) < 2 or total == 0:
        return 0.0, 1.0
    shares = np.array([reference[name] for name in known], dtype=float)
    expected = shares / shares.sum() * total
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return statistic, float(stats.chi2.sf(statistic, len(known) - 1))


def share_shift(reference: Mapping[str, float], live: Mapping[str, float]) -> float:
    """Total variation distance of two share maps: half the sum of |live - ref| (0 to 1)."""
    names = set(reference) | set(live)
    return 0.5 * sum(abs(live.get(n, 0.0) - reference.get(n, 0.0)) for n in names)


def status_of(value: float, warn: float, alert: float) -> Status:
    """``alert`` at or above ``alert``, ``warn`` at or above ``warn``, else ``ok``."""
    if value >= alert:
        return "alert"
    return "warn" if value >= warn else "ok"


def worst(statuses: Sequence[Status]) -> Status:
    """The most severe of ``statuses`` (``ok`` for none)."""
    return max(statuses, key=_RANK.__getitem__, default="ok")
