"""Replay of a strategy that never blocks, from a phantom's day record.

Until a strategy refuses an attempt, its customers live exactly as in the
never-blocked run with the same admission rules (the phantom); only tiers,
upgrades and payments differ, and those depend on usage alone. So the
strategy is replayed from the phantom's per-day record (layout.DAY) in
O(days + upgrades). The k-th admitted attempt of day t meets usage
`usage_after_churns + k`, whatever the order. The replay gives up at the
first attempt the strategy would refuse; the caller then simulates it from
that day on (`path.phantom_in_step`), its customers taken from the phantom
run (`take_customers`). The replay is a day's three steps (`replay_day_start`,
the attempts, `replay_day_end`), so that it can go in step with the phantom:
the day's attempts are met before the phantom lives the day, from what it
will record (`path.phantom_day_ahead`).
"""
import numpy as np

from ..billing import NO_TIER
from ..jit import jit_inner
from ..strategies import FORECAST_WINDOW, R_ORACLE, ordered_tier
from .layout import REPLAY, UNBOUNDED
from .periods import (attempt_order_level, clear_totals, close_period, end_of_day_peaks,
                      is_period_end, open_period, order_arrives, place_order, planned_upgrade,
                      record_month, review)


@jit_inner
def replay_attempts(c, st, tiers, state, prow, per, usage, admitted):
    """Today's `admitted` attempts meet usage `usage`, `usage + 1`, ...:
    place the orders the strategy would place on the way (those without a
    lead time in force at once). False when one of them would be refused,
    or could meet one of the strategy's reserves (then the full simulation
    decides)."""
    if st.max_reserve > 0 and admitted > 0 and \
            usage + admitted - 1 >= state.capacity - st.max_reserve:
        return False
    order_at = attempt_order_level(st, tiers, state)
    left = admitted
    while left > 0:
        # the next attempt that orders or is refused, if any meets it
        acts_at = min(order_at, state.capacity)
        if usage + left <= acts_at:
            break
        reached = max(usage, acts_at)
        left -= reached - usage
        usage = reached
        if usage >= order_at:
            new_tier = ordered_tier(st.upgrade, st.headroom, state.tier, usage, order_at,
                                    state.capacity, tiers.nominal, tiers.effective)
            order_at = UNBOUNDED        # as in day.attempt_phase
            if new_tier != NO_TIER:
                place_order(c, st, tiers, state, prow, per, new_tier)
                order_at = attempt_order_level(st, tiers, state)
        if usage >= state.capacity:
            return False
        usage += 1
        left -= 1
    return True


@jit_inner
def copy_customer_counts(src, dst):
    """The customers' own counts of a replayed strategy are the phantom's."""
    dst.lost_value = src.lost_value
    dst.peak_contacts = src.peak_contacts
    dst.final_contacts = src.final_contacts
    dst.first_adds = src.first_adds
    dst.readds = src.readds
    dst.churns = src.churns
    dst.blocked = src.blocked
    dst.lost = src.lost
    dst.overflowed = src.overflowed


@jit_inner
def take_customers(ph_state, ph_row, ph_per, ph_rules, state, prow, per, rules, mid_period):
    """At the start of a day before which a strategy refused nothing, its
    customers are the phantom's: their counts, running totals and losses
    (by admission rules) are copied from the phantom's running STATE,
    PATH_RECORD, current PERIOD_RECORD and SEGMENT_RULEs (the period's
    counts only `mid_period`: a period starting today starts them at 0).
    The strategy's billing (tier, capacity, costs) stays its own."""
    state.active = ph_state.active
    state.usage = ph_state.usage
    state.overflow = ph_state.overflow
    state.net_adds = ph_state.net_adds
    state.net_today = 0
    state.peak_overflow = ph_state.peak_overflow
    state.staged = 0
    state.events = ph_state.events
    state.logging = False
    state.logged = 0
    copy_customer_counts(ph_row, prow)  # lost_value, final_contacts: set at the end
    for s in range(rules.shape[0]):
        rules[s].lost = ph_rules[s].lost
    if mid_period:
        per.first_adds = ph_per.first_adds
        per.readds = ph_per.readds
        per.churns = ph_per.churns
        per.blocked = ph_per.blocked


