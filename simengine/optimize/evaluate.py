"""Evaluating candidates: many strategies per kernel pass, on the same path
numbers.

Candidates are just more strategy rows of one scenario: every row of a pass
sees the same customers' draws (common random numbers), a row that never
blocks is replayed almost free from the never-blocked run of its admission
rules, and a row's numbers do not depend on which rows share its pass. So
the candidates are put into passes of at most `batch` rows, those with the
same admission rules together (they share one never-blocked run), and each
pass is an `engine.run` of the scenario with those strategies.

A window of the search paths (path numbers `lo .. hi-1` of a run of
`scenario.paths` paths) is simulated by handing `engine.run` an executor
that passes on only those path numbers: the engine prepares the run as for
all the search paths, so a path's numbers are the same whichever window
holds it, and growing windows give growing sets of the same paths.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from .. import engine
from ..scenario import Strategy

BATCH = 1024       # strategy rows per kernel pass (outputs: about 1.5 kB per row and path)
ORACLE = "oracle"


class PathWindow:
    """An executor that simulates only path numbers `lo .. hi-1` of the
    paths the engine asks for (whatever else it is asked, it forwards)."""

    def __init__(self, inner, lo, hi):
        self.inner, self.lo, self.hi = inner, lo, hi

    @property
    def threads(self):
        return getattr(self.inner, "threads", 1)

    def prepare(self, packed):
        prepare = getattr(self.inner, "prepare", None)
        return prepare(packed) if prepare is not None else 0.0

    def simulate(self, packed, seed, paths, chunk, progress=None, *args, **kwargs):
        return self.inner.simulate(packed, seed, paths[self.lo:self.hi], chunk, progress,
                                   *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def oracle_of(scn) -> Strategy:
    """The hindsight plan that regret is measured against: the scenario's
    first oracle strategy, or one admitting every segment."""
    own = next((s for s in scn.strategies if s.renewal == "oracle"), None)
    if own is not None:
        return own
    names = {s.name for s in scn.strategies}
    name = ORACLE if ORACLE not in names else "hindsight-oracle"
    return Strategy(name=name, renewal="oracle", admit=tuple(s.name for s in scn.segments))


def anchors(scn) -> list:
    """The scenario's own strategies that an `[uncertainty]` key names
    (`strategy.<name>.<key>`): every pass must hold them, so that the
    key's path-level draws stay where they are (one dimension per key)."""
    named = {u.key.split(".")[1] for u in getattr(scn, "uncertainty", ())
             if u.key.startswith("strategy.")}
    return [s for s in scn.strategies if s.name in named]


def batches(strategies, batch=BATCH) -> list:
    """Index lists of at most `batch` strategies, those with the same
    admission rules (admit, others) next to each other, and among them those
    that meet attempts alike (reserves, blocked rule, retries): a pass
    simulates those as one while they decide alike (kernel/followers.py)."""
    def key(i):
        s = strategies[i]
        return (tuple(s.admit), s.others, tuple(sorted(s.reserve or ())), s.on_blocked,
                s.retry_days, s.max_retries, i)
    order = sorted(range(len(strategies)), key=key)
    return [order[i:i + batch] for i in range(0, len(order), batch)]


@dataclasses.dataclass
class Samples:
    """Per-path values of the evaluated candidates on a window of paths."""
    paths: np.ndarray          # path numbers, ascending
    values: dict               # metric -> (len(paths), candidates) float64
    replicate: np.ndarray | None   # the paths' replicate labels, when the engine writes them
    oracle: dict               # metric -> (len(paths),) the oracle's values
    passes: int                # kernel passes made
    seconds: float             # wall time of the simulation (compilation excluded)


def _metric_matrix(table, names, metric, n):
    """(paths, strategies) of a paths table column, strategies in `names` order."""
    order = table.column("strategy").to_numpy(zero_copy_only=False)[:len(names)]
    if list(order) != list(names):
        raise RuntimeError("paths table rows are not (path, strategy) in strategy order")
    return table.column(metric).to_numpy().astype(np.float64).reshape(n, len(names))


def evaluate(scn, strategies, lo, hi, metrics, executor, batch=BATCH, progress=None):
    """Every strategy of `strategies` on paths lo..hi-1 of `scn` (its seed,
    `scn.paths` the search paths). `metrics`: money columns of paths.arrow;
    `regret` is the economic cost less the oracle's (`oracle_of(scn)`) on
    the same path, as `paths.arrow` computes it. `progress(done)` hears
    the strategy-paths done so far in this call."""
    oracle = oracle_of(scn)
    n = hi - lo
    want = sorted({"economic_cost" if m == "regret" else m for m in metrics} | {"economic_cost"})
    values = {m: np.empty((n, len(strategies))) for m in want}
    oracle_values = {}
    path_numbers = replicate = None
    seconds, passes, done = 0.0, 0, 0
    groups = batches(strategies, batch)
    # the oracle's values once (the same on every pass), in a pass that holds
    # its admission rules if there is one (its never-blocked run is shared)
    key = (tuple(oracle.admit), oracle.others)
    home = next((g for g, idx in enumerate(groups)
                 if any((tuple(strategies[i].admit), strategies[i].others) == key
                        for i in idx)), 0)
    pinned = anchors(scn)
    for g, idx in enumerate(groups):
        rows = [strategies[i] for i in idx]
        with_oracle = g == home
        if with_oracle:
            rows = rows + [oracle]
        rows += [a for a in pinned if a.name not in {r.name for r in rows}]
        sub = dataclasses.replace(scn, strategies=tuple(rows))
        base = done

        def heard(d, total, base=base, width=len(idx)):
            if progress is not None:
                progress(base + d * width)
        res = engine.run(sub, executor=PathWindow(executor, lo, hi), progress=heard)
        seconds += res.manifest["wall_seconds"]
        passes += 1
        done += n * len(idx)
        names = [s.name for s in rows]
        table = res.paths
        if path_numbers is None:
            path_numbers = table.column("path").to_numpy()[::len(rows)].copy()
            if "replicate" in table.column_names:
                replicate = table.column("replicate").to_numpy()[::len(rows)].copy()
        for m in want:
            matrix = _metric_matrix(table, names, m, n)
            values[m][:, idx] = matrix[:, :len(idx)]
            if with_oracle:
                oracle_values[m] = matrix[:, len(idx)].copy()
    if "regret" in metrics:
        values["regret"] = values["economic_cost"] - oracle_values["economic_cost"][:, None]
        oracle_values["regret"] = oracle_values["economic_cost"] - oracle_values["economic_cost"]
    return Samples(path_numbers, values, replicate, oracle_values, passes, seconds)


def stack(parts) -> Samples:
    """Samples of consecutive windows for the same strategies, as one."""
    first = parts[0]
    rep = None if first.replicate is None else np.concatenate([p.replicate for p in parts])
    return Samples(np.concatenate([p.paths for p in parts]),
                   {m: np.concatenate([p.values[m] for p in parts]) for m in first.values},
                   rep, {m: np.concatenate([p.oracle[m] for p in parts]) for m in first.oracle},
                   sum(p.passes for p in parts), sum(p.seconds for p in parts))


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out
