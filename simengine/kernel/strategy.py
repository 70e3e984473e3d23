"""A strategy on a path, day by day: its working memory (`Work`, reused by
the path's strategies), its start and finish, and its days (`simulate_days`:
each day's phases, see `day.py`, then the end of day).
"""
from collections import namedtuple

import numpy as np

from ..billing import NO_TIER
from ..jit import jit, jit_inner
from ..strategies import FORECAST_WINDOW, R_ORACLE
from . import calendar as cal_
from .calendar import ATTEMPTS, CHURNS
from .day import AS_TAKEN, BY_THRESHOLD, attempt_phase, churn_phase, log_initial_contacts, \
    record_day
from .layout import EVENT, SEGMENT_RULE, STAGED, STATE, UNBOUNDED
from .periods import (attempt_order_level, clear_totals, close_period, end_of_day_peaks,
                      is_period_end, open_period, order_arrives, planned_upgrade, record_month,
                      review)
from .priority import contested_segments, needs_priority, priority_heap, priority_thresholds

# Working memory of a path, reused by its strategies (grown as needed):
# the calendar; today's events, their priority keys and a heap of their
# indices; events staged today; net adds of the last FORECAST_WINDOW days;
# the strategy's STATE record; its SEGMENT_RULE per segment.
Work = namedtuple("Work", "calendar today keys heap staged ring state rules")

# What the strategies of one path share: its key, its scenario
# (layout.KernelScenario), its draws (arrivals.Arrivals), each phantom's DAY
# records and hindsight plans (day, tier, entries: per phantom and period),
# the contact log.
Shared = namedtuple("Shared", "key scn arrivals day_record plans log")

# Output records (schema.py): a strategy's PATH_RECORD, its PERIOD_RECORD
# per period and MONTH_RECORD per month; or, with a row per strategy, all
# strategies' (simulate_path's out_path, out_period, out_month).
Records = namedtuple("Records", "path period month")


@jit_inner(inline="always")      # numba returns no record in a tuple: inlined
def row_records(outputs, si):
    """Strategy row `si`'s Records, of `outputs` with a row per strategy."""
    return Records(outputs.path[si], outputs.period[si], outputs.month[si])


@jit_inner
def new_work(days, segments):
    return Work(cal_.new_calendar(days, 1024), np.empty(1024, EVENT),
                np.empty(1024, np.uint64), np.empty(1024, np.int64), np.empty(2048, STAGED),
                np.zeros(FORECAST_WINDOW, np.int64), np.zeros(1, STATE),
                np.zeros(segments, SEGMENT_RULE))


@jit_inner
def fork_work(work, fork, admit, reserve):
    """`fork` (working memory) holding a copy of `work`'s calendar and net
    adds, and the rules of the strategy with rows `admit`, `reserve`."""
    for i in range(FORECAST_WINDOW):
        fork.ring[i] = work.ring[i]
    for s in range(fork.rules.shape[0]):
        fork.rules[s].admit = admit[s]
        fork.rules[s].reserve = reserve[s]
    return Work(cal_.copy_of(work.calendar, fork.calendar), fork.today, fork.keys, fork.heap,
                fork.staged, fork.ring, fork.state, fork.rules)


@jit_inner
def start_strategy(c, st, admit, reserve, n_initial, state, prow, work):
    """Day 0 before anything happens: the initial contacts, no tier; the
    strategy's rules per segment (`admit`, `reserve`: its rows), no loss."""
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
    state.pending_tier = NO_TIER
    clear_totals(prow)
    prow.peak_contacts = n_initial
    work.ring[:] = 0
    rules = work.rules
    for s in range(rules.shape[0]):
        rules[s].admit = admit[s]
        rules[s].reserve = reserve[s]
        rules[s].lost = 0
    cal_.clear(work.calendar)


@jit_inner
def finish_strategy(segs, rules, state, prow):
    """After the last day: the final contacts and the value of the lost
    attempts, counted per segment (in segment order: the sum is the same
    whatever order the attempts were met in)."""
    prow.final_contacts = state.active
    value = 0.0
    for s in range(rules.shape[0]):
        value += rules[s].lost * segs[s].lost_value
    prow.lost_value = value


