"""Random numbers: counter-based, keyed by stable ids.

Every draw is a pure function of (seed, path, customer, purpose, occurrence).
Nothing carries generator state, so a customer's k-th lifetime, k-th lapse
decision and delay, retry delays and propensity are the same under every
strategy (common random numbers), and the same whatever the thread count,
chunk size or executor: bit-identical runs from one seed.

The mix is SplitMix64's finaliser, applied twice per draw (once to fold the
customer into the path's key, once to fold in purpose and occurrence).

Plain-Python twins of these draws live with the tests (`tests/naive.py`),
which check them against these number for number.
"""
import math

import numpy as np

from .jit import jit, jit_inner

# Purposes: which kind of draw. Part of the key, so draws of different kinds
# never collide; changing these numbers changes every result.
LAMBDA = 1          # gamma churn propensity (occurrence = internal attempt)
# 2: retired (the per-customer first-attempt uniform, before first attempts were counts)
LIFETIME = 3        # occurrence = episode (life number)
READD_DECISION = 4  # occurrence = episode that ended
READD_DELAY = 5     # occurrence = episode that ended
RETRY_DELAY = 6     # occurrence = attempt_occurrence(episode, retry number)
ORDER = 7           # within-day priority of an attempt, occurrence as RETRY_DELAY
PATH_GROWTH = 8     # path multiplier normals (customer = 0)
PATH_CHURN = 9
PATH_UNCERTAINTY = 10   # normals of the [uncertainty] keys (occurrence = key index)
INITIAL_AGE = 11    # a starting contact's age in a stock (occurrence 0)
CAMPAIGN = 12       # a campaign's runs (customer = campaign index; kernel/campaigns.py)
FIRST_ATTEMPTS = 13     # a segment's first attempts on a day (customer = segment,
                        # occurrences from day * BINOMIAL_UNIFORMS; kernel/arrivals.py)

# A binomial draw's uniforms: occurrences first .. first + BINOMIAL_UNIFORMS - 1
# (one a try by inversion, two a try by BTPE: a few on average, 2^20 never met).
BINOMIAL_UNIFORMS = 1 << 20

# An attempt's occurrence numbers its episode's retries: room for 256 (the
# event word's 8 bits; a scenario allows at most 255 retries).
RETRIES_PER_EPISODE = 256

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_M3 = np.uint64(0xD1B54A32D192ED03)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S48 = np.uint64(48)
_TWO_M53 = 1.0 / 9007199254740992.0


