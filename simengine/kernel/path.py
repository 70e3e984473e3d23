"""One path: the shared draws, then each strategy in turn, replayed from a
phantom's day record when it never blocks (`replay.py`), else simulated day
by day here.

A simulated day has the phases of SPEC section 4's order within a day:
(1) period start (`periods.open_period`), (2) churns due today, (3) attempts
due today in their priority order, (4) end of day (peaks, period and month
records). Phases (2) and (3) are one call a day each, with their event loops
written flat: calling a function with arrays per event costs reference
counting on every call. Events they schedule are staged and pushed into the
calendar in one call at the day's end (always for a later day, so today's
queues never see them).
"""
from collections import namedtuple

import numpy as np
from numba import njit

from ..billing import NO_TIER, churn_lowers_usage
from ..rng import LIFETIME, ORDER, READD_DECISION, READD_DELAY, RETRY_DELAY, draw_bits, \
    exponential, path_key, uniform
from ..strategies import (ADMITTED, FORECAST_WINDOW, LOST, OVERFLOWED, R_ORACLE, RETRY,
                          U_NONE, blocked_outcome, raises_capacity, refused_outcome,
                          upgrade_tier)
from . import calendar as cal_
from .arrivals import draw_arrivals
from .calendar import ATTEMPTS, CHURNS
from .hindsight import plan_periods
from .layout import (DAY, EVENT, LOG_ADD, LOG_CHURN, STAGED, STATE, UNBOUNDED, attempt_occurrence,
                     customer_of, episode_of, event_word, is_overflow, retry_of, segment_of)
from .periods import (buy_upgrade, clear_totals, close_period, end_of_day_peaks, is_period_end,
                      open_period, planned_upgrade, record_month)
from .replay import replay_strategy

# Working memory of a path, reused by its strategies (grown as needed):
# the calendar; today's events, their priority keys; events staged today;
# net adds of the last FORECAST_WINDOW days; the strategy's STATE record;
# `as_taken`, an empty order (today's attempts need no sorting).
Work = namedtuple("Work", "calendar today keys staged ring state as_taken")


@njit(cache=True)
def new_work(days):
    return Work(cal_.new_calendar(days, 1024), np.empty(1024, EVENT),
                np.empty(1024, np.uint64), np.empty(2048, STAGED),
                np.zeros(FORECAST_WINDOW, np.int64), np.zeros(1, STATE),
                np.empty(0, np.int64))


@njit(cache=True)
def log_row(log, state, day, customer, kind, segment):
    """Write a contact log row while room lasts; count it anyway."""
    i = state.logged
    if i < log.shape[0]:
        log[i].day = day
        log[i].customer = customer
        log[i].kind = kind
        log[i].segment = segment
    state.logged = i + 1


@njit(cache=True)
def churn_phase(pk, c, segs, state, prow, per, today, n, staged, log):
    """Churns due today (today[:n]), in any order: a WeCom churn lowers the
    contacts (and U unless cumulative); then the lapse decision, and a
    re-add attempt staged if it falls before the horizon."""
    t = state.day
    D = c.days
    lowers = churn_lowers_usage(c.rule)
    readd_prob = segs.readd_prob
    readd_delay = segs.readd_delay
    active = state.active
    usage = state.usage
    overflow = state.overflow
    net = state.net_today
    n_staged = state.staged
    churns = 0
    for i in range(n):
        w = today[i].word
        u = customer_of(w)
        e = episode_of(w)
        s = segment_of(w)
        if is_overflow(w):
            overflow -= 1
        else:
            active -= 1
            if lowers:
                usage -= 1
            churns += 1
            net -= 1
            if state.logging:
                log_row(log, state, t, u, LOG_CHURN, s)
        rp = readd_prob[s]
        if rp > 0.0 and uniform(pk, u, READD_DECISION, e) <= rp:
            delay = readd_delay[s] * exponential(pk, u, READD_DELAY, e)
            if delay < D - t - 1:
                sv = staged[n_staged]
                sv.queue = ATTEMPTS
                sv.day = t + 1 + np.int64(delay)
                sv.word = event_word(u, e + 1, 0, s, 0)
                sv.lam = today[i].lam
                n_staged += 1
    state.active = active
    state.usage = usage
    state.overflow = overflow
    state.net_today = net
    state.staged = n_staged
    state.events += n
    prow.churns += churns
    per.churns += churns


