"""rng.normal_ziggurat (the gamma's trials): the exact N(0, 1) law, and its
plain-Python twin number for number (tests/naive.py), the rare further draws
included; and the gamma drawn from it (its boost an exponential)."""
import math

import numpy as np
from numba import njit
from scipy import stats

import naive
from simengine import rng

N = 1_000_000


@njit
def _normals(pk, n, purpose):
    out = np.empty(n)
    for u in range(n):
        out[u] = rng.normal_ziggurat(pk, u, purpose, 3)
    return out


@njit
def _gammas(pk, n, shape):
    out = np.empty(n)
    for u in range(n):
        out[u] = rng.gamma(pk, u, rng.LAMBDA, shape)
    return out


def key(seed):
    return np.uint64(rng.path_key(np.uint64(seed), 0))


def test_tables_are_the_ziggurat():
    # each layer's rectangle holds the common area v; so does the base strip
    # with the tail past R (sqrt(pi / 2) erfc(R / sqrt 2) under exp(-x^2 / 2))
    x = rng.ZN_W * 2.0 ** 53
    F = rng.ZN_F
    v = 4.928673233974655e-3
    R = rng.ZN_R
    assert x[255] == R
    tail = math.sqrt(math.pi / 2) * math.erfc(R / math.sqrt(2))
    assert math.isclose(R * F[255] + tail, v, rel_tol=1e-9)
    for i in range(0, 255):
        assert math.isclose(x[i + 1] * (F[i] - F[i + 1]), v, rel_tol=1e-9)
    for i in range(1, 256):
        assert math.isclose(F[i], math.exp(-0.5 * x[i] ** 2), rel_tol=1e-12)
        assert rng.ZN_K[i] == int(x[i - 1] / x[i] * 2.0 ** 53) or i == 1


def test_twin_equal_number_for_number():
    pk = np.uint64(rng.path_key(np.uint64(12), 5))
    r = np.random.default_rng(4)
    slow = 0
    for _ in range(60_000):
        u, occ = int(r.integers(0, 2**32)), int(r.integers(0, 2**30))
        bits = naive.py_draw_bits(int(pk), u, rng.LAMBDA, occ)
        slow += (bits >> 11) >= int(rng.ZN_K[bits & 0xFF])
        assert rng.normal_ziggurat(pk, u, rng.LAMBDA, occ) == \
            naive.py_normal_ziggurat(int(pk), u, rng.LAMBDA, occ)
    # the further draws (wedges, tail, new draws) were met: about 1.5%
    p = 1.0 - np.mean(rng.ZN_K / 2.0 ** 53)
    assert abs(slow - 60_000 * p) < 5 * math.sqrt(60_000 * p * (1 - p))


def test_law_is_normal():
    x = _normals(key(7), N, rng.LAMBDA)
    # mean 0, variance 1: within 4 standard errors (1/sqrt(N), sqrt(2/N))
    assert abs(x.mean()) < 4 / math.sqrt(N)
    assert abs(x.var() - 1.0) < 4 * math.sqrt(2 / N)
    assert stats.kstest(x, "norm").pvalue > 0.001
    edges = stats.norm.ppf(np.linspace(0, 1, 101)[1:-1])
    counts = np.bincount(np.searchsorted(edges, x), minlength=100)
    assert stats.chisquare(counts).pvalue > 0.001
    # both signs alike
    assert abs((x > 0).mean() - 0.5) < 4 * 0.5 / math.sqrt(N)


def test_tail_past_the_last_layer():
    x = np.abs(_normals(key(8), N, rng.LIFETIME))
    tail = x[x > rng.ZN_R]
    p = math.erfc(rng.ZN_R / math.sqrt(2))
    assert abs(tail.size / N - p) < 4 * math.sqrt(p * (1 - p) / N)
    # the tail's law: |Z| given |Z| > R
    cdf = lambda t: 1.0 - stats.norm.sf(t) / stats.norm.sf(rng.ZN_R)   # noqa: E731
    assert stats.kstest(tail, cdf).pvalue > 0.001


def test_gamma_law_at_the_defaults_shapes():
    # the default's churn shapes (and one further below 1): mean k and
    # variance k within 4 standard errors, and the whole law by KS
    n = 200_000
    for seed, shape in enumerate((0.5, 0.8, 1.0, 1.5, 2.0)):
        x = _gammas(key(20 + seed), n, shape)
        assert abs(x.mean() - shape) < 4 * math.sqrt(shape / n)
        # sd of the sample variance of Gamma(k): sqrt((mu4 - k^2) / n), mu4 = 3k^2 + 6k
        assert abs(x.var() - shape) < 4 * math.sqrt((2 * shape ** 2 + 6 * shape) / n)
        assert stats.kstest(x, "gamma", args=(shape,)).pvalue > 0.001
