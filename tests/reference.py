"""A deliberately simple, slow, plain-Python simulator of ONE path.

This is the yardstick for the numba kernel (`simengine/kernel/`): on small
populations the two must agree number for number.  It follows
`docs/model-notes.md` (the engine's exact readings of docs/model.md sections 2-5) to the
letter, with no cleverness: a day-by-day loop, a list per customer attribute, a
calendar `day -> [events]`.  Each block below names the rule it implements.

    simulate_path(scn, path, seed, draws=None, trace=False) -> dict

    {"growth_multiplier": G, "churn_multiplier": Mc,
     "uncertain": {key: value},               # the path's [uncertainty] values
     "strategies": {name: {"paths":   {column: value},      # paths.arrow columns
                           "periods": [{column: value}, ...],  # one per period
                           "monthly": [{column: value}, ...],  # one per month
                           # only with trace=True:
                           "daily":   [{day, contacts, usage, capacity, tier_size,
                                        overflow}, ...],
                           "oracle_plan": {day: tier} or None}}}

`draws` supplies the random numbers.  `KeyedDraws(seed, path)` (the default)
is the engine's counter-based stream (the `py_*` twins of `tests/naive.py`), so results
match the kernel bit for bit.  `NumpyDraws(generator)` gives independent numpy
draws, for distributional comparisons with an unrelated random source.
Whatever the source, `simulate_path` asks it for each key once per path and
re-uses the answer, so every strategy (and the oracle's never-blocked run) sees
the same customer draws (common random numbers).

Path-level numbers (docs/model.md section 12): under `sampling = "mc"` the growth,
churn and [uncertainty] normals come from `draws` like every other draw;
under "sobol" from `simengine.sampling` (the Sobol' points are scipy's, not
something to twin here). The [uncertainty] values are the engine's
(`sampling.draw_values`, checked against its laws in tests/test_uncertainty.py)
and are written into a copy of the scenario for the whole path.
"""
from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

import naive
from simengine import rng as R
from simengine import sampling

# ----------------------------------------------------------------- draws


class KeyedDraws:
    """The engine's draws: `f(seed, path, customer, purpose, occurrence)`."""

    def __init__(self, seed: int, path: int):
        self.seed = seed
        self.path = path
        self.pk = naive.py_path_key(seed, path)

    def uniform(self, customer, purpose, occurrence):
        return naive.py_uniform(self.pk, customer, purpose, occurrence)

    def exponential(self, customer, purpose, occurrence):
        return naive.py_exponential(self.pk, customer, purpose, occurrence)

    def normal(self, customer, purpose, occurrence):
        return naive.py_normal(self.pk, customer, purpose, occurrence)

    def gamma(self, customer, purpose, shape):
        return naive.py_gamma(self.pk, customer, purpose, shape)

    def order_key(self, customer, occurrence):
        return naive.py_draw_bits(self.pk, customer, R.ORDER, occurrence)

    def binomial(self, segment, day, n, p):
        """The count of segment `segment`'s first attempts on `day`."""
        return naive.py_binomial(self.pk, segment, R.FIRST_ATTEMPTS,
                                 day * R.BINOMIAL_UNIFORMS, n, p)


