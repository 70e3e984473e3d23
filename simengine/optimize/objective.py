"""The objective of a search: a statistic over paths of one cost metric of
`paths.arrow`, with a 95% confidence interval (docs/model.md section 13).

    obj = Objective.parse("p95:economic_cost")
    est = obj.estimate(costs, replicate)   # Estimate(value, lo, hi, n)

P95 and CVaR95, values and intervals, are those of a run's `summary.arrow`
(`stats.distribution_stats`), so a candidate's objective reads the same as
a run's summary, under either sampling. The other statistics follow the
same rules:

- independent paths (no usable `replicate` labels): percentiles get the
  distribution-free interval of the order statistics whose ranks bound a
  Binomial(n, q) count with 95% probability (undefined, NaN, with too few
  paths: below 72 for P95); the mean gets mean +- t(n-1, 0.975) sd/sqrt(n);
  CVaR95 the summary's asymptotic normal interval of the tail mean (at
  least 2 paths in the worst 5%);
- Sobol' replicates (`replicate`: each path's, at least two replicates of
  equal size): sectioning, `q +- t(R-1, 0.975) sqrt(sum (q_r - q)^2 /
  (R (R - 1)))` with q_r the statistic of replicate r alone (docs/model.md section 12).

A window of search paths that is not whole replicates (or holds one) is
treated as independent paths. Every metric but regret is never below zero,
and so are its intervals (`stats`: sectioning on the log scale, a mean's
low end cut at 0; order statistics are values of the sample).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..scenario import ScenarioError
from ..stats import (TAIL, cvar95, distribution_stats, is_nonnegative, mean_interval,
                     quantile_interval, sectioning_interval)

STATS = ("mean", "p50", "p90", "p95", "p99", "cvar95")
# money columns of paths.arrow (regret: against the hindsight plan, docs/model.md section 5)
METRICS = ("economic_cost", "total_cost", "regret", "tier_cost", "upgrade_cost",
           "certification_cost", "overflow_cost", "lost_value")
DEFAULT = "p95:economic_cost"
CONFIDENCE = 0.95
MIN_TAIL = 2          # paths in the tail before CVaR95 gets an interval (the summary's rule)
SUMMARY_STATS = ("p95", "cvar95")     # computed by stats.distribution_stats


@dataclass(frozen=True)
class Estimate:
    """A statistic over `n` paths and its 95% interval (NaN: undefined)."""
    value: float
    lo: float
    hi: float
    n: int

    def overlaps_below(self, hi: float) -> bool:
        """Whether this interval reaches down to `hi` (an undefined bound
        reaches everywhere): the test that keeps a candidate in the search."""
        return math.isnan(self.lo) or math.isnan(hi) or self.lo <= hi


@dataclass(frozen=True)
class Objective:
    stat: str
    metric: str

    @classmethod
    def parse(cls, text, where="--objective") -> "Objective":
        """`STAT:METRIC`, e.g. "p95:economic_cost", in any case ("P95:
        ECONOMIC_COST" too); ScenarioError naming `where` (a file and key,
        or the option) when it is not one."""
        expected = (f"expected STAT:METRIC with STAT one of {', '.join(STATS)} and METRIC "
                    f"one of {', '.join(METRICS)} (e.g. \"{DEFAULT}\")")
        if not isinstance(text, str) or text.count(":") != 1:
            raise ScenarioError(f"{where}: {expected}, got {text!r}")
        stat, metric = (p.strip().lower() for p in text.split(":"))
        if stat not in STATS or metric not in METRICS:
            raise ScenarioError(f"{where}: {expected}, got {text!r}")
        return cls(stat, metric)

    def __str__(self) -> str:
        return f"{self.stat}:{self.metric}"

    @property
    def label(self) -> str:
        """The statistic as a table header reads it: "P95", "mean", "CVaR95"."""
        return {"mean": "mean", "cvar95": "CVaR95"}.get(self.stat, self.stat.upper())

    def min_paths(self) -> int:
        """The fewest independent paths that give this statistic an
        interval: pruning starts there."""
        if self.stat == "mean":
            return 2
        if self.stat == "cvar95":
            return int(round((MIN_TAIL - 1) / TAIL)) + 1
        q = int(self.stat[1:]) / 100
        alpha = (1 - CONFIDENCE) / 2
        # the top order statistic bounds the quantile once q^n <= alpha
        return math.ceil(math.log(alpha) / math.log(q))

    def estimate(self, x, replicate=None) -> Estimate:
        return estimate(self.stat, x, replicate, nonnegative=is_nonnegative(self.metric))


def in_cents(x) -> float:
    """A money value for ordering: rounded to the cent, so that two
    candidates that cost the same but for float noise (sums taken in another
    order) tie, and the tie-breaks decide; NaN sorts last."""
    x = float(x)
    return math.inf if math.isnan(x) else round(x, 2)


def point(stat: str, x) -> float:
    """The statistic of a sample, as summary.arrow computes it."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n == 0:
        return math.nan
    if stat == "mean":
        return float(x.mean())
    if stat == "cvar95":
        return cvar95(np.sort(x))
    return float(np.percentile(x, int(stat[1:])))


