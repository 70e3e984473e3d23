"""Random numbers: counter-based, keyed by stable ids.

Every draw is a pure function of (seed, path, customer, purpose, occurrence).
Nothing carries generator state, so a customer's k-th lifetime, k-th lapse
decision and delay, retry delays and propensity are the same under every
strategy (common random numbers), and the same whatever the thread count,
chunk size or executor: bit-identical runs from one seed.

The mix is SplitMix64's finaliser, applied twice per draw (once to fold the
customer into the path's key, once to fold in purpose and occurrence).

`py_*` twins are plain-Python versions of the same arithmetic, used by the
reference simulator in the tests and by the Python layer for per-path draws.
"""
import math

import numpy as np
from numba import njit

# Purposes: which kind of draw. Part of the key, so draws of different kinds
# never collide; changing these numbers changes every result.
LAMBDA = 1          # gamma churn propensity (occurrence = internal attempt)
FIRST_ADD = 2       # inverse-cumulative-hazard uniform for the first attempt
LIFETIME = 3        # occurrence = episode (life number)
READD_DECISION = 4  # occurrence = episode that ended
READD_DELAY = 5     # occurrence = episode that ended
RETRY_DELAY = 6     # occurrence = episode * 256 + retry number
ORDER = 7           # within-day priority of an attempt, occurrence as RETRY_DELAY
PATH_GROWTH = 8     # path multiplier normals (customer = 0)
PATH_CHURN = 9

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_M3 = np.uint64(0xD1B54A32D192ED03)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S48 = np.uint64(48)
_ONE = np.uint64(1)
_TWO_M53 = 1.0 / 9007199254740992.0
_MASK = (1 << 64) - 1


@njit(cache=True, inline="always")
def mix64(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def path_key(seed, path):
    """The key of one path's stream; computed once per path."""
    return mix64(mix64(np.uint64(seed) + _GOLDEN) + np.uint64(path) * _GOLDEN)


@njit(cache=True, inline="always")
def draw_bits(pkey, customer, purpose, occurrence):
    a = mix64(pkey + np.uint64(customer) * _GOLDEN)
    b = ((np.uint64(purpose) << _S48) + np.uint64(occurrence)) * _M3
    return mix64(a ^ b)


@njit(cache=True, inline="always")
def uniform(pkey, customer, purpose, occurrence):
    """Uniform on (0, 1]: never 0, so -log is always finite."""
    return (float(draw_bits(pkey, customer, purpose, occurrence) >> _S11) + 1.0) * _TWO_M53


@njit(cache=True, inline="always")
def exponential(pkey, customer, purpose, occurrence):
    """Standard exponential (mean 1)."""
    return -math.log(uniform(pkey, customer, purpose, occurrence))


@njit(cache=True)
def normal(pkey, customer, purpose, occurrence):
    """Standard normal by Box-Muller from occurrences 2k and 2k+1."""
    u1 = uniform(pkey, customer, purpose, 2 * occurrence)
    u2 = uniform(pkey, customer, purpose, 2 * occurrence + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def gamma(pkey, customer, purpose, shape):
    """Gamma(shape, scale=1) by Marsaglia-Tsang; shape < 1 boosted by U^(1/shape).

    Occurrences: attempt i uses normal occurrence i (uniforms 2i, 2i+1 of the
    purpose) and uniform 2*10**6 + i; the boost uniform is occurrence 10**7.
    """
    boost = 1.0
    k = shape
    if k < 1.0:
        boost = uniform(pkey, customer, purpose, 10_000_000) ** (1.0 / k)
        k = k + 1.0
    d = k - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    for i in range(1000):
        x = normal(pkey, customer, purpose, i)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(pkey, customer, purpose, 2_000_000 + i)
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v * boost
    return d * boost  # unreachable in practice: acceptance is above 95% per try


# ---------------------------------------------------------------- Python twins

def _py_mix64(z):
    z &= _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def py_path_key(seed, path):
    return _py_mix64(_py_mix64(seed + 0x9E3779B97F4A7C15) + path * 0x9E3779B97F4A7C15)


def py_draw_bits(pkey, customer, purpose, occurrence):
    a = _py_mix64(pkey + customer * 0x9E3779B97F4A7C15)
    b = (((purpose << 48) + occurrence) * 0xD1B54A32D192ED03) & _MASK
    return _py_mix64(a ^ b)


def py_uniform(pkey, customer, purpose, occurrence):
    return (float(py_draw_bits(pkey, customer, purpose, occurrence) >> 11) + 1.0) * _TWO_M53


def py_exponential(pkey, customer, purpose, occurrence):
    return -math.log(py_uniform(pkey, customer, purpose, occurrence))


def py_normal(pkey, customer, purpose, occurrence):
    u1 = py_uniform(pkey, customer, purpose, 2 * occurrence)
    u2 = py_uniform(pkey, customer, purpose, 2 * occurrence + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def py_gamma(pkey, customer, purpose, shape):
    boost = 1.0
    k = shape
    if k < 1.0:
        boost = py_uniform(pkey, customer, purpose, 10_000_000) ** (1.0 / k)
        k = k + 1.0
    d = k - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    for i in range(1000):
        x = py_normal(pkey, customer, purpose, i)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = py_uniform(pkey, customer, purpose, 2_000_000 + i)
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v * boost
    return d * boost
