"""Strategies: renewal, upgrade, admission and blocked rules, as the kernel
sees them (integer codes in flat arrays, one row per simulated strategy).

The `oracle` renewal needs, for each period, the peak usage of a run of the
same path in which nothing is ever blocked. Such a run is a hidden
*phantom* strategy (infinite capacity, same admission rules) simulated
before the real ones; its peaks feed the oracle's renewals.
"""
from dataclasses import dataclass

import numpy as np
from numba import njit

from .billing import covering_tier, headroom_target

RENEWAL = {"none": 0, "fixed": 1, "fit": 2, "forecast": 3, "oracle": 4}
UPGRADE = {"none": 0, "next": 1, "fit": 2}
OTHERS = {"lost": 0, "overflow": 1}
ON_BLOCKED = {"lost": 0, "retry": 1, "overflow": 2}

R_NONE, R_FIXED, R_FIT, R_FORECAST, R_ORACLE = range(5)
U_NONE, U_NEXT, U_FIT = range(3)
B_LOST, B_RETRY, B_OVERFLOW = range(3)
FORECAST_WINDOW = 90   # days of net adds that `forecast` extrapolates


@njit(cache=True)
def renewal_tier(renewal, fixed_tier, headroom, usage, net_adds, period, period_days,
                 oracle_peak, nominal, free_quota):
    """The tier a renewal rule buys at a period start (-1: none). `net_adds`:
    WeCom adds minus churns over the last FORECAST_WINDOW days; `oracle_peak`:
    the never-blocked run's peak usage in this period."""
    if renewal == R_NONE:
        return -1
    if renewal == R_FIXED:
        return fixed_tier
    if renewal == R_FIT or (renewal == R_FORECAST and period == 0):
        return covering_tier(headroom_target(usage, headroom), nominal, free_quota)
    if renewal == R_FORECAST:
        projected = usage + max(0, net_adds) * period_days / FORECAST_WINDOW
        return covering_tier(headroom_target(projected, headroom), nominal, free_quota)
    return covering_tier(oracle_peak, nominal, free_quota)


@njit(cache=True)
def upgrade_tier(upgrade, tier, usage, headroom, nominal):
    """Tier an upgrade rule asks for when an attempt finds U >= C. The caller
    applies it only if it raises capacity."""
    T = nominal.shape[0]
    if upgrade == U_NEXT:
        return min(tier + 1, T - 1)
    need = usage * (1.0 + headroom)
    for i in range(T):
        if nominal[i] > need:
            return i
    return T - 1


@dataclass
class StrategyArrays:
    """Rows 0..n_phantoms-1 are phantoms; the scenario's strategies follow,
    in file order. `oracle_source[i]` is the phantom row an oracle reads."""
    renewal: np.ndarray
    fixed_tier: np.ndarray
    upgrade: np.ndarray
    headroom: np.ndarray
    admit: np.ndarray          # (rows, segments) bool
    others: np.ndarray
    on_blocked: np.ndarray
    retry_days: np.ndarray
    max_retries: np.ndarray
    unbounded: np.ndarray
    oracle_source: np.ndarray
    replay_source: np.ndarray  # phantom row whose trajectory a strategy may replay, or -1
    n_phantoms: int

    @property
    def rows(self):
        return self.renewal.shape[0]


def pack_strategies(scn) -> StrategyArrays:
    seg_names = [s.name for s in scn.segments]
    sizes = [t[0] for t in scn.billing.tiers]

    def admit_row(st):
        # an empty admit list means every segment (SPEC's default)
        return tuple(not st.admit or name in st.admit for name in seg_names)

    # A phantom per admission rule that an oracle uses or that several
    # strategies share: strategies that never block are then replayed from
    # it instead of simulated (see dynamics.replay_strategy).
    keys = [(admit_row(st), st.others) for st in scn.strategies]
    phantom_keys = []
    for st, key in zip(scn.strategies, keys):
        if (st.renewal == "oracle" or keys.count(key) > 1) and key not in phantom_keys:
            phantom_keys.append(key)

    rows = []
    for admit, others in phantom_keys:
        rows.append(dict(renewal=R_NONE, fixed_tier=-1, upgrade=U_NONE, headroom=0.0,
                         admit=admit, others=OTHERS[others], on_blocked=B_LOST,
                         retry_days=0.0, max_retries=0, unbounded=True, oracle_source=-1,
                         replay_source=-1))
    for st in scn.strategies:
        admit = admit_row(st)
        rows.append(dict(
            renewal=RENEWAL[st.renewal],
            fixed_tier=sizes.index(st.tier) if st.renewal == "fixed" else -1,
            upgrade=UPGRADE[st.upgrade], headroom=float(st.headroom), admit=admit,
            others=OTHERS[st.others], on_blocked=ON_BLOCKED[st.on_blocked],
            retry_days=float(st.retry_days), max_retries=int(st.max_retries),
            unbounded=False,
            oracle_source=(phantom_keys.index((admit, st.others))
                           if st.renewal == "oracle" else -1),
            replay_source=(phantom_keys.index((admit, st.others))
                           if (admit, st.others) in phantom_keys else -1)))

    def col(name, dtype):
        return np.array([r[name] for r in rows], dtype=dtype)

    return StrategyArrays(
        renewal=col("renewal", np.int64), fixed_tier=col("fixed_tier", np.int64),
        upgrade=col("upgrade", np.int64), headroom=col("headroom", np.float64),
        admit=np.array([r["admit"] for r in rows], dtype=np.bool_).reshape(len(rows), len(seg_names)),
        others=col("others", np.int64), on_blocked=col("on_blocked", np.int64),
        retry_days=col("retry_days", np.float64), max_retries=col("max_retries", np.int64),
        unbounded=col("unbounded", np.bool_), oracle_source=col("oracle_source", np.int64),
        replay_source=col("replay_source", np.int64),
        n_phantoms=len(phantom_keys))
