"""simengine.optimize (docs/model.md section 13): the space and its distinct
candidates, the objective's intervals, many candidates per kernel pass on
the same paths, the pruned search against exhaustive evaluation, the
validation on fresh paths, the output directory, and bit-identical results
across threads and executors. Small populations keep it fast."""
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import simengine
from simengine import store
from simengine.executor import LocalExecutor, make_executor
from simengine.optimize import optimize, optimize_notes, optimize_table, resolve_settings
from simengine.optimize.evaluate import evaluate, oracle_of
from simengine.optimize.objective import Objective, estimate
from simengine.optimize.output import efficient_frontier
from simengine.optimize.search import rung_sizes, search
from simengine.optimize.space import (_strategy, check_space, default_space, read_space_file,
                                      rules)
from simengine.scenario import ScenarioError, replace_run
from simengine.stats import distribution_stats
from simengine.tables import format_table


@pytest.fixture(scope="module")
def small():
    """The bundled default at 2% (20,000 customers): about a millisecond a
    strategy-path."""
    return simengine.load_scenario("default", scale=0.02)


@pytest.fixture(scope="module")
def small_mc(small):
    return dataclasses.replace(small, sampling="mc", replicates=1)


class NoWork:
    """An executor that fails the test if anything is simulated."""
    threads = 1

    def prepare(self, packed):
        raise AssertionError("work started")

    def simulate(self, *a, **k):
        raise AssertionError("work started")


class Counting(LocalExecutor):
    """The local executor, noting the strategy rows of every pass."""

    def __init__(self):
        super().__init__(1)
        self.rows = []

    def simulate(self, packed, seed, paths, chunk, progress=None, *a, **k):
        self.rows.append(list(packed.strategy_names))
        return super().simulate(packed, seed, paths, chunk, progress, *a, **k)


# --------------------------------------------------------------------------
# the space

@pytest.mark.parametrize("space, key, words", [
    ({"renewals": ["fit"]}, "space.renewals", "unknown key"),
    ({"reserve.whales": [0, 10]}, "space.reserve.whales", "unknown segment"),
    ({"admit": [["vip", "whales"]]}, "space.admit", "segment names"),
    ({"headroom": []}, "space.headroom", "non-empty list"),
    ({"renewal": "fit"}, "space.renewal", "non-empty list"),
    ({"tier": ["200k"]}, "space.tier", "tier size"),
    ({"tier": [123]}, "space.tier", "tier size"),
    ({"renewal": ["oracle"]}, "space.renewal", 'one of "none"'),
    ({"renewal": ["fixed"]}, "space.tier", "required"),
    ({"max_retries": [1.5]}, "space.max_retries", "integer"),
    ({"headroom": [-0.1]}, "space.headroom", "non-negative"),
])
def test_a_bad_space_is_a_clear_error_before_any_work(small, tmp_path, space, key, words):
    out = tmp_path / "out"
    with pytest.raises(ScenarioError) as e:
        optimize(small, space=space, paths=16, executor=NoWork(), out=out)
    assert key in str(e.value) and words in str(e.value)
    assert not out.exists()


def test_a_space_file_error_names_the_file_and_key(small, tmp_path):
    f = tmp_path / "space.toml"
    f.write_text('[optimize]\nobjective = "p97:economic_cost"\n[optimize.space]\n'
                 'upgrade = ["next", 3]\n')
    with pytest.raises(ScenarioError) as e:
        read_space_file(f, small)
    text = str(e.value)
    assert f"{f}: optimize.objective" in text and "p95" in text
    assert f"{f}: optimize.space.upgrade" in text and "got 3" in text
    f.write_text("[optimize.space]\nrenewal = ['fit']\n[scenario]\nname = 'x'\n")
    with pytest.raises(ScenarioError, match="scenario: unknown table"):
        read_space_file(f, small)


def test_an_uncertified_scenario_cannot_search_tiers(tmp_path):
    scn = simengine.load_scenario("tests/golden/uncertified.toml")
    with pytest.raises(ScenarioError, match="certified = false"):
        check_space({"renewal": ["none", "fit"], "upgrade": ["none"]}, scn, "s")
    assert all(st.renewal == "none" and st.upgrade == "none"
               for st in default_space(scn).candidates(scn).strategies[1:])


