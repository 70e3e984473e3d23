"""What every strategy of a path shares (common random numbers), drawn once
per path: the path multipliers (from the path's normals, which
`sampling.py` draws per run), each customer's churn propensity, the day
of each pool customer's first attempt and each initial contact's first
churn day, both as events sorted by day.

First attempts are drawn by inverse cumulative hazard: customer u of segment
s attempts first on the smallest day t with H(t + 1) > E_u, E_u = -log(v_u),
H(t) = h(0) + ... + h(t - 1) (a running float sum), or never when
E_u >= H(D). The search starts from a bucket of E, so it costs a few steps
per customer; `tests/naive.py` does it by a linear scan.

h(t) = adoption * (season(t) * lift_s(t)) * G: the lift of the path's
campaign runs (`campaigns.py`) is folded into the season's day multiplier,
and only for a segment some run reaches, so that without one every number
is what it was before campaigns.
"""
import math
from collections import namedtuple

import numpy as np

from ..jit import jit, jit_inner
from ..rng import FIRST_ADD, INITIAL_AGE, LAMBDA, LIFETIME, exponential, gamma, uniform
from .campaigns import campaign_runs, segment_lift
from .layout import EVENT, event_word

# first[first_off[t]:first_off[t + 1]]: first attempts due on day t;
# churn[churn_off[t]:churn_off[t + 1]]: initial contacts' churns due on day t
Arrivals = namedtuple("Arrivals", "first_off first churn_off churn n_initial churn_mult")


@jit_inner
def path_multipliers(z_growth, z_churn, growth_sigma, churn_sigma):
    """The path's growth multiplier G and churn multiplier (lognormal, median
    1) from its growth and churn normals (drawn per run by `sampling.py`)."""
    G = math.exp(growth_sigma * z_growth)
    Mc = math.exp(churn_sigma * z_churn)
    return G, Mc


@jit_inner
def propensity(pk, customer, churn_rate, churn_shape, churn_mult):
    """lam_u ~ Gamma(k, churn_rate / k) times the path's churn multiplier
    (k = inf: churn_rate)."""
    if math.isinf(churn_shape):
        return churn_rate * churn_mult
    return gamma(pk, customer, LAMBDA, churn_shape) * (churn_rate / churn_shape) * churn_mult


@jit_inner
def survivor_propensity(pk, customer, churn_rate, churn_shape, churn_mult, age):
    """lam_u of a starting contact that has been a contact for `age` days: a
    survivor, so the gamma posterior given survival to `age`, Mc X with
    X ~ Gamma(k, scale = theta / (1 + Mc theta age)), theta = churn_rate / k
    (docs/model.md section 3). At age 0 it is `propensity`, bit for bit."""
    if math.isinf(churn_shape):
        return churn_rate * churn_mult
    theta = churn_rate / churn_shape
    return (gamma(pk, customer, LAMBDA, churn_shape)
            * (theta / (1.0 + churn_mult * theta * age)) * churn_mult)


@jit
def stock_age(v, span, churn_rate, churn_shape, churn_mult):
    """The age, by inverse CDF of the uniform v, of a contact of a stock
    built by a constant inflow over the last `span` days: density
    proportional to the survival S(a) = (1 + c a)^-k, c = Mc churn_rate / k,
    on [0, span] (exp(-Mc churn_rate a) when k = inf). With m = 1 - k,
    int_0^a S = expm1(m log1p(c a)) / (c m), inverted in closed form."""
    if span <= 0.0:
        return 0.0
    if math.isinf(churn_shape):
        r = churn_mult * churn_rate
        if r * span == 0.0:
            return v * span
        return -math.log1p(v * math.expm1(-r * span)) / r
    c = churn_mult * churn_rate / churn_shape
    if c * span == 0.0:
        return v * span
    g = math.log1p(c * span)
    m = 1.0 - churn_shape
    if m == 0.0:
        return math.expm1(v * g) / c
    return math.expm1(math.log1p(v * math.expm1(m * g)) / m) / c


@jit
def initial_age(pk, customer, sg, churn_mult):
    """Days starting contact `customer` of segment record `sg` has been a
    contact at t = 0 (initial_age_days; drawn from the stock's age density
    with initial_ages = "stock")."""
    if sg.stock_ages:
        return stock_age(uniform(pk, customer, INITIAL_AGE, 0), sg.initial_age,
                         sg.churn_rate, sg.churn_shape, churn_mult)
    return sg.initial_age


@jit
def cumulative_hazard(adoption, season_day, G, H):
    """H[t] = sum of adoption * season(t') * G over days t' < t."""
    H[0] = 0.0
    for t in range(season_day.shape[0]):
        H[t + 1] = H[t] + adoption * season_day[t] * G


@jit
def bucket_starts(H, first_day):
    """Splits [0, H(D)] in len(first_day) - 1 buckets; returns the scale
    (buckets per unit of hazard) and fills first_day[b] with the smallest t
    whose H[t + 1] > b / scale (at most D - 1). An E in bucket b
    (E * scale >= b) may start its search at first_day[b - 1]: every earlier
    day has H[t + 1] * scale <= b - 1 < E * scale, so H[t + 1] < E strictly
    (float products by one positive scale are monotone)."""
    D = H.shape[0] - 1
    n_buckets = first_day.shape[0] - 1
    scale = n_buckets / H[D]
    t = 0
    for b in range(n_buckets + 1):
        while t < D - 1 and H[t + 1] * scale <= b:
            t += 1
        first_day[b] = t
    return scale


