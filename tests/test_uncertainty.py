"""`[uncertainty]` (docs/model.md sections 6, 7, 12): validation, the per-path draws
and their laws, the values applied for the whole path to every strategy
(the kernel against the plain-Python reference), written to paths.arrow,
and a sigma of 0 changing nothing."""
import math

import numpy as np
import pyarrow.compute as pc
import pytest
from scipy import special, stats

import simengine
from reference import simulate_path
from simengine import sampling
from simengine.chunks import simulate_chunk
from simengine.packing import pack_scenario
from simengine.schema import PATH_RECORD
from simengine.scenario import (Uncertainty, ScenarioError, apply_overrides, load_scenario,
                                scenario_from_dict, to_toml)

BASE = {
    "scenario": {"name": "u", "horizon_years": 1, "paths": 16, "seed": 4},
    "population": {"size": 1500},
    "segment": [
        {"name": "vip", "share": 0.2, "initial_contacts": 100, "adoption_rate": 0.004,
         "churn_rate": 0.003, "churn_shape": 2.0, "readd_prob": 0.5, "readd_delay_days": 20,
         "lost_value": 50.0},
        {"name": "mass", "share": 0.8, "initial_contacts": 100, "adoption_rate": 0.003,
         "churn_rate": 0.004, "readd_prob": 0.2, "lost_value": 2.0}],
    "growth": {"sigma": 0.3, "churn_sigma": 0.2},
    "billing": {"certification_fee": 300.0, "tiers": [[400, 40], [600, 60], [900, 90]]},
    "overflow": {"account_capacity": 100, "account_cost": 500.0},
    "strategy": [
        {"name": "fit", "renewal": "fit", "upgrade": "next", "headroom": 0.1,
         "on_blocked": "retry", "retry_days": 5},
        {"name": "tight", "renewal": "fixed", "tier": 400, "upgrade": "none",
         "on_blocked": "retry", "retry_days": 10, "max_retries": 1},
        {"name": "vip-only", "renewal": "none", "upgrade": "none", "admit": ["vip"],
         "others": "overflow"},
        {"name": "oracle", "renewal": "oracle"}],
}

EVERY_KIND = {      # a key of each record the values go to, each distribution
    "segment.vip.churn_rate": {"dist": "lognormal", "sigma": 0.4},
    "segment.vip.readd_prob": {"dist": "logitnormal", "sigma": 0.8},
    "segment.mass.adoption_rate": {"dist": "uniform", "low": 0.002, "high": 0.006},
    "segment.mass.lost_value": {"dist": "lognormal", "sigma": 0.5},
    "strategy.fit.headroom": {"dist": "uniform", "low": 0.0, "high": 0.4},
    "strategy.tight.retry_days": {"dist": "lognormal", "sigma": 0.5},
    "growth.sigma": {"dist": "lognormal", "sigma": 0.3},
    "billing.certification_fee": {"dist": "uniform", "low": 100.0, "high": 500.0},
    "overflow.account_cost": {"dist": "lognormal", "sigma": 0.2},
}


