"""`simengine optimize`: search a space of strategies for the one that
minimises a risk measure of cost, then check the best on fresh paths
(docs/model.md section 13; docs/optimize.md).

    from simengine.optimize import optimize, optimize_table
    res = optimize("default", objective="p95:economic_cost", paths=256, out="results/opt")
    title, columns, rows = optimize_table(res)

Modules: `space` (the [optimize] table, the space, its distinct
candidates), `objective` (the statistic and its interval), `evaluate`
(many candidates per kernel pass), `search` (successive halving),
`validate` (fresh paths), `output` (the directory and the plot).
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import store
from ..executor import make_executor
from ..scenario import (MAX_STRATEGIES, Scenario, ScenarioError, replace_run,
                        scenario_from_dict)
from ..report.words import strategy_words
from ..tables import SECTION, Column, compact_interval, format_table, interval
from . import output
from .evaluate import BATCH, anchors
from .objective import Objective, in_cents
from .search import SearchOutcome, search
from .space import (Candidates, SearchSpace, Settings, check_space, default_space,
                    load_scenario_with_settings, read_settings, read_space_file)
from .validate import Validation, validate

__all__ = ["optimize", "optimize_table", "optimize_notes", "OptimizeResult", "Objective",
           "SearchSpace", "default_space", "resolve_settings"]


@dataclass
class OptimizeResult:
    scenario: Scenario          # as searched: its seed and the search paths
    settings: Settings
    objective: Objective
    space: SearchSpace
    candidates: Candidates
    search: SearchOutcome
    finalists: list             # the top candidates validated (Strategy, search order)
    validation: Validation
    manifest: dict
    scale: float | None = None  # --scale given: the scenario is the file's, scaled
    overrides: tuple = ()       # --set given (KEY=VALUE)

    @property
    def changes(self) -> list:
        """What the command line changed in the scenario file, as options:
        ["--scale 0.02", "--set billing.rule=cumulative"] (empty when nothing)."""
        out = [f"--scale {self.scale:g}"] if self.scale not in (None, 1, 1.0) else []
        return out + [f"--set {o}" for o in self.overrides]

    @property
    def winner(self) -> str:
        return self.validation.winner

    @property
    def best_scenario(self) -> Scenario:
        """The scenario of best.toml (the validation run's)."""
        return self.validation.scenario

    @property
    def winner_index(self):
        """The winner's index among the candidates (None: not one of them)."""
        name = self.winner
        for st, vname in zip(self.finalists, self.validation.finalists):
            if vname == name:
                name = st.name
        for i, st in enumerate(self.candidates.strategies):
            if st.name == name:
                return i
        return None

    @property
    def finalist_indices(self) -> list:
        """The validated top candidates' indices among the candidates."""
        index = {st.name: i for i, st in enumerate(self.candidates.strategies)}
        return [index[st.name] for st in self.finalists]

    @property
    def risk(self) -> list:
        """Each candidate's risk statistic on the search paths it saw: the
        objective's, or P95 when the objective is the mean (for the plot)."""
        if self.objective.stat != "mean":
            return [e.value for e in self.search.estimates]
        x = self.search.samples[self.objective.metric]
        seen = self.search.paths_seen
        return [float(np.percentile(x[:seen[i], i], 95)) for i in range(x.shape[1])]

    @property
    def oracle_risk(self) -> float:
        if self.objective.stat != "mean":
            return self.search.oracle.value
        return float("nan")

    def candidates_table(self):
        return output.candidates_table(self)

    def write(self, directory) -> Path:
        return output.write(self, directory)

    def __repr__(self) -> str:
        title, columns, rows = optimize_table(self)
        return format_table(title, columns, rows, notes=optimize_notes(self))


def _yuan(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.0f}"


def _interval(e) -> str:
    if math.isnan(e.lo) or math.isnan(e.hi):
        return "n/a (too few paths)"
    return interval(_yuan(e.lo), _yuan(e.hi))


def difference(value, own) -> str:
    """`value` less the scenario's best own `own`, in yuan and percent; a
    tie to the cent (float noise of sums taken in another order) is +0, not
    -0."""
    d = value - own
    d = 0.0 if in_cents(d) == 0 else d
    return f"{d:+,.0f}" + (f" ({d / own:+.1%})" if own else "")


def optimize_table(res: OptimizeResult):
    """(title, columns, rows) of the printout (docs/model.md section 13): the validated top
    candidates, best first, then the scenario's best own strategy, then the
    hindsight bound, all on the same validation paths. A scenario with no
    strategy of its own is compared with the bound alone."""
    val, obj = res.validation, res.objective
    stat = obj.label
    # what each row is measured against: the team's best, else the bound
    against = val.best_own if val.best_own else val.oracle
    columns = [Column("", "left"), Column("strategy", "left"),
               Column(f"validated {stat}"),
               Column("95% interval", compact=compact_interval),
               Column(f"vs {against}" if val.best_own else "vs bound", priority=2),
               Column("mean", priority=3), Column(f"search {stat}", priority=1)]
    by_name = {st.name: i for i, st in enumerate(res.candidates.strategies)}
    search_names = dict(zip(val.finalists, (st.name for st in res.finalists)))
    base = val.estimates[against].value

    def row(mark, name):
        e = val.estimates[name]
        diff = ""
        if name not in (val.oracle, against):
            diff = difference(e.value, base)
        i = by_name.get(search_names.get(name, name))
        search = _yuan(res.search.estimates[i].value) if i is not None else ""
        return [mark, name, _yuan(e.value), _interval(e), diff, _yuan(val.means[name]),
                search]

    finalists = sorted(dict.fromkeys(val.finalists),
                       key=lambda n: (in_cents(val.estimates[n].value),
                                      in_cents(val.means[n]), val.finalists.index(n)))
    rows = [row("*" if n == val.winner else "", n) for n in finalists]
    if val.winner not in finalists:
        rows.insert(0, row("*", val.winner))
    if val.best_own is not None:
        rows += [SECTION, row("own best", val.best_own)]
    rows += [SECTION, row("bound", val.oracle)]
    own = ("" if val.best_own else
           "; the scenario has no strategy of its own: compared with the bound alone")
    title = (f"{stat} of {obj.metric} per path over {res.scenario.horizon_years} years: the "
             f"top {len(finalists)} of {len(res.candidates.strategies):,} candidates on "
             f"{val.scenario.paths:,} fresh validation paths (* winner; bound: the hindsight "
             f"plan, the cheapest that blocks nobody, knowing each path's future{own})")
    return title, columns, rows


def winner_lines(res: OptimizeResult) -> list:
    """The winner's rule in words, and what it changes against the
    scenario's own best on the same validation paths: the paired difference
    of the objective with its 95% interval (common random numbers make it
    far narrower than either strategy's own interval)."""
    val, obj = res.validation, res.objective
    rules = {st["name"]: st for st in val.scenario.resolved["strategy"]}
    segments = [s.name for s in val.scenario.segments]
    lines = [f"winner {val.winner}: {strategy_words(rules[val.winner], segments)}"]
    if val.paired is not None:
        p = val.paired
        ci = ("no interval (too few paths)" if math.isnan(p.lo) else
              f"95% interval {_yuan(p.lo)} to {_yuan(p.hi)}")
        lines.append(f"{val.winner} less {val.best_own} on the same {p.n:,} paths: "
                     f"{obj.label} of {obj.metric} {p.value:+,.0f} yuan ({ci})")
    elif val.best_own is not None:
        lines.append(f"the scenario's own {val.best_own} is the winner: no candidate of the "
                     f"space beats it on the validation paths")
    return lines


def optimize_notes(res: OptimizeResult) -> list:
    """Lines printed under the table: the winner in words and against the
    scenario's own best, what the search did and how long it took."""
    c, s, m = res.candidates, res.search, res.manifest
    seen = {}
    for n in s.paths_seen:
        seen[int(n)] = seen.get(int(n), 0) + 1
    paths = ", ".join(f"{k:,} paths: {v:,}" for k, v in sorted(seen.items(), reverse=True))
    return winner_lines(res) + [
        f"space: {c.combinations:,} combinations, {len(c.strategies):,} distinct candidates "
        f"({c.own} the scenario's own; duplicates and meaningless combinations evaluated once)",
        f"search: {s.dropped:,} dropped by pruning; candidates per paths seen: {paths}; "
        f"{s.candidate_paths:,} strategy-paths in {s.passes} kernel passes",
        f"time: search {m['search']['wall_seconds']:.0f} s, validation "
        f"{m['validation']['wall_seconds']:.0f} s, in all {m['wall_seconds']:.0f} s "
        f"({m['executor'].get('executor', '?')}, {m['threads']} "
        f"thread{'' if m['threads'] == 1 else 's'})",
    ]


# --------------------------------------------------------------------------

def _positive(name, value, where):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ScenarioError(f"{where}{name}: expected an integer >= 1, got {value!r}")
    return int(value)


def resolve_settings(scenario=None, space=None, objective=None, paths=None,
                     validate_paths=None, top=None, overrides=(), scale=None):
    """(Scenario, Settings, SearchSpace, Candidates): everything `optimize`
    checks before any work. `scenario`: a Scenario, a file or bundled name
    (its [optimize] table is read), None for the bundled default; `space`:
    a --space file, a dict of lists (the [optimize.space] table), a list of
    them (`[[optimize.space]]` tables: their union) or a SearchSpace; the
    keywords win over the files. A scenario file may have no [[strategy]]."""
    if isinstance(scenario, Scenario):
        scn, raw = scenario, None
    else:
        scn, raw = load_scenario_with_settings(
            None if scenario is None else os.fspath(scenario), overrides, scale)
    settings = read_settings(raw, scn, scn.source)
    if isinstance(space, (str, os.PathLike)):
        settings = read_space_file(os.fspath(space), scn, fallback=settings)
    elif isinstance(space, (dict, list)):
        settings = dataclasses.replace(settings, space=check_space(space, scn, "space",
                                                                   prefix="space."))
    elif isinstance(space, SearchSpace):
        settings = dataclasses.replace(settings, space=space)
    elif space is not None:
        raise ScenarioError(f"space: expected a file, a dict of lists (or a list of them: "
                            f"their union) or a SearchSpace, "
                            f"got {type(space).__name__}")
    changes = {}
    if objective is not None:
        changes["objective"] = (objective if isinstance(objective, Objective)
                                else Objective.parse(objective, "objective"))
    for name, value in (("paths", paths), ("validate_paths", validate_paths), ("top", top)):
        if _positive(name, value, "") is not None:
            changes[name] = int(value)
    settings = dataclasses.replace(settings, **changes)
    has_oracle = any(s.renewal == "oracle" for s in scn.strategies)
    room = MAX_STRATEGIES - len(scn.strategies) - (0 if has_oracle else 1)
    if settings.top > room:
        raise ScenarioError(f"{settings.source}: top: expected at most {max(room, 0)} (best.toml "
                            f"holds the top candidates, the scenario's {len(scn.strategies)} "
                            f"strategies and an oracle: at most {MAX_STRATEGIES}), "
                            f"got {settings.top}")
    chosen = settings.space or default_space(scn)
    found = chosen.candidates(scn)
    check_candidates(scn, found.strategies)
    return scn, settings, chosen, found


def check_candidates(scn, strategies):
    """Every candidate through the scenario's own checks (a tier of the
    ladder, known segments, certification...), as a scenario file would be:
    in groups that fit a scenario, with the strategies an [uncertainty] key
    names."""
    pinned = anchors(scn)
    size = MAX_STRATEGIES - len(pinned)
    for lo in range(0, len(strategies), size):
        group = list(strategies[lo:lo + size])
        group += [a for a in pinned if a.name not in {g.name for g in group}]
        trial = dataclasses.replace(scn, strategies=tuple(group))
        try:
            scenario_from_dict(trial.resolved, scn.source)
        except ScenarioError as e:
            raise ScenarioError([f"a candidate of the space is not a valid strategy: {p}"
                                 for p in e.problems], scn.source) from None


def _executor(executor):
    if executor is None:
        return make_executor("local"), True
    if isinstance(executor, str):
        return make_executor(executor), True
    return executor, False


def optimize(scenario=None, space=None, objective=None, paths=None, validate_paths=None,
             top=None, out=None, executor=None, prune=True, progress=None,
             overrides=(), scale=None, batch=BATCH, on_stage=None) -> OptimizeResult:
    """Search the space for the strategy with the lowest objective, then
    validate the best on fresh paths (docs/model.md section 13).

    `scenario`: a Scenario, a scenario file (its [optimize] table is read)
    or a bundled name (default: the bundled default; it may have no
    [[strategy]]: the winners are then compared with the hindsight bound
    alone). `space`: a --space file, a dict of lists, a list of them (their
    union), or a SearchSpace (default: the file's, else
    `default_space`). `objective` "STAT:METRIC" (default: the file's, else
    "p95:economic_cost"); `paths` search paths (256), `validate_paths`
    (1,024), `top` candidates validated (5). `out`: write the output
    directory there (it must not exist). `executor`: an executor object,
    "local" or "dask" (default: local, all threads). `prune`: successive
    halving (False: every candidate on every search path). `progress(done,
    total)`: strategy-paths; `on_stage(text)`: each stage as it starts
    (a search rung, the validation). Bad input is a ScenarioError before
    any work.
    """
    start = time.perf_counter()
    scn, settings, chosen, found = resolve_settings(
        scenario, space, objective, paths, validate_paths, top, overrides, scale)
    obj = settings.objective
    if out is not None:
        store.check_creatable(out)
    search_scn = replace_run(scn, paths=settings.paths)
    validate_scn = replace_run(scn, paths=settings.validate_paths)
    own_rows = len(scn.strategies) + (0 if any(s.renewal == "oracle"
                                               for s in scn.strategies) else 1)
    validation_work = validate_scn.paths * (settings.top + own_rows)
    searched = [0]

    def search_progress(done, total):
        searched[0] = total
        if progress is not None:
            progress(done, total + validation_work)

    ex, owned = _executor(executor)
    try:
        outcome = search(search_scn, found.strategies, obj, ex, prune=prune,
                         keep=settings.top, batch=batch, progress=search_progress,
                         on_stage=on_stage)
        finalists = [found.strategies[i] for i in outcome.order()[:settings.top]]
        t = time.perf_counter()
        if on_stage is not None:
            own = ", the scenario's own strategies" if scn.strategies else ""
            on_stage(f"validation: the top {len(finalists):,}{own} and the hindsight bound "
                     f"on {validate_scn.paths:,} fresh paths")

        def validation_progress(done, total):
            if progress is not None:
                progress(searched[0] + done * validation_work // max(total, 1),
                         searched[0] + validation_work)
        val = validate(scn, finalists, obj, validate_scn.paths, ex,
                       progress=validation_progress)
        validation_seconds = time.perf_counter() - t
        described = ex.describe() if hasattr(ex, "describe") else {}
        threads = getattr(ex, "threads", 1)
    finally:
        if owned:
            ex.close()
    res = OptimizeResult(search_scn, settings, obj, chosen, found, outcome, finalists, val, {},
                         scale=scale, overrides=tuple(overrides or ()))
    res.manifest = _manifest(res, scn, prune, validation_seconds, described, threads,
                             time.perf_counter() - start)
    if out is not None:
        res.write(out)
    return res


def _manifest(res, scn, prune, validation_seconds, described, threads, wall):
    found, outcome, val = res.candidates, res.search, res.validation
    return store.manifest(
        "optimize",
        scenario=scn.resolved, scenario_sha256=scn.sha256,
        scale=res.scale, overrides=list(res.overrides),
        objective=str(res.objective), space=res.space.as_data(),
        space_source=res.space.source,
        search=dict(seed=res.scenario.seed, paths=res.scenario.paths, prune=prune,
                    combinations=found.combinations, candidates=len(found.strategies),
                    own_strategies=found.own, duplicates_removed=found.duplicates,
                    dropped=outcome.dropped,
                    rungs=[dataclasses.asdict(r) for r in outcome.rungs],
                    strategy_paths=outcome.candidate_paths, kernel_passes=outcome.passes,
                    simulate_seconds=outcome.seconds, wall_seconds=outcome.wall_seconds),
        validation=dict(seed=val.scenario.seed, paths=val.scenario.paths,
                        top=res.settings.top,
                        strategies=[s.name for s in val.scenario.strategies],
                        winner=val.winner, best_own=val.best_own, oracle=val.oracle,
                        paired_difference=None if val.paired is None else dict(
                            value=val.paired.value, paths=val.paired.n,
                            **{k: None if math.isnan(v) else v for k, v in
                               (("lo", val.paired.lo), ("hi", val.paired.hi))}),
                        best_scenario_sha256=val.scenario.sha256,
                        simulate_seconds=val.result.manifest.get("wall_seconds"),
                        wall_seconds=validation_seconds),
        winner=val.winner, executor=described, threads=threads, wall_seconds=wall)