def usable_replicates(replicate):
    """The labels when they make at least two replicates of equal size,
    else None (then the paths count as independent)."""
    if replicate is None:
        return None
    replicate = np.asarray(replicate)
    _, counts = np.unique(replicate, return_counts=True)
    if counts.shape[0] < 2 or counts.min() != counts.max():
        return None
    return replicate


BATCHES = 8        # sections of independent paths for a paired difference's interval


def paired_difference(stat: str, a, b, replicate=None) -> Estimate:
    """`stat` of sample `a` less `stat` of sample `b`, where a[i] and b[i]
    are two strategies on the same path i (common random numbers): its 95%
    interval by sectioning the difference of the statistics over the
    replicates (Sobol'), or over BATCHES equal batches of consecutive
    independent paths (the mean: the paired t interval). Far narrower than
    the two strategies' own intervals, whose errors mostly cancel."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = a.shape[0]
    value = point(stat, a) - point(stat, b)
    replicate = usable_replicates(replicate)
    if replicate is None and stat == "mean":
        if n < 2:
            return Estimate(value, math.nan, math.nan, n)
        lo, hi = mean_interval(value, (a - b).std(ddof=1), n)
        return Estimate(value, float(lo), float(hi), n)
    if replicate is None:
        if n < 2 * BATCHES:
            return Estimate(value, math.nan, math.nan, n)
        replicate = np.arange(n) * BATCHES // n
    groups = [replicate == r for r in np.unique(replicate)]
    lo, hi = sectioning_interval(value, [point(stat, a[g]) - point(stat, b[g]) for g in groups])
    return Estimate(value, float(lo), float(hi), n)


def estimate(stat: str, x, replicate=None, nonnegative=False) -> Estimate:
    """`stat` of the sample `x` with its 95% interval (module docstring);
    `nonnegative`: `x` is never below zero, nor is the interval."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    replicate = usable_replicates(replicate)
    if stat in SUMMARY_STATS:
        d = distribution_stats(x, replicate, nonnegative=nonnegative)
        return Estimate(float(d[stat]), float(d[f"{stat}_lo"]), float(d[f"{stat}_hi"]), n)
    value = point(stat, x)
    if replicate is not None:
        groups = [x[replicate == r] for r in np.unique(replicate)]
        lo, hi = sectioning_interval(value, [point(stat, g) for g in groups],
                                     nonnegative=nonnegative)
        return Estimate(value, float(lo), float(hi), n)
    if n < 2:
        return Estimate(value, math.nan, math.nan, n)
    if stat == "mean":
        lo, hi = mean_interval(value, x.std(ddof=1), n, nonnegative=nonnegative)
        return Estimate(value, float(lo), float(hi), n)
    return Estimate(value, *quantile_interval(np.sort(x), int(stat[1:]) / 100), n)

