"""Seeds and intervals: how a benchmark tells a method's effect from run-to-run noise.

Each method is trained with the same seeds as the baseline (CE); the effect of a method on a
metric is the mean of the per-seed differences to the baseline (a paired comparison: a seed
fixes the initialisation and data order of both runs), with a Student-t 95% interval over the
seeds. A verdict is given only where that interval excludes zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

from scipy import stats as _scipy_stats

NOT_DISTINGUISHABLE = 'not distinguishable'


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation (ddof 1; ``nan`` for one value) of ``n`` values."""
    mean: float
    std: float
    n: int

    def format(self, scale: float = 1.0, digits: int = 1) -> str:
        """``'mean ± std'`` (``'mean'`` alone for one value), values multiplied by ``scale``."""
        if self.n == 1:
            return f'{self.mean * scale:.{digits}f}'
        return f'{self.mean * scale:.{digits}f} ± {self.std * scale:.{digits}f}'


@dataclass(frozen=True)
class PairedDifference:
    """Mean per-seed difference ``method - baseline`` and its ``confidence`` interval
    (``low``, ``high`` are ``nan`` with fewer than two pairs); ``std`` is the sample standard
    deviation of the per-seed differences (``nan`` with fewer than two)."""
    mean: float
    low: float
    high: float
    n: int
    confidence: float
    std: float = math.nan

    @property
    def verdict(self) -> str:
        """``'higher'`` / ``'lower'`` when the interval excludes zero, else
        :data:`NOT_DISTINGUISHABLE` (always so with fewer than two seeds)."""
        if self.n < 2 or math.isnan(self.low):
            return NOT_DISTINGUISHABLE
        if self.low > 0:
            return 'higher'
        if self.high < 0:
            return 'lower'
        return NOT_DISTINGUISHABLE

    def format(self, scale: float = 1.0, digits: int = 1) -> str:
        """``'+d [low, high]'`` (the interval only with two pairs or more)."""
        text = f'{self.mean * scale:+.{digits}f}'
        if self.n >= 2:
            text += f' [{self.low * scale:+.{digits}f}, {self.high * scale:+.{digits}f}]'
        return text


def summarize(values: Sequence[float]) -> Summary:
    """Mean and sample standard deviation of ``values`` (at least one)."""
    if not values:
        raise ValueError('summarize: no values')
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
    return Summary(mean, std, n)


def paired_difference(method: Sequence[float], baseline: Sequence[float],
                      confidence: float = 0.95) -> PairedDifference:
    """Mean of ``method[i] - baseline[i]`` over paired runs (same seed ``i``) with its
    two-sided Student-t ``confidence`` interval ``mean ± t(n-1) · sd / sqrt(n)``.

    Args:
        method, baseline: one value per seed, same length and seed order.
    """
    if len(method) != len(baseline):
        raise ValueError(f'paired_difference: {len(method)} method values but '
                         f'{len(baseline)} baseline values (pair them by seed)')
    diffs = [m - b for m, b in zip(method, baseline)]
    s = summarize(diffs)
    if s.n < 2:
        return PairedDifference(s.mean, math.nan, math.nan, s.n, confidence)
    half = float(_scipy_stats.t.ppf(0.5 + confidence / 2, s.n - 1)) * s.std / math.sqrt(s.n)
    return PairedDifference(s.mean, s.mean - half, s.mean + half, s.n, confidence, s.std)


def paired_by_seed(method: dict, baseline: dict) -> Optional[PairedDifference]:
    """:func:`paired_difference` over the seeds both ``{seed: value}`` maps have (None if
    they share none)."""
    seeds = sorted(set(method) & set(baseline))
    if not seeds:
        return None
    return paired_difference([method[s] for s in seeds], [baseline[s] for s in seeds])


def seeds_to_resolve(mean: float, std: float, confidence: float = 0.95,
                     limit: int = 1000) -> Optional[int]:
    """The fewest seeds (at least 2) at which a paired difference with this ``mean`` and
    per-seed standard deviation ``std`` gets a ``confidence`` interval that excludes zero,
    ``t(n-1) · std / sqrt(n) < |mean|``; None when ``mean`` is 0 or more than ``limit`` seeds
    would be needed. A planning estimate: it takes a measured mean and spread for the true ones
    (with few seeds both are uncertain), so it says how many seeds an effect of that size
    needs, not that more seeds will confirm this one."""
    if mean == 0 or math.isnan(mean) or math.isnan(std):
        return None
    for n in range(2, limit + 1):
        if float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n) \
                < abs(mean):
            return n
    return None
