"""The statistics of the outputs (docs/model.md sections 7, 12), in one place: those
of a run's summary (`distribution_stats`), the 95% intervals they carry, and
the intervals `compare` and `optimize` put on other statistics.

Intervals follow the sampling. Independent paths: a quantile gets the
distribution-free interval of the order statistics whose ranks bound a
Binomial(n, q) count with 95% probability; CVaR95 the asymptotic normal
interval of a tail mean; a mean mean +- t(n-1) sd / sqrt(n). Sobol'
replicates: sectioning over the replicates' own estimates.

Costs and counts are never below zero, and their intervals respect that
(docs/precision.md, "Intervals that respect the data"): sectioning of a
non-negative statistic is done on the log scale when every replicate's
estimate is above zero (the replicates of a skewed statistic spread
multiplicatively, and the interval keeps their skew), else on the plain
scale with its low end at 0; the normal intervals of a mean or CVaR95 from
independent paths are cut at 0. The true value is never below 0, so the cut
never loses coverage. Regret and paired differences can be negative and
keep the plain intervals.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .schema import SUMMARY_STATS

TAIL = 0.05             # CVaR95: the mean of the worst 5% of paths (at least one)
LOW, HIGH = 0.025, 0.975  # the tails a 95% interval leaves out
# the metrics that can be negative: regret is economic cost less the
# hindsight plan's, below zero where blocking saves more than it loses;
# every other metric is an amount paid or a count
SIGNED_METRICS = frozenset({"regret"})


def is_nonnegative(metric: str) -> bool:
    """Whether `metric` (a column of paths.arrow or the summary) is never
    below zero, so that its intervals must not be either."""
    return metric not in SIGNED_METRICS


def distribution_stats(x, replicate=None, nonnegative=False) -> dict:
    """Statistics of one sample (docs/model.md sections 7, 12). Percentiles: numpy's
    linear rule; `cvar95`: mean of the worst 5% (at least one value). NaN
    where a statistic cannot be computed (the summary writes null).

    Intervals (95%) and `se` follow the sampling. Independent paths
    (`replicate` None, sampling = "mc"): `p95_lo`/`p95_hi` are the order
    statistics whose ranks bound a Binomial(n, 0.95) count with 95%
    probability (distribution-free); `cvar95_lo`/`cvar95_hi` the asymptotic
    normal interval; `se` = std / sqrt(n). Sobol' replicates (`replicate`
    gives each value's): sectioning, `q +- t(R-1) * sqrt(sum (q_r - q)^2 /
    (R (R - 1)))` with q_r the statistic of replicate r alone, for P95 and
    CVaR95; `se` = std of the replicates' means / sqrt(R).

    `nonnegative`: the sample is of a quantity never below zero (a cost, a
    count): its intervals stay at or above 0 (module docstring)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    out = dict(n=n)
    if n == 0:
        return out | {s: math.nan for s in SUMMARY_STATS}
    order = np.sort(x)
    out["mean"] = float(order.mean())         # of the sorted sample, as pinned by golden files
    out["std"] = float(order.std(ddof=1)) if n > 1 else math.nan
    for q in (5, 50, 90, 95, 99):
        out[f"p{q}"] = float(np.percentile(order, q))
    out["cvar95"] = cvar95(order)
    if replicate is None:
        out["se"] = out["std"] / math.sqrt(n) if n > 1 else math.nan
        out["p95_lo"], out["p95_hi"] = quantile_interval(order, 0.95)
        out["cvar95_lo"], out["cvar95_hi"] = cvar95_interval(order, out["cvar95"],
                                                             nonnegative)
        return out
    replicate = np.asarray(replicate)
    groups = [np.sort(x[replicate == r]) for r in np.unique(replicate)]
    means = [g.mean() for g in groups]
    out["se"] = float(np.std(means, ddof=1) / math.sqrt(len(groups))) if len(groups) > 1 \
        else math.nan
    out["p95_lo"], out["p95_hi"] = sectioning_interval(
        out["p95"], [np.percentile(g, 95) for g in groups], nonnegative=nonnegative)
    out["cvar95_lo"], out["cvar95_hi"] = sectioning_interval(
        out["cvar95"], [cvar95(g) for g in groups], nonnegative=nonnegative)
    return out


def cvar95(order) -> float:
    """Mean of the worst 5% of a sorted sample (at least one value)."""
    n = order.shape[0]
    return float(order[n - max(1, int(math.ceil(TAIL * n))):].mean())


def quantile_interval(order, q):
    """The distribution-free 95% interval of the q-quantile of a sorted
    sample: the order statistics whose ranks bound a Binomial(n, q) count
    with 95% probability; NaN for a bound the sample is too small to hold."""
    n = order.shape[0]
    lo = int(stats.binom.ppf(LOW, n, q))        # ranks, 1-based order statistics
    hi = int(stats.binom.ppf(HIGH, n, q)) + 1
    return (float(order[lo - 1]) if lo >= 1 else math.nan,
            float(order[hi - 1]) if hi <= n else math.nan)


def cvar95_interval(order, cvar, nonnegative=False):
    """Asymptotic normal 95% interval of CVaR95 from independent paths: its
    variance is (var of the tail + 0.95 (cvar - VaR)^2) / (0.05 n), the tail
    being the worst 5% and VaR its smallest value (needs 2 tail values).
    `nonnegative`: the low end is cut at 0."""
    n = order.shape[0]
    tail = order[n - max(1, int(math.ceil(TAIL * n))):]
    if tail.shape[0] < 2:
        return math.nan, math.nan
    var = (tail.var(ddof=1) + (1 - TAIL) * (cvar - tail[0]) ** 2) / (TAIL * n)
    half = stats.norm.ppf(HIGH) * math.sqrt(var)
    return _floor(cvar - half, nonnegative), cvar + half


def mean_interval(mean: float, std: float, n: int, nonnegative=False):
    """The t interval (95%) of a mean of n independent values: mean +-
    t(n-1) std / sqrt(n); NaN below two values. `nonnegative`: the low end
    is cut at 0."""
    if n < 2:
        return math.nan, math.nan
    half = stats.t.ppf(HIGH, n - 1) * std / math.sqrt(n)
    return _floor(mean - half, nonnegative), mean + half


def _floor(lo: float, nonnegative: bool) -> float:
    """The low end of an interval of a quantity never below zero: cut at 0
    (the true value is >= 0, so an interval that held it still does)."""
    return max(lo, 0.0) if nonnegative else lo


def sectioning_interval(pooled: float, per_replicate, level=0.95, nonnegative=False):
    """(lo, hi): `pooled` +- t(R-1) * sqrt(sum (q_r - pooled)^2 / (R (R - 1)))
    over the replicates' estimates q_r (docs/model.md section 12); NaN for R < 2 or a
    non-finite estimate.

    `nonnegative` (a statistic never below zero): when `pooled` and every
    q_r are above zero, the same on the log scale, `pooled` * exp(+-t(R-1)
    * sqrt(sum (log q_r - log pooled)^2 / (R (R - 1)))), which stays above
    zero and keeps the skew of the replicates' spread; else the plain
    interval with its low end cut at 0."""
    q = np.asarray(per_replicate, dtype=np.float64)
    R = q.shape[0]
    if R < 2 or not math.isfinite(pooled) or not np.isfinite(q).all():
        return math.nan, math.nan
    t = stats.t.ppf(0.5 + level / 2, R - 1)
    if nonnegative and pooled > 0 and (q > 0).all():
        half = t * math.sqrt(((np.log(q) - math.log(pooled)) ** 2).sum() / (R * (R - 1)))
        return pooled * math.exp(-half), pooled * math.exp(half)
    half = t * math.sqrt(((q - pooled) ** 2).sum() / (R * (R - 1)))
    return _floor(pooled - half, nonnegative), pooled + half


def share_interval(share, n, z=1.959964) -> tuple:
    """Wilson's 95% interval of a share of n paths (sound near 0 and 1,
    where mean +- 1.96 se is not)."""
    if share is None or math.isnan(share) or not n:
        return math.nan, math.nan
    d = 1 + z * z / n
    mid = (share + z * z / (2 * n)) / d
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / d
    return max(0.0, mid - half), min(1.0, mid + half)
