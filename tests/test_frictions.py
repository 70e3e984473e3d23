"""Decisions with friction (docs/model.md sections 4, 5 and 8): a purchase
lead time (`billing.lead_days`), ordering before the scale is full
(`upgrade_at`) and looking only on review days (`review_days`).

The kernel equals the plain-Python reference on scenarios where each of
these binds (tests/test_kernel_vs_reference.py); here they are checked
against what they must mean: the closed form of the blocks a lead time
causes, the days on which orders come into force, and what a strategy that
orders early saves.
"""
import math

import numpy as np
import pytest

import simengine
from simengine.scenario import ScenarioError, scenario_from_dict, scenario_warnings

# one segment, no churn or re-adds, a pool so large that first attempts
# arrive at about LAM a day (Binomial(pool, q) with q = LAM / POOL);
# 15 tiers 500 apart above the free quota of 2,000, each filled in 10 days
POOL, LAM = 2_000_000, 50.0
STEPS = 15


def stream(lead_days, paths=16, strategy=None, horizon_years=1, **billing):
    tiers = [[2_000 + 500 * (i + 1), float(2_000 + 500 * (i + 1) + 7 * i)] for i in range(STEPS)]
    data = {
        "scenario": {"name": "stream", "horizon_years": horizon_years, "paths": paths, "seed": 11,
                     "sampling": "mc"},
        "population": {"size": POOL},
        "segment": [{"name": "all", "adoption_rate": -math.log1p(-LAM / POOL),
                     "churn_rate": 0.0}],
        "billing": {"lead_days": lead_days, "tiers": tiers, **billing},
        "strategy": [strategy or {"name": "fit-next"}],
    }
    return scenario_from_dict(data)


@pytest.mark.parametrize("lead_days", [1, 4, 8])
def test_a_lead_time_blocks_lambda_times_lead_less_half_a_day_per_upgrade(lead_days):
    """Ordered by the attempt that finds the scale full, an upgrade is in
    force lead_days later: the rest of the order day (a typical attempt's
    day holds LAM / 2 more after it, plus the ordering attempt itself) and
    the lead_days - 1 days after it are blocked, about LAM (lead_days - 1/2)
    (docs/model.md section 8); the pool's slow depletion is accounted for."""
    res = simengine.run(stream(lead_days))
    paths = res.paths.to_pydict()
    assert set(paths["upgrades"]) == {STEPS}          # every order came into force
    pending = np.array(paths["blocked_pending"], float) / STEPS
    # the k-th order: about 40 days to fill the free quota, then one step
    # (10 days) and one lead time per upgrade
    q = LAM / POOL
    days = 40 + np.arange(STEPS) * (10 + lead_days)
    want = np.mean(POOL * q * (1 - q) ** days * (lead_days - 0.5) + 1.0)
    se = pending.std(ddof=1) / math.sqrt(len(pending))
    assert abs(pending.mean() - want) < 4 * se, (pending.mean(), want, se)
    # the blocks after the largest tier are not waiting on an order
    assert (np.array(paths["blocked"]) >= np.array(paths["blocked_pending"])).all()


def test_no_lead_time_blocks_nothing_while_tiers_remain_and_counts_no_pending():
    res = simengine.run(stream(0, paths=4))
    p = res.paths.to_pydict()
    assert set(p["blocked_pending"]) == {0}
    periods = res.periods.to_pydict()
    assert set(periods["blocked_pending"]) == {0}


LOOK_TIERS = [[2_500, 250.0], [5_000, 500.0], [10_000, 1_000.0], [20_000, 2_000.0],
              [40_000, 4_000.0], [80_000, 8_000.0], [160_000, 16_000.0]]
LOOK_PERIOD = 60


def looking(lead_days, review_days, paths=3):
    """No tier bought at renewal, periods of 60 days: each period starts full
    (usage above the free quota), and its one upgrade, a `fit` tier above
    twice the usage, lasts the period. A prorated price without an old
    tier then tells the day it came into force."""
    return stream(lead_days, paths=paths, period_days=LOOK_PERIOD, tiers=LOOK_TIERS, horizon_years=2,
                  strategy={"name": "look", "renewal": "none", "upgrade": "fit",
                            "headroom": 1.0, "review_days": review_days})


def upgrade_days(res):
    """The day each upgrade came into force: its cost is price * days_left / P
    (days_left counting that day), one upgrade per period."""
    price = dict(tuple(t) for t in LOOK_TIERS)
    per = res.periods.to_pandas()
    paid = per[per.upgrade_cost > 0]
    assert len(paid) == res.paths.to_pandas().upgrades.sum(), "one upgrade per period"
    days = []
    for row in paid.itertuples():
        days_left = round(row.upgrade_cost * LOOK_PERIOD / price[row.tier_size])
        assert days_left * price[row.tier_size] == pytest.approx(row.upgrade_cost * LOOK_PERIOD)
        days.append((row.period + 1) * LOOK_PERIOD - days_left)
    return days


