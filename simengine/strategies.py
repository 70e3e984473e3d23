"""The rules of strategies (docs/model.md section 5): the tier a renewal buys, the
tier an upgrade asks for, and what becomes of an attempt that admission or
capacity refuses.

Each rule family has ONE name-to-code table and the kernel's named
constants come from it; each rule is a small numba function named for what
it computes, with a plain twin in `tests/naive.py`.
"""
import math

import numpy as np

from .billing import FLOAT_NOISE, NO_TIER, covering_tier, exceeding_target, headroom_target
from .jit import jit

RENEWAL = {"none": 0, "fixed": 1, "fit": 2, "forecast": 3, "oracle": 4}
UPGRADE = {"none": 0, "next": 1, "fit": 2}
OTHERS = {"lost": 0, "overflow": 1}
ON_BLOCKED = {"lost": 0, "retry": 1, "overflow": 2}

R_NONE, R_FIXED, R_FIT, R_FORECAST, R_ORACLE = (
    RENEWAL[k] for k in ("none", "fixed", "fit", "forecast", "oracle"))
U_NONE, U_NEXT, U_FIT = (UPGRADE[k] for k in ("none", "next", "fit"))
O_OVERFLOW = OTHERS["overflow"]
B_LOST, B_RETRY, B_OVERFLOW = (ON_BLOCKED[k] for k in ("lost", "retry", "overflow"))

# what becomes of an add attempt
ADMITTED, LOST, OVERFLOWED, RETRY = 0, 1, 2, 3

FORECAST_WINDOW = 90   # days of net adds that `forecast` extrapolates


@jit
def forecast_usage(usage, net_adds, period_days):
    """U' = U + max(0, net adds of the last FORECAST_WINDOW days) * P / 90."""
    return usage + max(0, net_adds) * period_days / FORECAST_WINDOW


@jit
def renewal_tier(renewal, fixed_tier, headroom, usage, net_adds, period, period_days,
                 oracle_tier, nominal, free_quota):
    """The tier a renewal rule buys at a period start (NO_TIER: none).
    `net_adds`: WeCom adds minus churns over the last FORECAST_WINDOW days;
    `oracle_tier`: the first tier of this period's hindsight plan
    (kernel/hindsight.py)."""
    if renewal == R_NONE:
        return NO_TIER
    if renewal == R_FIXED:
        return fixed_tier
    if renewal == R_FIT or renewal == R_FORECAST:
        # a forecast has no history in the first period: it renews to fit
        projected = usage if renewal == R_FIT or period == 0 else \
            forecast_usage(usage, net_adds, period_days)
        return covering_tier(headroom_target(projected, headroom), nominal, free_quota)
    return oracle_tier


@jit
def upgrade_tier(upgrade, tier, usage, headroom, nominal):
    """Tier an upgrade rule orders when U meets the strategy's threshold:
    `next` one up (the smallest without a tier), `fit` the smallest whose
    nominal capacity exceeds both U (1 + h) and the current tier's (an
    order before the scale is full must still go up), else the largest.
    See `ordered_tier`."""
    T = nominal.shape[0]
    if upgrade == U_NEXT:
        return min(tier + 1, T - 1)
    target = exceeding_target(usage, headroom)
    for i in range(T):
        if nominal[i] >= target and (tier == NO_TIER or nominal[i] > nominal[tier]):
            return i
    return T - 1


@jit
def raises_capacity(new_tier, tier, new_capacity, capacity):
    """A strategy buys an upgrade only when it is a higher tier that raises
    the capacity (the member cap may stop it)."""
    return new_tier > tier and new_capacity > capacity


@jit
def order_threshold(upgrade_at, capacity):
    """The usage at which a strategy orders the next tier:
    ceil(upgrade_at * C), upgrade_at read as the decimal written (float
    noise never adds a contact: 0.9 * 2000 is 1800); C itself at 1."""
    if upgrade_at >= 1.0:
        return capacity
    return np.int64(math.ceil(upgrade_at * capacity - FLOAT_NOISE))


@jit
def ordered_tier(upgrade, headroom, tier, usage, threshold, capacity, nominal, effective):
    """The tier a strategy orders under upgrade rule `upgrade` when it meets
    usage U with capacity C, or NO_TIER. Only U at or above its threshold
    (`order_threshold`; C with upgrade_at = 1: an attempt a reserve refuses
    while U < C orders nothing) orders, and only a tier that raises the
    capacity."""
    if usage < threshold or upgrade == U_NONE:
        return NO_TIER
    new_tier = upgrade_tier(upgrade, tier, usage, headroom, nominal)
    if raises_capacity(new_tier, tier, effective[new_tier], capacity):
        return new_tier
    return NO_TIER


@jit
def refused_outcome(others):
    """An attempt of a segment the strategy does not admit: `others`."""
    return OVERFLOWED if others == O_OVERFLOW else LOST


@jit
def blocked_outcome(on_blocked, retries_done, max_retries):
    """An attempt refused for lack of capacity: `on_blocked`; a retry chain
    ends lost after `max_retries` retries."""
    if on_blocked == B_RETRY:
        return RETRY if retries_done < max_retries else LOST
    if on_blocked == B_OVERFLOW:
        return OVERFLOWED
    return LOST
