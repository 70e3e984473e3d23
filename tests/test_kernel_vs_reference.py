"""The numba kernel against the plain-Python reference (tests/reference.py),
number for number, on small populations built to exercise every rule.

Both use the same counter-based draws, so every column of every table must
agree exactly (money to float rounding of the same operations).
"""
import dataclasses
import math

import numpy as np
import pytest

from reference import KeyedDraws, campaign_runs, simulate_path
from simengine.chunks import simulate_chunk
from simengine.packing import pack_scenario
from simengine.schema import MONTH_RECORD, PATH_RECORD, PERIOD_RECORD
from simengine.scenario import (Billing, Campaign, Growth, Overflow, Scenario, Segment, Staff,
                                Strategy, Uncertainty)

SEASON = (1, 1, 1, 1, 1, 1.8, 1, 1, 1, 1, 2.5, 1.2)
SMALL_TIERS = ((2_500, 250.0), (3_000, 300.0), (4_000, 400.0), (6_000, 600.0))


def segments(n=6000, initial=(400, 900, 500)):
    sizes = (n // 10, 3 * n // 10, n - n // 10 - 3 * n // 10)
    return (
        Segment("vip", 0.1, sizes[0], initial[0], 0.004, 0.002, 2.0, 0.6, 20, 300.0),
        Segment("repeat", 0.3, sizes[1], initial[1], 0.003, 0.003, 0.7, 0.4, 30, 80.0),
        Segment("prospect", 0.6, sizes[2], initial[2], 0.002, 0.006, math.inf, 0.2, 40, 2.0),
    )


ALL = ("vip", "repeat", "prospect")

STRATEGIES = (
    Strategy("none", renewal="none", upgrade="none", on_blocked="lost", admit=ALL),
    Strategy("fixed-retry", renewal="fixed", tier=2_500, upgrade="none", on_blocked="retry",
             retry_days=5, max_retries=2, admit=ALL),
    Strategy("fit-next", renewal="fit", upgrade="next", on_blocked="retry", admit=ALL),
    Strategy("fit-headroom", renewal="fit", headroom=0.15, upgrade="next", admit=ALL),
    Strategy("forecast-fit", renewal="forecast", headroom=0.05, upgrade="fit", admit=ALL),
    Strategy("vip-first", renewal="fixed", tier=2_500, upgrade="none", admit=("vip", "repeat"),
             others="overflow", on_blocked="overflow"),
    Strategy("vip-lost", renewal="fit", upgrade="none", admit=("vip",), others="lost",
             on_blocked="retry", retry_days=0, max_retries=1),
    Strategy("oracle", renewal="oracle", upgrade="next", admit=ALL),
    Strategy("oracle-vip", renewal="oracle", upgrade="none", admit=("vip", "repeat"),
             others="overflow"),
    # reserves: booking limits for the lower-value segments
    Strategy("fit-reserve", renewal="fit", upgrade="next", on_blocked="retry", admit=ALL,
             reserve=(("prospect", 300),)),
    Strategy("fixed-reserve", renewal="fixed", tier=2_500, upgrade="none", on_blocked="retry",
             retry_days=5, max_retries=2, admit=ALL, reserve=(("repeat", 100), ("prospect", 400))),
)


# when they order: before the scale is full, on review days only, both;
# a reserve below the threshold (refusals there order nothing)
ORDERING = (
    Strategy("fit-at80", renewal="fit", upgrade="next", upgrade_at=0.8, on_blocked="retry",
             retry_days=3, admit=ALL),
    Strategy("fit-look7", renewal="fit", upgrade="fit", headroom=0.1, review_days=7,
             admit=ALL),
    Strategy("forecast-at90-look30", renewal="forecast", upgrade="next", upgrade_at=0.9,
             review_days=30, on_blocked="overflow", admit=ALL),
    Strategy("fit-reserve-at85", renewal="fit", upgrade="fit", upgrade_at=0.85,
             on_blocked="retry", admit=ALL, reserve=(("prospect", 600),)),
)


def scenario(**kw):
    base = dict(
        name="kernel-test", horizon_years=2, paths=4, seed=7, population=6000,
        segments=segments(), growth=Growth(SEASON, 0.3, 0.2),
        billing=Billing(certification_fee=300.0, tiers=SMALL_TIERS),
        overflow=Overflow(150, 1000.0), staff=Staff(), strategies=STRATEGIES)
    base.update(kw)
    return Scenario(**base)


# fixed and random campaigns: lifts drawn per run, runs past a year's end
# (and a period start), overlapping runs of one campaign and of several,
# a random count of more than one Poisson piece (vip-day)
CAMPAIGNS = (
    Campaign(name="double-11", day_of_year=310, duration_days=3, lift=4.0, lift_sigma=0.3,
             segments=("repeat", "prospect")),
    Campaign(name="new-year", day_of_year=355, duration_days=20, lift=2.0, segments=ALL),
    Campaign(name="live", per_year=8.0, duration_days=6, lift=3.0, lift_sigma=0.5, segments=ALL),
    Campaign(name="vip-day", per_year=20.0, duration_days=2, lift=1.5, segments=("vip",)),
)

CASES = {
    "concurrent-total-prorated": scenario(),
    "cumulative": scenario(billing=Billing(rule="cumulative", certification_fee=300.0,
                                           tiers=SMALL_TIERS)),
    "excess-membercap-difference": scenario(
        billing=Billing(tier_covers="excess", upgrade_pricing="difference", tiers=SMALL_TIERS),
        staff=Staff(members=2, friend_cap=2_200)),
    "period200-full-cumulative": scenario(
        billing=Billing(rule="cumulative", period_days=200, upgrade_pricing="full",
                        certification_fee=50.0, tiers=SMALL_TIERS)),
    # starting contacts with ages: equal, a stock, a stock without heterogeneity
    "aged": scenario(segments=tuple(dataclasses.replace(s, initial_age_days=a, initial_ages=how)
                                    for s, (a, how) in zip(segments(), ((400.0, "equal"),
                                                                        (1095.0, "stock"),
                                                                        (700.5, "stock"))))),
    # frictions: a lead time (orders cancelled at a period start: 200-day
    # periods), none with the ordering rules, and the rules with campaigns of
    # blocks while an order waits
    "lead-time": scenario(billing=Billing(lead_days=9, certification_fee=300.0,
                                          tiers=SMALL_TIERS),
                          strategies=STRATEGIES + ORDERING),
    "ordering-no-lead": scenario(billing=Billing(upgrade_pricing="difference",
                                                 tiers=SMALL_TIERS),
                                 strategies=STRATEGIES + ORDERING),
    "lead-time-period200-cumulative": scenario(
        billing=Billing(rule="cumulative", period_days=200, lead_days=25,
                        certification_fee=50.0, tiers=SMALL_TIERS),
        strategies=STRATEGIES + ORDERING),
    "campaigns": scenario(campaigns=CAMPAIGNS),
    "campaigns-uncertain": scenario(campaigns=CAMPAIGNS, uncertainty=(
        Uncertainty("campaign.live.lift", "lognormal", sigma=0.4),
        Uncertainty("campaign.live.per_year", "uniform", low=4.0, high=12.0),
        Uncertainty("campaign.double-11.lift_sigma", "lognormal", sigma=0.5))),
    "uncertified": scenario(
        population=600, segments=segments(600, (30, 40, 20)),
        billing=Billing(certified=False, certification_fee=999.0),
        strategies=tuple(dataclasses.replace(s, renewal="none", tier=None, upgrade="none")
                         for s in STRATEGIES if s.renewal != "oracle")),
}


PATH_COLUMNS, PERIOD_COLUMNS, MONTH_COLUMNS = PATH_RECORD.names, PERIOD_RECORD.names, \
    MONTH_RECORD.names


def fields(record, names):
    return {c: record[c].item() for c in names}


def kernel_outputs(scn, paths):
    return simulate_chunk(pack_scenario(scn), scn.seed, np.asarray(paths))


@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_matches_reference(case):
    scn = CASES[case]
    paths = [0, 3]
    raw = kernel_outputs(scn, paths)
    exercised = dict.fromkeys(("blocked", "lost", "overflowed", "upgrades", "readds"), 0)
    for i, path in enumerate(paths):
        ref = simulate_path(scn, path, scn.seed)
        assert raw.mult[i, 0] == pytest.approx(ref["growth_multiplier"], rel=1e-15)
        assert raw.mult[i, 1] == pytest.approx(ref["churn_multiplier"], rel=1e-15)
        for si, st in enumerate(scn.strategies):
            r = ref["strategies"][st.name]
            got = fields(raw.path[i, si], PATH_COLUMNS)
            want = {c: r["paths"][c] for c in PATH_COLUMNS}
            assert got == pytest.approx(want, rel=1e-12, abs=1e-9), (case, path, st.name)
            for k, prow in enumerate(r["periods"]):
                got = fields(raw.period[i, si, k], PERIOD_COLUMNS)
                want = {c: prow[c] for c in PERIOD_COLUMNS}
                assert got == pytest.approx(want, rel=1e-12, abs=1e-9), (case, path, st.name, k)
            for m, mrow in enumerate(r["monthly"]):
                got = fields(raw.month[i, si, m], MONTH_COLUMNS)
                want = {c: mrow[c] for c in MONTH_COLUMNS}
                assert got == pytest.approx(want, rel=1e-12, abs=1e-9), (case, path, st.name, m)
            for c in exercised:
                exercised[c] += r["paths"][c]
    if scn.campaigns:
        # runs overlap on some day, within one campaign and across two
        runs = campaign_runs(scn, KeyedDraws(scn.seed, paths[0]))
        covering = [[c for c, start, end, _ in runs if start <= t < end] for t in range(scn.days)]
        assert any(len(set(cs)) < len(cs) for cs in covering)
        assert any(len(set(cs)) > 1 for cs in covering)
    if case != "uncertified":
        # the case really exercises the rules it is meant to compare
        assert all(v > 0 for v in exercised.values()), exercised
    pending = raw.path["blocked_pending"].sum()
    assert (pending > 0) == (scn.billing.lead_days > 0), (case, pending)
    if case not in ("uncertified", "excess-membercap-difference"):   # the latter never fills
        # reserves refuse attempts that the same capacity without them admits
        names = [s.name for s in scn.strategies]
        blocked = raw.path["blocked"]
        assert blocked[:, names.index("fixed-reserve")].sum() > \
            blocked[:, names.index("fixed-retry")].sum()


def test_kernel_matches_reference_with_one_segment_homogeneous():
    seg = (Segment("all", 1.0, 3000, 0, 0.01, 0.004, math.inf, 0.5, 10, 1.0),)
    scn = scenario(population=3000, segments=seg, growth=Growth(),
                   strategies=(Strategy("fit", admit=("all",)),
                               Strategy("none", renewal="none", upgrade="none",
                                        on_blocked="retry", admit=("all",))))
    raw = kernel_outputs(scn, [5])
    ref = simulate_path(scn, 5, scn.seed)
    for si, st in enumerate(scn.strategies):
        got = fields(raw.path[0, si], PATH_COLUMNS)
        assert got == pytest.approx({c: ref["strategies"][st.name]["paths"][c]
                                     for c in PATH_COLUMNS}, rel=1e-12)


def test_replayed_strategies_equal_full_simulation():
    """Strategies that never block are replayed from the never-blocked run
    (kernel/replay.py); switching replays off must change nothing."""
    import simengine
    scn = simengine.load_scenario("default", [
        "population.size=40000", "segment.vip.initial_contacts=500",
        "segment.repeat.initial_contacts=1500", "segment.new.initial_contacts=1000",
        "segment.prospect.initial_contacts=300"])
    packed = pack_scenario(scn)
    replay_source = packed.kernel.strategies["replay_source"]
    assert (replay_source >= 0).sum() >= 4          # fit, headroom, forecast, oracle, ...
    with_replay = simulate_chunk(packed, scn.seed, np.arange(6))
    no_replay = packed.kernel.strategies.copy()
    no_replay["replay_source"] = -1
    packed = dataclasses.replace(packed, kernel=packed.kernel._replace(strategies=no_replay))
    full = simulate_chunk(packed, scn.seed, np.arange(6))
    for name in ("path", "period", "month", "mult"):
        np.testing.assert_array_equal(getattr(with_replay, name), getattr(full, name), name)
    # the replay did happen: fewer events were simulated
    assert with_replay.events[:, 1].sum() < full.events[:, 1].sum()
    np.testing.assert_array_equal(with_replay.events[:, 0], full.events[:, 0])


# prospects are lost from day 0, the reserve first refuses months later
LOST_OTHERS = Strategy("vip-repeat", renewal="fixed", tier=2_500, upgrade="none",
                       admit=("vip", "repeat"), others="lost", on_blocked="retry",
                       reserve=(("repeat", 1_500),))
ORACLE = next(s for s in STRATEGIES if s.name == "oracle")
CROWDS = {
    # every rule, and copies of blocking ones that refuse at different days
    "rules": (dict(segments=segments(6000, (100, 200, 100))), STRATEGIES + tuple(
        dataclasses.replace(s, name=f"{s.name}-{d}", retry_days=d)
        for s in STRATEGIES + (LOST_OTHERS,)
        if s.name in ("fixed-retry", "fixed-reserve", "vip-repeat") for d in (1.5, 7.0))),
    # oracles that refuse: the member cap stops their plan's tiers
    "capped-oracles": (dict(segments=segments(6000, (300, 1000, 1000)),
                            staff=Staff(members=1, friend_cap=2_700),
                            billing=Billing(period_days=200, certification_fee=50.0,
                                            tiers=SMALL_TIERS)),
                       (ORACLE, dataclasses.replace(ORACLE, name="oracle-2"),
                        dataclasses.replace(ORACLE, name="oracle-3"))),
    # frictions: replayed with orders pending and review days until their
    # first refusal (a lead time's block), then resumed with the order
    # still pending; with no lead time, ordering early never refuses (it is
    # replayed whole, beside fixed tiers that refuse)
    "frictions": (dict(billing=Billing(lead_days=9, certification_fee=300.0,
                                       tiers=SMALL_TIERS)),
                  STRATEGIES + ORDERING + tuple(
                      dataclasses.replace(STRATEGIES[2], name=f"fit-next-{d}", retry_days=d)
                      for d in (1.5, 7.0, 20.0))),
    "frictions-no-lead": (dict(billing=Billing(upgrade_pricing="full", tiers=SMALL_TIERS)),
                          ORDERING + STRATEGIES[-2:-1] + tuple(
                              dataclasses.replace(STRATEGIES[1], name=f"fixed-retry-{d}",
                                                  retry_days=d) for d in (1.5, 7.0, 20.0))),
}


@pytest.mark.parametrize("crowd_name", sorted(CROWDS))
def test_a_strategy_alone_equals_itself_among_others(crowd_name):
    """A strategy's numbers do not depend on which rows share its pass: alone
    (simulated from day 0) or among others with its admission rules, then
    replayed from the never-blocked run, or forked from it at their first
    refusal and simulated from there (kernel/path.phantom_in_step)."""
    setting, strategies = CROWDS[crowd_name]
    crowd = scenario(strategies=strategies, paths=3, **setting)
    paths = np.arange(3)
    together = kernel_outputs(crowd, paths)
    assert together.path["blocked"][:, -3:].sum(axis=0).min() > 0
    for si, st in enumerate(crowd.strategies):
        alone = kernel_outputs(scenario(strategies=(st,), paths=3, **setting), paths)
        for name in ("path", "period", "month"):
            np.testing.assert_array_equal(getattr(alone, name)[:, 0],
                                          getattr(together, name)[:, si], (st.name, name))
    # the refusing strategies were forked, not simulated from day 0; but an
    # oracle that refuses is (its plan is known only after its phantom's run)
    packed = pack_scenario(crowd)
    whole = packed.kernel.strategies.copy()
    whole["replay_source"] = -1
    packed = dataclasses.replace(packed, kernel=packed.kernel._replace(strategies=whole))
    full = simulate_chunk(packed, crowd.seed, paths)
    np.testing.assert_array_equal(together.events[:, 0], full.events[:, 0])
    assert (together.events[:, 1] <= full.events[:, 1]).all()
    if crowd_name != "capped-oracles":
        assert (together.events[:, 1] < full.events[:, 1]).all()


@pytest.mark.parametrize("case", range(8))
def test_random_crowds_replayed_in_step_equal_each_alone(case):
    """Random crowds under random billing (rule, period, lead time, pricing):
    the strategies replayed in step with a phantom and forked where they
    first refuse (kernel/path.phantom_in_step, whose foresight of each day
    is checked against the day lived: a mismatch raises) equal each of
    them simulated alone from day 0, number for number."""
    r = np.random.default_rng(1000 + case)
    pool = STRATEGIES + ORDERING + (LOST_OTHERS,)
    picks = [pool[i] for i in r.choice(len(pool), size=5, replace=False)]
    # copies of one of them, refusing on other days (or not at all)
    proto = picks[int(r.integers(0, len(picks)))]
    picks += [dataclasses.replace(proto, name=f"{proto.name}-copy{k}",
                                  retry_days=float(r.choice([0.5, 3.0, 11.0])),
                                  headroom=float(r.choice([0.0, 0.05, 0.3])))
              for k in range(2)]
    billing = Billing(rule=str(r.choice(["concurrent", "cumulative"])),
                      period_days=int(r.choice([365, 200, 90])),
                      lead_days=int(r.choice([0, 0, 3, 9])),
                      upgrade_pricing=str(r.choice(["prorated", "full", "difference"])),
                      certification_fee=300.0, tiers=SMALL_TIERS)
    # initial contacts within each segment's size (600, 1,800, 3,600), as
    # the scenario's checks require: a customer is one customer
    setting = dict(billing=billing, paths=3,
                   segments=segments(6000, tuple(int(x) for x in r.integers(100, 600, 3))))
    paths = np.arange(3)
    crowd = scenario(strategies=tuple(picks), **setting)
    together = kernel_outputs(crowd, paths)
    for si, st in enumerate(crowd.strategies):
        alone = kernel_outputs(scenario(strategies=(st,), **setting), paths)
        for name in ("path", "period", "month"):
            np.testing.assert_array_equal(getattr(alone, name)[:, 0],
                                          getattr(together, name)[:, si], (case, st.name, name))


def _family(r, proto, size):
    """Strategies that meet attempts as `proto` does (admission, others,
    reserves, blocked rule, retries) but may decide their tiers otherwise:
    renewal, tier, headroom, upgrade rule, threshold and review days drawn
    at random, so that they live as one for a while and part on some day
    (kernel/followers.py)."""
    out = []
    for k in range(size):
        renewal = str(r.choice(["fixed", "fit", "forecast", "none"]))
        upgrade = str(r.choice(["none", "next", "fit"]))
        out.append(dataclasses.replace(
            proto, name=f"{proto.name}-alike{k}", renewal=renewal,
            tier=int(r.choice([2_500, 3_000, 4_000])) if renewal == "fixed" else None,
            headroom=float(r.choice([0.0, 0.1, 0.3])), upgrade=upgrade,
            upgrade_at=float(r.choice([1.0, 1.0, 0.9])) if upgrade != "none" else 1.0,
            review_days=int(r.choice([0, 0, 7])) if upgrade != "none" else 0))
    return out


@pytest.mark.parametrize("case", range(8))
def test_strategies_simulated_as_one_equal_each_alone(case):
    """Strategies forked on the same day that meet attempts alike are
    simulated as one while they decide alike, and apart from the day they
    may not (kernel/followers.py): each equals itself simulated alone, number
    for number, under random billing; and an exact copy of a strategy costs
    no simulated event at all (it follows its original to the horizon)."""
    r = np.random.default_rng(2000 + case)
    protos = (STRATEGIES[1], STRATEGIES[2], STRATEGIES[9], STRATEGIES[10], ORDERING[3])
    proto = protos[case % len(protos)]
    picks = [proto] + _family(r, proto, 7)
    billing = Billing(rule=str(r.choice(["concurrent", "cumulative"])),
                      period_days=int(r.choice([365, 200, 90])),
                      lead_days=int(r.choice([0, 3, 9])),
                      upgrade_pricing=str(r.choice(["prorated", "full", "difference"])),
                      certification_fee=300.0, tiers=SMALL_TIERS)
    setting = dict(billing=billing, paths=3,
                   segments=segments(6000, tuple(int(x) for x in r.integers(100, 600, 3))))
    paths = np.arange(3)
    crowd = scenario(strategies=tuple(picks), **setting)
    together = kernel_outputs(crowd, paths)
    assert together.path["blocked"].sum() > 0
    for si, st in enumerate(crowd.strategies):
        alone = kernel_outputs(scenario(strategies=(st,), **setting), paths)
        for name in ("path", "period", "month"):
            np.testing.assert_array_equal(getattr(alone, name)[:, 0],
                                          getattr(together, name)[:, si], (case, st.name, name))
    copies = tuple(dataclasses.replace(s, name=f"{s.name}-copy") for s in picks)
    doubled = kernel_outputs(scenario(strategies=tuple(picks) + copies, **setting), paths)
    S = len(picks)
    for name in ("path", "period", "month"):
        np.testing.assert_array_equal(getattr(doubled, name)[:, S:], getattr(doubled, name)[:, :S])
    np.testing.assert_array_equal(doubled.events[:, 1], together.events[:, 1])
    assert (doubled.events[:, 0] > together.events[:, 0]).all()