@jit(inline="always")
def mix64(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@jit
def attempt_occurrence(episode, retry):
    """The occurrence of the draws of an attempt (ORDER) and of the delay
    before it (RETRY_DELAY): retry `retry` of episode `episode`."""
    return episode * RETRIES_PER_EPISODE + retry


@jit
def path_key(seed, path):
    """The key of one path's stream; computed once per path."""
    return mix64(mix64(np.uint64(seed) + _GOLDEN) + np.uint64(path) * _GOLDEN)


# The draws numba callers call (draw_bits, uniform, exponential,
# normal_ziggurat, normal) are each a small inlined function that gives its
# arguments one set of types and calls the draw's body, compiled once: a
# purpose passed as a constant would otherwise be typed as a literal of its
# own (one compile per purpose), and a body inlined by numba at each of its
# thirty-odd call sites is typed again at each (LLVM inlines the bodies
# anyway; the machine code is the same).


@jit(inline="always")
def draw_bits(pkey, customer, purpose, occurrence):
    """64 random bits."""
    return _draw_bits(np.uint64(pkey), np.int64(customer), np.int64(purpose),
                      np.int64(occurrence))


@jit_inner
def _draw_bits(pkey, customer, purpose, occurrence):
    a = mix64(pkey + np.uint64(customer) * _GOLDEN)
    b = ((np.uint64(purpose) << _S48) + np.uint64(occurrence)) * _M3
    return mix64(a ^ b)


@jit(inline="always")
def uniform(pkey, customer, purpose, occurrence):
    """Uniform on (0, 1]: never 0, so -log is always finite."""
    return _uniform(np.uint64(pkey), np.int64(customer), np.int64(purpose), np.int64(occurrence))


@jit_inner
def _uniform(pkey, customer, purpose, occurrence):
    return (float(_draw_bits(pkey, customer, purpose, occurrence) >> _S11) + 1.0) * _TWO_M53


def _ziggurat_tables(r, v, density, inverse):
    """A ziggurat (Marsaglia and Tsang 2000, "The Ziggurat Method for
    Generating Random Variables", 256 layers) of the decreasing `density` on
    [0, inf), on 53-bit integers: (K, W, F). The last layer's edge is `r`,
    every layer's area `v`; `inverse` undoes `density`. Layer i draws x = j *
    W[i] for a 53-bit j, accepted at once when j < K[i]; F[i] = density(x_i).
    Built once, in plain floats, read by the kernel and the Python twins
    alike."""
    m = 9007199254740992.0              # 2^53
    x = r
    k = np.zeros(256, np.uint64)
    w = np.zeros(256)
    f = np.zeros(256)
    edge = x
    q = v / density(x)
    k[0] = int((x / q) * m)
    w[0] = q / m
    w[255] = x / m
    f[0] = 1.0
    f[255] = density(x)
    for i in range(254, 0, -1):
        x = inverse(v / x + density(x))
        k[i + 1] = int((x / edge) * m)
        edge = x
        f[i] = density(x)
        w[i] = x / m
    return k, w, f


ZIG_R = 7.697117470131487               # where the tail starts
# the exponential's: density exp(-x)
ZIG_K, ZIG_W, ZIG_F = _ziggurat_tables(ZIG_R, 3.949659822581572e-3, lambda x: math.exp(-x),
                                       lambda y: -math.log(y))
# the rare further draws of an exponential: occurrences occurrence + k * 2^40
# (k = 1, 2, ...; every purpose's occurrences stay below 2^40)
ZIG_EXTRA = 1 << 40
_BYTE = np.uint64(0xFF)


@jit(inline="always")
def exponential(pkey, customer, purpose, occurrence):
    """Standard exponential (mean 1), exact, by the ziggurat: one draw's
    low 8 bits pick a layer, its top 53 bits the point; 97.8% of draws are
    accepted at once (no logarithm), the rest go on in `_exponential_rest`."""
    return _exponential(np.uint64(pkey), np.int64(customer), np.int64(purpose),
                        np.int64(occurrence))


@jit_inner
def _exponential(pkey, customer, purpose, occurrence):
    bits = _draw_bits(pkey, customer, purpose, occurrence)
    i = np.int64(bits & _BYTE)
    j = bits >> _S11
    if j < ZIG_K[i]:
        return float(j) * ZIG_W[i]
    return _exponential_rest(pkey, customer, purpose, occurrence, i, j)


@jit_inner
def _exponential_rest(pkey, customer, purpose, occurrence, i, j):
    """A draw not accepted at once: past the last layer, the tail
    ZIG_R - log u; in a layer's wedge, accepted under exp(-x); else a new
    draw (occurrences occurrence + k ZIG_EXTRA)."""
    extra = 1
    while True:
        u = _uniform(pkey, customer, purpose, occurrence + extra * ZIG_EXTRA)
        if i == 0:
            return ZIG_R - math.log(u)
        x = float(j) * ZIG_W[i]
        if ZIG_F[i] + u * (ZIG_F[i - 1] - ZIG_F[i]) < math.exp(-x):
            return x
        bits = _draw_bits(pkey, customer, purpose, occurrence + (extra + 1) * ZIG_EXTRA)
        extra += 2
        i = np.int64(bits & _BYTE)
        j = bits >> _S11
        if j < ZIG_K[i]:
            return float(j) * ZIG_W[i]


ZN_R = 3.6541528853610088               # where the normal's tail starts
# the normal's, for |x|: density exp(-x^2 / 2)
ZN_K, ZN_W, ZN_F = _ziggurat_tables(ZN_R, 4.928673233974655e-3, lambda x: math.exp(-0.5 * x * x),
                                    lambda y: math.sqrt(-2.0 * math.log(y)))
_SIGN = np.uint64(0x100)


@jit(inline="always")
def normal_ziggurat(pkey, customer, purpose, occurrence):
    """Standard normal, exact, by the ziggurat: one draw's low 8 bits pick a
    layer, bit 8 the sign, its top 53 bits the point; 98.5% of draws need
    no exp or log. Rare further draws as `exponential`'s. For the gamma's
    trials; the normals a Sobol' point maps (`normal`) stay inverse CDFs."""
    return _normal_ziggurat(np.uint64(pkey), np.int64(customer), np.int64(purpose),
                            np.int64(occurrence))


@jit_inner
def _normal_ziggurat(pkey, customer, purpose, occurrence):
    bits = _draw_bits(pkey, customer, purpose, occurrence)
    i = np.int64(bits & _BYTE)
    j = bits >> _S11
    x = float(j) * ZN_W[i]
    if j >= ZN_K[i]:
        x = _normal_rest(pkey, customer, purpose, occurrence, i, j)
    return -x if bits & _SIGN else x


@jit_inner
def _normal_rest(pkey, customer, purpose, occurrence, i, j):
    """|x| of a draw not accepted at once: past the last layer, Marsaglia's
    tail; in a layer's wedge, accepted under exp(-x^2 / 2); else a new draw
    (occurrences occurrence + k ZIG_EXTRA)."""
    extra = 1
    while True:
        if i == 0:
            while True:
                x = -math.log(_uniform(pkey, customer, purpose, occurrence + extra * ZIG_EXTRA)) \
                    / ZN_R
                y = -math.log(_uniform(pkey, customer, purpose,
                                      occurrence + (extra + 1) * ZIG_EXTRA))
                extra += 2
                if y + y >= x * x:
                    return ZN_R + x
        x = float(j) * ZN_W[i]
        u = _uniform(pkey, customer, purpose, occurrence + extra * ZIG_EXTRA)
        if ZN_F[i] + u * (ZN_F[i - 1] - ZN_F[i]) < math.exp(-0.5 * x * x):
            return x
        bits = _draw_bits(pkey, customer, purpose, occurrence + (extra + 1) * ZIG_EXTRA)
        extra += 2
        i = np.int64(bits & _BYTE)
        j = bits >> _S11
        if j < ZN_K[i]:
            return float(j) * ZN_W[i]


# Acklam's rational approximation of the inverse normal CDF: one uniform per
# normal and, 95% of the time, no log. Relative error: below 1.2e-9 for
# 0.02425 <= p <= 0.97575, below 7e-6 in the tails; far below what any
# cost percentile can see, and identical in the numba and Python versions.
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
      6.680131188771972e+01, -1.328068155288572e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
      -2.549671010243055e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
      3.754408661907416e+00)
