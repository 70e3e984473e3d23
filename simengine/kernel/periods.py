"""Billing events of a strategy on a path, shared by the full simulation
(`strategy.py`, `day.py`) and the replay (`replay.py`): a period's opening
(renewal and payments), an upgrade bought, a period's close (overflow
accounts), the end-of-day peaks and the month record. They read and write
the strategy's STATE record and its output records (schema.PATH_RECORD,
PERIOD_RECORD, MONTH_RECORD) by field name; called per day or per period,
never per event.
"""
from ..billing import (NO_TIER, overflow_accounts_cost, tier_capacity, tier_price, tier_size,
                       upgrade_price, usage_at_period_start)
from ..jit import jit_inner
from ..strategies import U_NONE, order_threshold, ordered_tier, renewal_tier
from .layout import UNBOUNDED


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
    per.blocked_pending = 0


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
    prow.blocked_pending = 0
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
    state.pending_tier = NO_TIER        # an order still pending is cancelled
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
def place_order(c, st, tiers, state, prow, per, new_tier):
    """The strategy orders `new_tier` on state.day: in force at once without
    a lead time, else pending until lead_days later (`order_arrives`)."""
    if st.lead_days == 0:
        buy_upgrade(c, tiers, state, prow, per, new_tier)
    else:
        state.pending_tier = new_tier
        state.pending_day = state.day + st.lead_days


@jit_inner
def attempt_order_level(st, tiers, state):
    """The usage at which today's attempts order an upgrade; UNBOUNDED when
    they cannot (a strategy that looks on review days only, no upgrade
    rule, an order pending, or no tier left that raises the capacity)."""
    return order_level(st, tiers, state.capacity, state.pending_tier)


@jit_inner
def order_level(st, tiers, capacity, pending_tier):
    """`attempt_order_level` of a strategy with capacity `capacity` and the
    tier `pending_tier` on order (NO_TIER: none)."""
    if st.review_days > 0 or st.upgrade == U_NONE or pending_tier != NO_TIER or \
            tiers[tiers.shape[0] - 1].effective <= capacity:
        return UNBOUNDED
    return order_threshold(st.upgrade_at, capacity)


@jit_inner
def order_arrives(c, tiers, state, prow, per):
    """An order due today comes into force before the day's churns and
    attempts, paid as an upgrade on this day."""
    if state.pending_tier != NO_TIER and state.pending_day == state.day:
        buy_upgrade(c, tiers, state, prow, per, state.pending_tier)
        state.pending_tier = NO_TIER


@jit_inner
def review(c, st, tiers, state, prow, per):
    """A strategy that looks every review_days days (from day 0) orders at
    the start of such a day when usage meets its threshold and no order is
    pending (after the renewal and an order arriving today)."""
    new_tier = review_tier(st, tiers, state.day, state.tier, state.usage, state.capacity,
                           state.pending_tier)
    if new_tier != NO_TIER:
        place_order(c, st, tiers, state, prow, per, new_tier)


@jit_inner
def review_tier(st, tiers, day, tier, usage, capacity, pending_tier):
    """The tier `review` orders at the start of `day` from that state
    (NO_TIER: none)."""
    if st.review_days > 0 and day % st.review_days == 0 and pending_tier == NO_TIER:
        return ordered_tier(st.upgrade, st.headroom, tier, usage,
                            order_threshold(st.upgrade_at, capacity), capacity,
                            tiers.nominal, tiers.effective)
    return NO_TIER


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