@njit(cache=True)
def needs_priority(n, usage, capacity, max_reserve, may_upgrade):
    """Who gets the last slots is decided by each attempt's random priority;
    sorting is needed only when some, not all, of today's n attempts could
    pass: some could meet a reserve (usage + n > capacity - max_reserve) or
    the capacity, while some can still pass (usage < capacity, or an upgrade
    may still raise a full capacity)."""
    return n > 1 and usage + n > capacity - max_reserve and (usage < capacity or may_upgrade)


@njit(cache=True)
def priority_order(pk, today, n, keys):
    """today[:n] in ascending priority."""
    for i in range(n):
        w = today[i].word
        keys[i] = draw_bits(pk, customer_of(w), ORDER, attempt_occurrence(w))
    return np.argsort(keys[:n])


@njit(cache=True)
def attempt_phase(pk, c, st, tiers, segs, admit, reserve, state, prow, per, today, n, order,
                  staged, log):
    """Attempts due today (today[:n], in `order`, or as taken when it is
    empty): admission, upgrade, capacity check (less the segment's
    `reserve`), the blocked rule; admitted lives and overflow lives get
    their churn staged, retries their next try."""
    t = state.day
    D = c.days
    ordered = order.shape[0] > 0
    upgrade = st.upgrade
    lost_value_of = segs.lost_value
    active = state.active
    usage = state.usage
    overflow = state.overflow
    capacity = state.capacity
    net = state.net_today
    n_staged = state.staged
    first_adds = 0
    readds = 0
    blocked = 0
    lost = 0
    lost_value = prow.lost_value
    overflowed = 0
    for ii in range(n):
        i = order[ii] if ordered else ii
        w = today[i].word
        lam = today[i].lam
        u = customer_of(w)
        e = episode_of(w)
        j = retry_of(w)
        s = segment_of(w)
        if not admit[s]:
            outcome = refused_outcome(st.others)
        else:
            # only a full capacity tries an upgrade: a refusal by a reserve
            # while U < C does not
            if usage >= capacity and upgrade != U_NONE:
                new_tier = upgrade_tier(upgrade, state.tier, usage, st.headroom, tiers.nominal)
                if raises_capacity(new_tier, state.tier, tiers[new_tier].effective, capacity):
                    buy_upgrade(c, tiers, state, prow, per, new_tier)
                    capacity = state.capacity
            if usage < capacity - reserve[s]:
                outcome = ADMITTED
                active += 1
                usage += 1
                net += 1
                if e == 0:                  # the first episode: a first add
                    first_adds += 1
                else:
                    readds += 1
                if state.logging:
                    log_row(log, state, t, u, LOG_ADD, s)
            else:
                blocked += 1
                outcome = blocked_outcome(st.on_blocked, j, st.max_retries)
        if outcome == LOST:
            lost += 1
            lost_value += lost_value_of[s]
            continue
        # stage a churn (of a WeCom or an overflow life) or the next retry
        if outcome == RETRY:
            delay = st.retry_days * exponential(pk, u, RETRY_DELAY, e * 256 + j + 1)
            queue = ATTEMPTS
            word = event_word(u, e, j + 1, s, 0)
        else:
            if outcome == OVERFLOWED:
                overflow += 1
                overflowed += 1
            word = event_word(u, e, 0, s, 1 if outcome == OVERFLOWED else 0)
            if lam <= 0.0:
                continue
            delay = exponential(pk, u, LIFETIME, e) / lam
            queue = CHURNS
        if delay < D - t - 1:
            sv = staged[n_staged]
            sv.queue = queue
            sv.day = t + 1 + np.int64(delay)
            sv.word = word
            sv.lam = lam
            n_staged += 1
    state.active = active
    state.usage = usage
    state.overflow = overflow
    state.net_today = net
    state.staged = n_staged
    state.events += n
    prow.first_adds += first_adds
    prow.readds += readds
    prow.blocked += blocked
    prow.lost += lost
    prow.lost_value = lost_value
    prow.overflowed += overflowed
    per.first_adds += first_adds
    per.readds += readds
    per.blocked += blocked


