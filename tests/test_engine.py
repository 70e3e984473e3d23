"""The engine through its public API: docs/model.md section 8's facts, reproducibility,
common random numbers, and deterministic edge cases with known answers."""
import dataclasses
import math

import numpy as np
import pyarrow.compute as pc
import pytest

import simengine
from simengine.scenario import Campaign, replace_run, scenario_from_dict


def scenario(sizes, segments, strategies, **tables):
    n = sum(sizes)
    for s, size in zip(segments, sizes):
        s["share"] = size / n
    # independent paths, as many as asked (sampling has its own tests)
    data = {"scenario": {"name": "t", "horizon_years": 1, "paths": 8, "seed": 3,
                         "sampling": "mc"},
            "population": {"size": n}, "segment": segments, "strategy": strategies}
    for k, v in tables.items():
        data.setdefault(k, {}).update(v)
    return scenario_from_dict(data, source="test.toml")


def column(table, name, strategy=None):
    if strategy is not None:
        table = table.filter(pc.equal(table["strategy"], strategy))
    return table[name].to_numpy()


# ---------------------------------------------------------------- docs/model.md section 8 facts

def test_active_count_is_binomial():
    """One segment, homogeneous churn lam, adoption a, no re-adds, a tier that
    never binds, starting empty: active after day n ~ Binomial(N, p_n)."""
    N, a, lam, paths = 20_000, 0.004, 0.003, 200
    scn = scenario([N], [dict(name="all", adoption_rate=a, churn_rate=lam)],
                   [dict(name="big", renewal="fixed", tier=50_000, upgrade="none")],
                   scenario={"paths": paths, "horizon_years": 1})
    res = simengine.run(scn)
    q = 1 - math.exp(-a)
    monthly = res.monthly
    for month in (0, 2, 5, 8, 11):
        n = (365 * (month + 1)) // 12 - 1            # the month's last day
        j = np.arange(n + 1)
        p = float(np.sum(q * (1 - q) ** j * np.exp(-lam * (n - j))))
        rows = monthly.filter(pc.equal(monthly["month"], month))
        x = rows["contacts"].to_numpy().astype(float)
        assert x.size == paths
        se = math.sqrt(N * p * (1 - p) / paths)
        assert abs(x.mean() - N * p) < 4 * se, (month, x.mean(), N * p, se)
        # paths are independent draws of the same binomial: the sample variance
        # matches N p (1 - p) within 4 of its standard errors (sd ~ var*sqrt(2/(n-1)))
        var = N * p * (1 - p)
        assert abs(x.var(ddof=1) - var) < 4 * var * math.sqrt(2 / (paths - 1))
    blocked = column(res.paths, "blocked")
    assert blocked.sum() == 0


def test_fixed_tier_that_never_binds_costs_periods_times_price_plus_fee():
    scn = scenario([3000, 2000],
                   [dict(name="a", adoption_rate=0.01, churn_rate=0.01, readd_prob=0.5,
                         initial_contacts=500),
                    dict(name="b", adoption_rate=0.002, churn_rate=0.001, churn_shape=1.2)],
                   [dict(name="fixed", renewal="fixed", tier=20_000, upgrade="next",
                         on_blocked="retry")],
                   scenario={"horizon_years": 2, "paths": 6},
                   billing={"period_days": 200, "certification_fee": 300.0},
                   growth={"sigma": 0.3, "churn_sigma": 0.3})
    res = simengine.run(scn)
    periods = math.ceil(730 / 200)
    assert scn.periods == periods
    total = column(res.paths, "total_cost")
    np.testing.assert_array_equal(total, periods * (2_000 + 300.0))
    assert column(res.paths, "upgrades").sum() == 0
    assert column(res.paths, "first_adds").sum() > 0


def test_cumulative_usage_is_start_plus_every_add_in_the_period():
    """docs/model.md section 8: 100,000 contacts at a period start, 10,000 adds and 1,000
    churned customers re-added in the period: usage reaches 111,000."""
    scn = scenario(
        [100_000, 60_000],
        [dict(name="held", initial_contacts=100_000, adoption_rate=0.0, churn_rate=0.00003,
              readd_prob=1.0, readd_delay_days=20),
         dict(name="pool", adoption_rate=0.00055, churn_rate=0.0)],
        [dict(name="big", renewal="fixed", tier=200_000, upgrade="none")],
        scenario={"paths": 4}, billing={"rule": "cumulative"})
    res = simengine.run(scn)
    per = res.periods
    adds = column(per, "first_adds") + column(per, "readds")
    np.testing.assert_array_equal(column(per, "peak_usage"), 100_000 + adds)
    # the scenario is built around docs/model.md's numbers: about 10,000 + 1,000 adds
    assert 9_000 < column(per, "first_adds").mean() < 11_500
    assert 500 < column(per, "readds").mean() < 1_500
    # concurrent counting of the same customers never reaches that
    conc = simengine.run(replace_run(scn), threads=1)
    assert column(conc.paths, "peak_contacts").max() < column(per, "peak_usage").min()