class NumpyDraws:
    """Fresh, independent numpy draws at every call; the keys are ignored."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def uniform(self, customer, purpose, occurrence):
        return 1.0 - float(self.rng.random())          # on (0, 1], like rng.uniform

    def exponential(self, customer, purpose, occurrence):
        return float(self.rng.standard_exponential())

    def normal(self, customer, purpose, occurrence):
        return float(self.rng.standard_normal())

    def gamma(self, customer, purpose, shape):
        return float(self.rng.standard_gamma(shape))

    def order_key(self, customer, occurrence):
        return int(self.rng.integers(0, 2**64, dtype=np.uint64))

    def binomial(self, segment, day, n, p):
        return int(self.rng.binomial(n, p))


class _SameDrawsEverywhere:
    """Asks the underlying source once per key and remembers the answer.

    With KeyedDraws this changes nothing (its draws are pure functions of the
    key); with NumpyDraws it is what makes strategies share customer draws.
    """

    def __init__(self, draws):
        self._draws = draws
        self._memo = {}

    def _get(self, method, *key):
        k = (method,) + key
        if k not in self._memo:
            self._memo[k] = getattr(self._draws, method)(*key)
        return self._memo[k]

    def uniform(self, customer, purpose, occurrence):
        return self._get("uniform", customer, purpose, occurrence)

    def exponential(self, customer, purpose, occurrence):
        return self._get("exponential", customer, purpose, occurrence)

    def normal(self, customer, purpose, occurrence):
        return self._get("normal", customer, purpose, occurrence)

    def gamma(self, customer, purpose, shape):
        return self._get("gamma", customer, purpose, shape)

    def order_key(self, customer, occurrence):
        return self._get("order_key", customer, occurrence)

    def binomial(self, segment, day, n, p):
        return self._get("binomial", segment, day, n, p)


# ----------------------------------------------------------------- time (docs/model.md section 2)


def month_start(year: int, m: int) -> int:
    """Month m of year y covers [365y + floor(365m/12), 365y + floor(365(m+1)/12))."""
    return 365 * year + (365 * m) // 12


def month_of_year(t: int) -> int:
    d = t % 365
    for m in range(12):
        if month_start(0, m) <= d < month_start(0, m + 1):
            return m
    raise AssertionError(t)


def month_last_days(days: int) -> list:
    """Last day of each month (global month index = 12 y + m)."""
    out = []
    for y in range(days // 365):
        for m in range(12):
            out.append(month_start(y, m + 1) - 1)
    return out


# ----------------------------------------------------------------- customers (docs/model.md section 3)


def campaign_runs(scn, draws):
    """The path's campaign runs (docs/model.md section 3, "Campaigns, exactly"
    in section 5) as (campaign, first day, day after the last, lift), in the
    order campaign, year, run. Campaign c's draws: customer c, purpose
    CAMPAIGN, occurrence (year * 2^26 + j) * 3 + kind, kind 0 for the j-th
    piece of the year's Poisson count, 1 for run j's start day, 2 for its
    lift normal."""
    def occurrence(year, j, kind):
        return (year * 2**26 + j) * 3 + kind

    def poisson(c, year, mean):
        # a sum of Poisson counts of mean <= 16, each by inversion of one uniform
        pieces = max(1, math.ceil(mean / 16.0))
        m = mean / pieces
        n = 0
        for i in range(pieces):
            u = draws.uniform(c, R.CAMPAIGN, occurrence(year, i, 0))
            k, p = 0, math.exp(-m)
            F = p
            while F < u:
                k += 1
                p *= m / k
                if F + p == F:
                    break
                F += p
            n += k
        return n

    runs = []
    for c, camp in enumerate(scn.campaigns):
        for y in range(scn.horizon_years):
            fixed = camp.day_of_year is not None
            for j in range(1 if fixed else poisson(c, y, camp.per_year)):
                if fixed:
                    d = camp.day_of_year
                else:
                    d = min(int(draws.uniform(c, R.CAMPAIGN, occurrence(y, j, 1)) * 365.0), 364)
                lift = camp.lift
                if camp.lift_sigma > 0:
                    z = draws.normal(c, R.CAMPAIGN, occurrence(y, j, 2))
                    lift = camp.lift * math.exp(camp.lift_sigma * z)
                start = 365 * y + d
                runs.append((c, start, min(start + camp.duration_days, scn.days), lift))
    return runs


def daily_lifts(scn, seg, runs):
    """lift_s(t): the product of the lifts of the runs covering day t that
    reach segment `seg`, multiplied in run order (1 without one)."""
    lift = [1.0] * scn.days
    for c, start, end, value in runs:
        reached = scn.campaigns[c].segments
        if not reached or seg.name in reached:
            for t in range(start, end):
                lift[t] *= value
    return lift


class _Customers:
    """Everything about the customers that does not depend on the strategy."""

    def __init__(self, scn, draws, G, Mc):
        D = scn.days
        runs = campaign_runs(scn, draws)
        self.segment = []      # segment object of customer u
        self.initial = []      # True for an initial contact (active at t = 0)
        self.lam = []          # churn propensity lam_u
        self.first_day = []    # day of the first attempt, None if never (or initial)
        u = 0
        for si, seg in enumerate(scn.segments):
            # h(t) = adoption * (season(t) * lift(t)) * G in float64 (lift 1.0
            # without a campaign reaching the segment)
            lift = daily_lifts(scn, seg, runs)
            h = [seg.adoption_rate * (scn.growth.season[month_of_year(t)] * lift[t]) * G
                 for t in range(D)]
            # first attempts as counts (docs/model.md section 3): of the pool
            # customers still waiting on day t, Binomial(waiting, 1 - exp(-h(t)))
            # attempt that day, and they are the segment's next customers
            days = []
            waiting = seg.size - seg.initial_contacts
            for t in range(D):
                if waiting == 0:
                    break
                if h[t] > 0.0:
                    n = draws.binomial(si, t, waiting, -math.expm1(-h[t]))
                    days += [t] * n
                    waiting -= n
            days += [None] * waiting          # no attempt inside the horizon
            for i in range(seg.size):
                self.segment.append(seg)
                # propensity; a starting contact of age a is a survivor: the
                # gamma posterior given survival to a (docs/model.md section 3)
                age = initial_age(seg, draws, u, Mc) if i < seg.initial_contacts else 0.0
                if math.isinf(seg.churn_shape):
                    lam = seg.churn_rate * Mc
                else:
                    k = seg.churn_shape
                    theta = seg.churn_rate / k
                    lam = draws.gamma(u, R.LAMBDA, k) * (theta / (1.0 + Mc * theta * age)) * Mc
                self.lam.append(lam)
                self.initial.append(i < seg.initial_contacts)
                self.first_day.append(None if i < seg.initial_contacts
                                      else days[i - seg.initial_contacts])
                u += 1
        self.n = u


def initial_age(seg, draws, u, Mc):
    """A starting contact's age: initial_age_days, or under "stock" the
    inverse CDF of the density proportional to the survival on [0, A]:
    int_0^a (1 + c x)^-k dx = ((1 + c a)^(1-k) - 1) / (c (1 - k)), solved for a."""
    A = seg.initial_age_days
    if A <= 0.0:
        return 0.0
    if seg.initial_ages == "equal":
        return A
    v = draws.uniform(u, R.INITIAL_AGE, 0)
    if math.isinf(seg.churn_shape):
        r = Mc * seg.churn_rate
        if r * A == 0.0:
            return v * A
        return -math.log1p(v * math.expm1(-r * A)) / r
    k = seg.churn_shape
    c = Mc * seg.churn_rate / k
    if c * A == 0.0:
        return v * A
    g = math.log1p(c * A)
    m = 1.0 - k
    if m == 0.0:
        return math.expm1(v * g) / c
    return math.expm1(math.log1p(v * math.expm1(m * g)) / m) / c


# ----------------------------------------------------------------- one strategy


class _Billing:
    """Tier arithmetic of docs/model.md section 4 / model-notes 'Billing'."""

    def __init__(self, scn):
        b = scn.billing
        self.free = b.free_quota
        self.sizes = [int(s) for s, _ in b.tiers]
        self.prices = [float(p) for _, p in b.tiers]
        self.covers = b.tier_covers
        self.member_cap = scn.staff.member_cap

    def nominal(self, i):
        """Capacity of tier i per tier_covers, before the member cap."""
        if self.covers == "total":
            return max(self.free, self.sizes[i])
        return self.free + self.sizes[i]

    def capacity(self, i):
        """Effective capacity with tier i in force (None = no tier)."""
        c = self.free if i is None else self.nominal(i)
        if self.member_cap is not None:
            c = min(c, self.member_cap)
        return c

    def price(self, i):
        return 0.0 if i is None else self.prices[i]

    def size(self, i):
        return 0 if i is None else self.sizes[i]

    def smallest_covering(self, target):
        """Smallest tier with nominal capacity >= target, else the largest."""
        for i in range(len(self.sizes)):
            if self.nominal(i) >= target:
                return i
        return len(self.sizes) - 1

    def fit_for(self, u_value, headroom):
        """`fit`: target = ceil(U (1 + headroom)); none if it fits the free quota."""
        target = math.ceil(u_value * (1 + headroom) - 1e-9)
        if target <= self.free:
            return None
        return self.smallest_covering(target)


def hindsight_plan(scn, usage_by_day):
    """The oracle's plan (docs/model.md section 5, "The hindsight plan"), read from docs/model.md's
    words rather than solved: per period, the running peak R(t) of the
    never-blocked run's end-of-day usage (at most the member cap) needs the
    smallest tier covering it (none within the free quota). With `prorated`
    pricing the plan renews to fit and upgrades just in time to that tier;
    with `full` and `difference` it buys the period's peak tier at renewal
    (with `difference` every plan ending there costs the same, and the
    earliest purchase wins the tie). Exact for tiers whose prices rise with
    their size. Returns {day: tier} for the period starts and the upgrades."""
    bill = _Billing(scn)
    P, D = scn.billing.period_days, scn.days
    cap = math.inf if bill.member_cap is None else bill.member_cap
    plan = {}
    for start in range(0, D, P):
        peak, need = 0, []
        for t in range(start, min(start + P, D)):
            peak = max(peak, min(usage_by_day[t], cap))
            need.append(None if peak <= bill.free else bill.smallest_covering(peak))
        if scn.billing.upgrade_pricing == "prorated":
            plan[start] = need[0]
            for i in range(1, len(need)):
                if need[i] != need[i - 1]:
                    plan[start + i] = need[i]
        else:
            plan[start] = need[-1]
    return plan


def _simulate_strategy(scn, strat, cust, draws, never_blocked=False,
                       oracle_plan=None, trace=False):
    """Run one strategy over the horizon.

    never_blocked=True is the oracle's hindsight run: same admission rules,
    infinite capacity, no renewal/upgrade/payments; it returns the list of
    each day's end-of-day usage. An oracle follows `oracle_plan` ({day:
    tier}): its tier at each period start, and upgrades bought on their day
    before the day's attempts; its own upgrade rule and reserves are ignored.
    """
    oracle = strat.renewal == "oracle" and not never_blocked
    D = scn.days
    P = scn.billing.period_days
    n_periods = scn.periods
    cumulative = scn.billing.rule == "cumulative"
    certified = scn.billing.certified
    bill = _Billing(scn)
    # `admit` is resolved by the loader (all segments when unset); a Strategy
    # built by hand with admit=() is read the same way.
    admit = set(strat.admit) if strat.admit else {s.name for s in scn.segments}
    month_ends = month_last_days(D)
    month_end_index = {d: i for i, d in enumerate(month_ends)}

    # -- per-customer state
    state = ["pool"] * cust.n    # pool | wecom | overflow | waiting | gone | lost
    calendar = {}                # day -> list of events

    def schedule(day, event):
        if day < D:              # events due after the horizon vanish
            calendar.setdefault(day, []).append(event)

    # Start: initial contacts are active at t = 0 (episode 0), whatever the
    # capacity or admit, and not counted as adds; the rest wait for their
    # first attempt (episode 0, try j = 0).
    active = 0
    for u in range(cust.n):
        if cust.initial[u]:
            state[u] = "wecom"
            active += 1
        elif cust.first_day[u] is not None:
            schedule(cust.first_day[u], ("attempt", u, 0, 0))
    for u in range(cust.n):          # lifetimes of the initial contacts (episode 0)
        if cust.initial[u]:
            _start_life_churn(u, 0, 0, "wecom", cust, draws, schedule)

    usage = active
    overflow_count = 0
    tier = None                      # index into tiers, None = no tier
    capacity = math.inf if never_blocked else bill.capacity(None)
    # frictions (docs/model.md sections 4, 5): an order is in force lead_days
    # after it is placed; attempts order at U >= ceil(upgrade_at * C) when
    # watching (review_days = 0), else a review on days t % R == 0 does.
    # The oracle orders ahead, knowing the path: none of these binds it.
    ordering = not never_blocked and not oracle
    lead = scn.billing.lead_days if ordering else 0
    pending = None                   # (tier, day in force) of the order waiting

    def threshold():
        return math.ceil(Fraction(repr(float(strat.upgrade_at))) * capacity)

    # -- accumulators
    tot = dict(tier_cost=0.0, upgrade_cost=0.0, certification_cost=0.0,
               overflow_cost=0.0, lost_value=0.0, peak_contacts=0,
               final_contacts=0, first_adds=0, readds=0, churns=0, blocked=0,
               lost=0, overflowed=0, upgrades=0, blocked_pending=0)
    periods = []
    monthly = []
    daily = []
    paid_so_far = 0.0                # all payments made so far (for cumulative_cost)
    adds_on_day = [0] * D            # WeCom admitted adds per day (forecast)
    churns_on_day = [0] * D          # WeCom churns per day (forecast)
    usage_by_day = []                # for the never-blocked run

    for t in range(D):
        k = t // P

        # (1) Period start: reset cumulative usage, then renewal and payments.
        if t % P == 0:
            if cumulative:
                usage = active
            assert usage == active or cumulative
            per = dict(tier_size=0, capacity_end=0, tier_cost=0.0,
                       upgrade_cost=0.0, certification_cost=0.0,
                       overflow_cost=0.0, peak_usage=0, peak_contacts=0,
                       first_adds=0, readds=0, churns=0, blocked=0, blocked_pending=0)
            periods.append(per)
            pending = None           # an order still pending is cancelled
            peak_overflow_of_period = 0
            if not never_blocked:
                tier = _renewal(strat, bill, k, t, usage, P, adds_on_day,
                                churns_on_day, oracle_plan)
                capacity = bill.capacity(tier)
                price = bill.price(tier)
                fee = scn.billing.certification_fee if certified else 0.0
                per["tier_cost"] += price
                per["certification_cost"] += fee
                tot["tier_cost"] += price
                tot["certification_cost"] += fee
                paid_so_far += price
                paid_so_far += fee
        per = periods[k]

        def buy_upgrade(new):
            """Pay for tier `new` today (docs/model.md section 4 upgrade pricing); in force at once."""
            nonlocal tier, capacity, paid_so_far
            cost = _upgrade_price(scn.billing.upgrade_pricing, bill.price(new),
                                  bill.price(tier), k, t, P)
            tier = new
            capacity = bill.capacity(tier)
            per["upgrade_cost"] += cost
            tot["upgrade_cost"] += cost
            tot["upgrades"] += 1
            paid_so_far += cost

        def place_order(new):
            nonlocal pending
            if lead == 0:
                buy_upgrade(new)
            else:
                pending = (new, t + lead)

        # (1b) An oracle's planned upgrade, in force before today's attempts.
        if oracle and t % P != 0 and t in oracle_plan:
            buy_upgrade(oracle_plan[t])
        # (1c) An order due today comes into force; then a review day's look.
        if pending is not None and pending[1] == t:
            buy_upgrade(pending[0])
            pending = None
        if ordering and strat.review_days > 0 and t % strat.review_days == 0 \
                and pending is None and usage >= threshold():
            new = _upgrade_choice(strat, bill, tier, usage, capacity)
            if new is not None:
                place_order(new)

        today = calendar.pop(t, [])

        # (2) Churns due today.
        for ev in today:
            if ev[0] != "churn":
                continue
            _, u, e, where = ev
            assert state[u] == where
            if where == "wecom":
                active -= 1
                if not cumulative:
                    usage -= 1
                tot["churns"] += 1
                per["churns"] += 1
                churns_on_day[t] += 1
            else:
                overflow_count -= 1
            # lapse decision after episode e: re-add iff uniform <= readd_prob
            seg = cust.segment[u]
            if draws.uniform(u, R.READD_DECISION, e) <= seg.readd_prob:
                state[u] = "waiting"
                delay = 1 + math.floor(seg.readd_delay_days
                                       * draws.exponential(u, R.READD_DELAY, e))
                schedule(t + delay, ("attempt", u, e + 1, 0))
            else:
                state[u] = "gone"

        # (3) Attempts due today, ascending (priority, customer).
        attempts = [ev for ev in today if ev[0] == "attempt"]
        attempts.sort(key=lambda ev: (draws.order_key(ev[1], ev[2] * 256 + ev[3]), ev[1]))
        for _, u, e, j in attempts:
            seg = cust.segment[u]
            assert state[u] in ("pool", "waiting")
            state[u] = "waiting"

            def lose():
                state[u] = "lost"
                tot["lost"] += 1
                tot["lost_value"] += seg.lost_value

            def start_overflow_life():
                nonlocal overflow_count
                state[u] = "overflow"
                tot["overflowed"] += 1
                overflow_count += 1
                _start_life_churn(u, e, t, "overflow", cust, draws, schedule)

            # Segment not admitted: `others`, no capacity check/upgrade/retry/block.
            if seg.name not in admit:
                if strat.others == "overflow":
                    start_overflow_life()
                else:
                    lose()
                continue

            # Usage at the threshold (the capacity full, by default): a
            # watching strategy orders first (one order at most); a refusal by
            # a reserve below the threshold orders none.
            if ordering and strat.review_days == 0 and pending is None \
                    and usage >= threshold():
                new = _upgrade_choice(strat, bill, tier, usage, capacity)
                if new is not None:
                    place_order(new)

            reserve = 0 if oracle or never_blocked else strat.reserve_of(seg.name)
            if usage < capacity - reserve:
                # Admitted: active from today, lifetime of episode e.
                state[u] = "wecom"
                active += 1
                usage += 1
                adds_on_day[t] += 1
                kind = "first_adds" if e == 0 else "readds"
                tot[kind] += 1
                per[kind] += 1
                _start_life_churn(u, e, t, "wecom", cust, draws, schedule)
            else:
                tot["blocked"] += 1
                per["blocked"] += 1
                if pending is not None:
                    tot["blocked_pending"] += 1
                    per["blocked_pending"] += 1
                if strat.on_blocked == "lost":
                    lose()
                elif strat.on_blocked == "overflow":
                    start_overflow_life()
                elif strat.on_blocked == "retry":
                    if j < strat.max_retries:
                        delay = 1 + math.floor(strat.retry_days * draws.exponential(
                            u, R.RETRY_DELAY, e * 256 + j + 1))
                        schedule(t + delay, ("attempt", u, e, j + 1))   # past D: vanishes
                    else:
                        lose()
                else:
                    raise ValueError(strat.on_blocked)

        # (4) End of day: peaks over end-of-day values, then records.
        tot["peak_contacts"] = max(tot["peak_contacts"], active)
        per["peak_contacts"] = max(per["peak_contacts"], active)
        per["peak_usage"] = max(per["peak_usage"], usage)
        peak_overflow_of_period = max(peak_overflow_of_period, overflow_count)
        if trace:
            daily.append(dict(day=t, contacts=active, usage=usage,
                              capacity=capacity, tier_size=bill.size(tier),
                              overflow=overflow_count))

        if never_blocked:
            usage_by_day.append(usage)
        if t == min((k + 1) * P, D) - 1:             # period's last day
            if not never_blocked:
                accounts = -(-peak_overflow_of_period // scn.overflow.account_capacity)
                cost = accounts * scn.overflow.account_cost
                per["overflow_cost"] += cost
                tot["overflow_cost"] += cost
                paid_so_far += cost
                per["tier_size"] = bill.size(tier)
                per["capacity_end"] = capacity
        if t in month_end_index and not never_blocked:
            monthly.append(dict(contacts=active, usage=usage, capacity=capacity,
                                cumulative_cost=paid_so_far))

    assert not calendar, "an event was scheduled on or after day D"
    if never_blocked:
        return usage_by_day

    assert len(periods) == n_periods and len(monthly) == scn.months
    tot["final_contacts"] = active
    tot["total_cost"] = (tot["tier_cost"] + tot["upgrade_cost"]
                         + tot["certification_cost"] + tot["overflow_cost"])
    tot["economic_cost"] = tot["total_cost"] + tot["lost_value"]
    order = ["total_cost", "tier_cost", "upgrade_cost", "certification_cost",
             "overflow_cost", "lost_value", "economic_cost", "peak_contacts",
             "final_contacts", "first_adds", "readds", "churns", "blocked",
             "blocked_pending", "lost", "overflowed", "upgrades"]
    out = {"paths": {c: tot[c] for c in order}, "periods": periods, "monthly": monthly}
    if trace:
        out["daily"] = daily
        out["oracle_plan"] = oracle_plan
    return out


def _start_life_churn(u, e, t, where, cust, draws, schedule):
    """A life (episode e) starting on day t: churn at t + L, L = 1 + floor(Exp/lam)."""
    lam = cust.lam[u]
    if lam == 0.0:
        return                                   # never churns
    L = 1 + math.floor(draws.exponential(u, R.LIFETIME, e) / lam)
    schedule(t + L, ("churn", u, e, where))      # past the horizon: vanishes


def _renewal(strat, bill, k, t, usage, P, adds_on_day, churns_on_day, oracle_plan):
    """Tier for period k (None = no tier)."""
    r = strat.renewal
    if r == "none":
        return None
    if r == "fixed":
        return bill.sizes.index(int(strat.tier))
    if r == "fit" or (r == "forecast" and k == 0):
        return bill.fit_for(usage, strat.headroom)
    if r == "forecast":
        lo = max(0, t - 90)
        net = sum(adds_on_day[lo:t]) - sum(churns_on_day[lo:t])   # days t-90 .. t-1
        u_prime = usage + max(0, net) * P / 90
        return bill.fit_for(u_prime, strat.headroom)
    if r == "oracle":
        return oracle_plan[t]
    raise ValueError(r)


def _upgrade_choice(strat, bill, tier, usage, capacity):
    """Tier to upgrade to when an admissible attempt finds U >= C, or None."""
    current = -1 if tier is None else tier
    if strat.upgrade == "none":
        return None
    if strat.upgrade == "next":
        cand = current + 1
        if cand >= len(bill.sizes):
            return None
    elif strat.upgrade == "fit":
        # the smallest tier whose nominal capacity exceeds U (1 + h), float
        # noise never counting: 2600 * 1.15 = 2989.9999999999995 is 2990
        need = math.floor(usage * (1 + strat.headroom) + 1e-9)
        # ... and the current tier's (an order before the scale is full)
        cand = len(bill.sizes) - 1
        for i in range(len(bill.sizes)):
            if bill.nominal(i) > need and (tier is None or bill.nominal(i) > bill.nominal(tier)):
                cand = i
                break
    else:
        raise ValueError(strat.upgrade)
    if cand > current and bill.capacity(cand) > capacity:
        return cand
    return None


def _upgrade_price(pricing, new_price, old_price, k, t, P):
    if pricing == "prorated":
        return (new_price - old_price) * ((k + 1) * P - t) / P
    if pricing == "difference":
        return new_price - old_price
    if pricing == "full":
        return new_price
    raise ValueError(pricing)


# ----------------------------------------------------------------- one path


def path_normals(scn, path, seed, draws):
    """The path's normals: growth, churn, then one per [uncertainty] key."""
    if scn.sampling == "sobol":
        return [float(z) for z in sampling.Sampling.of(scn).normals(seed, [path])[0]]
    return ([draws.normal(0, R.PATH_GROWTH, 0), draws.normal(0, R.PATH_CHURN, 0)]
            + [draws.normal(0, R.PATH_UNCERTAINTY, k) for k in range(len(scn.uncertainty))])