def test_duplicates_and_meaningless_combinations_are_evaluated_once(small):
    space = {"renewal": ["fixed", "fit"], "tier": [5000, 20000], "headroom": [0.0, 0.1],
             "upgrade": ["none"], "on_blocked": ["lost", "overflow", "retry"],
             "max_retries": [0, 2], "retry_days": [7, 14],
             "admit": [["vip", "repeat", "new", "prospect"], ["prospect", "new", "repeat", "vip"],
                       ["vip"]],
             "others": ["lost", "overflow"], "reserve.vip": [0], "reserve.new": [0, 100]}
    sp = check_space(space, small, "s")
    found = sp.candidates(small)
    new = found.strategies[found.own:]
    # fixed: 2 tiers; fit: 2 headrooms. blocked: lost, overflow, retry x (2 retries: 2 days)
    # (retry with 0 retries is lost). admit all (2 spellings) + vip x 2 others.
    # reserve.new only where new is admitted.
    # fixed: 2 tiers (headroom means nothing); fit: 2 headrooms. Blocked: lost,
    # overflow, retry x 2 delays (retry with 0 retries is lost). Admission:
    # every segment (two spellings, `others` means nothing) x reserve.new 0/100,
    # or vip alone x 2 others (reserve.new means nothing)
    expected = (2 + 2) * (1 + 1 + 2) * (2 + 2)
    assert len(new) + _own_in_product(small, sp) == expected == 64
    assert found.duplicates == sp.combinations() - len(new)
    assert len({dataclasses.replace(s, name="") for s in found.strategies}) == len(
        found.strategies)
    assert len({s.name for s in found.strategies}) == len(found.strategies)
    counting = Counting()
    paths = 4
    scn = replace_run(small, paths=paths)
    evaluate(scn, found.strategies, 0, paths, ["economic_cost"], counting, batch=50)
    rows = [n for r in counting.rows for n in r]
    oracle = oracle_of(scn).name
    assert sorted(n for n in rows if n != oracle) == sorted(s.name for s in found.strategies)
    assert rows.count(oracle) == 1


def _own_in_product(scn, sp):
    """How many of the scenario's own strategies the product holds (they are
    candidates under their own names, not again under a new one)."""
    products = {rules(_strategy(combo), scn) for combo in sp.combos()}
    return len({rules(st, scn) for st in scn.strategies if st.renewal != "oracle"} & products)


def test_the_default_space_is_documented_and_holds_the_scenarios_own(small):
    full = simengine.load_scenario("default")
    sp = default_space(full)
    rules_product, plain_timing, *own_timing = sp.as_data()
    d = rules_product
    assert d["renewal"] == ["none", "fixed", "fit", "forecast"]
    assert d["tier"] == [200_000, 500_000, 1_000_000]
    assert d["reserve.prospect"] == [0, 20_000] and d["reserve.new"] == [0, 5_000]
    found = sp.candidates(full)
    assert [s.name for s in found.strategies[:found.own]] == [
        s.name for s in full.strategies if s.renewal != "oracle"]
    assert "upgrade_at" not in d and "review_days" not in d
    # when to order: the plain upgrading rules, and the scenario's own that upgrade
    assert plain_timing["upgrade"] == ["next"] and "admit" not in plain_timing
    assert plain_timing["upgrade_at"] == [1.0, 0.9, 0.8, 0.7]
    assert plain_timing["review_days"] == [0, 7, 30]
    upgrading = [s for s in full.strategies if s.renewal != "oracle" and s.upgrade != "none"]
    assert len(own_timing) == len(upgrading) == 3
    assert [t["renewal"] for t in own_timing] == [[s.renewal] for s in upgrading]
    # the rules alone are 762 (5,184 combinations); when to order adds 142
    assert sp.combinations() == 5_184 + (4 * 3 * 2) * 12 + 3 * 12     # tier lists multiply all
    assert len(found.strategies) == 904
    rules_only = dataclasses.replace(sp, products=sp.products[:1]).candidates(full)
    assert len(rules_only.strategies) == 762
    assert [s.name for s in found.strategies[:762]] == [s.name for s in rules_only.strategies]
    with open(Path(__file__).parents[1] / "docs" / "optimize.md", encoding="utf-8") as f:
        assert "904 distinct\ncandidates" in f.read()


# --------------------------------------------------------------------------
# the objective

