"""Campaigns (docs/model.md section 3, `[[campaign]]`): a lift of 1 changes
nothing; a fixed campaign multiplies the first-add hazard of its days by its
lift (closed form of section 8); a random campaign's runs are a Poisson count
a year on uniform days, each with its own lognormal lift; bad tables are
clear errors before any work. Bit-identity across threads, chunks and
executors is in tests/test_engine.py and tests/test_executor.py; the kernel
against the reference simulator in tests/test_kernel_vs_reference.py."""
import math
import tomllib

import numpy as np
import pytest
from scipy import stats

import simengine
from simengine.kernel.campaigns import campaign_runs
from simengine.packing import pack_scenario
from simengine.report.words import overview
from simengine.rng import path_key
from simengine.scenario import ScenarioError, load_scenario, scenario_from_dict

from test_cli import TINY, assert_clean_error, sim
from test_fuzz_scenarios import check_problems


def one_segment(campaigns=(), paths=32, size=200_000, adoption=0.0005):
    """One segment, no churn, a fixed tier larger than the population (never
    binds): first adds are first attempts."""
    data = {"scenario": {"name": "campaigns", "horizon_years": 1, "paths": paths, "seed": 11,
                         "sampling": "mc"},
            "population": {"size": size},
            "segment": [{"name": "all", "adoption_rate": adoption, "churn_rate": 0.0}],
            "strategy": [{"name": "fixed", "renewal": "fixed", "tier": 500_000,
                          "upgrade": "none"}],
            "campaign": list(campaigns)}
    return scenario_from_dict(data, source="campaigns.toml")


def first_adds_by_month(scn):
    """(paths, months): without churn, the growth of the month-end contacts."""
    m = simengine.run(scn, threads=2).monthly
    shape = (scn.paths, scn.months)
    assert (m["path"].to_numpy().reshape(shape) == np.arange(scn.paths)[:, None]).all()
    return np.diff(m["contacts"].to_numpy().reshape(shape), axis=1, prepend=0)


def tables(scn):
    res = simengine.run(scn, threads=2)
    return res.paths, res.periods, res.monthly


def test_a_lift_of_one_changes_nothing():
    base = tomllib.loads(TINY)
    with_campaigns = dict(base, campaign=[
        {"name": "fixed", "day_of_year": 300, "duration_days": 20, "lift": 1.0},
        {"name": "random", "per_year": 30, "duration_days": 5, "lift": 1.0,
         "segments": ["vip"]}])
    a = tables(scenario_from_dict(base, "tiny.toml"))
    b = tables(scenario_from_dict(with_campaigns, "tiny.toml"))
    for x, y in zip(a, b):
        assert x.equals(y)      # schema metadata (the scenario's sha256) aside