def scenario(uncertainty=None, **scenario_keys):
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    data["scenario"] = {**BASE["scenario"], **scenario_keys}
    if uncertainty is not None:
        data["uncertainty"] = uncertainty
    return scenario_from_dict(data, "u.toml")


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("key,spec,where,words", [
    ("segment.vip.readd_prob", {"dist": "lognormal", "sigma": 0.2},
     "uncertainty.segment.vip.readd_prob.dist", '"logitnormal" or "uniform" for a probability'),
    ("segment.vip.lost_value", {"dist": "logitnormal", "sigma": 0.2},
     "uncertainty.segment.vip.lost_value", "median) is in (0, 1)"),
    ("strategy.tight.headroom", {"dist": "lognormal", "sigma": 0.2},
     "uncertainty.strategy.tight.headroom", "(the median) is > 0"),
    ("segment.vip.churn_rate", {"dist": "uniform", "low": 0.004, "high": 0.001},
     "uncertainty.segment.vip.churn_rate.low", "low <= high"),
    ("segment.vip.churn_rate", {"dist": "uniform", "low": 0.004, "high": 0.005},
     "uncertainty.segment.vip.churn_rate", "between low and high"),
    ("segment.vip.readd_prob", {"dist": "uniform", "low": 0.2, "high": 1.5},
     "uncertainty.segment.vip.readd_prob.high", "a probability in [0, 1]"),
    ("segment.vip.churn_rate", {"dist": "lognormal", "sigma": -0.1},
     "uncertainty.segment.vip.churn_rate.sigma", "a non-negative number"),
    ("segment.vip.churn_rate", {"dist": "lognormal"},
     "uncertainty.segment.vip.churn_rate.sigma", "got nothing"),
    ("segment.vip.churn_rate", {"dist": "lognormal", "sigma": 0.1, "low": 0},
     "uncertainty.segment.vip.churn_rate.low", "unknown parameter"),
    ("segment.vip.churn_rate", {"dist": "normal", "sigma": 0.1},
     "uncertainty.segment.vip.churn_rate.dist", '"lognormal", "logitnormal", "uniform"'),
    ("segment.vip.churn_rate", 0.2, "uncertainty.segment.vip.churn_rate", "a table"),
    ("population.size", {"dist": "lognormal", "sigma": 0.1}, "uncertainty.population.size",
     "population.size and initial_contacts cannot"),
    ("scenario.seed", {"dist": "lognormal", "sigma": 0.1}, "uncertainty.scenario.seed",
     "scenario.*"),
    ("segment.vip.initial_contacts", {"dist": "lognormal", "sigma": 0.1},
     "uncertainty.segment.vip.initial_contacts", "initial_contacts cannot"),
    ("billing.rule", {"dist": "lognormal", "sigma": 0.1}, "uncertainty.billing.rule",
     "a real-valued key"),
    ("billing.period_days", {"dist": "lognormal", "sigma": 0.1},
     "uncertainty.billing.period_days", "counts, sizes"),
    ("segment.gold.churn_rate", {"dist": "lognormal", "sigma": 0.1},
     "uncertainty.segment.gold.churn_rate", "(vip, mass)"),
    ("churn_rate", {"dist": "lognormal", "sigma": 0.1}, "uncertainty.churn_rate",
     "the dotted path of a scenario key"),
])
def test_bad_entries_name_the_file_the_key_and_what_is_expected(key, spec, where, words):
    with pytest.raises(ScenarioError) as e:
        scenario({key: spec})
    hits = [p for p in e.value.problems if p.startswith(f"u.toml: {where}: ")]
    assert hits and words in hits[0], e.value.problems


def test_entries_round_trip_and_come_from_set_and_sweeps(tmp_path):
    scn = scenario(EVERY_KIND)
    assert [u.key for u in scn.uncertainty] == list(EVERY_KIND)      # file order
    assert scn.uncertainty[0] == Uncertainty("segment.vip.churn_rate", "lognormal", sigma=0.4)
    assert scn.resolved["uncertainty"] == EVERY_KIND
    path = tmp_path / "u.toml"
    path.write_text(to_toml(scn.resolved))
    again = load_scenario(path)
    assert again.uncertainty == scn.uncertainty and again.sha256 == scn.sha256
    # --set and sweep keys: uncertainty.<key>.<param> or a whole entry
    data = apply_overrides(BASE, ["uncertainty.segment.vip.churn_rate.dist=lognormal",
                                  "uncertainty.segment.vip.churn_rate.sigma=0.25",
                                  'uncertainty.growth.sigma={dist="uniform", low=0, high=1}'])
    got = scenario_from_dict(data, "u.toml").uncertainty
    assert got == (Uncertainty("segment.vip.churn_rate", "lognormal", sigma=0.25),
                   Uncertainty("growth.sigma", "uniform", low=0.0, high=1.0))
    with pytest.raises(ScenarioError, match="uncertainty.<key>.<param>"):
        apply_overrides(BASE, ["uncertainty.segment.vip.churn_rate.sd=0.25"])


# ---------------------------------------------------------------- the draws

