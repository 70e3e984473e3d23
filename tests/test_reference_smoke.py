"""The reference simulator alone, against hand-computable facts (docs/model.md section 8 and co)."""
import math

import numpy as np
import pytest

from simengine.scenario import (Billing, Growth, Overflow, Scenario, Segment,
                                Staff, Strategy)

try:
    from tests.reference import NumpyDraws, KeyedDraws, month_last_days, simulate_path
except ImportError:  # tests/ not importable as a package: pytest put it on sys.path
    from reference import NumpyDraws, KeyedDraws, month_last_days, simulate_path


def make_segment(name="all", size=500, share=1.0, **kw):
    d = dict(initial_contacts=0, adoption_rate=0.01, churn_rate=0.002,
             churn_shape=math.inf, readd_prob=0.0, readd_delay_days=30.0,
             lost_value=0.0)
    d.update(kw)
    return Segment(name=name, share=share, size=size, **d)


def make_scenario(segments, strategies, horizon_years=1, billing=None,
                  growth=None, overflow=None, staff=None):
    segments = tuple(segments)
    return Scenario(name="t", horizon_years=horizon_years, paths=1, seed=0,
                    population=sum(s.size for s in segments), segments=segments,
                    growth=growth or Growth(), billing=billing or Billing(),
                    overflow=overflow or Overflow(), staff=staff or Staff(),
                    strategies=tuple(strategies))


def check_identities(res):
    for out in res["strategies"].values():
        p = out["paths"]
        assert p["total_cost"] == pytest.approx(
            p["tier_cost"] + p["upgrade_cost"] + p["certification_cost"] + p["overflow_cost"])
        assert p["economic_cost"] == pytest.approx(p["total_cost"] + p["lost_value"])
        for col in ("first_adds", "readds", "churns", "blocked"):
            assert sum(r[col] for r in out["periods"]) == p[col]
        for col in ("tier_cost", "upgrade_cost", "certification_cost", "overflow_cost"):
            assert sum(r[col] for r in out["periods"]) == pytest.approx(p[col])
        assert out["monthly"][-1]["cumulative_cost"] == pytest.approx(p["total_cost"])
        assert out["monthly"][-1]["contacts"] == p["final_contacts"]
        assert max(r["peak_contacts"] for r in out["periods"]) == p["peak_contacts"]


# (a) docs/model.md section 8: a fixed tier that never binds costs periods * (price + fee).
@pytest.mark.parametrize("period_days", [365, 200])
def test_fixed_tier_never_binding_costs_periods_times_price_plus_fee(period_days):
    seg = make_segment(size=600, initial_contacts=50, adoption_rate=0.02,
                       churn_rate=0.003, churn_shape=2.0, readd_prob=0.5)
    strat = Strategy(name="fixed5k", renewal="fixed", tier=5000, upgrade="next",
                     admit=("all",))
    billing = Billing(certification_fee=300.0, period_days=period_days)
    scn = make_scenario([seg], [strat], horizon_years=2, billing=billing,
                        growth=Growth(sigma=0.3, churn_sigma=0.2))
    res = simulate_path(scn, path=3, seed=11)
    p = res["strategies"]["fixed5k"]["paths"]
    assert scn.periods == math.ceil(730 / period_days)
    assert p["total_cost"] == scn.periods * (500.0 + 300.0)
    assert p["blocked"] == 0 and p["upgrades"] == 0 and p["lost"] == 0
    assert p["peak_contacts"] > 50
    check_identities(res)