def with_path_values(scn, normals):
    """({key: value}, the scenario with this path's [uncertainty] values)."""
    if not scn.uncertainty:
        return {}, scn
    parts = [u.key.split(".") for u in scn.uncertainty]

    fields = {"segment": "segments", "strategy": "strategies", "campaign": "campaigns"}

    def entry(table, name):
        return next(x for x in getattr(scn, fields[table]) if x.name == name)

    medians = [getattr(getattr(scn, p[0]), p[1]) if len(p) == 2
               else getattr(entry(p[0], ".".join(p[1:-1])), p[-1]) for p in parts]
    values = sampling.draw_values(scn.uncertainty, medians, np.array([normals]))[0]
    for p, value in zip(parts, values):
        value = float(value)
        if len(p) == 2:
            scn = dataclasses.replace(scn, **{p[0]: dataclasses.replace(getattr(scn, p[0]),
                                                                        **{p[1]: value})})
            continue
        table, name, leaf = p[0], ".".join(p[1:-1]), p[-1]
        field = fields[table]
        items = tuple(dataclasses.replace(x, **{leaf: value}) if x.name == name else x
                      for x in getattr(scn, field))
        scn = dataclasses.replace(scn, **{field: items})
    return {u.key: float(v) for u, v in zip(scn.uncertainty, values)}, scn


def simulate_path(scn, path: int, seed: int, draws=None, trace: bool = False) -> dict:
    """Simulate every strategy of `scn` on one path; see the module docstring."""
    if draws is None:
        draws = KeyedDraws(seed, path)
    draws = _SameDrawsEverywhere(draws)

    z = path_normals(scn, path, seed, draws)
    uncertain, scn = with_path_values(scn, z)
    G = math.exp(scn.growth.sigma * z[0])
    Mc = math.exp(scn.growth.churn_sigma * z[1])
    cust = _Customers(scn, draws, G, Mc)

    result = {"growth_multiplier": G, "churn_multiplier": Mc, "uncertain": uncertain,
              "strategies": {}}
    for strat in scn.strategies:
        oracle_plan = None
        if strat.renewal == "oracle":
            usage = _simulate_strategy(scn, strat, cust, draws, never_blocked=True)
            oracle_plan = hindsight_plan(scn, usage)
        result["strategies"][strat.name] = _simulate_strategy(
            scn, strat, cust, draws, oracle_plan=oracle_plan, trace=trace)
    return result
