"""Drives a run: packs a scenario once (`packing.py`), checks that the run
fits in memory, has an executor stream paths through the kernel in chunks
(`executor.py`, `chunks.py`), and gathers the outputs into a Result; and
the contact log of one strategy.

Results depend only on (scenario, seed, path number): not on threads, chunk
size or executor. Memory is bounded by the paths in flight (one chunk),
apart from the output tables themselves (`estimate_memory`).
"""
from __future__ import annotations

import os
import time

import numpy as np

from . import store
from .chunks import simulate_chunk
from .executor import LocalExecutor, run_shape
from .kernel.calendar import BLOCK, QUEUE_DAY
from .kernel.layout import DAY, EVENT, LOG, MAX_CUSTOMERS
from .packing import pack_scenario, with_path_draws
from .result import Result
from .scenario import Scenario, ScenarioError, load_scenario, replace_run, sampling_warnings

from .schema import MONTH_RECORD, PATH_RECORD, PERIOD_RECORD


def contact_log(scn, strategy=None, max_rows=1_000_000, paths=None, seed=None):
    """The WeCom adds and churns of one strategy (default: the first) on
    every path, as a dict of numpy columns: path, day, customer, kind
    (kernel.layout.LOG_ADD / LOG_CHURN), segment. Raises ScenarioError when the
    log would exceed `max_rows` rows."""
    if paths is not None or seed is not None:
        scn = replace_run(scn, paths=paths, seed=seed)
    names = [s.name for s in scn.strategies]
    if strategy is None:
        strategy = names[0]
    if strategy not in names:
        raise ScenarioError(f"{scn.source}: strategy {strategy!r} not found; "
                            f"expected one of {', '.join(names)}")
    per_path = max(1, max_rows // scn.paths + 1)
    raw = simulate_chunk(pack_scenario(scn), scn.seed, np.arange(scn.paths),
                         log_strategy=names.index(strategy), log_rows=per_path)
    total = int(raw.log_n.sum())
    if total > max_rows or (raw.log_n > per_path).any():
        raise ScenarioError(
            f"{scn.source}: the contact log would have {total:,} rows, more than the limit "
            f"of {max_rows:,}; lower scenario.paths or population.size for --events")
    rows = [raw.log[i, :raw.log_n[i]] for i in range(scn.paths)]
    flat = np.concatenate(rows) if rows else np.zeros(0, LOG)
    return {"path": np.repeat(np.arange(scn.paths), raw.log_n)} | {
        name: np.ascontiguousarray(flat[name]) for name in LOG.names}


def contact_log_rows(scn, strategy: str, paths) -> np.ndarray:
    """The rows the contact log of `strategy` (a name) has on each of the
    given paths, counted by simulating them without keeping the rows."""
    index = [s.name for s in scn.strategies].index(strategy)
    return simulate_chunk(pack_scenario(scn), scn.seed, paths, log_strategy=index,
                          log_rows=1).log_n


# A path's working memory, in bytes from the kernel's records: the pool's
# first attempts (a customer and a day number each, then the sorted events)
# and the initial contacts' first churns (a day, the events unsorted and
# sorted), kernel/arrivals.py
POOL_BYTES = 2 * np.dtype(np.int64).itemsize + EVENT.itemsize
INITIAL_BYTES = np.dtype(np.int64).itemsize + 2 * EVENT.itemsize
FIRST_BLOCKS = 1024         # the blocks of a new calendar (kernel/strategy.new_work)


def calendar_bytes(customers: int, days: int) -> int:
    """One calendar (kernel/calendar.py) at its largest: blocks for the
    events of up to a quarter of the customers pending at once, grown by
    doubling (the old and the new blocks held while copying: 3 x), on top
    of its first blocks; and its index of (queue, day)."""
    events = 3 * EVENT.itemsize * customers // 4 + EVENT.itemsize * BLOCK * FIRST_BLOCKS
    return events + 2 * QUEUE_DAY.itemsize * days


def estimate_memory(scn, threads: int, chunk: int) -> int:
    """Bytes a run needs at its peak: per-thread path working memory plus the
    output arrays of the whole run (kept for the result tables)."""
    N = scn.population
    pool = N - sum(s.initial_contacts for s in scn.segments)
    initial = N - pool
    S = len(scn.strategies) + sum(1 for s in scn.strategies if s.renewal == "oracle")
    # two calendars: strategies forked from the never-blocked run work on a
    # copy of its calendar (kernel/path.phantom_in_step); and the day record
    # of the never-blocked run
    per_path = (POOL_BYTES * pool + INITIAL_BYTES * initial + 2 * calendar_bytes(N, scn.days)
                + DAY.itemsize * scn.days)
    outputs_per_path = S * (PATH_RECORD.itemsize + scn.periods * PERIOD_RECORD.itemsize
                            + scn.months * MONTH_RECORD.itemsize) * 3
    return threads * per_path + scn.paths * outputs_per_path + chunk * outputs_per_path


def available_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 << 30


def check_resources(scn, threads, chunk):
    need = estimate_memory(scn, threads, chunk)
    have = available_memory()
    if need > 0.8 * have:
        raise ScenarioError(
            f"{scn.source}: this run needs about {need / 2**30:.1f} GiB of memory "
            f"(population.size = {scn.population:,}, scenario.paths = {scn.paths:,}, "
            f"{threads} threads); the limit is 80% of the {have / 2**30:.1f} GiB available. "
            "Lower the population or the paths.")
    if scn.population >= MAX_CUSTOMERS:
        raise ScenarioError(f"{scn.source}: population.size: expected at most "
                            f"{MAX_CUSTOMERS - 1:,} customers, got {scn.population:,}")


def run(scn, paths=None, seed=None, threads=None, chunk_size=None, progress=None,
        executor=None, on_phase=None):
    """Simulate a scenario; returns a `Result` (tables of docs/model.md section 7).

    `scn`: a Scenario or a scenario file (path or bundled name). `paths` and
    `seed` override the scenario's; `threads` (1 to the cores; default all)
    sets numba's threads (`executor.thread_count`); `chunk_size`: paths per
    chunk (default: `executor.paths_per_chunk`); `progress(done, total)` is
    called after each chunk; `executor` (see `executor.py`) defaults to
    local numba threads;
    `on_phase(name)` hears "compiling" and "simulating" as they start. The
    manifest's `wall_seconds` excludes compilation, `compile_seconds` is it.
    """
    if not isinstance(scn, Scenario):
        scn = load_scenario(os.fspath(scn))
    if paths is not None or seed is not None:
        scn = replace_run(scn, paths=paths, seed=seed)
    executor = executor or LocalExecutor(threads)
    n_threads, chunk = run_shape(executor, chunk_size)
    check_resources(scn, n_threads, chunk)
    packed = with_path_draws(pack_scenario(scn), scn.seed, scn.paths)
    if on_phase is not None:
        on_phase("compiling")
    prepare = getattr(executor, "prepare", None)
    compile_seconds = prepare(packed) if prepare is not None else 0.0
    if on_phase is not None:
        on_phase("simulating")
    start = time.perf_counter()
    raw = executor.simulate(packed, scn.seed, np.arange(scn.paths), chunk, progress)
    wall = time.perf_counter() - start
    events = int(raw.events[:, 0].sum())
    simulated = int(raw.events[:, 1].sum())
    manifest = store.manifest(
        "run",
        scenario=scn.resolved,
        scenario_sha256=scn.sha256,
        seed=scn.seed,
        paths=scn.paths,
        sampling=scn.sampling,
        replicates=scn.replicates if scn.sampling == "sobol" else None,
        notes=sampling_warnings(scn),      # paths rounded up, m not a power of two
        threads=n_threads,
        chunk_size=chunk,
        wall_seconds=wall,
        compile_seconds=compile_seconds,
        # events of every strategy (those replayed from a never-blocked run
        # included), and the events the kernel actually stepped through
        customer_events=events,
        events_per_second=events / wall if wall > 0 else None,
        simulated_events=simulated,
        simulated_events_per_second=simulated / wall if wall > 0 else None,
    )
    return Result.from_raw(scn, packed.strategy_names, raw, manifest)
