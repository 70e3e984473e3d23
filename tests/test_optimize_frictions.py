"""simengine.optimize and the frictions of docs/model.md sections 5 and 13:
`upgrade_at` and `review_days` as space keys (checked before any work,
dropped where they mean nothing, named only when not the default), a space
that is a union of products (`[[optimize.space]]`, the default space), and
a scenario with no [[strategy]] of its own optimised end to end.

These test the space, the canonical form and the plumbing, not what the
keys do to costs (the kernel's tests do that)."""
import dataclasses
import math
import re

import pytest

import simengine
from simengine import store
from simengine.executor import LocalExecutor
from simengine.optimize import optimize, resolve_settings
from simengine.optimize.space import (candidate_name, check_space, default_space,
                                      read_space_file, rules)
from simengine.scenario import ScenarioError, Strategy, scenario_from_dict, to_toml

from test_cli import assert_clean_error, sim
from test_optimize import NoWork, _own_in_product as _own_in


@pytest.fixture(scope="module")
def small():
    return simengine.load_scenario("default", scale=0.02)


def _distinct(strategies):
    return len({dataclasses.replace(s, name="") for s in strategies}) == len(strategies)


# --------------------------------------------------------------------------
# the canonical form

def test_when_to_order_means_nothing_without_an_upgrade(small):
    """upgrade = "none" (and a fixed largest tier, which cannot upgrade)
    never orders: listing upgrade_at and review_days there adds nothing."""
    largest = small.billing.tiers[-1][0]
    space = {"renewal": ["none", "fit", "fixed"], "tier": [200_000, largest],
             "upgrade": ["none", "next"], "upgrade_at": [1.0, 0.9, 0.8],
             "review_days": [0, 7]}
    sp = check_space(space, small, "s")
    found = sp.candidates(small)
    new = found.strategies[found.own:]
    assert _distinct(found.strategies)
    # renewal x tier: none, fit, fixed-200k, fixed-largest (4); upgrade none once
    # each (4), next x 3 x 2 (6 each) except fixed-largest, which cannot upgrade
    assert len(new) + _own_in(small, sp) == 4 + 3 * 6 == 22
    for st in found.strategies:
        if rules(st, small).upgrade == "none":
            canon = rules(st, small)
            assert (canon.upgrade_at, canon.review_days) == (1.0, 0)
            assert "-at" not in st.name and "-look" not in st.name
    # and none of them says what it does not do
    assert found.duplicates == sp.combinations() - len(new)


def test_a_space_listing_only_meaningless_timing_adds_no_candidate(small):
    plain = check_space({"renewal": ["none", "fit"], "upgrade": ["none"]}, small, "s")
    timed = check_space({"renewal": ["none", "fit"], "upgrade": ["none"],
                         "upgrade_at": [1.0, 0.9, 0.7], "review_days": [0, 7, 30]}, small, "s")
    a, b = plain.candidates(small), timed.candidates(small)
    assert [s.name for s in a.strategies] == [s.name for s in b.strategies]
    assert b.duplicates == timed.combinations() - (len(b.strategies) - b.own)


def test_an_own_strategy_that_sets_timing_without_upgrading_is_found_in_the_space(small):
    """The scenario's own `upgrade = "none"` with upgrade_at = 0.8 is the
    same strategy as the space's up-none combination: one candidate, under
    the scenario's name."""
    own = Strategy(name="mine", renewal="fit", upgrade="none", upgrade_at=0.8, review_days=7,
                   admit=tuple(s.name for s in small.segments))
    scn = dataclasses.replace(small, strategies=(own,))
    found = check_space({"renewal": ["fit"], "upgrade": ["none", "next"],
                         "upgrade_at": [0.8, 1.0]}, scn, "s").candidates(scn)
    assert [s.name for s in found.strategies] == [
        "mine", "fit_up-next-at80_lost", "fit_up-next_lost"]


# --------------------------------------------------------------------------
# names

