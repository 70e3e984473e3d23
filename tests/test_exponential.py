"""rng.exponential, the ziggurat: the exact Exp(1) law, and its plain-Python
twin number for number (tests/naive.py), the rare further draws included."""
import math

import numpy as np
from numba import njit
from scipy import stats

import naive
from simengine import rng

N = 1_000_000


@njit
def _draws(pk, n, purpose):
    out = np.empty(n)
    for u in range(n):
        out[u] = rng.exponential(pk, u, purpose, 5)
    return out


def draws(seed=7, n=N, purpose=rng.LIFETIME):
    return _draws(np.uint64(rng.path_key(np.uint64(seed), 0)), n, purpose)


def test_tables_are_the_ziggurat():
    # layer i + 1's rectangle, x_{i+1} wide between heights F[i + 1] and
    # F[i], holds the common area v; so does the base strip with the tail
    x = rng.ZIG_W * 2.0 ** 53
    F = rng.ZIG_F
    v = 3.949659822581572e-3
    assert x[255] == rng.ZIG_R
    assert math.isclose(rng.ZIG_R * F[255] + math.exp(-rng.ZIG_R), v, rel_tol=1e-9)
    for i in range(0, 255):
        assert math.isclose(x[i + 1] * (F[i] - F[i + 1]), v, rel_tol=1e-9)
    for i in range(1, 256):
        assert math.isclose(F[i], math.exp(-x[i]), rel_tol=1e-12)
        # accepted at once: below the next layer's edge
        assert rng.ZIG_K[i] == int(x[i - 1] / x[i] * 2.0 ** 53) or i == 1


def test_twin_equal_number_for_number():
    pk = np.uint64(rng.path_key(np.uint64(11), 4))
    r = np.random.default_rng(3)
    slow = 0
    for _ in range(60_000):
        u, occ = int(r.integers(0, 2**32)), int(r.integers(0, 2**30))
        bits = naive.py_draw_bits(int(pk), u, rng.RETRY_DELAY, occ)
        slow += (bits >> 11) >= int(rng.ZIG_K[bits & 0xFF])
        assert rng.exponential(pk, u, rng.RETRY_DELAY, occ) == \
            naive.py_exponential(int(pk), u, rng.RETRY_DELAY, occ)
    # the further draws (wedges, tail, new draws) were met: 2.2% of draws
    p = 1.0 - np.mean(rng.ZIG_K / 2.0 ** 53)
    assert abs(slow - 60_000 * p) < 5 * math.sqrt(60_000 * p * (1 - p))


def test_law_is_exponential():
    x = draws()
    assert x.min() >= 0.0
    # mean and variance 1: within 4 standard errors (sd of the mean 1/sqrt(N),
    # of the variance sqrt(8/N) for Exp(1))
    assert abs(x.mean() - 1.0) < 4 / math.sqrt(N)
    assert abs(x.var() - 1.0) < 4 * math.sqrt(8 / N)
    assert stats.kstest(x, "expon").pvalue > 0.001
    # 100 equiprobable bins
    edges = -np.log1p(-np.linspace(0, 1, 101)[1:-1])
    counts = np.bincount(np.searchsorted(edges, x), minlength=100)
    assert stats.chisquare(counts).pvalue > 0.001


def test_tail_past_the_last_layer():
    x = draws(seed=8, purpose=rng.READD_DELAY)
    tail = x[x > rng.ZIG_R]
    p = math.exp(-rng.ZIG_R)
    assert abs(tail.size / N - p) < 4 * math.sqrt(p * (1 - p) / N)
    # memoryless past R: the overshoot is Exp(1)
    assert stats.kstest(tail - rng.ZIG_R, "expon").pvalue > 0.001