# (b) cumulative: usage never falls inside a period; resets to active at period start.
def test_cumulative_usage_holds_within_period_and_resets():
    seg = make_segment(size=400, initial_contacts=100, adoption_rate=0.01,
                       churn_rate=0.01, readd_prob=0.7, readd_delay_days=20.0)
    strat = Strategy(name="big", renewal="fixed", tier=5000, admit=("all",))
    billing = Billing(rule="cumulative", period_days=180)
    scn = make_scenario([seg], [strat], horizon_years=1, billing=billing)
    out = simulate_path(scn, 0, 5, trace=True)["strategies"]["big"]
    daily = out["daily"]
    P = 180
    assert out["paths"]["churns"] > 50 and out["paths"]["readds"] > 10
    for t, row in enumerate(daily):
        assert row["usage"] >= row["contacts"]
        if t % P != 0:
            assert row["usage"] >= daily[t - 1]["usage"]
    # at each period start usage = active at the start + adds admitted today
    for k, per in enumerate(out["periods"]):
        start = k * P
        active_at_start = daily[start - 1]["contacts"] if start > 0 else 100
        end = min((k + 1) * P, 365) - 1
        # docs/model.md section 8: usage reaches active at the start + every add in the period
        assert daily[end]["usage"] == active_at_start + per["first_adds"] + per["readds"]
        assert per["peak_usage"] == daily[end]["usage"]
    # it did fall back at the second period start
    assert daily[P]["usage"] < daily[P - 1]["usage"]
    check_identities({"strategies": {"big": out}})


# (c) capacity binds: uncertified free quota 100, no churn, everyone attempts.
@pytest.mark.parametrize("on_blocked,max_retries", [("lost", 3), ("retry", 2), ("overflow", 3)])
def test_uncertified_quota_binds(on_blocked, max_retries):
    N = 300
    seg = make_segment(size=N, adoption_rate=1.0, churn_rate=0.0, lost_value=7.0)
    strat = Strategy(name="none", renewal="none", upgrade="none", admit=("all",),
                     on_blocked=on_blocked, retry_days=5.0, max_retries=max_retries)
    billing = Billing(certified=False, certification_fee=3000.0)
    overflow = Overflow(account_capacity=64, account_cost=10.0)
    scn = make_scenario([seg], [strat], billing=billing, overflow=overflow)
    res = simulate_path(scn, 0, 1)
    p = res["strategies"]["none"]["paths"]
    assert p["final_contacts"] == 100 == p["peak_contacts"] == p["first_adds"]
    assert p["churns"] == 0 and p["readds"] == 0 and p["upgrades"] == 0
    assert p["tier_cost"] == p["upgrade_cost"] == p["certification_cost"] == 0.0
    if on_blocked == "lost":
        assert p["blocked"] == N - 100 == p["lost"]
        assert p["lost_value"] == 7.0 * (N - 100)
    elif on_blocked == "retry":
        assert p["blocked"] == (N - 100) * (1 + max_retries)
        assert p["lost"] == N - 100
    else:
        assert p["blocked"] == N - 100 == p["overflowed"]
        assert p["lost"] == 0
        assert p["overflow_cost"] == math.ceil(200 / 64) * 10.0
    check_identities(res)


# (d) docs/model.md section 8: Binomial(N, p_n) active count, one homogeneous segment.
@pytest.mark.parametrize("source", ["keyed", "numpy"])
def test_active_count_is_binomial(source):
    N, paths, a, lam = 2000, 20, 0.01, 0.004
    seg = make_segment(size=N, adoption_rate=a, churn_rate=lam)
    strat = Strategy(name="huge", renewal="fixed", tier=2_000_000, admit=("all",))
    scn = make_scenario([seg], [strat])
    gen = np.random.default_rng(123)
    totals = np.zeros(12)
    for path in range(paths):
        draws = NumpyDraws(gen) if source == "numpy" else None
        out = simulate_path(scn, path, 2024, draws=draws)["strategies"]["huge"]
        totals += [m["contacts"] for m in out["monthly"]]
    q = 1 - math.exp(-a)
    for n, total in zip(month_last_days(365), totals):
        p_n = sum(q * (1 - q) ** j * math.exp(-lam * (n - j)) for j in range(n + 1))
        n_tot = N * paths
        se = math.sqrt(n_tot * p_n * (1 - p_n))
        assert abs(total - n_tot * p_n) < 4 * se, (n, total, n_tot * p_n, se)