def test_same_seed_identical_on_one_and_two_threads_and_any_chunking():
    scn = simengine.load_scenario("default", ["population.size=20000", "scenario.paths=9",
                                              "segment.vip.initial_contacts=300",
                                              "segment.repeat.initial_contacts=900",
                                              "segment.new.initial_contacts=700",
                                              "segment.prospect.initial_contacts=100"])
    # campaigns, fixed and random (each path's own days and lifts)
    scn = dataclasses.replace(scn, campaigns=(
        Campaign(name="d11", day_of_year=310, duration_days=3, lift=6.0, lift_sigma=0.2,
                 segments=("new", "prospect")),
        Campaign(name="live", per_year=6.0, duration_days=2, lift=4.0, lift_sigma=0.5,
                 segments=("vip", "repeat", "new", "prospect"))))
    a = simengine.run(scn, threads=1, chunk_size=9)
    b = simengine.run(scn, threads=2, chunk_size=2)
    c = simengine.run(scn, threads=2, chunk_size=4)
    for name in ("paths", "periods", "monthly"):
        assert getattr(a, name).equals(getattr(b, name)), name
        assert getattr(a, name).equals(getattr(c, name)), name
    # the summary holds NaN (P95 interval with few paths): compare NaN-aware
    assert a.summary.to_pandas().equals(b.summary.to_pandas())
    d = simengine.run(scn, seed=scn.seed + 1)
    assert not a.paths.equals(d.paths)


def test_strategies_share_customer_draws():
    """A strategy that never binds sees exactly the customers the oracle does."""
    scn = simengine.load_scenario("default", ["population.size=30000", "scenario.paths=5",
                                              "segment.vip.initial_contacts=300",
                                              "segment.repeat.initial_contacts=900",
                                              "segment.new.initial_contacts=700",
                                              "segment.prospect.initial_contacts=100",
                                              "strategy.fixed-200k.on_blocked=lost"])
    res = simengine.run(scn)
    for col in ("peak_contacts", "final_contacts", "first_adds", "readds", "churns"):
        np.testing.assert_array_equal(column(res.paths, col, "fixed-200k"),
                                      column(res.paths, col, "oracle"))
    np.testing.assert_array_equal(column(res.monthly, "contacts", "fixed-200k"),
                                  column(res.monthly, "contacts", "oracle"))
    assert column(res.paths, "blocked", "oracle").sum() == 0
    # the oracle pays the least fees among strategies that never block
    oracle_fees = column(res.paths, "total_cost", "oracle")
    assert (oracle_fees <= column(res.paths, "total_cost", "fixed-200k")).all()


# ---------------------------------------------------------- deterministic cases
# All pool customers attempt on the first day of month 2 (day floor(365*2/12) = 60): the season is zero except
# in March and the adoption hazard is so high that nobody waits a second day.

MARCH = [0.0, 0.0, 1.0] + [0.0] * 9


def march_rush(pool, initial, strategies, **tables):
    growth = {"season": MARCH}
    growth.update(tables.pop("growth", {}))
    return scenario([pool + initial],
                    [dict(name="all", initial_contacts=initial, adoption_rate=40.0,
                          churn_rate=0.0)],
                    strategies, growth=growth, **tables)


def test_free_quota_binds_on_a_known_day():
    scn = march_rush(3_000, 1_500, [dict(name="none", renewal="none", upgrade="none")])
    res = simengine.run(scn, paths=2)
    contacts = column(res.monthly, "contacts").reshape(2, 12)
    np.testing.assert_array_equal(contacts[:, :2], 1_500)     # Jan, Feb
    np.testing.assert_array_equal(contacts[:, 2:], 2_000)     # full from March
    np.testing.assert_array_equal(column(res.paths, "blocked"), 2_500)
    np.testing.assert_array_equal(column(res.paths, "lost"), 2_500)
    np.testing.assert_array_equal(column(res.paths, "total_cost"), 0.0)


