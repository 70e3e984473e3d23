"""First attempts drawn as counts (docs/model.md section 3): the exact
binomial on counter-based uniforms, its plain-Python twin, and the law of
the daily counts."""
import math
import sys
import os

import numpy as np
import pytest
from scipy import stats

sys.path.insert(0, os.path.dirname(__file__))
import naive  # noqa: E402
from simengine import rng  # noqa: E402

# (n, p): inversion (n min(p, 1 - p) <= 30) and BTPE, small and large p,
# p above 1/2 (drawn as n - Binomial(n, 1 - p)), and the default's sizes
CASES = [(1, 0.3), (7, 0.5), (40, 0.02), (1000, 0.03), (1000, 0.97), (250_000, 1.2e-4),
         (60, 0.5), (31, 0.99), (100, 0.31), (200, 0.5), (1000, 0.1), (5000, 0.9),
         (250_000, 4e-4), (800_000, 2.5e-4), (10_000_000, 3e-5), (3, 0.9999)]


def _sample(n, p, draws, key):
    pk = np.uint64(rng.path_key(np.uint64(key), 0))
    return np.array([rng.binomial(pk, j, rng.FIRST_ATTEMPTS, 0, n, p) for j in range(draws)])


@pytest.mark.parametrize("n,p", CASES)
def test_binomial_follows_the_exact_law(n, p):
    """Chi-square of 20,000 draws against scipy's Binomial(n, p), cells
    merged to an expectation of at least 20."""
    x = _sample(n, p, 20_000, key=n * 7919 + int(p * 1e6))
    assert x.min() >= 0 and x.max() <= n
    lo, hi = stats.binom.ppf([1e-7, 1 - 1e-7], n, p).astype(int)
    lo, hi = max(lo - 1, 0), min(hi + 1, n)
    edges = [lo]
    acc = 0.0
    for k in range(lo, hi + 1):          # cells [edges[i], edges[i + 1])
        acc += stats.binom.pmf(k, n, p) * len(x)
        if acc >= 20:
            edges.append(k + 1)
            acc = 0.0
    edges[-1] = hi + 1
    cells = [(a, b) for a, b in zip(edges[:-1], edges[1:])]
    if len(cells) < 2:                   # all but certain: one value
        assert (x == stats.binom.median(n, p)).mean() > 0.999
        return
    expect = np.array([stats.binom.cdf(b - 1, n, p) - stats.binom.cdf(a - 1, n, p)
                       for a, b in cells])
    expect[0] += stats.binom.cdf(cells[0][0] - 1, n, p)      # the tails join the ends
    expect[-1] += stats.binom.sf(cells[-1][1] - 1, n, p)
    observed = np.array([((x >= a) & (x < b)).sum() for a, b in cells])
    observed[0] += (x < cells[0][0]).sum()
    observed[-1] += (x >= cells[-1][1]).sum()
    chi2 = stats.chisquare(observed, expect * len(x) / expect.sum())
    assert chi2.pvalue > 1e-4, (n, p, chi2)
    # and the mean, within 4.5 standard errors
    assert abs(x.mean() - n * p) < 4.5 * math.sqrt(n * p * (1 - p) / len(x)) + 1e-12


def test_binomial_edges():
    pk = np.uint64(rng.path_key(np.uint64(1), 0))
    assert rng.binomial(pk, 0, rng.FIRST_ATTEMPTS, 0, 0, 0.5) == 0
    assert rng.binomial(pk, 0, rng.FIRST_ATTEMPTS, 0, 10, 0.0) == 0
    assert rng.binomial(pk, 0, rng.FIRST_ATTEMPTS, 0, 10, 1.0) == 10


def test_binomial_twin_number_for_number():
    """tests/naive.py's plain-Python binomial (the reference simulator's)
    gives the kernel's numbers on random inputs, both regimes."""
    r = np.random.default_rng(11)
    pk = np.uint64(rng.path_key(np.uint64(5), 2))
    for i in range(4000):
        n = int(r.choice([1, 5, 40, 300, 5000, 10**6, 10**7]))
        p = min(1.0, float(r.choice([1e-6, 1e-4, 1e-3, 0.01, 0.1, 0.3, 0.5, 0.7, 0.99]))
                * float(r.uniform(0.5, 1.5)))
        first = int(r.integers(0, 3000)) * rng.BINOMIAL_UNIFORMS
        s = int(r.integers(0, 8))
        assert (rng.binomial(pk, s, rng.FIRST_ATTEMPTS, first, n, p)
                == naive.py_binomial(int(pk), s, rng.FIRST_ATTEMPTS, first, n, p)), (n, p)


def test_attempts_by_day_follow_the_per_customer_law():
    """Counts day by day give every customer the law of the per-customer
    draw: the number attempting by day t is Binomial(pool, 1 - exp(-H(t + 1))),
    H the cumulative hazard (a season with zeros and a campaign-like burst;
    both regimes of the sampler are met). Chi-square over 3,000 paths at
    three days and the horizon."""
    from simengine.kernel import arrivals, campaigns, layout
    D, pool, adoption, G = 365, 20_000, 4e-4, 1.1
    season = np.ones(D)
    season[50:80] = 0.0
    season[200:203] = 40.0
    segs = np.zeros(1, layout.SEGMENT)
    segs[0] = (0, pool + 100, 100, adoption, 0.01, 2.0, 0.0, 1.0, 0.0, 0.0, False)
    no_runs = campaigns.campaign_runs(np.uint64(0), np.zeros(0, layout.CAMPAIGN), D)
    reach = np.zeros((0, 1), np.bool_)
    by_day = np.array([
        np.cumsum(arrivals.first_attempt_counts(np.uint64(rng.path_key(np.uint64(3), p)), segs,
                                                season, G, no_runs, reach)[:, 0])
        for p in range(3000)])
    H = np.concatenate([[0.0], np.cumsum(adoption * season * G)])
    for t in (40, 120, 202, D - 1):
        x = by_day[:, t]
        q = -math.expm1(-H[t + 1])
        lo, hi = (int(v) for v in stats.binom.ppf([0.01, 0.99], pool, q))
        edges = np.linspace(lo, hi + 1, 12).astype(int)
        cdf = stats.binom.cdf(edges - 1, pool, q)
        expect = np.diff(np.concatenate([[0.0], cdf, [1.0]])) * len(x)
        observed = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(expect))
        assert stats.chisquare(observed, expect).pvalue > 1e-4, t