def test_objective_intervals():
    rng = np.random.default_rng(3)
    x = rng.lognormal(10, 0.5, 400)
    ref = distribution_stats(x)
    for stat in ("p95", "cvar95"):        # the summary's numbers, under mc
        e = estimate(stat, x)
        assert (e.value, e.lo, e.hi) == (ref[stat], ref[f"{stat}_lo"], ref[f"{stat}_hi"])
    rep = np.repeat(np.arange(8), 50)
    ref = distribution_stats(x, rep)       # and under sobol (sectioning)
    for stat in ("p95", "cvar95"):
        e = estimate(stat, x, rep)
        assert (e.value, e.lo, e.hi) == (ref[stat], ref[f"{stat}_lo"], ref[f"{stat}_hi"])
    m = estimate("mean", x)
    assert m.value == x.mean() and math.isclose(
        m.hi - m.value, stats.t.ppf(0.975, 399) * x.std(ddof=1) / 20)
    q = estimate("p90", x)
    ranks = np.searchsorted(np.sort(x), [q.lo, q.hi]) + 1   # 1-based order statistics
    assert list(ranks) == [int(stats.binom.ppf(0.025, 400, 0.9)),
                           int(stats.binom.ppf(0.975, 400, 0.9)) + 1]
    for stat in ("p50", "p90", "p95", "p99", "cvar95", "mean"):
        n = Objective(stat, "economic_cost").min_paths()
        assert not math.isnan(estimate(stat, x[:n]).hi), stat
        if n > 2:
            assert math.isnan(estimate(stat, x[:n - 1]).hi), stat
    assert Objective("p95", "x").min_paths() == 72


def test_sectioning_interval_of_the_other_statistics():
    rng = np.random.default_rng(5)
    x = rng.normal(size=64)
    rep = np.repeat(np.arange(8), 8)
    e = estimate("mean", x, rep)
    q_r = x.reshape(8, 8).mean(axis=1)
    half = stats.t.ppf(0.975, 7) * math.sqrt(((q_r - x.mean()) ** 2).sum() / 56)
    assert math.isclose(e.hi - e.value, half) and e.value == x.mean()
    p50 = estimate("p50", x, rep)
    q_r = np.percentile(x.reshape(8, 8), 50, axis=1)
    assert math.isclose(p50.hi - p50.value, stats.t.ppf(0.975, 7) * math.sqrt(
        ((q_r - np.percentile(x, 50)) ** 2).sum() / 56))
    # one replicate, or replicates of unequal size: independent paths
    assert estimate("p50", x, np.zeros(64)) == estimate("p50", x)
    assert estimate("p50", x[:60], rep[:60]) == estimate("p50", x[:60])


def test_objective_parse():
    assert str(Objective.parse("cvar95:regret")) == "cvar95:regret"
    # any case, as a user types it: P95 is how every table writes it
    for text in ("P95:ECONOMIC_COST", "P95:economic_cost", " p95 : Economic_Cost "):
        assert Objective.parse(text) == Objective("p95", "economic_cost")
    assert str(Objective.parse("CVaR95:Total_Cost")) == "cvar95:total_cost"
    from simengine.cli.parser import build_parser
    args = build_parser().parse_args(["optimize", "--objective", "P95:ECONOMIC_COST"])
    assert Objective.parse(args.objective) == Objective("p95", "economic_cost")
    for bad in ("p95", "p97:economic_cost", "mean:blocked", 3):
        with pytest.raises(ScenarioError, match="STAT:METRIC"):
            Objective.parse(bad)


# --------------------------------------------------------------------------
# evaluation on the same paths

def test_a_window_of_search_paths_equals_a_plain_run_bit_for_bit(small):
    """Candidates in passes of any size, on any window of the search paths,
    give the numbers of one plain run of all of them (sobol sampling)."""
    scn = replace_run(small, paths=32)
    strategies = default_space(scn).candidates(scn).strategies[:20]
    oracle = oracle_of(scn)
    plain = simengine.run(dataclasses.replace(scn, strategies=tuple(strategies) + (oracle,)),
                          threads=1)
    S = len(strategies) + 1
    econ = plain.paths.column("economic_cost").to_numpy().reshape(32, S)
    regret = plain.paths.column("regret").to_numpy().reshape(32, S)
    ex = LocalExecutor(1)
    a = evaluate(scn, strategies, 8, 24, ["economic_cost", "regret"], ex, batch=6)
    b = evaluate(scn, strategies, 8, 24, ["economic_cost", "regret"], ex, batch=64)
    assert list(a.paths) == list(range(8, 24))
    for part in (a, b):
        assert np.array_equal(part.values["economic_cost"], econ[8:24, :-1])
        assert np.array_equal(part.values["regret"], regret[8:24, :-1])
        assert np.array_equal(part.replicate,
                              plain.paths.column("replicate").to_numpy()[::S][8:24])
    assert a.passes > b.passes == 1


