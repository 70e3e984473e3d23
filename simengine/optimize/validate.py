"""Validation: the search's top candidates, the scenario's own strategies
and the hindsight plan (an oracle) on fresh paths, so that the answer is
not the luck of the search paths (docs/model.md section 13).

The fresh paths are path numbers 0 .. V-1 under another seed, derived from
the scenario's (`validation_seed`). The validation scenario (the scenario
with those strategies, that seed and V paths) is the `best.toml` that
`optimize` writes: `simengine run best.toml` gives the validation run again,
bit for bit.

The winner is the strategy with the lowest validated objective (on a tie,
the lower mean; then the scenario's own first) among the validated ones
(the oracle aside): the top candidates and the scenario's own
strategies, which the space always contains. Choosing among a dozen on the
same paths flatters the winner's validated value slightly (the least of a
dozen estimates); the interval beside it is that of a single strategy.
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np

from .. import engine
from ..scenario import MAX_STRATEGIES, replace_run
from .evaluate import oracle_of
from .objective import Objective, in_cents, paired_difference
from .space import rules


def validation_seed(seed: int) -> int:
    """A seed unrelated to the search's, the same for the same scenario seed."""
    digest = hashlib.sha256(f"simengine optimize validation {int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def validation_scenario(scn, finalists, seed, paths):
    """The scenario holding the finalists (search order), then the
    scenario's own strategies, then an oracle if it has none. A finalist
    that is one of the scenario's own strategies appears once, under its
    own name."""
    own = list(scn.strategies)
    own_rules = {rules(st, scn) for st in own if st.renewal != "oracle"}
    new = [st for st in finalists if rules(st, scn) not in own_rules]
    rows = new + own
    if not any(st.renewal == "oracle" for st in own):
        rows.append(oracle_of(scn))
    if len(rows) > MAX_STRATEGIES:
        raise ValueError(f"{len(rows)} strategies to validate; a scenario holds at most "
                         f"{MAX_STRATEGIES}")
    return replace_run(dataclasses.replace(scn, strategies=tuple(rows)), paths=paths, seed=seed)


@dataclass
class Validation:
    scenario: object            # the validation scenario (best.toml)
    result: object              # its simengine.Result
    estimates: dict             # strategy name -> Estimate of the objective
    means: dict                 # strategy name -> mean of the objective's metric
    winner: str
    best_own: str | None        # the scenario's own best (non-oracle) strategy
    oracle: str
    finalists: list             # names of the validated candidates, search order
    # the winner's objective less the scenario's own best's on the same
    # paths (objective.paired_difference); None without an own strategy, or
    # when the winner is it
    paired: object = None


def strategy_values(table, names, metric) -> dict:
    """{strategy: its values of `metric` in path order} from a paths table."""
    S = len(names)
    x = table.column(metric).to_numpy().astype(np.float64)
    return {name: x[i::S] for i, name in enumerate(names)}


def validate(scn, finalists, objective: Objective, paths, executor, progress=None,
             seed=None) -> Validation:
    """Run the validation scenario; the objective of each of its strategies
    with a 95% interval (sampling-aware: `replicate` labels when the paths
    table has them)."""
    seed = validation_seed(scn.seed) if seed is None else seed
    vscn = validation_scenario(scn, finalists, seed, paths)
    res = engine.run(vscn, executor=executor, progress=progress)
    names = [s.name for s in vscn.strategies]
    values = strategy_values(res.paths, names, objective.metric)
    replicate = None
    if "replicate" in res.paths.column_names:
        replicate = res.paths.column("replicate").to_numpy()[::len(names)]
    estimates = {name: objective.estimate(v, replicate) for name, v in values.items()}
    means = {name: float(np.mean(v)) for name, v in values.items()}
    # regret is measured against the first oracle (docs/model.md section 5), so it is the bound shown
    oracle = next(s.name for s in vscn.strategies if s.renewal == "oracle")
    own = [s.name for s in scn.strategies if s.renewal != "oracle"]
    # ties go to the scenario's own strategies (what the team already runs),
    # then to the search's order
    candidates = own + [s.name for s in vscn.strategies
                        if s.renewal != "oracle" and s.name not in own]
    def order(n, names):
        return in_cents(estimates[n].value), in_cents(means[n]), names.index(n)
    winner = min(candidates, key=lambda n: order(n, candidates))
    best_own = min(own, key=lambda n: order(n, own)) if own else None
    finalist_names = [_name_in(vscn, st, scn) for st in finalists]
    paired = None
    if best_own is not None and winner != best_own:
        paired = paired_difference(objective.stat, values[winner], values[best_own], replicate)
    return Validation(vscn, res, estimates, means, winner, best_own, oracle, finalist_names,
                      paired)


def _name_in(vscn, st, scn) -> str:
    """The name a finalist has in the validation scenario."""
    key = rules(st, scn)
    for s in vscn.strategies:
        if s.renewal != "oracle" and rules(s, scn) == key:
            return s.name
    raise KeyError(st.name)