def test_prorated_upgrade_prices():
    scn = march_rush(4_000, 2_000, [dict(name="fit", renewal="fit", upgrade="next")])
    res = simengine.run(scn, paths=2)
    days_left = 365 - 60
    expected = 500 * days_left / 365 + (2_000 - 500) * days_left / 365
    np.testing.assert_allclose(column(res.paths, "upgrade_cost"), expected, rtol=1e-12)
    np.testing.assert_array_equal(column(res.paths, "upgrades"), 2)
    np.testing.assert_array_equal(column(res.paths, "final_contacts"), 6_000)
    np.testing.assert_array_equal(column(res.periods, "tier_size"), 20_000)
    for pricing, want in (("difference", 2_000.0), ("full", 2_500.0)):
        alt = simengine.run(march_rush(4_000, 2_000, [dict(name="fit")],
                                       billing={"upgrade_pricing": pricing}), paths=1)
        assert column(alt.paths, "upgrade_cost")[0] == want


def test_fit_upgrade_reads_headroom_exactly():
    """docs/model.md section 5: `fit` upgrades to the smallest tier whose nominal capacity
    exceeds U (1 + h); 2600 * 1.15 is 2,990 exactly, so the 2,990 tier does
    not (in floats it is 2989.9999999999995, which 2,990 exceeds)."""
    tiers = [[2_600, 260], [2_990, 299], [3_000, 300], [5_000, 500]]
    scn = march_rush(1_000, 2_600, [dict(name="fit", renewal="fixed", tier=2_600,
                                         upgrade="fit", headroom=0.15)],
                     billing={"tiers": tiers, "upgrade_pricing": "full"})
    res = simengine.run(scn, paths=1)
    # 2,600 full: buys 3,000; at 3,000 (needs > 3,450) buys 5,000; all admitted
    assert column(res.paths, "upgrades")[0] == 2
    assert column(res.paths, "upgrade_cost")[0] == 300 + 500
    assert column(res.paths, "final_contacts")[0] == 3_600
    assert column(res.periods, "tier_size")[0] == 5_000


def test_member_cap_limits_capacity_and_upgrades():
    scn = march_rush(5_000, 2_000, [dict(name="fit", renewal="fit", upgrade="next")],
                     staff={"members": 1, "friend_cap": 2_500})
    res = simengine.run(scn, paths=1)
    assert column(res.paths, "final_contacts")[0] == 2_500
    # one upgrade raised capacity 2,000 -> 2,500; the next tier would not
    assert column(res.paths, "upgrades")[0] == 1
    assert column(res.paths, "blocked")[0] == 4_500
    assert column(res.monthly, "capacity")[-1] == 2_500


def test_cumulative_usage_does_not_fall_on_churn():
    scn = scenario([5_000], [dict(name="all", initial_contacts=1_500, adoption_rate=0.0,
                                  churn_rate=0.01)],
                   [dict(name="fixed", renewal="fixed", tier=5_000, upgrade="none")],
                   scenario={"horizon_years": 2}, billing={"rule": "cumulative"})
    res = simengine.run(scn, paths=1)
    usage = column(res.monthly, "usage")
    contacts = column(res.monthly, "contacts")
    assert (usage[:12] == 1_500).all() and contacts[11] < 200
    # reset at the next period start to the contacts held then
    assert (usage[12:] == contacts[11]).all()


def test_overflow_and_admission_rules():
    scn = scenario([1_000, 4_000],
                   [dict(name="vip", initial_contacts=0, adoption_rate=40.0, churn_rate=0.0),
                    dict(name="mass", initial_contacts=0, adoption_rate=40.0, churn_rate=0.0)],
                   [dict(name="vip-only", renewal="none", upgrade="none", admit=["vip"],
                         others="overflow")],
                   growth={"season": MARCH}, overflow={"account_capacity": 1_000,
                                                       "account_cost": 10.0})
    res = simengine.run(scn, paths=1)
    assert column(res.paths, "final_contacts")[0] == 1_000
    assert column(res.paths, "overflowed")[0] == 4_000
    assert column(res.paths, "blocked")[0] == 0          # admission refusals are not blocks
    assert column(res.paths, "overflow_cost")[0] == 4 * 10.0


def test_contact_log_holds_every_add_and_churn_of_its_strategy():
    """engine.contact_log: initial contacts as adds on day 0, then every
    admitted add and WeCom churn of the strategy, per path, in day order;
    the same strategy's numbers as the run's tables."""
    from simengine.engine import contact_log
    from simengine.kernel.layout import LOG_ADD, LOG_CHURN
    scn = simengine.load_scenario("default", ["population.size=20000", "scenario.paths=3",
                                              "segment.vip.initial_contacts=300",
                                              "segment.repeat.initial_contacts=900",
                                              "segment.new.initial_contacts=700",
                                              "segment.prospect.initial_contacts=100"])
    res = simengine.run(scn)
    for name in ("vip-first", "fit"):           # simulated in full / resumed
        log = contact_log(scn, name)
        for p in range(scn.paths):
            mine = log["path"] == p
            kind, day = log["kind"][mine], log["day"][mine]
            assert (np.diff(day) >= 0).all()
            initial = (day == 0) & (kind == LOG_ADD)
            row = res.paths.filter(pc.and_(pc.equal(res.paths["strategy"], name),
                                           pc.equal(res.paths["path"], p)))
            adds = row["first_adds"][0].as_py() + row["readds"][0].as_py()
            assert initial.sum() >= 2000
            assert (kind == LOG_ADD).sum() - 2000 == adds
            assert (kind == LOG_CHURN).sum() == row["churns"][0].as_py()
            active = np.cumsum(np.where(kind == LOG_ADD, 1, -1))[-1]
            assert active == row["final_contacts"][0].as_py()