def test_more_than_64_strategies_in_one_pass(small):
    scn = replace_run(small, paths=2)
    strategies = default_space(scn).candidates(scn).strategies[:100]
    one = evaluate(scn, strategies, 0, 2, ["total_cost"], LocalExecutor(1), batch=200)
    many = evaluate(scn, strategies, 0, 2, ["total_cost"], LocalExecutor(1), batch=30)
    assert one.passes == 1 and np.array_equal(one.values["total_cost"],
                                              many.values["total_cost"])


# --------------------------------------------------------------------------
# the search against exhaustive evaluation

SMALL_SPACE = {"renewal": ["fit", "forecast", "fixed"], "tier": [5_000, 20_000],
               "headroom": [0.0, 0.2], "upgrade": ["none", "next"],
               "on_blocked": ["retry"]}


def exhaustive(scn, strategies, objective, paths, seed):
    """Every strategy on `paths` paths: {name: Estimate}."""
    run = simengine.run(dataclasses.replace(scn, strategies=tuple(strategies)), paths=paths,
                        seed=seed, threads=2)
    S = len(strategies)
    x = run.paths.column(objective.metric).to_numpy().reshape(-1, S)
    rep = run.paths.column("replicate").to_numpy()[::S]
    return {st.name: objective.estimate(x[:, i], rep) for i, st in enumerate(strategies)}


@pytest.mark.parametrize("prune", [True, False])
def test_optimize_finds_the_exhaustive_best(small, prune):
    obj = Objective.parse("p95:economic_cost")
    _, _, _, found = resolve_settings(small, SMALL_SPACE)
    truth = exhaustive(small, found.strategies, obj, 1024, 777)
    best = min(truth, key=lambda n: (truth[n].value, n))
    res = optimize(small, space=SMALL_SPACE, paths=128, validate_paths=256, top=3,
                   prune=prune, executor=LocalExecutor(2))
    winner = _search_name(res, res.winner)
    # the best on many paths, or one within its interval there
    assert winner == best or truth[winner].value <= truth[best].hi, (winner, best)
    assert res.validation.estimates[res.winner].value <= \
        res.validation.estimates[res.validation.best_own].value
    if prune:
        assert res.search.dropped > 0


def _search_name(res, validation_name):
    for st, v in zip(res.finalists, res.validation.finalists):
        if v == validation_name:
            return st.name
    return validation_name


@pytest.mark.parametrize("seed", [1, 2])
def test_pruning_never_drops_the_exhaustive_winner(small, seed):
    """Close candidates (headrooms 3% apart, three upgrade rules, fixed tiers
    around the contacts): the winner of the search without pruning sees every
    search path with pruning, and is ranked first or within its interval."""
    scn = replace_run(small, paths=256, seed=seed)
    space = check_space({"renewal": ["fit", "forecast", "fixed"], "tier": [5_000, 20_000],
                         "headroom": [0.0, 0.03, 0.06], "upgrade": ["next", "fit", "none"],
                         "on_blocked": ["retry"]}, scn, "s")
    strategies = space.candidates(scn).strategies
    obj = Objective.parse("p95:economic_cost")
    assert rung_sizes(256, obj, scn) == [64, 128, 256]      # 8 replicates of 32 paths
    full = search(scn, strategies, obj, LocalExecutor(2), prune=False)
    pruned = search(scn, strategies, obj, LocalExecutor(2), prune=True)
    assert pruned.dropped > 0 and full.dropped == 0
    winner = int(np.argmin(full.rank))
    assert pruned.paths_seen[winner] == 256
    assert pruned.estimates[winner] == full.estimates[winner]     # the same paths
    first = int(np.argmin(pruned.rank))
    assert first == winner or full.estimates[first].value <= full.estimates[winner].hi
    close = [i for i, e in enumerate(full.estimates)
             if e.lo <= full.estimates[winner].hi and i != winner]
    assert close, "no candidate close to the winner: the case tests nothing"
    # a candidate dropped was no better than the winner on every search path
    for i in np.flatnonzero(pruned.paths_seen < 256):
        assert full.estimates[i].value >= full.estimates[winner].value


def test_rungs_start_where_the_objective_has_an_interval(small_mc, small):
    p95 = Objective.parse("p95:economic_cost")
    assert rung_sizes(512, p95, small_mc) == [128, 256, 512]     # 72 paths at least
    assert rung_sizes(256, p95, small_mc) == [128, 256]
    assert rung_sizes(256, Objective.parse("mean:total_cost"), small_mc) == [32, 64, 128, 256]
    assert rung_sizes(64, p95, small) == [16, 32, 64]            # 2 replicates of 8
    assert rung_sizes(100, p95, small_mc) == [100]


