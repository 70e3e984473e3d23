"""Billing events of a strategy on a path, shared by the full simulation
(`strategy.py`, `day.py`) and the replay (`replay.py`): a period's opening
(renewal and payments), an upgrade bought, a period's close (overflow
accounts), the end-of-day peaks and the month record. They read and write
the strategy's STATE record and its output records (schema.PATH_RECORD,
PERIOD_RECORD, MONTH_RECORD) by field name; called per day or per period,
never per event.
"""
from ..billing import (overflow_accounts_cost, tier_capacity, tier_price, tier_size,
                       upgrade_price, usage_at_period_start)
from ..jit import jit_inner
from ..strategies import renewal_tier


@jit_inner
def clear_period(per):
    per.tier_size = 0
    per.capacity_end = 0
    per.tier_cost = 0.0
    per.upgrade_cost = 0.0
    per.certification_cost = 0.0
    per.overflow_cost = 0.0
    per.peak_usage = 0
    per.peak_contacts = 0
    per.first_adds = 0
    per.readds = 0
    per.churns = 0
    per.blocked = 0


@jit_inner
def clear_totals(prow):
    prow.tier_cost = 0.0
    prow.upgrade_cost = 0.0
    prow.certification_cost = 0.0
    prow.overflow_cost = 0.0
    prow.lost_value = 0.0
    prow.peak_contacts = 0
    prow.final_contacts = 0
    prow.first_adds = 0
    prow.readds = 0
    prow.churns = 0
    prow.blocked = 0
    prow.lost = 0
    prow.overflowed = 0
    prow.upgrades = 0


@jit_inner
def open_period(c, st, tiers, state, prow, per, oracle_tier):
    """Period start (state.day = its first day): cumulative usage restarts,
    the renewal rule picks a tier and the strategy pays for it and for
    certification. A phantom (unbounded) renews and pays nothing."""
    state.usage = usage_at_period_start(c.rule, state.usage, state.active)
    state.peak_overflow = 0
    clear_period(per)
    if st.unbounded:
        return
    tier = renewal_tier(st.renewal, st.fixed_tier, st.headroom, state.usage, state.net_adds,
                        state.period, c.period_days, oracle_tier, tiers.nominal, c.free_quota)
    state.tier = tier
    state.capacity = tier_capacity(tier, tiers.effective, c.no_tier_capacity)
    price = tier_price(tier, tiers.price)
    fee = c.certification_fee
    per.tier_cost = price
    per.certification_cost = fee
    prow.tier_cost += price
    prow.certification_cost += fee
    state.cumulative_cost += price + fee


@jit_inner
def buy_upgrade(c, tiers, state, prow, per, new_tier):
    """Pay for an upgrade to `new_tier` on state.day; it is in force at once."""
    P = c.period_days
    days_left = (state.period + 1) * P - state.day
    cost = upgrade_price(c.pricing, tier_price(state.tier, tiers.price), tiers[new_tier].price,
                         days_left, P)
    prow.upgrade_cost += cost
    per.upgrade_cost += cost
    state.cumulative_cost += cost
    prow.upgrades += 1
    state.tier = new_tier
    state.capacity = tiers[new_tier].effective


@jit_inner
def planned_upgrade(c, tiers, state, prow, per, plan_day, plan_tier, plan_n, step):
    """An oracle follows its hindsight plan: the upgrade planned for today
    (entry `step` of the period's plan) is bought before today's attempts.
    Returns the next entry."""
    if step < plan_n and plan_day[step] == state.day:
        buy_upgrade(c, tiers, state, prow, per, plan_tier[step])
        step += 1
    return step


@jit_inner
def is_period_end(c, state):
    """The period's last day (day D - 1 for a period the horizon cuts)."""
    return state.day == min((state.period + 1) * c.period_days, c.days) - 1


@jit_inner
def close_period(c, tiers, unbounded, state, prow, per):
    """Period's last day: overflow accounts for its peak, the tier and the
    capacity in force. A phantom pays nothing."""
    cost = 0.0
    if not unbounded:
        cost = overflow_accounts_cost(state.peak_overflow, c.account_capacity, c.account_cost)
    prow.overflow_cost += cost
    state.cumulative_cost += cost
    per.overflow_cost = cost
    per.tier_size = tier_size(state.tier, tiers.tier_size)
    per.capacity_end = state.capacity


@jit_inner
def end_of_day_peaks(state, prow, per):
    """Peaks are maxima of end-of-day values."""
    active = state.active
    if active > prow.peak_contacts:
        prow.peak_contacts = active
    if active > per.peak_contacts:
        per.peak_contacts = active
    if state.usage > per.peak_usage:
        per.peak_usage = state.usage
    if state.overflow > state.peak_overflow:
        state.peak_overflow = state.overflow


@jit_inner
def record_month(state, mrow):
    mrow.contacts = state.active
    mrow.usage = state.usage
    mrow.capacity = state.capacity
    mrow.cumulative_cost = state.cumulative_cost