@jit
def attempt_days(pk, first, last, H, scale, first_day, out_customer, out_day, n):
    """First-attempt days of customers first..last-1 (those who attempt
    before the horizon), appended at out_*[n:]; returns the new count."""
    D = H.shape[0] - 1
    HD = H[D]
    n_buckets = first_day.shape[0] - 1
    # E = -log(v) < H(D)  <=>  v > exp(-H(D)); skip the log for the clear misses
    v_skip = math.exp(-HD) * (1.0 - 1e-9)
    for u in range(first, last):
        v = uniform(pk, u, FIRST_ADD, 0)
        if v < v_skip:
            continue
        E = -math.log(v)
        if E >= HD:
            continue
        t = first_day[max(min(np.int64(E * scale), n_buckets) - 1, 0)]
        while H[t + 1] <= E:    # smallest t with H[t + 1] > E
            t += 1
        out_customer[n] = u
        out_day[n] = t
        n += 1
    return n


@jit_inner
def day_offsets(day, n, days):
    """Counting sort's offsets: items of day t go to off[t]..off[t + 1] - 1."""
    off = np.zeros(days + 1, np.int64)
    for i in range(n):
        off[day[i] + 1] += 1
    for t in range(days):
        off[t + 1] += off[t]
    return off


@jit
def first_attempts(pk, segments, season_day, G, Mc, runs, reach):
    """Pool customers' first attempts as events sorted by day (customers
    ascending within a day), with their propensities; and the offsets.
    `runs`: the path's campaign runs (campaigns.CampaignRuns), lifting the
    segments they reach (reach[campaign, segment])."""
    D = season_day.shape[0]
    n_pool = 0
    for s in range(segments.shape[0]):
        n_pool += segments[s].end - segments[s].start - segments[s].initial
    customer = np.empty(max(n_pool, 1), np.int64)
    day = np.empty(max(n_pool, 1), np.int64)
    seg_end = np.empty(segments.shape[0], np.int64)    # customer[:seg_end[s]]: segments <= s
    H = np.empty(D + 1)
    first_day = np.empty(2 * D + 1, np.int64)
    lift = np.empty(D)
    lifted_season = np.empty(D)
    n = np.int64(0)
    for s in range(segments.shape[0]):
        sg = segments[s]
        if segment_lift(runs, reach, s, lift):
            for t in range(D):
                lifted_season[t] = season_day[t] * lift[t]
            cumulative_hazard(sg.adoption, lifted_season, G, H)
        else:
            cumulative_hazard(sg.adoption, season_day, G, H)
        if H[D] > 0.0:
            scale = bucket_starts(H, first_day)
            n = attempt_days(pk, sg.start + sg.initial, sg.end, H, scale, first_day,
                             customer, day, n)
        seg_end[s] = n
    off = day_offsets(day, n, D)
    fill = off[:D].copy()
    events = np.empty(max(n, 1), EVENT)
    s = 0
    for i in range(n):
        while i >= seg_end[s]:
            s += 1
        u = customer[i]
        pos = fill[day[i]]
        fill[day[i]] = pos + 1
        sg = segments[s]
        events[pos].word = event_word(u, 0, 0, s, 0)
        events[pos].lam = propensity(pk, u, sg.churn_rate, sg.churn_shape, Mc)
    return off, events


@jit
def initial_churns(pk, segments, days, Mc):
    """Initial contacts' first churns (episode 0, due before the horizon) as
    events sorted by day, and the offsets; and the number of initial contacts.
    A starting contact of age a is a survivor (its propensity given a); its
    remaining lifetime is then drawn like any, memoryless given lam."""
    n_initial = 0
    for s in range(segments.shape[0]):
        n_initial += segments[s].initial
    day = np.empty(max(n_initial, 1), np.int64)
    unsorted = np.empty(max(n_initial, 1), EVENT)
    n = np.int64(0)
    for s in range(segments.shape[0]):
        sg = segments[s]
        for u in range(sg.start, sg.start + sg.initial):
            age = initial_age(pk, u, sg, Mc) if sg.initial_age > 0.0 else 0.0
            lam = survivor_propensity(pk, u, sg.churn_rate, sg.churn_shape, Mc, age)
            if lam <= 0.0:
                continue
            x = exponential(pk, u, LIFETIME, 0) / lam
            if x < days - 1:
                day[n] = 1 + np.int64(x)
                unsorted[n].word = event_word(u, 0, 0, s, 0)
                unsorted[n].lam = lam
                n += 1
    off = day_offsets(day, n, days)
    fill = off[:days].copy()
    events = np.empty(max(n, 1), EVENT)
    for i in range(n):
        pos = fill[day[i]]
        fill[day[i]] = pos + 1
        events[pos] = unsorted[i]
    return off, events, n_initial


@jit_inner
def draw_arrivals(pk, scn, z_growth, z_churn):
    """Everything shared by the strategies of the path with key `pk` and
    growth and churn normals `z_*`; returns (Arrivals, G, churn multiplier)."""
    c = scn.config[0]
    G, Mc = path_multipliers(z_growth, z_churn, c.growth_sigma, c.churn_sigma)
    runs = campaign_runs(pk, scn.campaigns, c.days)
    first_off, first = first_attempts(pk, scn.segments, scn.season_day, G, Mc, runs, scn.reach)
    churn_off, churn, n_initial = initial_churns(pk, scn.segments, c.days, Mc)
    return Arrivals(first_off, first, churn_off, churn, n_initial, Mc), G, Mc