@jit
def plan_step(plan_day, plan_n, t):
    """The entry of a period's hindsight plan due next at the start of day t
    (entry 0, the renewal, is taken when the period opens)."""
    step = 1
    while step < plan_n and plan_day[step] < t:
        step += 1
    return step


@jit_inner
def simulate_days(shared, si, work, out, t0, t1):
    """Strategy row `si` on a path (`shared`), days t0..t1-1: from day 0 it
    starts the strategy, else it goes on from its state at the start of day
    t0 (work.state, work.calendar); at the horizon it finishes it. Fills
    its records `out` (and, for a phantom, its day records). An oracle
    follows the hindsight plan of its phantom. Returns the working memory,
    grown if it had to."""
    pk, scn, arrivals, day_record, plans, log = shared
    prow, periods, months = out
    c = scn.config[0]
    st = scn.strategies[si]
    segs = scn.segments
    tiers = scn.tiers
    month_end = scn.month_end
    P = c.period_days
    unbounded = st.unbounded
    state = work.state[0]
    if t0 == 0:
        start_strategy(c, st, scn.admit[si], scn.reserve[si], arrivals.n_initial, state, prow,
                       work)
        if state.logging:
            log_initial_contacts(pk, segs, arrivals.churn_mult, log, state)
    calendar, today, keys, heap, staged, ring, state_arr, rules = work
    plan_day, plan_tier, plan_n = plans
    oracle = st.renewal == R_ORACLE
    ph = max(st.oracle_source, 0)
    step = 0
    if oracle and t0 % P != 0:
        step = plan_step(plan_day[ph, t0 // P], plan_n[ph, t0 // P], t0)
    for t in range(t0, t1):
        state.day = t
        if t % P == 0:
            state.period = t // P
            open_period(c, st, tiers, state, prow, periods[state.period],
                        plan_tier[ph, state.period, 0])
            step = 1
        per = periods[state.period]
        if oracle:
            k = state.period
            step = planned_upgrade(c, tiers, state, prow, per, plan_day[ph, k], plan_tier[ph, k],
                                   plan_n[ph, k], step)
        order_arrives(c, tiers, state, prow, per)
        review(c, st, tiers, state, prow, per)
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
            heap = np.empty(cap, np.int64)
        if n_churns + n_attempts > staged.shape[0]:
            staged = np.empty(max(2 * staged.shape[0], n_churns + n_attempts), STAGED)

        # (2) churns due today: the initial contacts', then the calendar's
        n = np.int64(0)
        for i in range(churn_lo, churn_hi):
            today[n] = arrivals.churn[i]
            n += 1
        n = cal_.take(calendar, CHURNS, t, today, n)
        churn_phase(pk, c, segs, state, prow, per, today, n, staged, log)
        if unbounded:
            day_record[si, t].usage_after_churns = state.usage

        # (3) attempts due today: re-adds and retries, then first adds
        n = cal_.take(calendar, ATTEMPTS, t, today, np.int64(0))
        for i in range(first_lo, first_hi):
            today[n] = arrivals.first[i]
            n += 1
        heaped = AS_TAKEN
        # an attempt orders when it meets the threshold: not today unless
        # today's attempts could reach it. Without a lead time the order
        # raises the capacity at once; with one, who is met before it
        # decides which blocks waited on it: all are met in priority order
        order_at = attempt_order_level(st, tiers, state)
        may_order = state.usage + n > order_at
        grows = may_order and st.lead_days == 0
        if needs_priority(n, state.usage, state.capacity, st.max_reserve, grows):
            everyone = state.logging or may_order
            contested_segments(rules, state.usage, state.capacity, grows, everyone)
            if grows or everyone:
                heaped = priority_heap(pk, today, n, keys, heap, rules)
            else:
                priority_thresholds(pk, today, n, keys, rules, state.usage, state.capacity)
                heaped = BY_THRESHOLD
        attempt_phase(pk, c, st, tiers, rules, state, prow, per, today, n, keys, heap, heaped,
                      order_at, staged, log)
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
    if t1 == c.days:
        finish_strategy(segs, rules, state, prow)
    return Work(calendar, today, keys, heap, staged, ring, state_arr, rules)

