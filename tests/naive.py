"""Naive, obviously correct twins of the kernel's small parts, compared with
them on random inputs by tests/test_rules.py (as stumpy does).

Each twin is written from docs/model.md sections 3-5 and docs/model-notes.md, not
from the kernel: exact rational arithmetic instead of float tolerances,
linear scans instead of buckets, a dict of lists instead of blocks, rule
names instead of codes. They are slow; that is the point.

The random-number twins (`py_*`) redo the engine's counter-based arithmetic
with Python integers; tests/reference.py draws from them.
"""
from __future__ import annotations

import math
from fractions import Fraction

from simengine.rng import inverse_normal_cdf

# ------------------------------------------------------------ random numbers

_MASK = (1 << 64) - 1
_TWO_M53 = 1.0 / 9007199254740992.0


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
    """rng.exponential's twin: the same ziggurat tables, the same draws."""
    from simengine.rng import ZIG_EXTRA, ZIG_F, ZIG_K, ZIG_R, ZIG_W
    bits = py_draw_bits(pkey, customer, purpose, occurrence)
    i, j = bits & 0xFF, bits >> 11
    if j < int(ZIG_K[i]):
        return float(j) * float(ZIG_W[i])
    extra = 1
    while True:
        u = py_uniform(pkey, customer, purpose, occurrence + extra * ZIG_EXTRA)
        if i == 0:
            return ZIG_R - math.log(u)
        x = float(j) * float(ZIG_W[i])
        if float(ZIG_F[i]) + u * (float(ZIG_F[i - 1]) - float(ZIG_F[i])) < math.exp(-x):
            return x
        bits = py_draw_bits(pkey, customer, purpose, occurrence + (extra + 1) * ZIG_EXTRA)
        extra += 2
        i, j = bits & 0xFF, bits >> 11
        if j < int(ZIG_K[i]):
            return float(j) * float(ZIG_W[i])


def py_normal(pkey, customer, purpose, occurrence):
    p = (float(py_draw_bits(pkey, customer, purpose, occurrence) >> 11) + 0.5) * _TWO_M53
    return inverse_normal_cdf(p)


def py_normal_ziggurat(pkey, customer, purpose, occurrence):
    """rng.normal_ziggurat's twin: the same tables, the same draws."""
    from simengine.rng import ZIG_EXTRA, ZN_F, ZN_K, ZN_R, ZN_W
    bits = py_draw_bits(pkey, customer, purpose, occurrence)
    sign = -1.0 if bits & 0x100 else 1.0
    i, j = bits & 0xFF, bits >> 11
    if j < int(ZN_K[i]):
        return sign * (float(j) * float(ZN_W[i]))
    extra = 1
    while True:
        if i == 0:
            while True:
                x = -math.log(py_uniform(pkey, customer, purpose,
                                         occurrence + extra * ZIG_EXTRA)) / ZN_R
                y = -math.log(py_uniform(pkey, customer, purpose,
                                         occurrence + (extra + 1) * ZIG_EXTRA))
                extra += 2
                if y + y >= x * x:
                    return sign * (ZN_R + x)
        x = float(j) * float(ZN_W[i])
        u = py_uniform(pkey, customer, purpose, occurrence + extra * ZIG_EXTRA)
        if float(ZN_F[i]) + u * (float(ZN_F[i - 1]) - float(ZN_F[i])) < math.exp(-0.5 * x * x):
            return sign * x
        bits = py_draw_bits(pkey, customer, purpose, occurrence + (extra + 1) * ZIG_EXTRA)
        extra += 2
        i, j = bits & 0xFF, bits >> 11
        if j < int(ZN_K[i]):
            return sign * (float(j) * float(ZN_W[i]))