def test_a_fixed_campaign_multiplies_the_first_adds_of_its_days_by_its_lift():
    """Month 3 is days 91..120: a campaign on exactly those days with lift 3.
    Expected first adds of month m: N (exp(-H(t0)) - exp(-H(t1))), H the
    cumulative hazard with the lift on the campaign's days; each month's
    count is binomial, so the tolerance is 4 standard errors of the mean."""
    lift, a, N = 3.0, 0.0005, 200_000
    scn = one_segment([{"name": "spring", "day_of_year": 91, "duration_days": 30,
                        "lift": lift}], adoption=a, size=N)
    adds = first_adds_by_month(scn)
    bounds = [(365 * m) // 12 for m in range(13)]
    h = np.full(365, a)
    h[91:121] *= lift
    H = np.concatenate([[0.0], np.cumsum(h)])
    p = np.exp(-H[bounds[:-1]]) - np.exp(-H[bounds[1:]])
    se = np.sqrt(N * p * (1 - p) / scn.paths)
    assert np.abs(adds.mean(axis=0) - N * p).max() < 4 * se.max(), (adds.mean(axis=0), N * p)
    # the campaign's month against the same month without it: about `lift`
    # times (a little less: the pool is a little smaller by then, 1 - e^-x < x)
    plain = first_adds_by_month(one_segment(adoption=a, size=N))
    assert (adds[:, :3] == plain[:, :3]).all()     # the same customers until day 91
    ratio = adds[:, 3].mean() / plain[:, 3].mean()
    assert 0.95 * lift < ratio < lift
    assert adds[:, 4:].mean() < plain[:, 4:].mean()   # the campaign drew from the pool


def runs_of(campaign, paths, years=3, seed=5):
    """Each path's runs of one campaign (kernel/campaigns.campaign_runs)."""
    scn = one_segment([campaign], size=10)
    records = pack_scenario(scn).kernel.campaigns
    days = np.int64(365 * years)
    return [campaign_runs(np.uint64(path_key(np.uint64(seed), p)), records, days)
            for p in range(paths)]


@pytest.mark.parametrize("per_year", [6.0, 40.0])     # one Poisson piece, and three
def test_random_campaign_counts_per_year_are_poisson(per_year):
    years, paths = 3, 6000
    runs = runs_of({"name": "live", "per_year": per_year, "lift": 2.0}, paths, years)
    counts = np.concatenate([np.bincount(r.start // 365, minlength=years) for r in runs])
    n = counts.size
    assert abs(counts.mean() - per_year) < 4 * math.sqrt(per_year / n)
    # the sample variance's standard error for a Poisson: sqrt((m + 2 m^2) / n)
    assert abs(counts.var(ddof=1) - per_year) < 4 * math.sqrt((per_year + 2 * per_year ** 2) / n)
    # chi-square against Poisson(per_year), tails lumped so every cell expects >= 20
    lo, hi = int(stats.poisson.ppf(0.002, per_year)), int(stats.poisson.isf(0.002, per_year))
    observed = [np.sum(counts <= lo)] + [np.sum(counts == k) for k in range(lo + 1, hi)] \
        + [np.sum(counts >= hi)]
    expected = np.array([stats.poisson.cdf(lo, per_year)]
                        + [stats.poisson.pmf(k, per_year) for k in range(lo + 1, hi)]
                        + [stats.poisson.sf(hi - 1, per_year)]) * n
    assert expected.min() >= 20
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_random_runs_start_on_uniform_days_with_lognormal_lifts():
    median, sigma = 4.0, 0.5
    runs = runs_of({"name": "live", "per_year": 10, "duration_days": 400, "lift": median,
                    "lift_sigma": sigma}, paths=3000)
    start = np.concatenate([r.start for r in runs])
    end = np.concatenate([r.end for r in runs])
    day = start % 365
    assert day.min() == 0 and day.max() == 364
    assert stats.chisquare(np.bincount(day, minlength=365)).pvalue > 1e-3
    assert (end == np.minimum(start + 400, 3 * 365)).all()    # cut at the horizon only
    z = np.log(np.concatenate([r.lift for r in runs]) / median) / sigma
    assert abs(z.mean()) < 4 / math.sqrt(z.size)
    assert abs(z.std() - 1) < 4 / math.sqrt(2 * z.size)
    # a fixed campaign: one run a year on its day, its lift drawn per run
    runs = runs_of({"name": "d11", "day_of_year": 310, "duration_days": 3, "lift": median,
                    "lift_sigma": sigma}, paths=50)
    assert all(r.start.tolist() == [310, 675, 1040] for r in runs)
    assert len({x for r in runs for x in r.lift.tolist()}) == 150


def test_runs_are_drawn_from_the_path_alone():
    """Campaign c's draws are keyed by (path, c): adding a campaign after it
    leaves its runs as they were, and another seed or path changes them."""
    live = {"name": "live", "per_year": 8, "lift": 2.0, "lift_sigma": 0.3}
    alone = runs_of(live, paths=20)
    scn = one_segment([live, {"name": "other", "per_year": 3, "lift": 5.0}], size=10)
    records = pack_scenario(scn).kernel.campaigns
    for p, r in enumerate(alone):
        both = campaign_runs(np.uint64(path_key(np.uint64(5), p)), records, np.int64(3 * 365))
        mine = both.campaign == 0
        np.testing.assert_array_equal(both.start[mine], r.start)
        np.testing.assert_array_equal(both.lift[mine], r.lift)
    assert alone[0].start.tolist() != alone[1].start.tolist()
    assert alone[0].start.tolist() != runs_of(live, paths=1, seed=6)[0].start.tolist()


# ---------------------------------------------------------------- the scenario file

def write(tmp_path, campaigns, extra="", name="c.toml"):
    path = tmp_path / name
    path.write_text(TINY + "\n" + campaigns + "\n" + extra)
    return path


@pytest.mark.parametrize("campaign, key, words", [
    ('name = "x"\nday_of_year = 3\nper_year = 2\nlift = 2', "campaign.x", "got both"),
    ('name = "x"\nlift = 2', "campaign.x", "got neither"),
    ('name = "x"\nday_of_year = 365\nlift = 2', "campaign.x.day_of_year",
     "an integer in [0, 364], got 365"),
    ('name = "x"\nday_of_year = -1\nlift = 2', "campaign.x.day_of_year",
     "an integer in [0, 364], got -1"),
    ('name = "x"\nday_of_year = 3\nlift = 0', "campaign.x.lift", "a lift > 0"),
    ('name = "x"\nper_year = 2\nlift = -1.5', "campaign.x.lift", "a lift > 0"),
    ('name = "x"\nper_year = 2', "campaign.x.lift", "required"),
    ('name = "x"\nper_year = 0\nlift = 2', "campaign.x.per_year", "in (0, 365], got 0"),
    ('name = "x"\nper_year = 2\nlift = 2\nlift_sigma = -0.1', "campaign.x.lift_sigma",
     "non-negative"),
    ('name = "x"\nper_year = 2\nlift = 2\nduration_days = 0', "campaign.x.duration_days",
     "an integer >= 1"),
    ('name = "x"\nper_year = 2\nlift = 2\nsegments = ["vip", "nope"]', "campaign.x.segments",
     'got unknown "nope"'),
    ('name = "x"\nper_year = 2\nlift = 2\nwhen = "june"', "campaign.x.when", "unknown key"),
    ('day_of_year = 3\nlift = 2', "campaign #1.name", "required"),
])
def test_bad_campaigns_are_clear_errors(tmp_path, campaign, key, words):
    path = write(tmp_path, "[[campaign]]\n" + campaign)
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    check_problems(e.value, str(path), [key])
    assert any(line.startswith(f"{path}: {key}: ") and words in line for line in e.value.problems), \
        e.value.problems


def test_a_campaign_name_used_twice_is_an_error(tmp_path):
    path = write(tmp_path, '[[campaign]]\nname = "x"\nper_year = 2\nlift = 2\n'
                           '[[campaign]]\nname = "x"\nday_of_year = 2\nlift = 2')
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    assert e.value.problems == [f'{path}: campaign.x.name: expected a unique campaign name, '
                                'got "x" more than once']


LIVE = '[[campaign]]\nname = "live"\nper_year = 6\nduration_days = 2\nlift = 4\nlift_sigma = 0.5\n'
D11 = '[[campaign]]\nname = "d11"\nday_of_year = 310\nduration_days = 3\nlift = 6\nsegments = ["rest"]\n'


def test_campaigns_resolve_with_their_defaults_and_take_set(tmp_path):
    path = write(tmp_path, LIVE + D11)
    scn = load_scenario(path)
    live, d11 = scn.campaigns
    assert (live.per_year, live.day_of_year, live.segments) == (6.0, None, ("vip", "rest"))
    assert (d11.day_of_year, d11.lift_sigma, d11.segments) == (310, 0.0, ("rest",))
    assert scn.resolved["campaign"][1] == {"name": "d11", "day_of_year": 310, "duration_days": 3,
                                           "lift": 6.0, "lift_sigma": 0.0, "segments": ["rest"]}
    assert "campaign" not in load_scenario(write(tmp_path, "", name="none.toml")).resolved
    changed = load_scenario(path, ["campaign.live.lift=2.5", "campaign.d11.duration_days=5"])
    assert (changed.campaigns[0].lift, changed.campaigns[1].duration_days) == (2.5, 5)
    with pytest.raises(ScenarioError) as e:
        load_scenario(path, ["campaign.d11.per_year=3"])
    assert e.value.problems == [
        f"{path}: campaign.d11.per_year (from --set): expected exactly one of day_of_year (the "
        "same days every year) and per_year (random days: a Poisson count a year), got both"]
    with pytest.raises(ScenarioError) as e:
        load_scenario(path, ["campaign.nope.lift=2"])
    assert "no campaign named \"nope\"; the campaign names are: live, d11" in str(e.value)


def test_campaign_keys_may_vary_by_path(tmp_path):
    path = write(tmp_path, LIVE + D11, '[uncertainty]\n'
                 '"campaign.live.lift" = { dist = "lognormal", sigma = 0.3 }\n'
                 '"campaign.live.per_year" = { dist = "uniform", low = 2, high = 10 }\n')
    res = simengine.run(load_scenario(path), paths=16, threads=1)
    lifts = res.paths["campaign.live.lift"].to_numpy()
    assert len(set(lifts.tolist())) == 16 and (lifts > 0).all()
    per_year = res.paths["campaign.live.per_year"].to_numpy()
    assert (2 <= per_year).all() and (per_year <= 10).all()
    for bad, words in ((('"campaign.d11.per_year" = { dist = "lognormal", sigma = 0.3 }'),
                        "the per_year of a random campaign (campaign d11 has fixed days"),
                       (('"campaign.d11.day_of_year" = { dist = "lognormal", sigma = 0.3 }'),
                        "a real-valued key that can vary by path")):
        with pytest.raises(ScenarioError) as e:
            load_scenario(write(tmp_path, LIVE + D11, "[uncertainty]\n" + bad))
        check_problems(e.value, str(path), ["uncertainty.campaign.d11"])
        assert words in str(e.value)


def test_validate_and_the_report_say_the_campaigns(tmp_path):
    path = write(tmp_path, LIVE + D11)
    p = sim("validate", path, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "4 strategies, 2 campaigns, 2 years" in p.stdout
    bad = write(tmp_path, '[[campaign]]\nname = "x"\nlift = 2', name="bad.toml")
    p = sim("validate", bad, cwd=tmp_path)
    assert_clean_error(p)
    assert f"error: {bad}: campaign.x: expected exactly one of day_of_year" in p.stderr
    growth = overview(load_scenario(path).resolved)[2]
    assert growth.endswith(
        "Campaigns: live about 6 times a year on random days, 2 days each, first adds times 4 "
        "at the median (varying from run to run, sigma 0.5); d11 from 7 November (day 310) every year "
        "for 3 days, first adds times 6 for rest.")
    assert "Campaigns" not in " ".join(overview(load_scenario(write(tmp_path, "")).resolved))
