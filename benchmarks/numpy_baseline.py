"""A plain NumPy, day-stepped simulation of the engine's customer dynamics,
for ONE strategy with a fixed capacity (the speed baseline of the benchmarks).

This is the "obvious" implementation the engine's event-driven kernel is
measured against (`docs/model-notes.md`, PERF-NOTES): state arrays over all
customers, vectorised over customers, one Python-level step per day. It uses
numpy's `Generator` for its random numbers, so it agrees with the engine in
distribution, not bit for bit.

Dynamics (docs/model.md sections 3-4, one strategy, `billing.rule = "concurrent"`):

- segments with `size` customers, the first `initial` of each active on day 0
  (their lifetime drawn like a fresh one), the rest in the pool;
- propensity `lam_u ~ Gamma(k_s, churn_rate_s / k_s) * Mc` (`k_s = inf`:
  `churn_rate_s * Mc`);
- on day `t`, each pool customer of segment `s` attempts its first add with
  probability `1 - exp(-adoption_rate_s * season_day[t] * G)` (a Bernoulli
  draw every day);
- an admitted customer is active from day `t` and churns at the start of day
  `t + 1 + floor(E / lam_u)`, `E ~ Exp(1)`;
- on churn, with probability `readd_prob_s` it lapses and attempts a re-add
  `1 + floor(readd_delay_days_s * Exp(1))` days later; otherwise it is gone;
- order within a day: churns due today, then today's attempts (re-adds and
  first adds); they are admitted while `active < capacity`, in a uniformly
  random order when not all fit; a refused attempt is lost (`on_blocked =
  "lost"`), the customer never returns.

`simulate` returns the active count at the end of each day.
"""
from __future__ import annotations

import math

import numpy as np

POOL, ACTIVE, LAPSED, GONE = 0, 1, 2, 3
NEVER = np.iinfo(np.int32).max      # "no event inside the horizon"


def _event_day(t, x, D):
    """Day `t + 1 + floor(x)` as int32, NEVER when it falls at or after D
    (x may be inf: a propensity of 0 never churns)."""
    out = np.full(x.shape, NEVER, np.int32)
    ok = x < (D - 1 - t)
    out[ok] = t + 1 + np.floor(x[ok]).astype(np.int32)
    return out


def simulate(sizes, initial, adoption, churn_rate, churn_shape, readd_prob,
             readd_delay, season_day, capacity=None, growth_mult=1.0, churn_mult=1.0,
             rng=None, stats=None):
    """Simulate one path for `D = len(season_day)` days.

    Per-segment sequences: `sizes`, `initial` (initial contacts), `adoption`
    (per-day hazard), `churn_rate`, `churn_shape` (`math.inf`: homogeneous),
    `readd_prob`, `readd_delay` (mean days). `season_day[t]` is the adoption
    multiplier of day t; `capacity` None means it never binds. `growth_mult`
    (G) and `churn_mult` (Mc) are the path multipliers. `rng` is a
    `numpy.random.Generator` (or a seed). If `stats` is a dict, it receives
    the counts of first adds, re-adds, churns and blocked attempts.

    Returns an int64 array: active customers at the end of each day.
    """
    rng = np.random.default_rng(rng)
    season_day = np.asarray(season_day, dtype=np.float64)
    D = season_day.shape[0]
    nseg = len(sizes)
    sizes = np.asarray(sizes, dtype=np.int64)
    start = np.zeros(nseg + 1, np.int64)
    start[1:] = np.cumsum(sizes)
    N = int(start[-1])
    seg = np.repeat(np.arange(nseg, dtype=np.int8), sizes)
    readd_prob = np.asarray(readd_prob, dtype=np.float64)
    readd_delay = np.asarray(readd_delay, dtype=np.float64)
    cap = math.inf if capacity is None else int(capacity)

    lam = np.empty(N)
    for s in range(nseg):
        n = int(sizes[s])
        k = float(churn_shape[s])
        if math.isinf(k):
            lam[start[s]:start[s + 1]] = churn_rate[s] * churn_mult
        else:
            lam[start[s]:start[s + 1]] = rng.gamma(k, churn_rate[s] / k, n) * churn_mult

    state = np.full(N, POOL, np.int8)
    event_day = np.full(N, NEVER, np.int32)   # churn day if active, re-add day if lapsed
    init = np.concatenate([np.arange(start[s], start[s] + initial[s], dtype=np.int64)
                           for s in range(nseg)]) if nseg else np.zeros(0, np.int64)
    state[init] = ACTIVE
    with np.errstate(divide="ignore"):
        event_day[init] = _event_day(0, rng.standard_exponential(init.size) / lam[init], D)
    count = int(init.size)
    pools = [np.arange(start[s] + initial[s], start[s + 1], dtype=np.int32)
             for s in range(nseg)]

    n_first = n_readd = n_churn = n_blocked = 0
    active = np.empty(D, np.int64)
    empty = np.zeros(0, np.int64)
    for t in range(D):
        # (2) churns and re-add attempts due today
        due = np.flatnonzero(event_day == t)
        readds = empty
        if due.size:
            st = state[due]
            churned = due[st == ACTIVE]
            readds = due[st == LAPSED]
            count -= churned.size
            n_churn += churned.size
            back = rng.random(churned.size) < readd_prob[seg[churned]]
            lapsed = churned[back]
            gone = churned[~back]
            state[lapsed] = LAPSED
            event_day[lapsed] = _event_day(
                t, readd_delay[seg[lapsed]] * rng.standard_exponential(lapsed.size), D)
            state[gone] = GONE
            event_day[gone] = NEVER
        # (3) first attempts today: a Bernoulli draw for every pool customer
        firsts = []
        for s in range(nseg):
            pool = pools[s]
            if pool.size == 0 or adoption[s] <= 0.0:
                continue
            p = -math.expm1(-adoption[s] * season_day[t] * growth_mult)
            hit = np.flatnonzero(rng.random(pool.size) < p)
            if hit.size:
                firsts.append(pool[hit].astype(np.int64))
                pools[s] = np.delete(pool, hit)
        n_new = sum(f.size for f in firsts)
        if n_new or readds.size:
            attempts = np.concatenate([readds] + firsts) if firsts else readds
            room = cap - count
            if attempts.size > room:        # capacity binds: random order, first come first served
                room = max(int(room), 0)
                attempts = rng.permutation(attempts)
                refused = attempts[room:]
                attempts = attempts[:room]
                state[refused] = GONE
                event_day[refused] = NEVER
                n_blocked += refused.size
                n_first += int(np.count_nonzero(state[attempts] == POOL))
            else:
                n_first += n_new
            n_readd += attempts.size
            state[attempts] = ACTIVE
            with np.errstate(divide="ignore"):
                event_day[attempts] = _event_day(
                    t, rng.standard_exponential(attempts.size) / lam[attempts], D)
            count += attempts.size
        active[t] = count
    if stats is not None:
        stats.update(first_adds=n_first, readds=n_readd - n_first, churns=n_churn,
                     blocked=n_blocked)
    return active