def py_gamma(pkey, customer, purpose, shape):
    """Marsaglia-Tsang with the same draws as rng.gamma (see its docstring)."""
    boost = 1.0
    k = shape
    if k < 1.0:
        boost = math.exp(-py_exponential(pkey, customer, purpose, 10_000_000) / k)
        k = k + 1.0
    d = k - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    for i in range(1000):
        x = py_normal_ziggurat(pkey, customer, purpose, i)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = py_uniform(pkey, customer, purpose, 2_000_000 + i)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * v * boost
        if math.log(u) < 0.5 * x2 + d - d * v + d * math.log(v):
            return d * v * boost
    return d * boost


def py_binomial(pkey, customer, purpose, first, n, p):
    """rng.binomial's twin, float operation for float operation: inversion
    when n min(p, 1 - p) <= 30, else BTPE (Kachitvichyanukul and Schmeiser,
    1988, as numpy writes it, with the Stirling series' 1/12 as 13860 / 166320),
    on the uniforms of occurrences first, first + 1, ..."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    r = min(p, 1.0 - p)
    q = 1.0 - r
    draws = iter(range(first, first + (1 << 20)))

    def next_uniform():                     # on (0, 1], like rng.uniform
        return py_uniform(pkey, customer, purpose, next(draws))

    if n * r <= 30.0:
        k = _inversion(n, r, q, next_uniform)
    else:
        k = _btpe(n, r, q, next_uniform)
    return n - k if p > 0.5 else k


def _inversion(n, r, q, next_uniform):
    qn = math.exp(n * math.log1p(-r))
    mean = n * r
    bound = min(float(n), mean + 10.0 * math.sqrt(mean * q + 1.0))
    while True:                             # a walk past `bound` starts again
        u, px, k = next_uniform(), qn, 0
        while u > px:
            k += 1
            if k > bound:
                break
            u -= px
            px = ((n - k + 1) * r * px) / (k * q)
        else:
            return k


def _stirling_tail(x):
    """The Stirling series of log x! beyond its leading terms."""
    x2 = x * x
    return (13860. - (462. - (132. - (99. - 140. / x2) / x2) / x2) / x2) / x / 166320.


def _btpe(n, r, q, next_uniform):
    fm = n * r + r
    m = math.floor(fm)
    p1 = math.floor(2.195 * math.sqrt(n * r * q) - 4.6 * q) + 0.5
    xm = m + 0.5
    xl, xr = xm - p1, xm + p1
    c = 0.134 + 20.5 / (15.3 + m)
    a = (fm - xl) / (fm - xl * r)
    laml = a * (1.0 + a / 2.0)
    a = (xr - fm) / (xr * q)
    lamr = a * (1.0 + a / 2.0)
    p2 = p1 * (1.0 + 2.0 * c)
    p3 = p2 + c / laml
    p4 = p3 + c / lamr
    nrq = n * r * q
    while True:
        u = (1.0 - next_uniform()) * p4      # on [0, p4)
        v = 1.0 - next_uniform()             # on [0, 1)
        if u <= p1:
            return math.floor(xm - p1 * v + u)
        if u <= p2:
            x = xl + (u - p1) / c
            v = v * c + 1.0 - abs(m - x + 0.5) / p1
            if v > 1.0:
                continue
            y = math.floor(x)
        elif u <= p3:
            if v == 0.0:
                continue
            y = math.floor(xl + math.log(v) / laml)
            if y < 0:
                continue
            v = v * (u - p2) * laml
        else:
            if v == 0.0:
                continue
            y = math.floor(xr - math.log(v) / lamr)
            if y > n:
                continue
            v = v * (u - p3) * lamr
        d = abs(y - m)
        if d <= 20 or d >= nrq / 2.0 - 1:
            s = r / q
            a = s * (n + 1)
            F = 1.0
            for j in range(m + 1, y + 1):
                F *= (a / j - s)
            for j in range(y + 1, m + 1):
                F /= (a / j - s)
            if v <= F:
                return y
            continue
        rho = (d / nrq) * ((d * (d / 3.0 + 0.625) + 0.16666666666666666) / nrq + 0.5)
        t = -d * d / (2.0 * nrq)
        A = math.log(v) if v > 0.0 else -math.inf
        if A < t - rho:
            return y
        if A > t + rho:
            continue
        x1, f1, z, w = y + 1.0, m + 1.0, n + 1.0 - m, n - y + 1.0
        if A <= (xm * math.log(f1 / x1) + (n - m + 0.5) * math.log(z / w)
                 + (y - m) * math.log(w * r / (x1 * q))
                 + _stirling_tail(f1) + _stirling_tail(z) + _stirling_tail(x1)
                 + _stirling_tail(w)):
            return y


# ------------------------------------------------------------ billing (docs/model.md section 4)
# Tiers are given as a list of nominal capacities (ascending); None is "no tier".

def exact(x) -> Fraction:
    """A float as the decimal a person wrote (0.15 is 15/100, not 0.1499...)."""
    return Fraction(repr(x)) if isinstance(x, float) else Fraction(x)


def tier_capacities(sizes, free_quota, covers, member_cap):
    nominal = [free_quota + s if covers == "excess" else max(free_quota, s) for s in sizes]
    cap = math.inf if member_cap is None else member_cap
    return nominal, [min(n, cap) for n in nominal], min(free_quota, cap)


def covering_tier(target, nominal, free_quota):
    """None if the free quota covers `target`, else the smallest tier that
    does, else the largest."""
    if target <= free_quota:
        return None
    fits = [i for i, n in enumerate(nominal) if n >= target]
    return fits[0] if fits else len(nominal) - 1


def headroom_target(usage, headroom):
    """ceil(U (1 + h)) in exact arithmetic (usage: int or Fraction)."""
    return math.ceil(Fraction(usage) * (1 + exact(headroom)))


def exceeding_target(usage, headroom):
    """Smallest integer strictly above U (1 + h), exactly."""
    return math.floor(Fraction(usage) * (1 + exact(headroom))) + 1


def upgrade_price(pricing, old_price, new_price, days_left, period_days):
    old, new = exact(old_price), exact(new_price)
    return {"prorated": (new - old) * days_left / period_days,
            "difference": new - old, "full": new}[pricing]


def overflow_accounts_cost(peak_overflow, account_capacity, account_cost):
    accounts = 0
    while accounts * account_capacity < peak_overflow:
        accounts += 1
    return accounts * exact(account_cost)


def usage_at_period_start(rule, usage, active):
    return active if rule == "cumulative" else usage


def churn_lowers_usage(rule):
    return rule == "concurrent"


# ------------------------------------------------------------ strategies (docs/model.md section 5)

def forecast_usage(usage, net_adds, period_days):
    return Fraction(usage) + max(0, net_adds) * Fraction(period_days, 90)


def renewal_tier(renewal, fixed_tier, headroom, usage, net_adds, period, period_days,
                 oracle_tier, nominal, free_quota):
    if renewal == "none":
        return None
    if renewal == "fixed":
        return fixed_tier
    if renewal == "fit" or (renewal == "forecast" and period == 0):
        return covering_tier(headroom_target(usage, headroom), nominal, free_quota)
    if renewal == "forecast":
        return covering_tier(headroom_target(forecast_usage(usage, net_adds, period_days),
                                             headroom), nominal, free_quota)
    if renewal == "oracle":          # the hindsight plan's first tier of the period
        return oracle_tier
    raise ValueError(renewal)


def upgrade_tier(upgrade, tier, usage, headroom, nominal):
    """`next`: one up (the smallest with no tier), at most the largest;
    `fit`: the smallest whose nominal capacity exceeds U (1 + h) exactly
    and the current tier's."""
    last = len(nominal) - 1
    if upgrade == "next":
        return 0 if tier is None else min(tier + 1, last)
    need = Fraction(usage) * (1 + exact(headroom))
    bigger = [i for i, n in enumerate(nominal)
              if n > need and (tier is None or n > nominal[tier])]
    return bigger[0] if bigger else last


