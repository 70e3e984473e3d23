"""Replay of a strategy that never blocks, from a phantom's day record.

Until a strategy refuses an attempt, its customers live exactly as in the
never-blocked run with the same admission rules (the phantom); only tiers,
upgrades and payments differ, and those depend on usage alone. So the
strategy is replayed from the phantom's per-day record (layout.DAY) in
O(days + upgrades). The k-th admitted attempt of day t meets usage
`usage_after_churns + k`, whatever the order. The replay gives up at the
first attempt the strategy would refuse; the caller then simulates it, in
full or from that day on (`path.resume_blocking`), its customers taken from
the phantom run (`take_customers`).
"""
import numpy as np

from ..billing import NO_TIER
from ..jit import jit_inner
from ..strategies import FORECAST_WINDOW, R_ORACLE, ordered_tier
from .layout import UNBOUNDED
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
def replay_strategy(day, phantom_row, c, st, tiers, state, plan, month_end, out, stop):
    """Billing of strategy `st` on the trajectory of its phantom (`day`: the
    phantom's DAY records, `phantom_row`: its PATH_RECORD; `plan`: the
    hindsight plan an oracle follows, (day, tier, entries) per period),
    days 0..stop-1. Fills the strategy's records `out` (strategy.Records)
    and returns `stop`, or returns the day of the first attempt it would
    refuse (records partly written, that day's too). With stop = D its
    records are complete."""
    prow, periods, months = out
    plan_day, plan_tier, plan_n = plan
    oracle = st.renewal == R_ORACLE
    step = 0
    D = c.days
    P = c.period_days
    ring = np.zeros(FORECAST_WINDOW, np.int64)
    clear_totals(prow)
    state.tier = NO_TIER
    state.capacity = c.no_tier_capacity
    state.net_adds = 0
    state.cumulative_cost = 0.0
    state.overflow = 0
    state.month = 0
    state.pending_tier = NO_TIER
    first_before = 0            # running totals at the end of yesterday
    readds_before = 0
    churns_before = 0
    first_at_start = 0          # ... and at the period's start
    readds_at_start = 0
    churns_at_start = 0
    for t in range(stop):
        state.day = t
        rec = day[t]
        if t % P == 0:
            state.period = t // P
            state.usage = rec.usage_start     # = the contacts, at a period start
            state.active = rec.usage_start
            open_period(c, st, tiers, state, prow, periods[state.period],
                        plan_tier[state.period, 0])
            step = 1
            first_at_start = first_before
            readds_at_start = readds_before
            churns_at_start = churns_before
        per = periods[state.period]
        if oracle:
            k = state.period
            step = planned_upgrade(c, tiers, state, prow, per, plan_day[k], plan_tier[k],
                                   plan_n[k], step)
        order_arrives(c, tiers, state, prow, per)
        review(c, st, tiers, state, prow, per)
        admitted = (rec.first_adds - first_before) + (rec.readds - readds_before)
        if not replay_attempts(c, st, tiers, state, prow, per, rec.usage_after_churns,
                               admitted):
            return t
        net = admitted - (rec.churns - churns_before)
        slot = t % FORECAST_WINDOW
        state.net_adds += net - ring[slot]
        ring[slot] = net
        first_before = rec.first_adds
        readds_before = rec.readds
        churns_before = rec.churns

        state.active = rec.active
        state.usage = rec.usage
        state.overflow = rec.overflow
        end_of_day_peaks(state, prow, per)
        if is_period_end(c, state):
            close_period(c, tiers, st.unbounded, state, prow, per)
            per.first_adds = rec.first_adds - first_at_start
            per.readds = rec.readds - readds_at_start
            per.churns = rec.churns - churns_at_start
        if t == month_end[state.month]:
            record_month(state, months[state.month])
            state.month += 1
    if stop == D:
        copy_customer_counts(phantom_row, prow)
    return stop