def test_names_say_when_to_order_only_when_not_the_default(small):
    sp = check_space({"renewal": ["fit"], "upgrade": ["next", "fit"],
                      "upgrade_at": [1.0, 0.9, 0.85], "review_days": [0, 1, 7, 30],
                      "on_blocked": ["retry"]}, small, "s")
    found = sp.candidates(small)
    names = [s.name for s in found.strategies]
    assert len(set(names)) == len(names)
    new = found.strategies[found.own:]
    by_rules = {(s.upgrade, s.upgrade_at, s.review_days): s.name for s in new}
    assert by_rules[("fit", 0.9, 7)] == "fit_up-fit-at90-look7_retry"
    assert by_rules[("next", 0.85, 7)] == "fit_up-next-at85-look7_retry"
    assert by_rules[("next", 0.85, 0)] == "fit_up-next-at85_retry"
    assert by_rules[("fit", 1.0, 30)] == "fit_up-fit-look30_retry"
    for s in new:
        assert ("-at" in s.name) == (s.upgrade_at != 1.0), s.name
        assert ("-look" in s.name) == (s.review_days != 0), s.name
        assert re.fullmatch(r"[A-Za-z0-9_.-]+", s.name)


def test_names_stay_unique_when_values_print_alike(small):
    """0.9 and 0.9000001 both print `at90`: the second gets a suffix."""
    sp = check_space({"renewal": ["fit"], "upgrade_at": [0.9, 0.9000001]}, small, "s")
    found = sp.candidates(small)
    new = [s.name for s in found.strategies[found.own:]]
    assert new == ["fit_up-next-at90_lost", "fit_up-next-at90_lost-2"]
    names = [s.name for s in found.strategies]
    assert len(set(names)) == len(names)
    st = dataclasses.replace(found.strategies[found.own], upgrade_at=0.7)
    assert candidate_name(st, small) == "fit_up-next-at70_lost"     # not at70.0000001


def test_the_default_space_has_unique_names_and_no_duplicates():
    full = simengine.load_scenario("default")
    found = default_space(full).candidates(full)
    names = [s.name for s in found.strategies]
    assert len(set(names)) == len(names) and _distinct(found.strategies)
    timed = [s for s in found.strategies if (s.upgrade_at, s.review_days) != (1.0, 0)]
    assert timed and all(s.upgrade != "none" for s in timed)
    assert all(s.admit == tuple(x.name for x in full.segments) for s in timed)


def test_the_default_space_reads_back_from_what_the_manifest_records(small):
    sp = default_space(small)
    again = check_space(sp.as_data(), small, "<default space>")
    assert again == sp


def test_an_uncertified_default_space_has_no_timing(tmp_path):
    scn = simengine.load_scenario("tests/golden/uncertified.toml")
    sp = default_space(scn)
    assert len(sp.products) == 1 and "upgrade_at" not in sp.as_data()


# --------------------------------------------------------------------------
# bad values: clear errors before any work

@pytest.mark.parametrize("key, value, words", [
    ("upgrade_at", [0], "in (0, 1]"),
    ("upgrade_at", [1.5], "in (0, 1]"),
    ("upgrade_at", [-0.2], "in (0, 1]"),
    ("upgrade_at", ["0.9"], "in (0, 1]"),
    ("upgrade_at", [True], "in (0, 1]"),
    ("upgrade_at", 0.9, "non-empty list"),
    ("review_days", [-1], "integer number of days >= 0"),
    ("review_days", [7.5], "integer number of days >= 0"),
    ("review_days", ["weekly"], "integer number of days >= 0"),
    ("review_days", [], "non-empty list"),
])
def test_a_bad_timing_value_is_a_clear_error_before_any_work(small, tmp_path, key, value,
                                                             words):
    out = tmp_path / "out"
    with pytest.raises(ScenarioError) as e:
        optimize(small, space={"renewal": ["fit"], key: value}, paths=16, executor=NoWork(),
                 out=out)
    text = str(e.value)
    assert f"space.{key}" in text and words in text, text
    assert not out.exists()


