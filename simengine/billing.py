"""The rules of billing: capacity of a tier, the tier that covers a usage,
what an upgrade and overflow accounts cost. Small numba functions called by the kernel at period starts
and on blocked attempts (rare events, so calls with arrays are affordable).

Tier indices: -1 is "no tier" (free quota only), 0..T-1 index `tiers`.
"""
import math

import numpy as np
from numba import njit

# billing.rule
CONCURRENT, CUMULATIVE = 0, 1
# billing.upgrade_pricing
PRORATED, DIFFERENCE, FULL = 0, 1, 2
# billing.tier_covers
TOTAL, EXCESS = 0, 1

NO_MEMBER_CAP = np.int64(1) << np.int64(62)


def tier_capacities(sizes, free_quota, tier_covers, member_cap):
    """Nominal (per `tier_covers`) and effective (after the member cap)
    capacity of each tier, and the effective capacity with no tier."""
    sizes = np.asarray(sizes, dtype=np.int64)
    if tier_covers == EXCESS:
        nominal = free_quota + sizes
    else:
        nominal = np.maximum(sizes, free_quota)
    cap = NO_MEMBER_CAP if member_cap is None else int(member_cap)
    effective = np.minimum(nominal, cap)
    return nominal, effective, min(free_quota, cap)


@njit(cache=True)
def covering_tier(target, nominal, free_quota):
    """Smallest tier whose nominal capacity is >= target; -1 (none) when the
    free quota covers it; the largest tier when none does."""
    if target <= free_quota:
        return -1
    for i in range(nominal.shape[0]):
        if nominal[i] >= target:
            return i
    return nominal.shape[0] - 1


@njit(cache=True)
def headroom_target(usage, headroom):
    # ceil(U * (1 + h)); the epsilon keeps float noise (100 * 1.1 = 110.00000000000001)
    # from adding a contact.
    return np.int64(math.ceil(usage * (1.0 + headroom) - 1e-9))


@njit(cache=True)
def upgrade_price(pricing, old_price, new_price, days_left, period_days):
    if pricing == 0:
        return (new_price - old_price) * days_left / period_days
    if pricing == 1:
        return new_price - old_price
    return new_price


@njit(cache=True)
def overflow_accounts_cost(peak_overflow, account_capacity, account_cost):
    accounts = (peak_overflow + account_capacity - 1) // account_capacity
    return accounts * account_cost
