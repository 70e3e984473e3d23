"""Capacity reserves (docs/model.md sections 4 and 5): an attempt of segment s is
admitted iff U < C - reserve_s; a refusal by a reserve is a block and goes
to `on_blocked`; only a full capacity tries an upgrade. Deterministic cases
with known answers, and replays that stay exact."""
import numpy as np
import pytest

import simengine
from test_engine import column, march_rush, scenario


def test_reserve_binds_on_a_known_day():
    # everyone attempts on March 1: with the free quota of 2,000 and 500 kept
    # back, the segment fills to 1,500 that day and the rest are refused
    scn = march_rush(3_000, 1_000, [
        dict(name="reserve", renewal="none", upgrade="none", reserve={"all": 500}),
        dict(name="plain", renewal="none", upgrade="none")])
    res = simengine.run(scn, paths=2)
    contacts = column(res.monthly, "contacts", "reserve").reshape(2, 12)
    np.testing.assert_array_equal(contacts[:, :2], 1_000)
    np.testing.assert_array_equal(contacts[:, 2:], 1_500)
    np.testing.assert_array_equal(column(res.paths, "blocked", "reserve"), 2_500)
    np.testing.assert_array_equal(column(res.paths, "blocked", "plain"), 2_000)


def test_a_reserve_is_less_capacity_for_that_segment():
    # a 2,500 tier less a reserve of 500 for the only segment admits exactly
    # as the 2,000 free quota does: every customer column is the same
    tiers = {"tiers": [[2_500, 250.0], [5_000, 500.0]]}
    scn = scenario([5_000], [dict(name="all", initial_contacts=1_200, adoption_rate=0.01,
                                  churn_rate=0.004, readd_prob=0.5)],
                   [dict(name="tier-less-reserve", renewal="fixed", tier=2_500, upgrade="none",
                         on_blocked="retry", reserve={"all": 500}),
                    dict(name="free-quota", renewal="none", upgrade="none",
                         on_blocked="retry")],
                   billing=tiers)
    res = simengine.run(scn, paths=4)
    for col in ("peak_contacts", "final_contacts", "first_adds", "readds", "churns", "blocked",
                "lost"):
        np.testing.assert_array_equal(column(res.paths, col, "tier-less-reserve"),
                                      column(res.paths, col, "free-quota"), col)
    assert column(res.paths, "blocked", "free-quota").min() > 0
    np.testing.assert_array_equal(column(res.monthly, "contacts", "tier-less-reserve"),
                                  column(res.monthly, "contacts", "free-quota"))


def test_refused_by_a_reserve_retries_and_gets_in_after_churns():
    # loyal customers churn slowly; new ones rush in March and may use 1,600
    # of the 2,000: the refused retry, and get in as the loyal ones leave
    season = [0.0, 0.0, 1.0] + [0.0] * 9
    segments = [dict(name="loyal", initial_contacts=1_500, adoption_rate=0.0,
                     churn_rate=0.002),
                dict(name="new", adoption_rate=40.0, churn_rate=0.0)]
    keep = dict(renewal="none", upgrade="none", reserve={"new": 400})
    scn = scenario([1_500, 600], segments,
                   [dict(name="retry", on_blocked="retry", retry_days=20, max_retries=20, **keep),
                    dict(name="lost", on_blocked="lost", **keep)],
                   growth={"season": season})
    res = simengine.run(scn, paths=3)
    retry_in = column(res.paths, "first_adds", "retry")
    lost_in = column(res.paths, "first_adds", "lost")
    assert (column(res.paths, "blocked", "retry") > 0).all()
    assert (retry_in > lost_in).all()
    # every refusal was the reserve's: usage never came near the capacity
    assert column(res.monthly, "usage", "retry").max() <= 1_600
    assert column(res.monthly, "capacity", "retry").min() == 2_000


def test_a_reserve_never_reached_changes_nothing():
    scn = march_rush(3_000, 1_000, [
        dict(name="roomy", renewal="fixed", tier=5_000, upgrade="none", reserve={"all": 500}),
        dict(name="plain", renewal="fixed", tier=5_000, upgrade="none")])
    res = simengine.run(scn, paths=3)
    for table in (res.paths, res.periods, res.monthly):
        for col in table.column_names:
            if col != "strategy":
                np.testing.assert_array_equal(column(table, col, "roomy"),
                                              column(table, col, "plain"), col)


@pytest.mark.parametrize("reserve", [50, 5_000])
def test_replayed_strategies_with_reserves_equal_full_simulation(reserve):
    """A strategy with reserves is replayed only while no reserve can be
    reached; otherwise it is simulated. Either way the tables are exact."""
    import dataclasses

    from simengine.chunks import simulate_chunk
    from simengine.packing import pack_scenario
    scn = simengine.load_scenario("default", [
        f"strategy.fit-90-weekly.reserve.prospect={reserve}",
        f"strategy.forecast.reserve.new={reserve}"], scale=0.04)
    packed = pack_scenario(scn)
    replayed = simulate_chunk(packed, scn.seed, np.arange(4))
    rows = packed.kernel.strategies.copy()
    rows["replay_source"] = -1
    full = simulate_chunk(dataclasses.replace(packed, kernel=packed.kernel._replace(
        strategies=rows)), scn.seed, np.arange(4))
    for name in ("path", "period", "month"):
        np.testing.assert_array_equal(getattr(replayed, name), getattr(full, name), name)