@jit_inner
def replay_begin(c, state, prow, rp, ring):
    """A replay before day 0: no tier, nothing paid, no running total."""
    clear_totals(prow)
    state.tier = NO_TIER
    state.capacity = c.no_tier_capacity
    state.net_adds = 0
    state.cumulative_cost = 0.0
    state.overflow = 0
    state.month = 0
    state.pending_tier = NO_TIER
    state.pending_day = 0               # as the day and period: no residue of another row
    state.day = 0
    state.period = 0
    r = rp[0]
    r.first_before = 0
    r.readds_before = 0
    r.churns_before = 0
    r.first_at_start = 0
    r.readds_at_start = 0
    r.churns_at_start = 0
    r.step = 0
    ring[:] = 0


@jit_inner
def replay_day_start(c, st, tiers, state, prow, periods, plan, rp, t, usage_start):
    """Day t of a replay before its attempts: a period opens (`usage_start`:
    the phantom's usage after it opened, its contacts), an oracle's planned
    upgrade, an order arriving, a review."""
    plan_day, plan_tier, plan_n = plan
    r = rp[0]
    state.day = t
    if t % c.period_days == 0:
        state.period = t // c.period_days
        state.usage = usage_start           # = the contacts, at a period start
        state.active = usage_start
        open_period(c, st, tiers, state, prow, periods[state.period],
                    plan_tier[state.period, 0])
        r.step = 1
        r.first_at_start = r.first_before
        r.readds_at_start = r.readds_before
        r.churns_at_start = r.churns_before
    per = periods[state.period]
    if st.renewal == R_ORACLE:
        k = state.period
        r.step = planned_upgrade(c, tiers, state, prow, per, plan_day[k], plan_tier[k],
                                 plan_n[k], r.step)
    order_arrives(c, tiers, state, prow, per)
    review(c, st, tiers, state, prow, per)


@jit_inner
def replay_day_end(c, st, tiers, state, prow, periods, months, month_end, rp, ring, rec):
    """Day state.day of a replay after its attempts: the phantom's counts of
    the day (its DAY record `rec`), peaks, a period's and a month's end."""
    r = rp[0]
    t = state.day
    per = periods[state.period]
    admitted = (rec.first_adds - r.first_before) + (rec.readds - r.readds_before)
    net = admitted - (rec.churns - r.churns_before)
    slot = t % FORECAST_WINDOW
    state.net_adds += net - ring[slot]
    ring[slot] = net
    r.first_before = rec.first_adds
    r.readds_before = rec.readds
    r.churns_before = rec.churns

    state.active = rec.active
    state.usage = rec.usage
    state.overflow = rec.overflow
    end_of_day_peaks(state, prow, per)
    if is_period_end(c, state):
        close_period(c, tiers, st.unbounded, state, prow, per)
        per.first_adds = rec.first_adds - r.first_at_start
        per.readds = rec.readds - r.readds_at_start
        per.churns = rec.churns - r.churns_at_start
    if t == month_end[state.month]:
        record_month(state, months[state.month])
        state.month += 1


@jit_inner
def replay_strategy(day, phantom_row, c, st, tiers, state, plan, month_end, out, stop):
    """Billing of strategy `st` on the trajectory of its phantom (`day`: the
    phantom's DAY records, `phantom_row`: its PATH_RECORD; `plan`: the
    hindsight plan an oracle follows, (day, tier, entries) per period),
    days 0..stop-1. Fills the strategy's records `out` (strategy.Records)
    and returns `stop`, or returns the day of the first attempt it would
    refuse (records partly written, that day's too). With stop = D its
    records are complete."""
    prow, periods, months = out
    rp = np.zeros(1, REPLAY)
    ring = np.zeros(FORECAST_WINDOW, np.int64)
    replay_begin(c, state, prow, rp, ring)
    for t in range(stop):
        rec = day[t]
        replay_day_start(c, st, tiers, state, prow, periods, plan, rp, t, rec.usage_start)
        r = rp[0]
        admitted = (rec.first_adds - r.first_before) + (rec.readds - r.readds_before)
        if not replay_attempts(c, st, tiers, state, prow, periods[state.period],
                               rec.usage_after_churns, admitted):
            return t
        replay_day_end(c, st, tiers, state, prow, periods, months, month_end, rp, ring, rec)
    if stop == c.days:
        copy_customer_counts(phantom_row, prow)
    return stop