def test_packed_scenario_travels_by_pickle():
    """pack_scenario's result is shipped to Dask workers: a pickled copy
    gives the same outputs."""
    import pickle

    from simengine.chunks import simulate_chunk
    from simengine.packing import pack_scenario
    from pathlib import Path
    scn = simengine.load_scenario(str(Path(__file__).parent / "golden" / "cumulative.toml"))
    packed = pack_scenario(scn)
    copy = pickle.loads(pickle.dumps(packed))
    assert copy.strategy_names == packed.strategy_names
    a = simulate_chunk(packed, 5, np.arange(2))
    b = simulate_chunk(copy, 5, np.arange(2))
    for name in ("path", "period", "month", "mult", "events"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.path["first_adds"].sum() > 0


# ---------------------------------------------------------------- random numbers

def test_random_number_distributions():
    from numba import njit
    from scipy import stats

    from simengine import rng

    @njit
    def sample(n, kind, shape):
        pk = rng.path_key(np.uint64(11), 2)
        out = np.empty(n)
        for i in range(n):
            if kind == 0:
                out[i] = rng.uniform(pk, i, rng.LIFETIME, 7)
            elif kind == 1:
                out[i] = rng.exponential(pk, 5, rng.READD_DELAY, i)
            elif kind == 2:
                out[i] = rng.normal(pk, i, rng.PATH_GROWTH, 0)
            else:
                out[i] = rng.gamma(pk, i, rng.LAMBDA, shape)
        return out

    n = 20_000
    assert stats.kstest(sample(n, 0, 0.0), "uniform").pvalue > 1e-3
    assert stats.kstest(sample(n, 1, 0.0), "expon").pvalue > 1e-3
    assert stats.kstest(sample(n, 2, 0.0), "norm").pvalue > 1e-3
    for shape in (0.5, 1.0, 2.5):
        assert stats.kstest(sample(n, 3, shape), "gamma", args=(shape,)).pvalue > 1e-3


def test_run_takes_a_scenario_file_and_reports_compile_time_apart():
    import simengine
    from golden_cases import HERE
    res = simengine.run(str(HERE / "cumulative.toml"), paths=3)
    same = simengine.run(simengine.load_scenario(HERE / "cumulative.toml"), paths=3)
    assert res.paths.equals(same.paths)
    m = res.manifest
    assert m["kind"] == "run" and m["compile_seconds"] >= 0 and m["wall_seconds"] > 0
    assert m["customer_events"] / m["wall_seconds"] == pytest.approx(m["events_per_second"])


@pytest.mark.parametrize("threads", [0, -3, 10_000, 1.5, True, "2"])
def test_run_rejects_bad_thread_counts(threads):
    import simengine
    from golden_cases import HERE
    with pytest.raises(simengine.ScenarioError, match="threads: expected an integer from 1 to"):
        simengine.run(str(HERE / "cumulative.toml"), paths=2, threads=threads)


def test_run_announces_its_phases():
    import simengine
    from golden_cases import HERE
    phases = []
    simengine.run(str(HERE / "cumulative.toml"), paths=2, on_phase=phases.append)
    assert phases == ["compiling", "simulating"]


def test_kernel_cache_follows_every_kernel_source(tmp_path, monkeypatch):
    """numba's cache checks only the compiled function's own file: the
    cache folder is named by a hash of every kernel module, so a change to
    any rule compiles afresh instead of running a stale kernel."""
    import os
    import shutil

    from simengine import _numba_cache
    from simengine.kernel import path
    if "NUMBA_CACHE_DIR" not in os.environ:
        assert path.simulate_path._cache._cache_path.startswith(
            str(_numba_cache.cache_dir()))
    before = _numba_cache.sources_hash()
    copy = tmp_path / "simengine"
    shutil.copytree(_numba_cache.ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_numba_cache, "ROOT", copy)
    assert _numba_cache.sources_hash() == before
    billing = copy / "billing.py"
    billing.write_text(billing.read_text() + "\n# a changed rule\n")
    assert _numba_cache.sources_hash() != before