# Extra facts: common random numbers, determinism, oracle never blocks, prorating.
def test_same_strategy_twice_gives_same_numbers_and_is_deterministic():
    segs = [make_segment("a", 300, 0.5, initial_contacts=20, adoption_rate=0.02,
                         churn_shape=1.5, readd_prob=0.5, lost_value=3.0),
            make_segment("b", 300, 0.5, adoption_rate=0.05, churn_rate=0.01,
                         readd_prob=0.3)]
    s1 = Strategy(name="x", renewal="none", upgrade="none", on_blocked="retry",
                  admit=("a", "b"), retry_days=7.0)
    s2 = Strategy(name="y", renewal="none", upgrade="none", on_blocked="retry",
                  admit=("a", "b"), retry_days=7.0)
    scn = make_scenario(segs, [s1, s2], billing=Billing(certified=False),
                        growth=Growth(sigma=0.2, churn_sigma=0.2))
    r1 = simulate_path(scn, 4, 99)
    r2 = simulate_path(scn, 4, 99)
    assert r1 == r2
    assert r1["strategies"]["x"] == r1["strategies"]["y"]
    assert r1["strategies"]["x"]["paths"]["blocked"] > 0
    # NumpyDraws: strategies still share draws within a path
    r3 = simulate_path(scn, 0, 0, draws=NumpyDraws(np.random.default_rng(5)))
    assert r3["strategies"]["x"] == r3["strategies"]["y"]


def test_oracle_never_blocks_and_buys_the_smallest_covering_tier():
    seg = make_segment(size=3000, initial_contacts=1500, adoption_rate=0.01,
                       churn_rate=0.001, readd_prob=0.5)
    small_tiers = ((2500, 250.0), (3000, 300.0), (5000, 500.0))
    strat = Strategy(name="oracle", renewal="oracle", upgrade="none",
                     admit=("all",))
    fit = Strategy(name="fit", renewal="fit", upgrade="none", admit=("all",))
    scn = make_scenario([seg], [strat, fit], horizon_years=2,
                        billing=Billing(tiers=small_tiers))
    res = simulate_path(scn, 1, 7, trace=True)
    out = res["strategies"]["oracle"]
    assert out["paths"]["blocked"] == 0
    for k, per in enumerate(out["periods"]):
        # never blocked, so its usage is the never-blocked run's: the plan
        # ends each period on the smallest tier covering the period's peak,
        # reached just in time (prorated pricing)
        peak = per["peak_usage"]
        expect = 0 if peak <= 2000 else min(s for s, _ in small_tiers if s >= peak)
        assert per["tier_size"] == expect
        upgrades = [d for d in out["oracle_plan"] if k * 365 < d < (k + 1) * 365]
        assert per["upgrade_cost"] > 0 if upgrades else per["upgrade_cost"] == 0
    # fit, buying for the usage at the start only, blocks someone
    assert res["strategies"]["fit"]["paths"]["blocked"] > 0
    check_identities(res)


def test_prorated_upgrade_price():
    seg = make_segment(size=3000, adoption_rate=0.004, churn_rate=0.0)
    strat = Strategy(name="up", renewal="none", upgrade="next", admit=("all",))
    scn = make_scenario([seg], [strat])
    out = simulate_path(scn, 0, 3, trace=True)["strategies"]["up"]
    caps = [r["capacity"] for r in out["daily"]]
    assert caps[0] == 2000 and caps[-1] == 5000 and out["paths"]["upgrades"] == 1
    t_up = next(t for t, c in enumerate(caps) if c == 5000)
    assert 0 < t_up < 364
    # the attempt that found U = C = 2000 upgraded, then was admitted
    assert out["daily"][t_up - 1]["contacts"] <= 2000 < out["daily"][t_up]["contacts"]
    assert out["paths"]["upgrade_cost"] == pytest.approx(500.0 * (365 - t_up) / 365)
    assert out["paths"]["blocked"] == 0
    check_identities({"strategies": {"up": out}})


def test_keyed_draws_are_rng_twins():
    import naive
    from simengine import rng as R
    d = KeyedDraws(42, 3)
    pk = naive.py_path_key(42, 3)
    assert d.order_key(17, 2 * 256 + 1) == naive.py_draw_bits(pk, 17, R.ORDER, 513)
    assert d.uniform(5, R.LIFETIME, 0) == naive.py_uniform(pk, 5, R.LIFETIME, 0)
    assert d.binomial(1, 10, 500, 0.1) == naive.py_binomial(
        pk, 1, R.FIRST_ATTEMPTS, 10 * R.BINOMIAL_UNIFORMS, 500, 0.1)
