"""The search: successive halving on growing sets of the same search paths.

The search paths are path numbers 0 .. P-1 of the scenario (its seed, P
paths). Rung r evaluates the candidates still in the search on the first
n_r of them, n_r doubling up to P (each rung adds only the new paths: the
first rung's paths are part of every later one). After each rung but the
last, a candidate is dropped only when its objective's 95% interval lies
wholly above the leader's (the candidate with the lowest estimate, the lower mean on a tie): every
candidate whose interval overlaps the leader's stays. Two 95% intervals
that do not overlap leave far less than a 5% chance that the dropped
candidate is in truth better; a candidate that full evaluation would rank
first by more than its interval is never dropped (tests/test_optimize.py
builds close candidates to check it).

The first rung is the smallest P/2^k (at most 3 halvings) that gives the
objective an interval: 72 paths for P95 (its upper order statistic), two
replicates under sobol sampling (sectioning), 16 for the mean. Candidates
are ranked by their objective on the paths they saw: those that saw every
search path first, then those dropped later before those dropped earlier.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .evaluate import BATCH, evaluate
from .objective import Estimate, Objective, in_cents

MAX_HALVINGS = 3
MIN_FIRST = 16


@dataclass
class Rung:
    paths: int              # search paths seen by the candidates evaluated here
    evaluated: int          # candidates evaluated on them
    dropped: int = 0        # candidates dropped after this rung


@dataclass
class SearchOutcome:
    """Every candidate's objective on the paths it saw, and the ranking."""
    strategies: tuple
    estimates: list            # Estimate per candidate
    means: list                # mean of the objective's metric per candidate
    paths_seen: np.ndarray     # per candidate
    rank: np.ndarray           # 1 = best
    rungs: list
    oracle: Estimate           # the hindsight plan on every search path
    oracle_mean: float
    passes: int = 0
    seconds: float = 0.0       # simulation wall time (compilation excluded)
    candidate_paths: int = 0   # strategy-paths simulated
    wall_seconds: float = 0.0
    samples: dict = field(default_factory=dict, repr=False)   # metric -> (P, C), NaN unseen

    @property
    def dropped(self) -> int:
        return int((self.paths_seen < self.rungs[-1].paths).sum())

    def order(self) -> np.ndarray:
        """Candidate indices, best first."""
        return np.argsort(self.rank, kind="stable")


def rung_sizes(paths: int, objective: Objective, scn) -> list:
    """Search paths per rung, doubling up to `paths`."""
    sizes = [paths]
    replicate_size = None
    if getattr(scn, "sampling", "mc") == "sobol" and getattr(scn, "replicates", 1) > 1:
        replicate_size = paths // scn.replicates

    def has_interval(n):
        if replicate_size:
            return n % replicate_size == 0 and n // replicate_size >= 2
        return n >= max(objective.min_paths(), MIN_FIRST)
    while len(sizes) <= MAX_HALVINGS and sizes[0] % 2 == 0 and has_interval(sizes[0] // 2):
        sizes.insert(0, sizes[0] // 2)
    return sizes


def search(scn, strategies, objective: Objective, executor, prune=True, keep=1,
           batch=BATCH, progress=None, on_stage=None) -> SearchOutcome:
    """Evaluate `strategies` on the search paths of `scn` (its seed and
    paths), pruning as the module says when `prune`; at least `keep`
    candidates (the best) see every path. `progress(done, total)` in
    strategy-paths; the total shrinks as candidates are dropped.
    `on_stage(text)` hears each rung as it starts."""
    start = time.perf_counter()
    C, P = len(strategies), scn.paths
    sizes = rung_sizes(P, objective, scn)
    metric = objective.metric
    seen = np.zeros(C, dtype=np.int64)
    samples = None
    oracle = None
    alive = np.arange(C)
    rungs, passes, seconds, done = [], 0, 0.0, 0
    estimates = [None] * C
    means = np.full(C, np.nan)
    for r, n in enumerate(sizes):
        lo = sizes[r - 1] if r else 0
        total = done + len(alive) * (P - lo)
        if on_stage is not None:
            on_stage(f"search {r + 1}/{len(sizes)}: {len(alive):,} candidates left, search "
                     f"paths {lo + 1:,}-{n:,} of {P:,}")
        if progress is not None:
            progress(done, total)

        def heard(d, base=done, total=total):
            if progress is not None:
                progress(base + d, total)
        part = evaluate(scn, [strategies[i] for i in alive], lo, n, [metric], executor,
                        batch=batch, progress=heard)
        done += len(alive) * (n - lo)
        passes += part.passes
        seconds += part.seconds
        if samples is None:
            samples = {m: np.full((P, C), np.nan) for m in part.values}
            replicate = np.zeros(P, dtype=np.int64) if part.replicate is not None else None
            oracle = {m: np.full(P, np.nan) for m in part.oracle}
        for m, v in part.values.items():
            samples[m][lo:n, alive] = v
        for m, v in part.oracle.items():
            oracle[m][lo:n] = v
        if replicate is not None:
            replicate[lo:n] = part.replicate
        seen[alive] = n
        rep = replicate[:n] if replicate is not None else None
        for i in alive:
            estimates[i] = objective.estimate(samples[metric][:n, i], rep)
            means[i] = float(np.mean(samples[metric][:n, i]))
        rung = Rung(n, len(alive))
        rungs.append(rung)
        if prune and r < len(sizes) - 1:
            alive = _survivors(alive, estimates, means, keep)
            rung.dropped = rung.evaluated - len(alive)
    if progress is not None:
        progress(done, done)
    rank = ranking(estimates, seen, means)
    rep = replicate if replicate is not None else None
    return SearchOutcome(tuple(strategies), estimates, list(means), seen, rank, rungs,
                         objective.estimate(oracle[metric], rep), float(np.mean(oracle[metric])),
                         passes, seconds, done, time.perf_counter() - start, samples)


def _survivors(alive, estimates, means, keep) -> np.ndarray:
    """The candidates whose interval overlaps the leader's, and at least the
    `keep` best."""
    values = np.array([in_cents(estimates[i].value) for i in alive])
    order = np.lexsort((alive, [in_cents(means[i]) for i in alive], values))
    leader = estimates[alive[order[0]]]
    stays = np.array([estimates[i].overlaps_below(leader.hi) for i in alive])
    stays[order[:keep]] = True
    return alive[stays]


def ranking(estimates, seen, means) -> np.ndarray:
    """Rank 1..C: more paths seen first, then the lower objective, then the
    lower mean (a tie in P95 is common: the bad paths of many strategies buy
    the same tiers); then candidate order (the scenario's own first)."""
    C = len(estimates)
    values = np.array([in_cents(e.value) for e in estimates])
    means = np.array([in_cents(m) for m in means])
    order = np.lexsort((np.arange(C), means, values, -seen))
    rank = np.empty(C, dtype=np.int64)
    rank[order] = np.arange(1, C + 1)
    return rank
