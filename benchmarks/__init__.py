"""Benchmarks of simengine, run by asv (numpy/scipy style: one class per
area in `bench_*.py`) and by `benchmarks/measure.py` (the README figures).

    asv machine --yes                      # once per machine (CI: .ci/run does it)
    asv check --python=same
    asv run --python=same --quick --show-stderr [--bench Kernel]

This package module holds the shared helpers: scenarios of a given size
built from the bundled default, and the JIT warm-up that every `setup` does
(outside the timing) so that no benchmark times numba's compilation except
`Compile`, which measures it on purpose.
"""
from __future__ import annotations

import copy
import time

import numpy as np

DEFAULT_POPULATION = 1_000_000
SEED = 20230914

# One strategy whose capacity never binds below 2,000,000 customers: the
# engine then follows the same dynamics as benchmarks/numpy_baseline.py.
NEVER_BINDING = {"name": "fixed-2m", "renewal": "fixed", "tier": 2_000_000, "upgrade": "none"}


def scenario(population=DEFAULT_POPULATION, horizon_years=None, strategies=None, paths=None,
             dormant=0, adoption_scale=None, sampling=None):
    """The bundled default scenario at another size.

    - `population`: customers; each segment's `initial_contacts` is scaled by
      `population / 1,000,000` so the per-customer dynamics (and so events
      per customer) stay those of the default at any size;
    - `horizon_years`, `paths`: as given (default: the scenario's);
    - `strategies`: a list of [[strategy]] dicts replacing the default's;
    - `dormant`: extra customers in a segment with adoption 0 (they never
      show up), added on top of `population`;
    - `adoption_scale`: multiplies every adoption rate;
    - `sampling`: "sobol" or "mc" (default: the scenario's).
    """
    import simengine
    from simengine.scenario import scenario_from_dict

    data = copy.deepcopy(simengine.load_scenario("default").resolved)
    base = data["population"]["size"]
    for seg in data["segment"]:
        seg["initial_contacts"] = int(seg["initial_contacts"] * population // base)
        if adoption_scale is not None:
            seg["adoption_rate"] *= adoption_scale
    total = population + dormant
    if dormant:
        for seg in data["segment"]:
            seg["share"] = seg["share"] * population / total
        data["segment"].append({"name": "dormant", "share": dormant / total,
                                "adoption_rate": 0.0, "churn_rate": 0.001})
        # the shares must sum to 1 exactly; give the rounding to the largest
        rest = 1.0 - sum(s["share"] for s in data["segment"][1:])
        data["segment"][0]["share"] = rest
    data["population"]["size"] = total
    if horizon_years is not None:
        data["scenario"]["horizon_years"] = int(horizon_years)
    if paths is not None:
        data["scenario"]["paths"] = int(paths)
    if strategies is not None:
        data["strategy"] = copy.deepcopy(list(strategies))
    if sampling is not None:
        data["scenario"]["sampling"] = sampling
    label = f"<bench default, population={total}, horizon={data['scenario']['horizon_years']}>"
    return scenario_from_dict(data, label)


def one_strategy(population=DEFAULT_POPULATION, horizon_years=None):
    """The default's customers under one never-binding fixed tier (the
    baseline comparison)."""
    return scenario(population, horizon_years, strategies=[NEVER_BINDING])


def pack_scenario(scn):
    """simengine's `pack_scenario` of the tree being measured: in
    simengine.packing, or simengine.engine in the trees before it (asv and
    compare.py measure older commits too)."""
    try:
        from simengine.packing import pack_scenario as pack
    except ImportError:
        from simengine.engine import pack_scenario as pack
    return pack(scn)


def simulate_chunk(packed, seed, paths, **kw):
    """simengine's `simulate_chunk` of the tree being measured: in
    simengine.chunks, or simengine.engine in the trees before it."""
    try:
        from simengine.chunks import simulate_chunk as simulate
    except ImportError:
        from simengine.engine import simulate_chunk as simulate
    return simulate(packed, seed, paths, **kw)


_warm = False


def warm():
    """Compile (or load from numba's cache) the kernel with a tiny run, so
    the timings that follow exclude it. Cheap after the first call."""
    global _warm
    if _warm:
        return
    simulate_chunk(pack_scenario(scenario(10_000, horizon_years=1)), 1, np.arange(2))
    _warm = True


def set_threads(n):
    """numba threads for what follows; NotImplementedError (asv: skipped)
    when the machine has fewer."""
    import numba
    if n > numba.config.NUMBA_NUM_THREADS:
        raise NotImplementedError(f"needs {n} threads, numba has {numba.config.NUMBA_NUM_THREADS}")
    numba.set_num_threads(n)


def customer_events(raw):
    """Customer events of a `RawOutputs` (every strategy's, as the run
    manifest's `customer_events` counts them). `raw.events` is per path, with
    (customer events, events simulated) columns in newer engines."""
    ev = np.asarray(raw.events)
    return int(ev[:, 0].sum() if ev.ndim == 2 else ev.sum())


def timed(fn, *args, **kw):
    """(seconds, result) of one call."""
    t = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t, out
