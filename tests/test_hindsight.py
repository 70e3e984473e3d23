"""The hindsight plan (docs/model.md sections 5 and 8): its cost equals the minimum
over every non-decreasing tier schedule covering the running peak (brute
force on small random histories), for each upgrade pricing; under prorated
pricing it is renewing to fit and upgrading just in time."""
import itertools

import numpy as np
import pytest

from simengine.billing import DIFFERENCE, FULL, PRORATED
from simengine.kernel.hindsight import hindsight_plan, required_tiers

NOMINAL = np.array([5, 9, 14], np.int64)
PRICES = np.array([50.0, 80.0, 130.0])
FREE = 2
UNCAPPED = np.int64(1) << np.int64(62)


def naive_price(pricing, old, new, days_left, period_days):
    if pricing == PRORATED:
        return (new - old) * days_left / period_days
    return new - old if pricing == DIFFERENCE else new


def naive_required(usage, cap):
    req, peak = [], 0
    for u in usage:
        peak = max(peak, min(u, cap))
        need = next((i for i, c in enumerate(NOMINAL) if c >= peak), len(NOMINAL) - 1)
        req.append(-1 if peak <= FREE else need)
    return req


def schedule_cost(schedule, pricing, period_days):
    price = lambda j: PRICES[j] if j >= 0 else 0.0          # noqa: E731
    cost = price(schedule[0])
    for t in range(1, len(schedule)):
        if schedule[t] != schedule[t - 1]:
            cost += naive_price(pricing, price(schedule[t - 1]), price(schedule[t]),
                                period_days - t, period_days)
    return cost


def brute_force(usage, pricing, cap=UNCAPPED):
    """Every non-decreasing tier schedule that covers the running peak."""
    req = naive_required(usage, cap)
    best = np.inf
    tiers = range(-1, len(NOMINAL))
    for schedule in itertools.combinations_with_replacement(tiers, len(usage)):
        if all(s >= r for s, r in zip(schedule, req)):
            best = min(best, schedule_cost(schedule, pricing, len(usage)))
    return best


def plan(usage, pricing, cap=UNCAPPED, first_day=0):
    days = np.zeros(len(NOMINAL) + 2, np.int64)
    tiers = np.zeros(len(NOMINAL) + 2, np.int64)
    n, cost = hindsight_plan(np.asarray(usage, np.int64), NOMINAL, PRICES, FREE, cap,
                             pricing, first_day, len(usage), days, tiers)
    return list(zip(days[:n].tolist(), tiers[:n].tolist())), cost


def histories(seed, count, days=7):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        steps = rng.integers(-3, 5, size=days)
        yield np.maximum(0, rng.integers(0, 6) + np.cumsum(steps))


@pytest.mark.parametrize("pricing", [PRORATED, DIFFERENCE, FULL])
def test_plan_cost_equals_brute_force_minimum(pricing):
    for usage in histories(11 + pricing, 150):
        got = plan(usage, pricing)[1]
        assert got == pytest.approx(brute_force(usage, pricing), rel=1e-12), usage


def test_member_cap_limits_the_requirement():
    usage = [1, 4, 8, 13, 15, 3]
    for pricing in (PRORATED, DIFFERENCE, FULL):
        assert plan(usage, pricing, cap=9)[1] == pytest.approx(
            brute_force(usage, pricing, cap=9))
    assert max(t for _, t in plan(usage, PRORATED, cap=9)[0]) == 1


def test_plan_is_feasible_and_non_decreasing():
    for usage in histories(5, 100):
        for pricing in (PRORATED, DIFFERENCE, FULL):
            steps, _ = plan(usage, pricing, first_day=730)
            req = required_tiers(np.asarray(usage, np.int64), NOMINAL, FREE, UNCAPPED)
            held = np.full(len(usage), -2)
            for day, tier in steps:
                held[day - 730:] = tier
            assert (np.diff(held) >= 0).all() and (held >= req).all(), (usage, steps)


def test_prorated_is_renew_to_fit_and_upgrade_just_in_time():
    for usage in histories(23, 150):
        req = naive_required(usage, UNCAPPED)
        jit = [(0, req[0])] + [(t, req[t]) for t in range(1, len(req)) if req[t] > req[t - 1]]
        assert plan(usage, PRORATED)[0] == jit, usage


def test_full_and_difference_buy_the_peak_tier_at_renewal():
    # difference: every covering plan with one final tier costs the same;
    # among equally cheap plans the oracle buys earliest
    for usage in histories(29, 100):
        peak_tier = naive_required(usage, UNCAPPED)[-1]
        for pricing in (DIFFERENCE, FULL):
            assert plan(usage, pricing)[0] == [(0, peak_tier)], (pricing, usage)


# ------------------------------------------------------------ through the engine

def _by_strategy(res, col):
    import pyarrow.compute as pc
    names = [s.name for s in res.scenario.strategies]
    return {n: res.paths.filter(pc.equal(res.paths["strategy"], n))[col].to_numpy()
            for n in names}


@pytest.mark.parametrize("pricing", ["prorated", "difference", "full"])
def test_regret_is_never_negative_for_a_strategy_that_never_blocks(pricing):
    """docs/model.md section 8: a strategy with the oracle's admission rules that blocks
    nobody on a path costs at least the oracle there."""
    import simengine
    res = simengine.run(simengine.load_scenario(
        "default", [f"billing.upgrade_pricing={pricing}", "billing.lead_days=0"], scale=0.1),
        paths=24)
    regret, blocked = _by_strategy(res, "regret"), _by_strategy(res, "blocked")
    oracle = next(s for s in res.scenario.strategies if s.renewal == "oracle")
    checked = 0
    for st in res.scenario.strategies:
        if (st.admit, st.others) != (oracle.admit, oracle.others):
            continue
        clear = blocked[st.name] == 0
        assert (regret[st.name][clear] >= -1e-6 * 1e5).all(), (st.name, regret[st.name][clear])
        checked += clear.sum()
    assert checked >= 24 * 3          # fit, fit-90-weekly, forecast at least
    assert (blocked[oracle.name] == 0).all() and (regret[oracle.name] == 0).all()


@pytest.mark.parametrize("overrides", [
    ["billing.rule=cumulative"],                           # usage falls only at a period start
    ["segment.vip.churn_rate=0", "segment.repeat.churn_rate=0", "segment.new.churn_rate=0",
     "segment.prospect.churn_rate=0"],                     # nobody ever churns
])
def test_prorated_oracle_is_fit_renewal_with_just_in_time_upgrades(overrides):
    """docs/model.md section 8: with prorated pricing, on usage that never falls inside a
    period, the oracle costs what renewing to fit and upgrading one tier at
    a time just in time costs, on every path where that never blocks."""
    import simengine
    scn = simengine.load_scenario("default", overrides + [
        "strategy.fit.on_blocked=lost", "billing.upgrade_pricing=prorated",
        "billing.lead_days=0"], scale=0.1)
    res = simengine.run(scn, paths=16)
    cost, blocked = _by_strategy(res, "economic_cost"), _by_strategy(res, "blocked")
    clear = blocked["fit"] == 0
    assert clear.sum() >= 12
    np.testing.assert_allclose(cost["fit"][clear], cost["oracle"][clear], rtol=1e-12)
    assert (_by_strategy(res, "upgrades")["oracle"] > 0).any()
