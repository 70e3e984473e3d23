"""What every strategy of a path shares (common random numbers), drawn once
per path: the path multipliers (from the path's normals, which
`sampling.py` draws per run), each customer's churn propensity, the day
of each pool customer's first attempt and each initial contact's first
churn day, both as events sorted by day.

First attempts are drawn as counts: of the r pool customers of segment s
who have not attempted before day t, Binomial(r, 1 - exp(-h_s(t))) attempt
first on day t (`rng.binomial`, exact; one draw per segment and day), and
they are the segment's next unused customers. The law of every customer's
first-attempt day is that of the per-customer draw by inverse cumulative
hazard; the cost follows the attempts, not the pool.

h(t) = adoption * (season(t) * lift_s(t)) * G: the lift of the path's
campaign runs (`campaigns.py`) is folded into the season's day multiplier,
(1 on a day no run reaching the segment covers: the season exactly).
"""
import math
from collections import namedtuple

import numpy as np

from ..jit import jit, jit_inner
from ..rng import (BINOMIAL_UNIFORMS, FIRST_ATTEMPTS, INITIAL_AGE, LAMBDA, LIFETIME, binomial,
                   exponential, gamma, uniform)
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


# stock_curve's forms: how an age follows from its uniform v
AGE_ZERO, AGE_UNIFORM, AGE_EXPONENTIAL, AGE_SHAPE_ONE, AGE_GAMMA_MIX = 0, 1, 2, 3, 4


@jit_inner
def stock_curve(span, churn_rate, churn_shape, churn_mult):
    """What `stock_age` computes without the uniform, once per segment and
    path: (form, a, b, m). Every contact of a segment shares it, and the
    transcendental functions of it are half of an age's cost."""
    if span <= 0.0:
        return AGE_ZERO, 0.0, 0.0, 0.0
    if math.isinf(churn_shape):
        r = churn_mult * churn_rate
        if r * span == 0.0:
            return AGE_UNIFORM, span, 0.0, 0.0
        return AGE_EXPONENTIAL, math.expm1(-r * span), r, 0.0
    c = churn_mult * churn_rate / churn_shape
    if c * span == 0.0:
        return AGE_UNIFORM, span, 0.0, 0.0
    g = math.log1p(c * span)
    m = 1.0 - churn_shape
    if m == 0.0:
        return AGE_SHAPE_ONE, g, c, m
    return AGE_GAMMA_MIX, math.expm1(m * g), c, m


@jit_inner
def age_on_curve(v, curve):
    """The age of uniform v on a `stock_curve`: the same operations on the
    same numbers as the closed form, so the same age to the bit."""
    form, a, b, m = curve
    if form == AGE_ZERO:
        return 0.0
    if form == AGE_UNIFORM:
        return v * a
    if form == AGE_EXPONENTIAL:
        return -math.log1p(v * a) / b
    if form == AGE_SHAPE_ONE:
        return math.expm1(v * a) / b
    return math.expm1(math.log1p(v * a) / m) / b


@jit
def stock_age(v, span, churn_rate, churn_shape, churn_mult):
    """The age, by inverse CDF of the uniform v, of a contact of a stock
    built by a constant inflow over the last `span` days: density
    proportional to the survival S(a) = (1 + c a)^-k, c = Mc churn_rate / k,
    on [0, span] (exp(-Mc churn_rate a) when k = inf). With m = 1 - k,
    int_0^a S = expm1(m log1p(c a)) / (c m), inverted in closed form."""
    return age_on_curve(v, stock_curve(span, churn_rate, churn_shape, churn_mult))


@jit_inner
def age_of(pk, customer, sg, curve):
    """`initial_age`, with the segment's `stock_curve` computed once for all
    its starting contacts."""
    if sg.stock_ages:
        return age_on_curve(uniform(pk, customer, INITIAL_AGE, 0), curve)
    return sg.initial_age


@jit
def initial_age(pk, customer, sg, churn_mult):
    """Days starting contact `customer` of segment record `sg` has been a
    contact at t = 0 (initial_age_days; drawn from the stock's age density
    with initial_ages = "stock")."""
    return age_of(pk, customer, sg,
                  stock_curve(sg.initial_age, sg.churn_rate, sg.churn_shape, churn_mult))


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
def first_attempt_counts(pk, segments, season_day, G, runs, reach):
    """counts[t, s]: how many of segment s's pool customers attempt first on
    day t. Customers are exchangeable until they act, so given the r of them
    still waiting, the day's count is Binomial(r, 1 - exp(-h_s(t))), drawn
    from the uniforms keyed by (segment, day): the work follows attempts,
    not the pool."""
    S = segments.shape[0]
    D = season_day.shape[0]
    counts = np.zeros((D, S), np.int64)
    lift = np.empty(D)
    for s in range(S):
        sg = segments[s]
        segment_lift(runs, reach, s, lift)
        waiting = np.int64(sg.end - sg.start - sg.initial)
        for t in range(D):
            if waiting == 0:
                break
            h = sg.adoption * (season_day[t] * lift[t]) * G
            if h > 0.0:
                n = binomial(pk, s, FIRST_ATTEMPTS, t * BINOMIAL_UNIFORMS, waiting,
                             -math.expm1(-h))
                counts[t, s] = n
                waiting -= n
    return counts


@jit
def first_attempts(pk, segments, season_day, G, Mc, runs, reach):
    """Pool customers' first attempts as events sorted by day (within a day
    segment by segment, customers ascending), with their propensities; and
    the offsets. A segment's attempters are its next unused customers, so
    every strategy meets the same ones and each keeps its own later draws.
    `runs`: the path's campaign runs (campaigns.CampaignRuns), lifting the
    segments they reach (reach[campaign, segment])."""
    D = season_day.shape[0]
    counts = first_attempt_counts(pk, segments, season_day, G, runs, reach)
    next_customer = np.empty(segments.shape[0], np.int64)
    for s in range(segments.shape[0]):
        next_customer[s] = segments[s].start + segments[s].initial
    off = np.empty(D + 1, np.int64)
    events = np.empty(max(counts.sum(), 1), EVENT)
    pos = 0
    for t in range(D):
        off[t] = pos
        for s in range(segments.shape[0]):
            sg = segments[s]
            u = next_customer[s]
            for _ in range(counts[t, s]):
                events[pos].word = event_word(u, 0, 0, s, 0)
                events[pos].lam = propensity(pk, u, sg.churn_rate, sg.churn_shape, Mc)
                pos += 1
                u += 1
            next_customer[s] = u
    off[D] = pos
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
        curve = stock_curve(sg.initial_age, sg.churn_rate, sg.churn_shape, Mc)
        for u in range(sg.start, sg.start + sg.initial):
            age = age_of(pk, u, sg, curve) if sg.initial_age > 0.0 else 0.0
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
