"""Path-level numbers (docs/model.md section 12): the normals behind each path's growth
and churn multipliers and its `[uncertainty]` draws, and the drawn values.

Almost all of a run's spread comes from these few numbers per path, so they
are sampled well, once per run, here (Python side), and handed to the kernel
with the paths. The customers' own draws stay counter-based in the kernel.

- `mc`: normal `j` of path `i` is the counter-based normal of (seed, i)
  (`rng.path_normals`): dimension 0 is the growth normal, 1 the churn normal
  (the draws the engine made before sampling existed, so `mc` reproduces its
  numbers), 2 + k the normal of the k-th `[uncertainty]` key.
- `sobol`: path `i` is point `i % m` of replicate `r = i // m`,
  `m = paths / replicates`: a scrambled Sobol' sequence (scipy.stats.qmc,
  LMS + digital shift) mapped to normals by the inverse normal CDF. Each
  replicate is scrambled independently, from the scenario seed and `r` only;
  within a replicate each dimension has its own scrambling stream
  (seed, r, dimension), so adding an `[uncertainty]` key leaves every path's
  growth and churn normals as they were (`tests/test_uncertainty.py`).

Either way a path's numbers depend on the seed, its number, `paths` and
`replicates` only: never on threads, chunks or the executor.
"""
from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy.stats import qmc

from .rng import path_normals as _counter_normals

FIRST_KEY = 2                   # dimensions 0, 1: growth, churn; [uncertainty] key k: 2 + k
SOBOL_BITS = 30                 # scipy's default: at most 2**30 points per replicate
SOBOL_STREAM = 0x50B01          # spawn-key tag of the scrambling streams
_HALF_CELL = 0.5 / 2.0 ** SOBOL_BITS
_RNG_KEYWORD = "rng" if "rng" in inspect.signature(qmc.Sobol).parameters else "seed"


@dataclass(frozen=True)
class Sampling:
    """How a run samples its path-level numbers (from the scenario)."""
    method: str                 # "sobol" | "mc"
    replicates: int
    per_replicate: int          # m: points of one replicate (sobol)
    dimensions: int             # normals per path

    @classmethod
    def of(cls, scn) -> "Sampling":
        if scn.sampling == "sobol":
            return cls("sobol", scn.replicates, -(-scn.paths // scn.replicates), scn.dimensions)
        return cls("mc", 1, scn.paths, scn.dimensions)

    def replicate(self, paths) -> np.ndarray:
        """The replicate of each path number (0 under mc)."""
        paths = np.asarray(paths, dtype=np.int64)
        if self.method != "sobol":
            return np.zeros(paths.shape, np.int64)
        return paths // self.per_replicate

    def normals(self, seed: int, paths) -> np.ndarray:
        """(len(paths), dimensions) standard normals of the given path numbers."""
        paths = np.ascontiguousarray(paths, dtype=np.int64)
        out = np.empty((paths.shape[0], self.dimensions))
        if self.method != "sobol":
            _counter_normals(np.uint64(seed), paths, out)
            return out
        replicate = self.replicate(paths)
        for r in np.unique(replicate):
            rows = replicate == r
            points = sobol_points(seed, int(r), self.per_replicate, self.dimensions)
            out[rows] = special.ndtri(points[paths[rows] % self.per_replicate])
        return out


def sobol_points(seed: int, replicate: int, m: int, d: int) -> np.ndarray:
    """(m, d) points in (0, 1): replicate `replicate` of the scrambled Sobol'
    sequence. Column j is column j of a (j + 1)-dimensional scipy Sobol'
    engine scrambled from SeedSequence(seed, spawn_key=(SOBOL_STREAM,
    replicate, j)): the direction numbers of dimension j are the same in
    every engine, its scrambling its own. Points sit at the centre of their
    2**-30 cell, so none is 0 (whose normal is -inf)."""
    out = np.empty((m, d))
    with warnings.catch_warnings():
        # m not a power of two: scenario_warnings says so, once, in words
        warnings.filterwarnings("ignore", message=".*balance properties.*")
        for j in range(d):
            stream = np.random.default_rng(
                np.random.SeedSequence(seed, spawn_key=(SOBOL_STREAM, replicate, j)))
            engine = qmc.Sobol(j + 1, scramble=True, bits=SOBOL_BITS, **{_RNG_KEYWORD: stream})
            out[:, j] = engine.random(m)[:, j] + _HALF_CELL
    return out


def draw_values(uncertainty, medians, normals) -> np.ndarray:
    """(paths, keys): each `[uncertainty]` key's value on each path (docs/model.md
    section 12), from its normal (dimension FIRST_KEY + k) and the
    scenario's value (`medians[k]`). A sigma of 0 gives the scenario's value
    exactly."""
    values = np.empty((normals.shape[0], len(uncertainty)))
    for k, (u, median) in enumerate(zip(uncertainty, medians)):
        z = normals[:, FIRST_KEY + k]
        if u.dist == "uniform":
            values[:, k] = u.low + (u.high - u.low) * special.ndtr(z)
        elif u.sigma == 0 or math.isinf(median):
            values[:, k] = median
        elif u.dist == "lognormal":
            values[:, k] = median * np.exp(u.sigma * z)
        else:                                   # logitnormal
            values[:, k] = special.expit(special.logit(median) + u.sigma * z)
    return values