@njit(cache=True)
def start_strategy(c, st, n_initial, state, prow, ring):
    """Day 0 before anything happens: the initial contacts, no tier."""
    state.day = 0
    state.period = 0
    state.month = 0
    state.active = n_initial
    state.usage = n_initial
    state.overflow = 0
    state.tier = NO_TIER
    state.capacity = UNBOUNDED if st.unbounded else c.no_tier_capacity
    state.net_adds = 0
    state.net_today = 0
    state.peak_overflow = 0
    state.cumulative_cost = 0.0
    state.staged = 0
    state.events = 0
    clear_totals(prow)
    prow.peak_contacts = n_initial
    ring[:] = 0


@njit(cache=True)
def simulate_strategy(pk, si, scn, arrivals, work, day_record, plans, prow, periods, months,
                      log):
    """Strategy row `si` on the path with key `pk`, day by day; fills its
    output records (and, for a phantom, its day record). An oracle follows
    the hindsight plan of its phantom (`plans`: day, tier, entries per
    period and phantom). Returns the working memory, grown if it had to."""
    c = scn.config[0]
    st = scn.strategies[si]
    segs = scn.segments
    tiers = scn.tiers
    admit = scn.admit[si]
    reserve = scn.reserve[si]
    month_end = scn.month_end
    D = c.days
    P = c.period_days
    unbounded = st.unbounded
    max_effective = tiers[tiers.shape[0] - 1].effective
    calendar, today, keys, staged, ring, state_arr, as_taken = work
    state = state_arr[0]
    cal_.clear(calendar)
    start_strategy(c, st, arrivals.n_initial, state, prow, ring)
    if state.logging:
        log_initial_contacts(segs, log, state)
    plan_day, plan_tier, plan_n = plans
    oracle = st.renewal == R_ORACLE
    src = max(st.oracle_source, 0)
    step = 0
    for t in range(D):
        state.day = t
        if t % P == 0:
            state.period = t // P
            open_period(c, st, tiers, state, prow, periods[state.period],
                        plan_tier[src, state.period, 0])
            step = 1
        per = periods[state.period]
        if oracle:
            k = state.period
            step = planned_upgrade(c, tiers, state, prow, per, plan_day[src, k], plan_tier[src, k],
                                   plan_n[src, k], step)
        if unbounded:
            day_record[si, t].usage_start = state.usage
        # make room: every event of today schedules at most one new event
        churn_lo, churn_hi = arrivals.churn_off[t], arrivals.churn_off[t + 1]
        first_lo, first_hi = arrivals.first_off[t], arrivals.first_off[t + 1]
        n_churns = churn_hi - churn_lo + calendar.index[CHURNS, t].count
        n_attempts = calendar.index[ATTEMPTS, t].count + first_hi - first_lo
        if cal_.blocks_free(calendar) < n_churns + n_attempts:
            calendar = cal_.with_room(calendar, n_churns + n_attempts)
        if max(n_churns, n_attempts) > today.shape[0]:
            cap = max(2 * today.shape[0], max(n_churns, n_attempts))
            today = np.empty(cap, EVENT)
            keys = np.empty(cap, np.uint64)
        if n_churns + n_attempts > staged.shape[0]:
            staged = np.empty(max(2 * staged.shape[0], n_churns + n_attempts), STAGED)

        # (2) churns due today: the initial contacts', then the calendar's
        n = 0
        for i in range(churn_lo, churn_hi):
            today[n] = arrivals.churn[i]
            n += 1
        n = cal_.take(calendar, CHURNS, t, today, n)
        churn_phase(pk, c, segs, state, prow, per, today, n, staged, log)
        if unbounded:
            day_record[si, t].usage_after_churns = state.usage

        # (3) attempts due today: re-adds and retries, then first adds
        n = cal_.take(calendar, ATTEMPTS, t, today, 0)
        for i in range(first_lo, first_hi):
            today[n] = arrivals.first[i]
            n += 1
        order = as_taken
        may_upgrade = st.upgrade != U_NONE and max_effective > state.capacity
        if needs_priority(n, state.usage, state.capacity, st.max_reserve, may_upgrade):
            order = priority_order(pk, today, n, keys)
        attempt_phase(pk, c, st, tiers, segs, admit, reserve, state, prow, per, today, n, order,
                      staged, log)
        cal_.push(calendar, staged, state.staged)
        state.staged = 0

        # (4) end of day
        slot = t % FORECAST_WINDOW
        state.net_adds += state.net_today - ring[slot]
        ring[slot] = state.net_today
        state.net_today = 0
        end_of_day_peaks(state, prow, per)
        if unbounded:
            record_day(state, prow, day_record[si, t])
        if is_period_end(c, state):
            close_period(c, tiers, unbounded, state, prow, per)
        if t == month_end[state.month]:
            record_month(state, months[state.month])
            state.month += 1
    prow.final_contacts = state.active
    return Work(calendar, today, keys, staged, ring, state_arr, as_taken)