# --------------------------------------------------------------------------
# output, determinism

def test_output_directory(small, tmp_path):
    out = tmp_path / "opt"
    res = optimize(small, space=SMALL_SPACE, paths=64, validate_paths=64, top=2, out=out,
                   executor=LocalExecutor(2))
    assert sorted(p.name for p in out.iterdir()) == [
        "best.toml", "candidates.arrow", "frontier.png", "manifest.json", "validation"]
    cand = store.read_table(out / "candidates.arrow")
    assert cand.num_rows == len(res.candidates.strategies)
    assert cand.column("rank").to_pylist() == list(range(1, cand.num_rows + 1))
    assert sum(cand.column("validated").to_pylist()) == 2 + len(
        [s for s in small.strategies if s.renewal != "oracle"]) - sum(
        1 for st in res.finalists if st.name in {s.name for s in small.strategies})
    assert cand.schema.metadata[b"objective"] == b"p95:economic_cost"
    # best.toml runs as written and gives the validation run again
    best = simengine.load_scenario(str(out / "best.toml"))
    again = simengine.run(best, threads=1)
    assert store.table_bytes(again.paths) == store.table_bytes(
        store.read_table(out / "validation" / "paths.arrow"))
    names = [s.name for s in best.strategies]
    assert names[-1] == "oracle" and res.winner in names
    m = store.read_json(out / "manifest.json")
    assert m["kind"] == "optimize" and m["validation"]["seed"] != m["search"]["seed"]
    assert m["search"]["candidates"] == cand.num_rows
    with pytest.raises(FileExistsError):
        optimize(small, space=SMALL_SPACE, paths=16, executor=NoWork(), out=out)
    title, columns, rows = optimize_table(res)
    text = format_table(title, columns, rows, notes=optimize_notes(res))
    assert "hindsight" in title and res.winner in text and "oracle" in text


def test_best_toml_carries_the_scale_and_the_changes(tmp_path):
    """`optimize --scale 0.02` simulated 20,000 customers: best.toml holds
    those values and says so, so running it gives the validation run."""
    out = tmp_path / "opt"
    res = optimize("default", space={"renewal": ["fit"], "headroom": [0.0, 0.2]}, paths=16,
                   validate_paths=16, top=1, out=out, executor=LocalExecutor(2), scale=0.02,
                   overrides=["billing.rule=cumulative"])
    text = (out / "best.toml").read_text()
    head = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert head[0].endswith("default.toml with --scale 0.02 --set billing.rule=cumulative")
    assert ("--scale 0.02 --set billing.rule=cumulative is written into the values below "
            "(population.size 20,000 and 2,000 initial contacts in all: the scaled "
            "values)") in head[1]
    best = simengine.load_scenario(str(out / "best.toml"))
    assert best.population == 20_000 and best.billing.rule == "cumulative"
    assert best.sha256 == res.best_scenario.sha256
    m = store.read_json(out / "manifest.json")
    assert m["scale"] == 0.02 and m["overrides"] == ["billing.rule=cumulative"]
    assert res.changes == ["--scale 0.02", "--set billing.rule=cumulative"]
    # no change given: the header says nothing of one
    res = optimize(res.best_scenario, space={"renewal": ["fit"]}, paths=16, validate_paths=16,
                   top=1, out=tmp_path / "plain", executor=LocalExecutor(2))
    assert "--scale" not in (tmp_path / "plain" / "best.toml").read_text()


def test_frontier_labels_cover_no_label_and_no_marker(small):
    """frontier.png's names sit where they cover no other name and no
    marker, inside their panel (they used to stack onto each other and onto
    the winner's star)."""
    from simengine.optimize.output import frontier_figure
    res = optimize(small, space=SMALL_SPACE, paths=64, validate_paths=32, top=3,
                   executor=LocalExecutor(2))
    fig = frontier_figure(res)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        names = [t for t in ax.texts if t.get_text()]
        assert names, ax.get_title()
        boxes = [t.get_window_extent(renderer) for t in names]
        inside = ax.get_window_extent(renderer)
        for t, b in zip(names, boxes):
            assert inside.x0 <= b.x0 and b.x1 <= inside.x1, t.get_text()
            assert inside.y0 <= b.y0 and b.y1 <= inside.y1, t.get_text()
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                w = min(a.x1, b.x1) - max(a.x0, b.x0)
                h = min(a.y1, b.y1) - max(a.y0, b.y0)
                assert w <= 0.5 or h <= 0.5, (a, b)
        centres = np.concatenate([c.get_offset_transform().transform(c.get_offsets())
                                  for c in ax.collections if len(c.get_offsets())])
        for t, b in zip(names, boxes):
            hit = [(x, y) for x, y in centres if b.x0 < x < b.x1 and b.y0 < y < b.y1]
            assert not hit, (t.get_text(), hit)
    pyplot_close(fig)


