"""The hindsight plan (docs/model.md section 5, `renewal = "oracle"`): the cheapest
non-decreasing tier schedule of one billing period that covers the running
peak of the never-blocked run, for the upgrade pricing in force.

The running peak R(t) only crosses a tier's capacity a few times a period,
and a plan need only change tier on those days (upgrading on any other day
costs at least as much under every pricing), so a small dynamic program over
(crossing day, tier held) finds it exactly.
"""
import numpy as np

from ..billing import NO_TIER, covering_tier, tier_price, upgrade_price
from ..jit import jit, jit_inner


@jit
def required_tiers(usage, nominal, free_quota, usage_cap):
    """For each day of a period, the smallest tier covering the running peak
    of end-of-day `usage` (capped at `usage_cap`: capacity beyond the member
    cap cannot be used); NO_TIER while the free quota covers it."""
    req = np.empty(usage.shape[0], np.int64)
    peak = 0
    for t in range(usage.shape[0]):
        u = min(usage[t], usage_cap)
        if u > peak:
            peak = u
        req[t] = covering_tier(peak, nominal, free_quota)
    return req


@jit
def hindsight_plan(usage, nominal, prices, free_quota, usage_cap, pricing, first_day,
                   period_days, plan_day, plan_tier):
    """The cheapest plan for one period whose end-of-day usage is `usage`
    (day `first_day + i` for i = 0..). Writes the renewal tier to
    plan_tier[0] (plan_day[0] = first_day) and each upgrade (day, tier) after
    it; returns (entries written, the plan's cost). Among equally cheap
    plans it takes the one that buys earliest."""
    req = required_tiers(usage, nominal, free_quota, usage_cap)
    L = usage.shape[0]
    T = nominal.shape[0]
    # the days the requirement rises (day 0 is the renewal)
    event = np.empty(T + 2, np.int64)
    m = 0
    for t in range(L):
        if t == 0 or req[t] > req[t - 1]:
            event[m] = t
            m += 1
    # cost[i, j + 1]: cheapest cost from event i on, holding tier j before it
    inf = np.inf
    cost = np.full((m + 1, T + 1), inf)
    choice = np.full((m + 1, T + 1), NO_TIER, np.int64)
    cost[m, :] = 0.0
    for i in range(m - 1, -1, -1):
        t = event[i]
        days_left = period_days - t
        for j in range(NO_TIER, T):
            best = inf
            best_k = NO_TIER
            lowest = max(j, req[t]) if i > 0 else req[t]
            # from the largest down, so that a tie keeps the earlier purchase
            for k in range(T - 1, lowest - 1, -1):
                if i == 0:
                    c = tier_price(k, prices)
                elif k == j:
                    c = 0.0
                else:
                    c = upgrade_price(pricing, tier_price(j, prices), tier_price(k, prices),
                                      days_left, period_days)
                c += cost[i + 1, k + 1]
                if c < best - 1e-9 * max(1.0, abs(best) if best < inf else 1.0):
                    best = c
                    best_k = k
            cost[i, j + 1] = best
            choice[i, j + 1] = best_k
    tier = choice[0, 0]
    plan_day[0] = first_day
    plan_tier[0] = tier
    n = 1
    for i in range(1, m):
        k = choice[i, tier + 1]
        if k != tier:
            plan_day[n] = first_day + event[i]
            plan_tier[n] = k
            n += 1
            tier = k
    return n, cost[0, 0]


@jit_inner
def plan_periods(c, tiers, day, plan_day, plan_tier, plan_n, usage):
    """The hindsight plan of every period from a phantom's day records
    (`day`, layout.DAY): plan_n[k] entries of (plan_day[k], plan_tier[k]),
    the renewal first. `usage` is scratch space of at least a period."""
    D = c.days
    P = c.period_days
    for k in range(plan_n.shape[0]):
        lo = k * P
        hi = min(lo + P, D)
        for t in range(lo, hi):
            usage[t - lo] = day[t].usage
        n, _ = hindsight_plan(usage[:hi - lo], tiers.nominal, tiers.price, c.free_quota,
                              c.usage_cap, c.pricing, lo, P, plan_day[k], plan_tier[k])
        plan_n[k] = n
