"""The optimiser's unit of work: the marginal cost of one more strategy on
a path (ms per path per added strategy), at 1,000,000 customers on one
thread, for a strategy that blocks and one that never blocks, apart.

The scenario is the bundled default (8 strategies); ADDED copies of one of
its strategies, each with a small change, are added as further rows of the
same kernel pass, as `simengine optimize` evaluates candidates:

- blocking: `fixed-200k` (a 200k tier, no upgrade, retry) with its retry
  delay nudged; it blocks thousands of attempts on most paths, so each copy
  is simulated day by day;
- never blocking: `fit` (renew to fit, upgrade to the next tier) with its
  headroom nudged; it never blocks, so each copy is replayed from the
  never-blocked run that the scenario's oracle already needs;
- space: candidates of the default search space (`simengine optimize`'s)
  that admit every segment, as the default's own strategies do, every k-th
  of them in the space's order, blocking or not as they come: what a
  candidate costs in one of the optimiser's passes, whose candidates share
  their admission rules and so their never-blocked run.

    python -m benchmarks.bench_optimize          # the figures, printed
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from . import SEED, pack_scenario, scenario, set_threads, simulate_chunk, warm

# strategies added to the default's: a never-blocking one costs microseconds,
# so many are added to see it above the timer's noise
ADDED = {"blocking": 8, "never_blocking": 64, "space": 32}
# path numbers timed: under the default's sobol sampling the first 2^k paths
# are a balanced sample of its path-level numbers (good years and bad)
PATHS = (0, 1, 2, 3)


def _variants(base, kind, k):
    by_name = {s.name: s for s in base.strategies}
    if kind == "space":
        from simengine.optimize.space import default_space
        found = default_space(base).candidates(base)
        rules = (tuple(base.strategies[0].admit), base.strategies[0].others)
        new = [s for s in found.strategies[found.own:] if (tuple(s.admit), s.others) == rules]
        return new[::len(new) // k][:k]
    if kind == "blocking":
        proto = by_name["fixed-200k"]
        return [dataclasses.replace(proto, name=f"blocking-{i}",
                                    retry_days=proto.retry_days + 0.25 * (i + 1))
                for i in range(k)]
    proto = by_name["fit"]
    return [dataclasses.replace(proto, name=f"never-{i}", headroom=0.005 * (i + 1))
            for i in range(k)]


def _seconds_per_path(packed, paths, repeat=2):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        simulate_chunk(packed, SEED, paths)
        best = min(best, time.perf_counter() - t)
    return best / len(paths)


def marginal_ms(kind, added=None, paths=PATHS, customers=1_000_000):
    """ms per path per added strategy of `kind`, on one thread."""
    added = added or ADDED[kind]
    set_threads(1)
    warm()
    base = scenario(customers)
    more = dataclasses.replace(base, strategies=base.strategies + tuple(
        _variants(base, kind, added)))
    paths = np.asarray(paths, dtype=np.int64)
    packed_base, packed_more = pack_scenario(base), pack_scenario(more)
    for p in (packed_base, packed_more):        # touch the memory, load the kernel
        _seconds_per_path(p, paths[:1], repeat=1)
    t0 = _seconds_per_path(packed_base, paths)
    t1 = _seconds_per_path(packed_more, paths)
    return 1000 * (t1 - t0) / added


class MarginalStrategy:
    """ms per path per strategy added to the default scenario's pass
    (1,000,000 customers, one thread): blocking, never-blocking, and the
    default search space's candidates as a pass of the optimiser holds them."""
    params = [["blocking", "never_blocking", "space"]]
    param_names = ["strategy"]
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0
    timeout = 600

    def setup(self, kind):
        set_threads(1)
        warm()

    def track_ms_per_path(self, kind):
        return marginal_ms(kind)

    track_ms_per_path.unit = "ms"


if __name__ == "__main__":
    for kind in ("blocking", "never_blocking", "space"):
        added = 2 * ADDED[kind]
        print(f"{kind}: {marginal_ms(kind, added=added, paths=range(8)):.3f} ms per path "
              "per added strategy (1,000,000 customers, 1 thread)")