@njit(cache=True)
def record_day(state, prow, rec):
    rec.active = state.active
    rec.usage = state.usage
    rec.overflow = state.overflow
    rec.first_adds = prow.first_adds
    rec.readds = prow.readds
    rec.churns = prow.churns


@njit(cache=True)
def log_initial_contacts(segs, log, state):
    """The contact log starts with the initial contacts, as adds on day 0."""
    for s in range(segs.shape[0]):
        for u in range(segs[s].start, segs[s].start + segs[s].initial):
            log_row(log, state, 0, u, LOG_ADD, s)


@njit(cache=True)
def simulate_path(path, seed, scn, normals, out_path, out_period, out_month, out_mult,
                  log_strategy, log):
    """Every strategy row on one path, whose growth and churn normals are
    normals[0], normals[1] (`sampling.py`): fills out_path[S] (PATH_RECORD),
    out_period[S, K], out_month[S, M], out_mult = (G, churn multiplier).
    Logs the adds and churns of row `log_strategy` (-1: none) into `log`
    while room lasts. Returns (customer events of every strategy, replayed
    ones included; events the loop stepped through; log rows wanted)."""
    c = scn.config[0]
    D = c.days
    S = scn.strategies.shape[0]
    K = (D + c.period_days - 1) // c.period_days
    pk = path_key(seed, path)
    arrivals, G, Mc = draw_arrivals(pk, scn, normals[0], normals[1])
    out_mult[0] = G
    out_mult[1] = Mc
    work = new_work(D)
    state = work.state[0]
    n_phantoms = 0
    for si in range(S):
        if scn.strategies[si].unbounded:
            n_phantoms += 1
    day_record = np.zeros((max(n_phantoms, 1), D), DAY)
    # each phantom's hindsight plan per period (for the oracles)
    entries = scn.tiers.shape[0] + 2
    plan_day = np.zeros((max(n_phantoms, 1), K, entries), np.int64)
    plan_tier = np.full((max(n_phantoms, 1), K, entries), NO_TIER, np.int64)
    plan_n = np.ones((max(n_phantoms, 1), K), np.int64)
    plan_usage = np.empty(c.period_days, np.int64)
    row_events = np.zeros(S, np.int64)
    simulated = 0
    logged = 0
    for si in range(S):
        st = scn.strategies[si]
        src = st.replay_source
        if src >= 0 and si != log_strategy:
            ph = max(st.oracle_source, 0)
            if replay_strategy(day_record[src], out_path[src], c, st, scn.tiers, state,
                               (plan_day[ph], plan_tier[ph], plan_n[ph]), scn.month_end,
                               out_path[si], out_period[si], out_month[si]):
                row_events[si] = row_events[src]
                continue
        state.logging = si == log_strategy
        state.logged = 0
        work = simulate_strategy(pk, si, scn, arrivals, work, day_record,
                                 (plan_day, plan_tier, plan_n), out_path[si], out_period[si],
                                 out_month[si], log)
        if st.unbounded:
            plan_periods(c, scn.tiers, day_record[si], plan_day[si], plan_tier[si], plan_n[si],
                         plan_usage)
        if state.logging:
            logged = state.logged
        row_events[si] = state.events
        simulated += state.events
    represented = 0
    for si in range(S):
        if not scn.strategies[si].unbounded:
            represented += row_events[si]
    return represented, simulated, logged

