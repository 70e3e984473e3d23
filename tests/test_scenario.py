"""Scenario loading, defaults, validation and overrides (docs/model.md sections 6, 9)."""
import dataclasses
import json
import math
import tomllib
from pathlib import Path

import pytest

from simengine.scenario import (Billing, Scenario, ScenarioError, apply_overrides,
                                bundled_scenarios, load_scenario, replace_run,
                                scenario_from_dict, to_toml)

ROOT = Path(__file__).resolve().parent.parent

# Small and valid; each bad variant below edits one line of it.
BASE = """\
[scenario]
name = "t"
horizon_years = 2
paths = 16
seed = 5

[population]
size = 1000

[[segment]]
name = "vip"
share = 0.3
initial_contacts = 10
adoption_rate = 0.01
churn_rate = 0.001
churn_shape = 2.0
readd_prob = 0.5

[[segment]]
name = "rest"
share = 0.7
adoption_rate = 0.001
churn_rate = 0.002

[billing]
certified = true
tiers = [[5000, 500], [20000, 2000]]

[[strategy]]
name = "fix"
renewal = "fixed"
tier = 5000

[[strategy]]
name = "fit"
admit = ["vip"]
"""


def write(tmp_path, text, name="x.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def edit(old, new, text=BASE):
    assert old in text, old
    return text.replace(old, new, 1)


def problems_of(tmp_path, text, overrides=()):
    p = write(tmp_path, text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(p, overrides)
    return str(p), e.value.problems


# ---------------------------------------------------------------- defaults

def test_defaults_filled():
    s = scenario_from_dict({
        "scenario": {"name": "d"}, "population": {"size": 7},
        "segment": [{"name": "a", "adoption_rate": 0.1, "churn_rate": 0.2}],
        "strategy": [{"name": "s"}]})
    assert (s.horizon_years, s.paths, s.seed) == (1, 1024, 0)
    assert (s.sampling, s.replicates, s.uncertainty) == ("sobol", 8, ())
    assert "uncertainty" not in s.resolved
    seg = s.segments[0]
    assert (seg.share, seg.size, seg.initial_contacts) == (1.0, 7, 0)
    assert seg.churn_shape == math.inf
    assert (seg.readd_prob, seg.readd_delay_days, seg.lost_value) == (0.0, 30.0, 0.0)
    assert s.growth.season == (1.0,) * 12 and s.growth.sigma == s.growth.churn_sigma == 0.0
    assert s.billing == Billing()
    assert s.billing.certification_fee == 0.0 and s.billing.tiers[0] == (5000, 500.0)
    assert (s.overflow.account_capacity, s.overflow.account_cost) == (5000, 0.0)
    assert s.staff.members is None and s.staff.friend_cap == 50_000 and s.staff.member_cap is None
    st = s.strategies[0]
    assert (st.renewal, st.tier, st.upgrade, st.headroom) == ("fit", None, "next", 0.0)
    assert st.admit == ("a",)
    assert (st.others, st.on_blocked, st.retry_days, st.max_retries) == ("lost", "lost", 14.0, 3)
    assert s.resolved["segment"][0]["churn_shape"] == "inf"
    json.dumps(s.resolved, allow_nan=False)


def test_churn_shape_inf_forms(tmp_path):
    for v in ("inf", '"inf"', "+inf"):
        s = load_scenario(write(tmp_path, edit("churn_shape = 2.0", f"churn_shape = {v}")))
        assert s.segments[0].churn_shape == math.inf


def test_default_scenario():
    s = load_scenario(ROOT / "scenarios" / "default.toml")
    assert s.name == "default" and s.horizon_years == 3 and s.paths == 1024
    assert (s.sampling, s.replicates) == ("sobol", 8)
    assert s.seed == 20230914 and s.population == 1_000_000
    assert [x.name for x in s.strategies] == ["fixed-200k", "fit", "fit-90-weekly", "forecast",
                                              "vip-first", "fixed-200k-reserve", "oracle"]
    weekly = next(x for x in s.strategies if x.name == "fit-90-weekly")
    assert (weekly.upgrade_at, weekly.review_days) == (0.9, 7)
    assert (s.billing.lead_days, s.billing.upgrade_pricing) == (7, "difference")
    assert [(c.name, c.day_of_year, c.per_year) for c in s.campaigns] == [
        ("618", 166, None), ("double-11", 312, None), ("live-streams", None, 6.0)]
    reserved = next(x for x in s.strategies if x.name == "fixed-200k-reserve")
    assert reserved.reserve == (("new", 5_000), ("prospect", 20_000))
    assert [x.name for x in s.segments] == ["vip", "repeat", "new", "prospect"]
    assert sum(x.size for x in s.segments) == s.population
    assert sum(x.initial_contacts for x in s.segments) == 100_000
    assert s.billing.certification_fee == 3000 and s.overflow.account_cost == 6000
    vf = next(x for x in s.strategies if x.name == "vip-first")
    assert vf.admit == ("vip", "repeat") and vf.tier == 50_000
    assert s.periods == 3 and s.days == 1095


def test_bundled_copy_identical():
    assert (ROOT / "scenarios" / "default.toml").read_bytes() == \
        (ROOT / "simengine" / "scenarios" / "default.toml").read_bytes()


@pytest.mark.parametrize("name", [None, "default", "default.toml"])
def test_bundled_lookup(name):
    s = load_scenario(name)
    assert s.name == "default" and "default.toml" in s.source
    assert s.sha256 == load_scenario(ROOT / "scenarios" / "default.toml").sha256
    assert "default" in bundled_scenarios()


def test_missing_file(tmp_path):
    for path in (tmp_path / "nope.toml", "no-such-bundled"):
        with pytest.raises(ScenarioError, match="nope.toml|no-such-bundled"):
            load_scenario(path)


def test_toml_syntax_error(tmp_path):
    p, probs = problems_of(tmp_path, edit("paths = 16", "paths = = 16"))
    assert len(probs) == 1 and probs[0].startswith(p) and "line 4" in probs[0]


# ---------------------------------------------------------------- sizes

def _sizes(shares, n):
    segs = [{"name": f"s{i}", "share": sh, "adoption_rate": 0, "churn_rate": 0}
            for i, sh in enumerate(shares)]
    s = scenario_from_dict({"scenario": {"name": "x"}, "population": {"size": n},
                            "segment": segs, "strategy": [{"name": "a"}]})
    return [x.size for x in s.segments]


def test_largest_remainder():
    assert _sizes([0.5, 0.5], 3) == [2, 1]                # tie: earlier wins
    assert _sizes([0.3, 0.7], 5) == [2, 3]                # 1.5 / 3.5 as written: a tie
    assert _sizes([0.25, 0.25, 0.25, 0.25], 2) == [1, 1, 0, 0]
    assert _sizes([0.1, 0.2, 0.7], 7) == [1, 1, 5]        # 0.7 / 1.4 / 4.9
    assert _sizes([1 / 3, 1 / 3, 1 / 3], 100) == [34, 33, 33]
    assert sum(_sizes([0.123456789, 0.876543211], 999_983)) == 999_983


# ---------------------------------------------------------------- validation

BAD = [
    # (old text, new text, dotted key expected in the message)
    ('name = "t"', 'name = ""', "scenario.name"),
    ('name = "t"\n', "", "scenario.name"),
    ("horizon_years = 2", "horizon_years = 0", "scenario.horizon_years"),
    ("horizon_years = 2", "horizon_years = 101", "scenario.horizon_years"),
    ("horizon_years = 2", "horizon_years = 2.0", "scenario.horizon_years"),
    ("paths = 16", "paths = 0", "scenario.paths"),
    ("paths = 16", "paths = true", "scenario.paths"),
    ("paths = 16", 'paths = "10"', "scenario.paths"),
    ("seed = 5", "seed = -1", "scenario.seed"),
    ("seed = 5", "seed = 18446744073709551616", "scenario.seed"),
    ("seed = 5", "sed = 5", "scenario.sed"),
    ("size = 1000", "size = 0", "population.size"),
    ("size = 1000", "", "population.size"),
    ("size = 1000", "size = 1e3", "population.size"),
    ("[population]", "[populace]", "populace"),
    ("share = 0.3", "share = 0.4", "segment.*.share"),
    ("share = 0.3", "share = 1.3", "segment.vip.share"),
    ("share = 0.3\n", "", "segment.vip.share"),
    ("initial_contacts = 10", "initial_contacts = 301", "segment.vip.initial_contacts"),
    ("initial_contacts = 10", "initial_contacts = -1", "segment.vip.initial_contacts"),
    ("adoption_rate = 0.01", "adoption_rate = -0.01", "segment.vip.adoption_rate"),
    ("adoption_rate = 0.01\n", "", "segment.vip.adoption_rate"),
    ("churn_rate = 0.001", "churn_rate = -1", "segment.vip.churn_rate"),
    ("churn_rate = 0.001", "churn_rate = nan", "segment.vip.churn_rate"),
    ("churn_rate = 0.001\n", "", "segment.vip.churn_rate"),
    ("churn_shape = 2.0", "churn_shape = 0", "segment.vip.churn_shape"),
    ("churn_shape = 2.0", 'churn_shape = "infinite"', "segment.vip.churn_shape"),
    ("readd_prob = 0.5", "readd_prob = 1.5", "segment.vip.readd_prob"),
    ("readd_prob = 0.5", "readd_prob = -0.1", "segment.vip.readd_prob"),
    ("readd_prob = 0.5", "readd_delay_days = -3", "segment.vip.readd_delay_days"),
    ("readd_prob = 0.5", "lost_value = -3", "segment.vip.lost_value"),
    ("readd_prob = 0.5", "readd = 0.5", "segment.vip.readd"),
    ('name = "vip"', 'name = "v i p"', "segment #1.name"),
    ('name = "vip"', 'name = "a=b"', "segment #1.name"),
    ('name = "rest"', 'name = "vip"', "segment.vip.name"),
    ("[billing]", "[growth]\nseason = [1, 2]\n[billing]", "growth.season"),
    ("[billing]", "[growth]\nseason = [1,1,1,1,1,1,1,1,1,1,1,-1]\n[billing]", "growth.season"),
    ("[billing]", "[growth]\nsigma = -0.1\n[billing]", "growth.sigma"),
    ("[billing]", "[growth]\nchurn_sigma = -0.1\n[billing]", "growth.churn_sigma"),
    ("certified = true", 'rule = "sometimes"', "billing.rule"),
    ("certified = true", "certified = 1", "billing.certified"),
    ("certified = true", "period_days = 0", "billing.period_days"),
    ("certified = true", "period_days = 30.5", "billing.period_days"),
    ("certified = true", 'upgrade_pricing = "free"', "billing.upgrade_pricing"),
    ("certified = true", 'tier_covers = "all"', "billing.tier_covers"),
    ("certified = true", "certification_fee = -300", "billing.certification_fee"),
    ("certified = true", "discount = 0.1", "billing.discount"),
    ("tiers = [[5000, 500], [20000, 2000]]", "tiers = []", "billing.tiers"),
    ("tiers = [[5000, 500], [20000, 2000]]", "tiers = [[20000, 2000], [5000, 500]]", "billing.tiers"),
    ("tiers = [[5000, 500], [20000, 2000]]", "tiers = [[5000, 500], [5000, 600]]", "billing.tiers"),
    ("tiers = [[5000, 500], [20000, 2000]]", "tiers = [[5000, -500]]", "billing.tiers"),
    ("tiers = [[5000, 500], [20000, 2000]]", "tiers = [[0, 0]]", "billing.tiers"),
    ("tiers = [[5000, 500], [20000, 2000]]", "tiers = [[5000.5, 500]]", "billing.tiers"),
    ("tiers = [[5000, 500], [20000, 2000]]", "tiers = [5000, 500]", "billing.tiers"),
    ("[billing]", "[overflow]\naccount_capacity = 0\n[billing]", "overflow.account_capacity"),
    ("[billing]", "[overflow]\naccount_cost = -1\n[billing]", "overflow.account_cost"),
    ("[billing]", "[staff]\nmembers = 0\n[billing]", "staff.members"),
    ("[billing]", "[staff]\nmembers = 2.5\n[billing]", "staff.members"),
    ("[billing]", "[staff]\nfriend_cap = 0\n[billing]", "staff.friend_cap"),
    ("[billing]", "[staff]\nseats = 3\n[billing]", "staff.seats"),
    ("[scenario]", "staff = 3\n[scenario]", "staff"),
    ("[billing]", "[sweep]\nname = 'x'\n[billing]", "sweep"),
    ('renewal = "fixed"', 'renewal = "sometimes"', "strategy.fix.renewal"),
    ("tier = 5000", "tier = 6000", "strategy.fix.tier"),
    ("tier = 5000\n", "", "strategy.fix.tier"),
    ("tier = 5000", "tier = 0", "strategy.fix.tier"),
    ('admit = ["vip"]', 'admit = ["vip"]\ntier = 5000', "strategy.fit.tier"),
    ('admit = ["vip"]', 'admit = ["vip", "gold"]', "strategy.fit.admit"),
    ('admit = ["vip"]', "admit = []", "strategy.fit.admit"),
    ('admit = ["vip"]', 'admit = "vip"', "strategy.fit.admit"),
    ('admit = ["vip"]', 'upgrade = "twice"', "strategy.fit.upgrade"),
    ('admit = ["vip"]', "headroom = -0.1", "strategy.fit.headroom"),
    ('admit = ["vip"]', 'others = "drop"', "strategy.fit.others"),
    ('admit = ["vip"]', 'on_blocked = "wait"', "strategy.fit.on_blocked"),
    ('admit = ["vip"]', "retry_days = -1", "strategy.fit.retry_days"),
    ('admit = ["vip"]', "max_retries = 256", "strategy.fit.max_retries"),
    ('admit = ["vip"]', "max_retries = -1", "strategy.fit.max_retries"),
    ('admit = ["vip"]', "max_retries = 2.0", "strategy.fit.max_retries"),
    ('admit = ["vip"]', "budget = 5", "strategy.fit.budget"),
    ('name = "fit"', 'name = "fix"', "strategy.fix.name"),
    ('name = "fit"', 'name = "fit now"', "strategy #2.name"),
    ('name = "fit"\n', "", "strategy #2.name"),
    ("certified = true", "certified = false", "strategy.fix.renewal"),
    ("certified = true", "certified = false", "strategy.fit.upgrade"),
]


@pytest.mark.parametrize("old,new,key", BAD, ids=[f"{k}:{n[:30]}" for _, n, k in BAD])
def test_validation(tmp_path, old, new, key):
    p, probs = problems_of(tmp_path, edit(old, new))
    hits = [m for m in probs if m.startswith(f"{p}: {key}: ")]
    assert hits, probs
    assert ("expected" in hits[0] or "allowed" in hits[0] or "got" in hits[0]), hits[0]


def test_base_is_valid(tmp_path):
    s = load_scenario(write(tmp_path, BASE))
    assert [x.size for x in s.segments] == [300, 700]
    assert s.strategies[0].tier == 5000 and s.strategies[0].admit == ("vip", "rest")
    assert s.strategies[1].admit == ("vip",)


def test_message_shape(tmp_path):
    p, probs = problems_of(tmp_path, edit("readd_prob = 0.5", "readd_prob = 1.5"))
    assert probs == [f"{p}: segment.vip.readd_prob: expected a probability in [0, 1], got 1.5"]
    _, probs = problems_of(tmp_path, edit("certified = true", 'rule = "x"'))
    assert '"concurrent", "cumulative"' in probs[0] and 'got "x"' in probs[0]
    _, probs = problems_of(tmp_path, edit("seed = 5", "sed = 5"))
    assert "allowed keys: name, horizon_years, paths, seed, sampling, replicates" in probs[0]


def test_uncertified_ok_with_none(tmp_path):
    text = edit("certified = true", "certified = false")
    text = edit('renewal = "fixed"\ntier = 5000', 'renewal = "none"\nupgrade = "none"', text)
    text = edit('admit = ["vip"]', 'admit = ["vip"]\nrenewal = "none"\nupgrade = "none"', text)
    s = load_scenario(write(tmp_path, text))
    assert s.billing.free_quota == 100


def test_many_problems_at_once(tmp_path):
    text = edit("paths = 16", "paths = 0")
    text = edit("readd_prob = 0.5", "readd_prob = 2", text)
    text = edit('admit = ["vip"]', 'admit = ["gold"]\nwhat = 1', text)
    text = edit("certified = true", 'rule = "x"', text)
    p, probs = problems_of(tmp_path, text)
    keys = {m.split(": ")[1] for m in probs}
    assert {"scenario.paths", "segment.vip.readd_prob", "strategy.fit.admit",
            "strategy.fit.what", "billing.rule"} <= keys
    assert all(m.startswith(p + ": ") for m in probs)


def test_segment_and_strategy_counts():
    base = {"scenario": {"name": "x"}, "population": {"size": 1000}}
    seg = lambda i: {"name": f"s{i}", "share": 1 / 64, "adoption_rate": 0, "churn_rate": 0}
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict({**base, "segment": [seg(i) for i in range(64)],
                            "strategy": [{"name": f"t{i}"} for i in range(65)]}, "f.toml")
    keys = [m.split(": ")[1] for m in e.value.problems]
    assert "segment" in keys and "strategy" in keys
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(base, "f.toml")
    assert {"segment", "strategy"} <= {m.split(": ")[1] for m in e.value.problems}
    with pytest.raises(ScenarioError) as e:   # [segment] instead of [[segment]]
        scenario_from_dict({**base, "segment": seg(0), "strategy": [{"name": "a"}]}, "f.toml")
    assert "f.toml: segment: expected an array of tables [[segment]]" in str(e.value)


# ---------------------------------------------------------------- overrides

def test_overrides_valid(tmp_path):
    p = write(tmp_path, BASE)
    s = load_scenario(p, ["scenario.paths=32", "population.size=2000", "growth.sigma=0.1",
                          "billing.rule=cumulative", "overflow.account_cost=1",
                          "staff.members=3", "segment.vip.churn_rate=0.005",
                          "strategy.fit.headroom=0.25", 'strategy.fit.admit=["rest"]',
                          "segment.rest.churn_shape=inf"])
    assert s.paths == 32 and s.population == 2000 and s.growth.sigma == 0.1
    assert s.billing.rule == "cumulative" and s.overflow.account_cost == 1.0
    assert s.staff.member_cap == 150_000 and s.segments[0].churn_rate == 0.005
    assert s.strategies[1].headroom == 0.25 and s.strategies[1].admit == ("rest",)
    assert s.segments[1].churn_shape == math.inf and s.segments[0].size == 600


@pytest.mark.parametrize("ov,needle", [
    ("scenario.pathz=3", "scenario.pathz"),
    ("segment.gold.churn_rate=1", "vip, rest"),
    ("segment.vip.churn=1", "churn_rate"),
    ("strategy.nope.headroom=1", "fix, fit"),
    ("bogus.key=1", "segment.<name>.<key>"),
    ("scenario.paths", "KEY=VALUE"),
])
def test_overrides_unknown(tmp_path, ov, needle):
    p, probs = problems_of(tmp_path, BASE, [ov])
    assert len(probs) == 1 and probs[0].startswith(p) and needle in probs[0]


def test_overrides_wrong_type(tmp_path):
    p, probs = problems_of(tmp_path, BASE, ["scenario.paths=many", "segment.vip.readd_prob=2"])
    assert probs == [
        f'{p}: scenario.paths (from --set): expected an integer >= 1, got "many"',
        f"{p}: segment.vip.readd_prob (from --set): expected a probability in [0, 1], got 2"]


def test_apply_overrides_on_dict():
    data = tomllib.loads(BASE)
    out = apply_overrides(data, [("billing.rule", "cumulative"), ("segment.vip.share", 0.4)])
    assert out["billing"]["rule"] == "cumulative" and out["segment"][0]["share"] == 0.4
    assert "rule" not in data["billing"]            # input untouched
    assert apply_overrides(data, {"growth.sigma": 0.2})["growth"]["sigma"] == 0.2


# ---------------------------------------------------------------- identity

def test_sha256_stable_and_sensitive(tmp_path):
    a = load_scenario(write(tmp_path, BASE))
    b = load_scenario(write(tmp_path, BASE.replace("share = 0.3", "share = 0.30"), "y.toml"))
    assert a.sha256 == b.sha256 and len(a.sha256) == 64
    c = load_scenario(write(tmp_path, BASE), ["segment.vip.churn_rate=0.0011"])
    assert c.sha256 != a.sha256
    # an explicit default is the same scenario
    d = load_scenario(write(tmp_path, BASE), ["billing.rule=concurrent"])
    assert d.sha256 == a.sha256


def test_replace_run(tmp_path):
    a = load_scenario(write(tmp_path, BASE))
    b = replace_run(a, paths=24, seed=9)
    assert (b.paths, b.seed) == (24, 9) and b.resolved["scenario"]["paths"] == 24
    assert b.sha256 != a.sha256 and a.paths == 16
    assert replace_run(a) is a
    assert replace_run(a, paths=16, seed=5).sha256 == a.sha256
    with pytest.raises(ScenarioError, match="scenario.paths"):
        replace_run(a, paths=0)


@pytest.mark.parametrize("src", ["default", "base"])
def test_to_toml_round_trip(tmp_path, src):
    a = load_scenario("default") if src == "default" else load_scenario(
        write(tmp_path, BASE), ["staff.members=4", "segment.rest.churn_shape=inf"])
    text = to_toml(a.resolved)
    b = load_scenario(write(tmp_path, text, "rt.toml"))
    assert isinstance(b, Scenario)
    assert b.resolved == a.resolved and b.sha256 == a.sha256
    assert b == dataclasses.replace(a, source=b.source)


# --------------------------------------------------------------------------
# Reserves (docs/model.md sections 4-6) and settings an oracle ignores

def test_reserve_is_read_in_segment_order_and_round_trips(tmp_path):
    text = BASE.replace('admit = ["vip"]', 'admit = ["vip"]\nreserve = { rest = 300, vip = 0 }')
    s = load_scenario(write(tmp_path, text))
    fit = s.strategies[1]
    assert fit.reserve == (("vip", 0), ("rest", 300))
    assert fit.reserve_of("rest") == 300 and fit.reserve_of("vip") == 0
    assert s.strategies[0].reserve == () and "reserve" not in s.resolved["strategy"][0]
    again = load_scenario(write(tmp_path, to_toml(s.resolved), "rt.toml"))
    assert again.strategies == s.strategies and again.sha256 == s.sha256


def test_reserve_set_from_the_command_line(tmp_path):
    s = load_scenario(write(tmp_path, BASE), ["strategy.fix.reserve.rest=120"])
    assert s.strategies[0].reserve == (("rest", 120),)


@pytest.mark.parametrize("value, key, expected", [
    ("{ nobody = 5 }", "strategy.fit.reserve.nobody", "expected the name of a segment (vip, rest)"),
    ("{ rest = -1 }", "strategy.fit.reserve.rest", "expected a non-negative integer"),
    ("{ rest = 2.5 }", "strategy.fit.reserve.rest", "expected a non-negative integer"),
    ("300", "strategy.fit.reserve", "expected a table {segment = contacts}"),
])
def test_bad_reserve_names_the_key(tmp_path, value, key, expected):
    text = BASE.replace('admit = ["vip"]', f'admit = ["vip"]\nreserve = {value}')
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, text))
    assert f"x.toml: {key}: {expected}" in str(e.value)