def pyplot_close(fig):
    from simengine.report.plots import pyplot
    pyplot().close(fig)


def test_identical_across_threads_and_executors(small):
    kw = dict(space=SMALL_SPACE, paths=32, validate_paths=16, top=2)
    one = optimize(small, executor=LocalExecutor(1), **kw)
    two = optimize(small, executor=LocalExecutor(2), **kw)
    with make_executor("dask", workers=2) as ex:
        dask = optimize(small, executor=ex, **kw)
    for other in (two, dask):
        assert store.table_bytes(one.candidates_table()) == store.table_bytes(
            other.candidates_table())
        assert store.table_bytes(one.validation.result.paths) == store.table_bytes(
            other.validation.result.paths)


def test_the_optimize_table_of_a_scenario_file(small, tmp_path):
    """[optimize] in the scenario file is read; a --space file and the
    keywords win over it."""
    from simengine.scenario import to_toml
    f = tmp_path / "s.toml"
    f.write_text(to_toml(small.resolved) + '\n[optimize]\nobjective = "mean:total_cost"\n'
                 'paths = 48\ntop = 2\n[optimize.space]\nrenewal = ["fit"]\n'
                 'headroom = [0.0, 0.3]\n')
    scn, settings, space, found = resolve_settings(f)
    assert (str(settings.objective), settings.paths, settings.top) == ("mean:total_cost", 48, 2)
    assert space.as_data() == {"renewal": ["fit"], "headroom": [0.0, 0.3]}
    g = tmp_path / "space.toml"
    g.write_text('[optimize]\npaths = 64\n[optimize.space]\nrenewal = ["forecast"]\n')
    _, settings, space, _ = resolve_settings(f, space=g, top=3)
    assert (settings.paths, settings.top, str(settings.objective)) == (64, 3, "mean:total_cost")
    assert space.as_data() == {"renewal": ["forecast"]}
    f.write_text(to_toml(small.resolved) + '\n[optimize]\nsteps = 3\n')
    with pytest.raises(ScenarioError, match=r"optimize\.steps: unknown key"):
        resolve_settings(f)


def test_efficient_frontier():
    risk = [5, 4, 3, 6, 2, 2]
    mean = [1, 2, 2.5, 0.5, 4, 5]
    assert efficient_frontier(risk, mean) == [4, 2, 1, 0, 3]


def test_ties_to_the_cent_go_to_the_lower_mean_then_the_scenarios_own():
    """Costs equal but for float noise tie; the lower mean, then candidate
    order (the scenario's own strategies come first) decide."""
    from simengine.optimize.objective import Estimate
    from simengine.optimize.search import ranking
    same = [Estimate(100.0 + 1e-9, 99.0, 101.0, 10), Estimate(100.0, 99.0, 101.0, 10)]
    seen = np.array([10, 10])
    assert list(ranking(same, seen, np.array([50.0 + 1e-9, 50.0]))) == [1, 2]
    assert list(ranking(same, seen, np.array([50.02, 50.0]))) == [2, 1]
    assert list(ranking(same, np.array([5, 10]), np.array([50.0, 50.0]))) == [2, 1]


def test_the_difference_from_the_own_best_reads_as_money():
    from simengine.optimize import difference
    assert difference(21179.58904109589, 21179.589041095893) == "+0 (+0.0%)"
    assert difference(130808.0, 130808.0) == "+0 (+0.0%)"
    assert difference(131808.0, 130808.0) == "+1,000 (+0.8%)"
    assert difference(129808.4, 130808.0) == "-1,000 (-0.8%)"


def test_a_bad_objective_option_is_named_before_any_work(capsys):
    from simengine import cli
    assert cli.main(["optimize", "--objective", "p97:economic_cost", "--out",
                     "never-written"]) == 2
    err = capsys.readouterr().err
    assert "argument --objective: expected STAT:METRIC" in err and "p97" in err
    assert "Traceback" not in err