@pytest.mark.parametrize("review_days, lead_days", [(7, 0), (5, 3), (30, 11)])
def test_a_strategy_that_reviews_orders_only_on_review_days(review_days, lead_days):
    """With review_days = R, orders are placed at the start of days t with
    t mod R = 0 (t from the scenario start): each upgrade comes into force
    lead_days after such a day; a strategy watching all the time orders on
    other days too (the first attempt of each period)."""
    days = upgrade_days(simengine.run(looking(lead_days, review_days)))
    assert len(days) >= 20
    assert all((t - lead_days) % review_days == 0 for t in days), days
    # a watching strategy's first order falls on the day the free quota fills,
    # about day 40 give or take a day: on 16 paths some are off the R-day grid
    watching = upgrade_days(simengine.run(looking(lead_days, 0, paths=16)))
    assert any((t - lead_days) % review_days != 0 for t in watching), watching


def test_ordering_before_the_scale_is_full_saves_blocks():
    """upgrade_at < 1 orders before the scale is full: without a lead time
    nobody is blocked on the way up (a step of 500 at 80% orders with 100
    free); with one, fewer wait than ordering when full; at most the tiers'
    end blocks anything."""
    full = simengine.run(stream(4, paths=4)).paths.to_pydict()
    early = simengine.run(stream(4, paths=4, strategy={"name": "at80", "upgrade_at": 0.8}))
    early = early.paths.to_pydict()
    assert sum(early["blocked_pending"]) < 0.5 * sum(full["blocked_pending"])
    none = simengine.run(stream(0, paths=4, strategy={"name": "at80", "upgrade_at": 0.8}))
    p = none.paths.to_pydict()
    assert set(p["upgrades"]) == {STEPS} and set(p["blocked_pending"]) == {0}
    # blocks only once the largest tier is full: none before, as the
    # first month's capacity, never reached, shows
    monthly = none.monthly.to_pandas()
    first = monthly[monthly.month == 1]
    assert (first.usage < first.capacity).all()


def test_an_order_pending_at_a_period_start_is_cancelled_and_never_paid():
    """A lead time longer than the period: every order is cancelled at the
    next period start, so no upgrade is ever paid and every block after
    the first order is one waiting on an order."""
    scn = stream(50, paths=2, period_days=30)
    res = simengine.run(scn)
    p = res.paths.to_pydict()
    assert set(p["upgrades"]) == {0} and set(p["upgrade_cost"]) == {0.0}
    assert all(b > 0 for b in p["blocked_pending"])


def _problems(**changes):
    data = {"scenario": {"name": "bad"}, "population": {"size": 100},
            "segment": [{"name": "all", "adoption_rate": 0.01, "churn_rate": 0.0}],
            "billing": {}, "strategy": [{"name": "s"}]}
    for key, value in changes.items():
        table, leaf = key.split(".")
        target = data[table][0] if table in ("segment", "strategy") else data[table]
        target[leaf] = value
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(data, "bad.toml")
    return e.value.problems


@pytest.mark.parametrize("key, value, expected", [
    ("strategy.upgrade_at", 0.0, "(0, 1]"),
    ("strategy.upgrade_at", 1.2, "(0, 1]"),
    ("strategy.upgrade_at", -0.5, "(0, 1]"),
    ("strategy.upgrade_at", "90%", "(0, 1]"),
    ("strategy.review_days", -7, "integer >= 0"),
    ("strategy.review_days", 7.5, "integer >= 0"),
    ("billing.lead_days", -1, "integer >= 0"),
    ("billing.lead_days", "a week", "integer >= 0"),
])
def test_bad_friction_keys_are_clear_errors(key, value, expected):
    problems = _problems(**{key: value})
    table, leaf = key.split(".")
    where = f"strategy.s.{leaf}" if table == "strategy" else key
    assert len(problems) == 1 and problems[0].startswith(f"bad.toml: {where}: expected"), problems
    assert expected in problems[0], problems


def test_validate_warns_that_an_oracle_ignores_when_to_order():
    data = {"scenario": {"name": "w"}, "population": {"size": 100},
            "segment": [{"name": "all", "adoption_rate": 0.01, "churn_rate": 0.0}],
            "billing": {"lead_days": 7},
            "strategy": [{"name": "o", "renewal": "oracle", "upgrade_at": 0.9,
                          "review_days": 7}]}
    warnings = scenario_warnings(scenario_from_dict(data, "w.toml"))
    line = next(w for w in warnings if "strategy.o" in w)
    assert "upgrade_at, review_days have no effect" in line


def test_the_report_says_how_many_adds_waited_on_an_order():
    from simengine import report
    from simengine.report.words import strategy_words
    res = simengine.run(stream(4, paths=4))
    line = report.waiting_words(res.summary, ["fit-next"], 4)
    p = res.paths.to_pydict()
    waited, blocked = np.mean(p["blocked_pending"]), np.mean(p["blocked"])
    assert line.startswith("Adds blocked while an upgrade was on order (4 days")
    assert f"fit-next {waited:,.0f} of {blocked:,.0f}" in line, line
    assert report.waiting_words(simengine.run(stream(0, paths=4)).summary, ["fit-next"], 0) \
        is None
    words = strategy_words({"name": "s", "upgrade": "next", "upgrade_at": 0.9,
                            "review_days": 7})
    assert "orders one tier up at 90% of the scale on a look every 7 days" in words
    assert "when the scale is full" in strategy_words({"name": "s"})