_P_LOW = 0.02425


def inverse_normal_cdf(p):
    """Plain Python, compiled below by numba too: one text, the same float
    operations in the kernel and in the Python twins."""
    if p < _P_LOW or p > 1.0 - _P_LOW:
        q = math.sqrt(-2.0 * math.log(p if p < _P_LOW else 1.0 - p))
        x = ((((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5])
             / ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0))
        return x if p < _P_LOW else -x
    q = p - 0.5
    r = q * q
    return ((((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q
            / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0))


_ndtri = jit(inline="always")(inverse_normal_cdf)


@jit(inline="always")
def normal(pkey, customer, purpose, occurrence):
    """Standard normal: inverse CDF of an open-interval uniform. Every
    caller reaches `_normal` with the same argument types, so it is
    compiled once (a purpose passed as a constant is typed as a literal of
    its own)."""
    return _normal(np.uint64(pkey), np.int64(customer), np.int64(purpose),
                   np.int64(occurrence))


@jit_inner
def _normal(pkey, customer, purpose, occurrence):
    p = (float(_draw_bits(pkey, customer, purpose, occurrence) >> _S11) + 0.5) * _TWO_M53
    return _ndtri(p)


@jit
def gamma(pkey, customer, purpose, shape):
    """Gamma(shape, scale=1) by Marsaglia-Tsang with its squeeze (most draws
    need no log); shape < 1 boosted by U^(1/shape) = exp(-E / shape), E
    exponential.

    Occurrences: try i uses the ziggurat normal occurrence i and uniform
    2*10**6 + i; the boost's exponential is occurrence 10**7.
    """
    boost = 1.0
    k = shape
    if k < 1.0:
        boost = math.exp(-exponential(pkey, customer, purpose, 10_000_000) / k)
        k = k + 1.0
    d = k - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    for i in range(1000):
        x = normal_ziggurat(pkey, customer, purpose, i)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(pkey, customer, purpose, 2_000_000 + i)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * v * boost
        if math.log(u) < 0.5 * x2 + d - d * v + d * math.log(v):
            return d * v * boost
    return d * boost  # unreachable in practice: acceptance is above 95% per try


@jit
def path_normals(seed, paths, out):
    """Counter-based path-level normals (sampling = "mc"): out[i, 0] the
    growth normal, out[i, 1] the churn normal, out[i, 2 + k] the k-th
    [uncertainty] key's, of path paths[i]."""
    for i in range(paths.shape[0]):
        pk = path_key(seed, paths[i])
        out[i, 0] = normal(pk, 0, PATH_GROWTH, 0)
        out[i, 1] = normal(pk, 0, PATH_CHURN, 0)
        for k in range(2, out.shape[1]):
            out[i, k] = normal(pk, 0, PATH_UNCERTAINTY, k - 2)


@jit
def binomial(pkey, customer, purpose, first, n, p):
    """Binomial(n, p), exactly (up to float rounding), from the uniforms of
    occurrences first, first + 1, ... (at most BINOMIAL_UNIFORMS of them).
    numpy's method: with r = min(p, 1 - p), inversion when n r <= 30, else
    Kachitvichyanukul and Schmeiser's BTPE, with the Stirling series' 1/12
    written right (13860 / 166320: numpy < 2.5 has 13680); for p > 1/2 it
    draws n - Binomial(n, 1 - p). `tests/naive.py` has its plain-Python twin."""
    if n <= 0 or p <= 0.0:
        return np.int64(0)
    if p >= 1.0:
        return np.int64(n)
    r = min(p, 1.0 - p)
    q = 1.0 - r
    k = np.int64(0)
    if n * r <= 30.0:
        # inversion: walk the pmf from 0; past `bound` (a tail far beyond any
        # rounding) start again with the next uniform
        qn = math.exp(n * math.log1p(-r))
        np_ = n * r
        bound = min(float(n), np_ + 10.0 * math.sqrt(np_ * q + 1.0))
        i = first
        u = uniform(pkey, customer, purpose, i)
        px = qn
        while u > px:
            k += 1
            if k > bound:
                k = 0
                px = qn
                i += 1
                u = uniform(pkey, customer, purpose, i)
            else:
                u -= px
                px = ((n - k + 1) * r * px) / (k * q)
    else:
        fm = n * r + r
        m = np.int64(math.floor(fm))
        p1 = math.floor(2.195 * math.sqrt(n * r * q) - 4.6 * q) + 0.5
        xm = m + 0.5
        xl = xm - p1
        xr = xm + p1
        c = 0.134 + 20.5 / (15.3 + m)
        a = (fm - xl) / (fm - xl * r)
        laml = a * (1.0 + a / 2.0)
        a = (xr - fm) / (xr * q)
        lamr = a * (1.0 + a / 2.0)
        p2 = p1 * (1.0 + 2.0 * c)
        p3 = p2 + c / laml
        p4 = p3 + c / lamr
        nrq = n * r * q
        i = first
        while True:
            # uniforms on [0, 1), as numpy's next_double
            u = (1.0 - uniform(pkey, customer, purpose, i)) * p4
            v = 1.0 - uniform(pkey, customer, purpose, i + 1)
            i += 2
            if u <= p1:                      # the triangle: accepted at once
                k = np.int64(math.floor(xm - p1 * v + u))
                break
            if u <= p2:                      # the parallelograms
                x = xl + (u - p1) / c
                v = v * c + 1.0 - abs(m - x + 0.5) / p1
                if v > 1.0:
                    continue
                y = np.int64(math.floor(x))
            elif u <= p3:                    # the left exponential tail
                if v == 0.0:
                    continue
                y = np.int64(math.floor(xl + math.log(v) / laml))
                if y < 0:
                    continue
                v = v * (u - p2) * laml
            else:                            # the right exponential tail
                if v == 0.0:
                    continue
                y = np.int64(math.floor(xr - math.log(v) / lamr))
                if y > n:
                    continue
                v = v * (u - p3) * lamr
            d = abs(y - m)
            if d <= 20 or d >= nrq / 2.0 - 1:
                # f(y) / f(m) by the pmf's ratios
                s = r / q
                a = s * (n + 1)
                F = 1.0
                if m < y:
                    for j in range(m + 1, y + 1):
                        F *= (a / j - s)
                elif m > y:
                    for j in range(y + 1, m + 1):
                        F /= (a / j - s)
                if v <= F:
                    k = y
                    break
                continue
            # squeeze, then log f(y) / f(m) by Stirling's formula
            rho = (d / nrq) * ((d * (d / 3.0 + 0.625) + 0.16666666666666666) / nrq + 0.5)
            t = -d * d / (2.0 * nrq)
            A = math.log(v) if v > 0.0 else -math.inf
            if A < t - rho:
                k = y
                break
            if A > t + rho:
                continue
            x1 = y + 1.0
            f1 = m + 1.0
            z = n + 1.0 - m
            w = n - y + 1.0
            x2 = x1 * x1
            f2 = f1 * f1
            z2 = z * z
            w2 = w * w
            bound = (xm * math.log(f1 / x1) + (n - m + 0.5) * math.log(z / w)
                     + (y - m) * math.log(w * r / (x1 * q))
                     + (13860. - (462. - (132. - (99. - 140. / f2) / f2) / f2) / f2) / f1 / 166320.
                     + (13860. - (462. - (132. - (99. - 140. / z2) / z2) / z2) / z2) / z / 166320.
                     + (13860. - (462. - (132. - (99. - 140. / x2) / x2) / x2) / x2) / x1 / 166320.
                     + (13860. - (462. - (132. - (99. - 140. / w2) / w2) / w2) / w2) / w / 166320.)
            if A <= bound:
                k = y
                break
    return n - k if p > 0.5 else k