def test_a_bad_timing_value_in_a_file_names_the_file_and_the_table(small, tmp_path):
    f = tmp_path / "space.toml"
    f.write_text('[[optimize.space]]\nrenewal = ["fit"]\nupgrade_at = [0.9]\n'
                 '[[optimize.space]]\nrenewal = ["forecast"]\nreview_days = [7, -7]\n'
                 'upgrade_at = [1.2]\n')
    with pytest.raises(ScenarioError) as e:
        read_space_file(f, small)
    problems = e.value.problems
    assert problems == [      # in the file's order
        f"{f}: optimize.space #2.review_days: expected each value an integer number of days "
        ">= 0 (0 = watching all the time), got -7",
        f"{f}: optimize.space #2.upgrade_at: expected each value a fraction of the capacity "
        "in (0, 1] (1 = order when the scale is full), got 1.2"]
    f.write_text("[optimize]\nspace = 3\n")
    with pytest.raises(ScenarioError, match=r"optimize\.space: expected a table of lists"):
        read_space_file(f, small)


# --------------------------------------------------------------------------
# a union of products

def test_a_union_of_products_from_a_file(small, tmp_path):
    f = tmp_path / "space.toml"
    f.write_text('[[optimize.space]]\nrenewal = ["fit", "forecast"]\nheadroom = [0.0, 0.2]\n'
                 '[[optimize.space]]\nrenewal = ["fit"]\nupgrade_at = [1.0, 0.8]\n'
                 'review_days = [0, 7]\n')
    scn = dataclasses.replace(small, strategies=())
    _, settings, space, found = resolve_settings(scn, space=f)
    assert space.as_data() == [
        {"renewal": ["fit", "forecast"], "headroom": [0.0, 0.2]},
        {"renewal": ["fit"], "upgrade_at": [1.0, 0.8], "review_days": [0, 7]}]
    assert space.combinations() == 4 + 4
    # fit with no headroom, ordering when full, is in both: once
    assert len(found.strategies) == 4 + 3 and found.duplicates == 1
    assert _distinct(found.strategies)


# --------------------------------------------------------------------------
# a scenario with no strategy of its own, end to end

def _no_strategy_file(small, path):
    data = dict(small.resolved)
    data["strategy"] = []
    path.write_text(to_toml(data) + '\n[optimize]\npaths = 16\nvalidate_paths = 16\ntop = 10\n'
                    '[optimize.space]\nrenewal = ["none", "fit"]\nupgrade = ["none", "next"]\n'
                    'upgrade_at = [1.0, 0.8]\nreview_days = [0, 7]\n'
                    'on_blocked = ["retry"]\n')
    return path


def test_run_and_validate_refuse_no_strategies_and_point_to_optimize(small, tmp_path):
    f = _no_strategy_file(small, tmp_path / "team.toml")
    for command in ("validate", "run"):
        p = sim(command, f, cwd=tmp_path)
        assert_clean_error(p)
        assert (f"{f}: strategy: expected 1 to 64 [[strategy]] tables, got 0 (`simengine "
                "optimize` accepts a scenario without strategies") in p.stderr, p.stderr
    with pytest.raises(ScenarioError, match="got 0"):
        simengine.load_scenario(str(f))
    data = dict(small.resolved, strategy=[])
    assert scenario_from_dict(data, "x", allow_no_strategies=True).strategies == ()