def season_by_day(scn) -> np.ndarray:
    """The scenario's seasonality multiplier for each day (docs/model.md section 2 months)."""
    H = scn.horizon_years
    starts = [365 * y + (365 * m) // 12 for y in range(H) for m in range(12)] + [365 * H]
    month = np.repeat(np.arange(12 * H) % 12, np.diff(starts))
    return np.asarray(scn.growth.season, dtype=np.float64)[month]


def scenario_capacity(scn, strategy=None):
    """The fixed capacity of a scenario strategy (its name or index; default
    the first) for `simulate`, or None when it can never bind. Only strategies
    the baseline models are accepted: `renewal` fixed or none, no upgrades,
    everyone admitted, blocked attempts lost, concurrent usage (these last
    conditions only matter when the capacity can bind)."""
    strategies = scn.strategies
    if strategy is None:
        st = strategies[0]
    elif isinstance(strategy, int):
        st = strategies[strategy]
    else:
        st = next(s for s in strategies if s.name == strategy)
    b = scn.billing
    free = b.free_quota
    member_cap = scn.staff.member_cap
    if st.renewal == "fixed":
        cap = max(free, st.tier) if b.tier_covers == "total" else free + st.tier
    elif st.renewal == "none":
        cap = free
    else:
        raise ValueError(f"baseline: strategy {st.name!r}: renewal must be fixed or none")
    if member_cap is not None:
        cap = min(cap, member_cap)
    if cap >= scn.population:
        return None
    names = {s.name for s in scn.segments}
    if st.upgrade != "none" or st.on_blocked != "lost" or (st.admit and set(st.admit) != names) \
            or b.rule != "concurrent":
        raise ValueError(f"baseline: strategy {st.name!r} can bind and is not modelled "
                         "(needs upgrade none, on_blocked lost, all admitted, concurrent rule)")
    return cap


def simulate_scenario(scn, strategy=None, rng=None, stats=None):
    """One path of a scenario under one fixed-capacity strategy (see
    `scenario_capacity`), path multipliers drawn from `rng` like the engine's
    (`G = exp(sigma Z1)`, `Mc = exp(churn_sigma Z2)`). Returns the daily
    active count."""
    rng = np.random.default_rng(rng)
    z = rng.standard_normal(2)
    seg = scn.segments
    return simulate(
        [s.size for s in seg], [s.initial_contacts for s in seg],
        [s.adoption_rate for s in seg], [s.churn_rate for s in seg],
        [s.churn_shape for s in seg], [s.readd_prob for s in seg],
        [s.readd_delay_days for s in seg], season_by_day(scn),
        capacity=scenario_capacity(scn, strategy),
        growth_mult=math.exp(scn.growth.sigma * z[0]),
        churn_mult=math.exp(scn.growth.churn_sigma * z[1]), rng=rng, stats=stats)