def raises_capacity(new_tier, tier, new_capacity, capacity):
    higher = tier is None or new_tier > tier
    return higher and new_capacity > capacity


def order_threshold(upgrade_at, capacity):
    """ceil(upgrade_at * C) with upgrade_at the decimal written."""
    return math.ceil(exact(upgrade_at) * capacity)


def ordered_tier(upgrade, headroom, tier, usage, threshold, capacity, nominal, effective):
    """U at or above the threshold asks the upgrade rule for a tier and
    orders it if it raises the capacity; below, or with no rule, nothing
    (None)."""
    if usage < threshold or upgrade == "none":
        return None
    new = upgrade_tier(upgrade, tier, usage, headroom, nominal)
    return new if raises_capacity(new, tier, effective[new], capacity) else None


def refused_outcome(others):
    """A customer of a segment not admitted goes to `others`."""
    return {"overflow": "overflow", "lost": "lost"}[others]


def blocked_outcome(on_blocked, retries_done, max_retries):
    if on_blocked == "retry":
        return "retry" if retries_done < max_retries else "lost"
    return on_blocked


def needs_priority(n, usage, capacity, max_reserve, may_upgrade):
    """Sorting today's n attempts matters when some, not all, pass: the last
    of them meets usage + n - 1, which may be refused when it reaches the
    capacity less the largest reserve; and one may pass while the capacity
    is not full, or an upgrade may make room."""
    if n < 2:
        return False
    some_refused = usage + n - 1 >= capacity - max_reserve
    some_pass = usage < capacity or may_upgrade
    return some_refused and some_pass


