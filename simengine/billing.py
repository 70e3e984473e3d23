"""The rules of billing (docs/model.md section 4): what a tier holds, the tier that
covers a usage, what an upgrade and overflow accounts cost.

Each rule family has ONE name-to-code table (the scenario's words on the
left, the kernel's integer codes on the right) and the named constants the
kernel tests are taken from it. Each rule is a small numba function named
for what it computes; `tests/naive.py` holds a plain twin of every one and
`tests/test_rules.py` compares them on random inputs.

Tier indices: NO_TIER (-1) is "no tier" (free quota only), 0..T-1 index the
scenario's `tiers`.
"""
import math

import numpy as np

from .jit import jit

RULE = {"concurrent": 0, "cumulative": 1}                       # billing.rule
PRICING = {"prorated": 0, "difference": 1, "full": 2}           # billing.upgrade_pricing
COVERS = {"total": 0, "excess": 1}                              # billing.tier_covers

CUMULATIVE = RULE["cumulative"]
PRORATED, DIFFERENCE, FULL = PRICING["prorated"], PRICING["difference"], PRICING["full"]
EXCESS = COVERS["excess"]

NO_TIER = -1
NO_MEMBER_CAP = np.int64(1) << np.int64(62)
# float noise in U * (1 + headroom) is far below this; a real fraction of a
# contact (headrooms and projections have few decimals) is far above it
FLOAT_NOISE = 1e-9


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


@jit
def covering_tier(target, nominal, free_quota):
    """Smallest tier whose nominal capacity is >= target; NO_TIER when the
    free quota covers it; the largest tier when none does."""
    if target <= free_quota:
        return NO_TIER
    for i in range(nominal.shape[0]):
        if nominal[i] >= target:
            return i
    return nominal.shape[0] - 1


@jit
def headroom_target(usage, headroom):
    """ceil(U (1 + h)), the contacts a renewal must cover: float noise never
    adds a contact (100 * 1.1 = 110.00000000000001 needs 110)."""
    return np.int64(math.ceil(usage * (1.0 + headroom) - FLOAT_NOISE))


@jit
def exceeding_target(usage, headroom):
    """The smallest whole number of contacts above U (1 + h): nominal
    capacity exceeds U (1 + h) iff it is at least this. Float noise never
    counts (2600 * 1.15 = 2989.9999999999995 is 2990, so 2991)."""
    return np.int64(math.floor(usage * (1.0 + headroom) + FLOAT_NOISE)) + 1


@jit
def tier_price(tier, price):
    """Price of a tier; nothing without one."""
    return price[tier] if tier != NO_TIER else 0.0


@jit
def tier_size(tier, size):
    return size[tier] if tier != NO_TIER else 0


@jit
def tier_capacity(tier, effective, no_tier_capacity):
    """Effective capacity with a tier in force (or none)."""
    return effective[tier] if tier != NO_TIER else no_tier_capacity


@jit
def usage_at_period_start(rule, usage, active):
    """Cumulative usage restarts from the active contacts at each period start."""
    return active if rule == CUMULATIVE else usage


@jit
def churn_lowers_usage(rule):
    """Under `cumulative`, churn does not lower U until the next period."""
    return rule != CUMULATIVE


@jit
def upgrade_price(pricing, old_price, new_price, days_left, period_days):
    """What an upgrade costs; `days_left` counts today."""
    if pricing == PRORATED:
        return (new_price - old_price) * days_left / period_days
    if pricing == DIFFERENCE:
        return new_price - old_price
    return new_price


@jit
def overflow_accounts_cost(peak_overflow, account_capacity, account_cost):
    """Personal WeChat accounts for a period's peak overflow customers."""
    accounts = (peak_overflow + account_capacity - 1) // account_capacity
    return accounts * account_cost