def test_oracle_warns_about_settings_it_ignores(tmp_path):
    from simengine.scenario import scenario_warnings
    def about_strategies(scn):
        return [w for w in scenario_warnings(scn) if ": strategy." in w]
    text = BASE + '\n[[strategy]]\nname = "hindsight"\nrenewal = "oracle"\n'
    assert about_strategies(load_scenario(write(tmp_path, text))) == []
    bad = text + 'upgrade = "fit"\nheadroom = 0.1\nreserve = { rest = 10 }\n'
    (warning,) = about_strategies(load_scenario(write(tmp_path, bad)))
    assert "strategy.hindsight: upgrade, headroom, reserve have no effect" in warning


def test_churn_without_heterogeneity_warns(tmp_path):
    from simengine.scenario import scenario_warnings
    scn = load_scenario(write(tmp_path, BASE))
    homogeneous = [s.name for s in scn.segments if s.churn_rate > 0 and s.churn_shape == math.inf]
    assert homogeneous
    warnings = scenario_warnings(scn)
    for name in homogeneous:
        assert any(f"segment.{name}.churn_shape: inf (no heterogeneity) gives geometric "
                   "retention" in w for w in warnings)
    shaped = BASE.replace("churn_rate = 0.002", "churn_rate = 0.002\nchurn_shape = 0.8")
    assert not any("churn_shape: inf" in w
                   for w in scenario_warnings(load_scenario(write(tmp_path, shaped))))