def admitted_in_priority_order(keys, segment, admit, reserve, usage, capacity):
    """Who of a day's attempts passes when they are met one by one in
    ascending priority key and the capacity cannot change: an attempt of an
    admitted segment passes while usage < capacity - its reserve. Returns
    the set of their indices."""
    passed = set()
    for i in sorted(range(len(keys)), key=lambda i: keys[i]):
        s = segment[i]
        if admit[s] and usage < capacity - reserve[s]:
            passed.add(i)
            usage += 1
    return passed


# ------------------------------------------------------------ event words

WORD_FIELDS = (("customer", 32), ("episode", 16), ("retry", 8), ("segment", 6),
               ("overflow", 1))


def event_word(**fields):
    word, shift = 0, 0
    for name, bits in WORD_FIELDS:
        assert 0 <= fields[name] < 2 ** bits
        word += fields[name] * 2 ** shift
        shift += bits
    return word


def word_fields(word):
    out, shift = {}, 0
    for name, bits in WORD_FIELDS:
        out[name] = (word // 2 ** shift) % 2 ** bits
        shift += bits
    return out


# ------------------------------------------------------------ calendar

class Calendar:
    """A strategy's future events: (queue, day) -> list, in push order."""

    def __init__(self):
        self.lists = {}

    def push(self, queue, day, word, lam):
        self.lists.setdefault((queue, day), []).append((word, lam))

    def take(self, queue, day):
        return self.lists.pop((queue, day), [])


# ------------------------------------------------------------ arrivals (docs/model.md section 3)

def first_attempt_days(pkey, segment, pool, hazards):
    """The first-attempt day of each of a segment's `pool` customers, in
    customer order (None: none inside the horizon): day by day, of those
    still waiting, Binomial(waiting, 1 - exp(-h)) attempt, the next ones in
    line."""
    from simengine.rng import BINOMIAL_UNIFORMS, FIRST_ATTEMPTS
    days = []
    for t, h in enumerate(hazards):
        waiting = pool - len(days)
        if waiting and h > 0.0:
            n = py_binomial(pkey, segment, FIRST_ATTEMPTS, t * BINOMIAL_UNIFORMS, waiting,
                            -math.expm1(-h))
            days += [t] * n
    return days + [None] * (pool - len(days))


def first_churn_day(lam, exponential, days):
    """An initial contact's first churn: day 1 + floor(E / lam) if before
    the horizon (None: never, or after it)."""
    if lam <= 0.0:
        return None
    day = 1 + math.floor(exponential / lam)
    return day if day < days else None