@pytest.mark.parametrize("method", ["sobol", "mc"])
def test_draws_follow_their_laws(method):
    entries = (Uncertainty("a", "lognormal", sigma=0.4), Uncertainty("b", "logitnormal", sigma=0.8),
               Uncertainty("c", "uniform", low=2.0, high=5.0))
    medians = (0.003, 0.3, 4.0)
    n = 4096
    z = sampling.Sampling(method, 8, n // 8, 5).normals(9, np.arange(n))
    v = sampling.draw_values(entries, medians, z)
    for p in (stats.kstest(v[:, 0], stats.lognorm(s=0.4, scale=0.003).cdf).pvalue,
              stats.kstest(special.logit(v[:, 1]), stats.norm(special.logit(0.3), 0.8).cdf).pvalue,
              stats.kstest(v[:, 2], stats.uniform(2.0, 3.0).cdf).pvalue):
        assert p > 1e-3, p
    # the laws' formulas, written plainly (docs/model.md section 12's table)
    for i in (0, 7, 4095):
        za, zb, zc = z[i, 2:]
        assert v[i, 0] == pytest.approx(0.003 * math.exp(0.4 * za), rel=1e-13)
        assert v[i, 1] == pytest.approx(
            1 / (1 + math.exp(-(math.log(0.3 / 0.7) + 0.8 * zb))), rel=1e-13)
        assert v[i, 2] == pytest.approx(2.0 + 3.0 * 0.5 * math.erfc(-zc / math.sqrt(2)),
                                        rel=1e-13)


def test_values_apply_for_the_whole_path_to_every_strategy():
    """The kernel against the plain-Python reference, which writes the path's
    values into its own copy of the scenario: every column of every
    strategy, with a key of each record uncertain, under both samplings."""
    for method in ("sobol", "mc"):
        scn = scenario(EVERY_KIND, sampling=method)
        raw = simulate_chunk(pack_scenario(scn), scn.seed, np.array([0, 3]))
        for i, path in enumerate((0, 3)):
            ref = simulate_path(scn, path, scn.seed)
            np.testing.assert_allclose(raw.uncertain[i], list(ref["uncertain"].values()),
                                       rtol=1e-15)
            assert raw.mult[i, 0] == pytest.approx(ref["growth_multiplier"], rel=1e-15)
            for si, st in enumerate(scn.strategies):
                got = {c: raw.path[i, si][c].item() for c in PATH_RECORD.names}
                want = {c: ref["strategies"][st.name]["paths"][c] for c in PATH_RECORD.names}
                assert got == pytest.approx(want, rel=1e-12, abs=1e-9), (method, path, st.name)


def test_values_are_written_per_path_and_change_the_costs():
    scn = scenario(EVERY_KIND, paths=16)
    res = simengine.run(scn)
    t = res.paths
    assert t.column_names[-len(EVERY_KIND):] == list(EVERY_KIND)
    S = len(scn.strategies)
    for key in EVERY_KIND:
        v = t[key].to_numpy().reshape(-1, S)
        assert (v == v[:, :1]).all()                   # the same value for every strategy
        assert np.unique(v[:, 0]).size == 16           # its own on every path
    # a drawn value is the one used: the certification fee paid by `fit`
    fit = t.filter(pc.equal(t["strategy"], "fit"))
    np.testing.assert_allclose(fit["certification_cost"].to_numpy(),
                               fit["billing.certification_fee"].to_numpy(), rtol=1e-15)
    without = simengine.run(scenario())
    assert not np.array_equal(fit["economic_cost"].to_numpy(),
                              without.paths.filter(pc.equal(without.paths["strategy"], "fit"))
                              ["economic_cost"].to_numpy())


@pytest.mark.parametrize("method", ["sobol", "mc"])
def test_a_lognormal_of_sigma_zero_changes_nothing(method):
    key = "segment.vip.churn_rate"
    plain = simengine.run(scenario(sampling=method))
    zero = simengine.run(scenario({key: {"dist": "lognormal", "sigma": 0.0}}, sampling=method))
    assert zero.paths.column_names == plain.paths.column_names + [key]
    np.testing.assert_array_equal(zero.paths[key].to_numpy(), 0.003)
    assert zero.paths.drop_columns([key]).equals(plain.paths)
    for name in ("periods", "monthly", "summary"):
        assert getattr(zero, name).equals(getattr(plain, name)), name


def test_sweeps_take_uncertainty_keys_like_any_key(tmp_path):
    from simengine import sweeps
    (tmp_path / "s.toml").write_text('''
[sweep]
name = "by-sigma"
base = "default.toml"

[sweep.set]
"uncertainty.segment.vip.churn_rate.dist" = "lognormal"

[sweep.grid]
"uncertainty.segment.vip.churn_rate.sigma" = [0.0, 0.3]
''')
    points = sweeps.load_sweep(str(tmp_path / "s.toml")).points
    assert [p.scenario.uncertainty for p in points] == [
        (Uncertainty("segment.vip.churn_rate", "lognormal", sigma=s),) for s in (0.0, 0.3)]