# --------------------------------------------------------------------------
# A small version of a scenario: --set population.size and --scale (docs/model.md section 6)

def test_population_from_set_that_cannot_hold_the_initial_contacts():
    with pytest.raises(ScenarioError) as e:
        load_scenario("default", ["population.size=20000"])
    (problem,) = e.value.problems          # one problem, blamed on the key that was set
    assert problem.startswith("<bundled>/default.toml: population.size (from --set): "
                              "expected at least 599,972 customers, got 20,000")
    assert "--scale 0.02 gives 20,000 customers" in problem


def test_initial_contacts_too_large_names_what_would_fit(tmp_path):
    text = BASE.replace("initial_contacts = 10", "initial_contacts = 400")
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, text))
    (problem,) = e.value.problems
    assert "segment.vip.initial_contacts: expected at most the segment's size 300" in problem
    assert "the smallest population that holds every segment's initial contacts is 1,332" in problem


def test_smallest_population_is_smallest():
    from simengine.scenario.checks import largest_remainder, smallest_population
    shares, initial = [0.02, 0.13, 0.25, 0.6], [12_000, 45_000, 33_000, 5_000]
    n = smallest_population(shares, initial)
    assert all(i <= s for i, s in zip(initial, largest_remainder(shares, n)))
    assert any(i > s for i, s in zip(initial, largest_remainder(shares, n - 1)))


def test_scale_makes_a_small_version_on_purpose():
    full = load_scenario("default")
    small = load_scenario("default", scale=0.02)
    assert small.population == full.population // 50
    assert [s.initial_contacts for s in small.segments] == [
        s.initial_contacts // 50 for s in full.segments]
    # --set applies after --scale
    assert load_scenario("default", ["population.size=30000"], scale=0.02).population == 30_000
    for bad in (0, -1, float("nan"), "x"):
        with pytest.raises(ScenarioError, match="--scale: expected a number > 0"):
            load_scenario("default", scale=bad)


def test_an_optimize_table_is_left_to_simengine_optimize(tmp_path):
    text = BASE + '\n[optimize]\nobjective = "p95:economic_cost"\n[optimize.space]\nheadroom = [0.0, 0.1]\n'
    assert load_scenario(write(tmp_path, text)).name == "t"