def test_a_scenario_with_no_strategy_optimises_end_to_end(small, tmp_path):
    """`simengine optimize` on a file with no [[strategy]]: the validated
    candidates against the hindsight bound alone, every output written,
    best.toml (the candidates and an oracle) runs as written, and the
    report of its validation run draws."""
    f = _no_strategy_file(small, tmp_path / "team.toml")
    p = sim("optimize", f, "--out", "opt", "--threads", 2, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    out = tmp_path / "opt"
    lines = p.stdout.splitlines()
    assert "the scenario has no strategy of its own: compared with the bound alone" in lines[0]
    header = next(x for x in lines if "strategy" in x and "validated" in x)
    assert "vs bound" in header
    assert not any(x.startswith("own best") for x in lines)
    assert any(x.startswith("bound") and "oracle" in x for x in lines)
    assert "10 distinct candidates (0 the scenario's own" in p.stdout
    assert "validation: the top 10 and the hindsight bound on 16 fresh paths" in p.stderr
    # none and fit: up-none once, up-next x (1.0, 0.8) x (0, 7)
    cand = store.read_table(out / "candidates.arrow")
    assert cand.num_rows == 10
    assert set(cand.column("source").to_pylist()) == {"space"}
    assert all(cand.column("validated").to_pylist())
    rows = cand.select(["candidate", "upgrade", "upgrade_at", "review_days"]).to_pylist()
    assert {(r["upgrade_at"], r["review_days"]) for r in rows if r["upgrade"] == "none"} == {
        (1.0, 0)}
    assert {(r["upgrade_at"], r["review_days"]) for r in rows if r["upgrade"] == "next"} == {
        (1.0, 0), (0.8, 0), (1.0, 7), (0.8, 7)}
    assert cand.schema.field("upgrade_at").type == "double"
    assert cand.schema.field("review_days").type == "int64"
    # best.toml: the ten candidates and an oracle, their timing written in
    text = (out / "best.toml").read_text()
    best = simengine.load_scenario(str(out / "best.toml"))
    assert [s.name for s in best.strategies][-1] == "oracle" and len(best.strategies) == 11
    timed = {s.name: (s.upgrade_at, s.review_days) for s in best.strategies}
    assert timed["fit_up-next-at80-look7_retry"] == (0.8, 7)
    assert "upgrade_at = 0.8" in text and "review_days = 7" in text
    m = store.read_json(out / "manifest.json")
    assert m["validation"]["best_own"] is None and m["winner"] in timed
    assert m["space"]["upgrade_at"] == [1.0, 0.8]
    assert (out / "frontier.png").stat().st_size > 0
    p = sim("run", out / "best.toml", "--paths", 8, "--no-progress", "--out", "again",
            cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    p = sim("report", out / "validation", cwd=tmp_path)
    assert p.returncode == 0, p.stderr


def test_paired_difference_of_the_objective():
    """The winner against the scenario's own best on the same paths: the
    difference of the statistics, with a sectioning interval over the
    replicates (or batches of independent paths; the mean's paired t) that
    covers the true difference about 95% of the time and is far narrower
    than either statistic's own interval (common random numbers)."""
    import numpy as np
    from simengine.optimize.objective import estimate, paired_difference
    rng = np.random.default_rng(2024)
    # a = 1.1 x + noise: the true P95 difference is 0.1 P95(x) + (small)
    big = rng.lognormal(0, 0.5, 2_000_000)
    truth = np.percentile(1.1 * big + rng.normal(0, 0.05, big.size), 95) - np.percentile(big, 95)
    hits, widths, own = 0, [], []
    trials = 300
    for _ in range(trials):
        x = rng.lognormal(0, 0.5, 512)
        a = 1.1 * x + rng.normal(0, 0.05, x.size)
        replicate = np.repeat(np.arange(8), 64)
        d = paired_difference("p95", a, x, replicate)
        assert d.value == pytest.approx(np.percentile(a, 95) - np.percentile(x, 95))
        hits += d.lo <= truth <= d.hi
        widths.append(d.hi - d.lo)
        e = estimate("p95", x, replicate)
        own.append(e.hi - e.lo)
    se = math.sqrt(0.95 * 0.05 / trials)
    assert abs(hits / trials - 0.95) < 4 * se + 0.02, hits / trials   # sectioning is a t interval
    assert np.median(widths) < 0.3 * np.median(own)
    # the mean of independent paths: the paired t interval
    x = rng.normal(100, 10, 400)
    a = x + rng.normal(-1, 1, 400)
    d = paired_difference("mean", a, x)
    diff = a - x
    half = 1.96 * diff.std(ddof=1) / math.sqrt(400)
    assert d.value == pytest.approx(diff.mean())
    assert d.lo == pytest.approx(diff.mean() - half, rel=0.01)
    # independent paths, a percentile: batches of consecutive paths
    d = paired_difference("p95", a, x)
    assert d.lo < d.value < d.hi and not math.isnan(d.lo)
    assert math.isnan(paired_difference("p95", a[:10], x[:10]).lo)
