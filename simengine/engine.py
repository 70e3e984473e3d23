"""Drives a run: packs a scenario into kernel arrays, streams paths through
the kernel in chunks (numba threads within a chunk), gathers the outputs.

Results depend only on (scenario, seed, path number): not on threads, chunk
size or executor. Memory is bounded by the paths in flight (one chunk),
apart from the output tables themselves.
"""
from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass

import numba
import numpy as np

from . import __version__
from .billing import CONCURRENT, CUMULATIVE, DIFFERENCE, EXCESS, FULL, PRORATED, TOTAL, tier_capacities
from .dynamics import MAX_CUSTOMERS, MONTH_COLUMNS, PATH_COLUMNS, PERIOD_COLUMNS, simulate_paths
from .strategies import pack_strategies


def month_bounds(horizon_years):
    """First day of each month (SPEC section 2), plus D at the end."""
    starts = [365 * y + (365 * m) // 12 for y in range(horizon_years) for m in range(12)]
    return np.array(starts + [365 * horizon_years], dtype=np.int64)


@dataclass
class KernelInputs:
    """The scenario as flat arrays, in the kernel's argument order."""
    args: tuple
    S: int
    K: int
    M: int
    n_phantoms: int
    strategy_names: list


def pack_scenario(scn) -> KernelInputs:
    b = scn.billing
    D, P = scn.days, b.period_days
    sizes = np.array([t[0] for t in b.tiers], dtype=np.int64)
    prices = np.array([t[1] for t in b.tiers], dtype=np.float64)
    covers = EXCESS if b.tier_covers == "excess" else TOTAL
    nominal, effective, no_tier_cap = tier_capacities(sizes, b.free_quota, covers,
                                                      scn.staff.member_cap)
    seg = scn.segments
    seg_start = np.zeros(len(seg) + 1, dtype=np.int64)
    seg_start[1:] = np.cumsum([s.size for s in seg])
    bounds = month_bounds(scn.horizon_years)
    season = np.asarray(scn.growth.season, dtype=np.float64)
    month_of_day = np.repeat(np.arange(scn.months) % 12, np.diff(bounds))
    st = pack_strategies(scn)
    rule = CUMULATIVE if b.rule == "cumulative" else CONCURRENT
    pricing = {"prorated": PRORATED, "difference": DIFFERENCE, "full": FULL}[b.upgrade_pricing]
    args = (
        np.int64(D), np.int64(P), np.int64(rule), np.int64(b.free_quota), np.int64(pricing),
        float(b.certification_fee) if b.certified else 0.0,
        np.int64(scn.overflow.account_capacity), float(scn.overflow.account_cost),
        sizes, prices, nominal.astype(np.int64), effective.astype(np.int64), np.int64(no_tier_cap),
        seg_start, np.array([s.initial_contacts for s in seg], dtype=np.int64),
        np.array([s.adoption_rate for s in seg], dtype=np.float64),
        np.array([s.churn_rate for s in seg], dtype=np.float64),
        np.array([s.churn_shape for s in seg], dtype=np.float64),
        np.array([s.readd_prob for s in seg], dtype=np.float64),
        np.array([s.readd_delay_days for s in seg], dtype=np.float64),
        np.array([s.lost_value for s in seg], dtype=np.float64),
        season[month_of_day], bounds[1:] - 1,
        float(scn.growth.sigma), float(scn.growth.churn_sigma),
        st.renewal, st.fixed_tier, st.upgrade, st.headroom, st.admit, st.others,
        st.on_blocked, st.retry_days, st.max_retries, st.unbounded, st.oracle_source,
        st.replay_source,
    )
    return KernelInputs(args=args, S=st.rows, K=scn.periods, M=scn.months,
                        n_phantoms=st.n_phantoms,
                        strategy_names=[s.name for s in scn.strategies])


@dataclass
class RawOutputs:
    """Kernel outputs for a set of paths, phantom rows already dropped."""
    paths: np.ndarray          # path numbers
    path: np.ndarray           # (n, S, len(PATH_COLUMNS))
    period: np.ndarray         # (n, S, K, len(PERIOD_COLUMNS))
    month: np.ndarray          # (n, S, M, len(MONTH_COLUMNS))
    mult: np.ndarray           # (n, 2): growth, churn multiplier
    events: np.ndarray         # (n, 2) customer events of all strategies; events simulated
    log: np.ndarray = None     # (n, L, 4) contact log rows (day, customer, kind, segment)
    log_n: np.ndarray = None   # (n,) rows each path wanted to log


def allocate_outputs(inputs: KernelInputs, paths, log_rows=0) -> RawOutputs:
    paths = np.ascontiguousarray(paths, dtype=np.int64)
    n = paths.shape[0]
    return RawOutputs(
        paths, np.zeros((n, inputs.S, len(PATH_COLUMNS))),
        np.zeros((n, inputs.S, inputs.K, len(PERIOD_COLUMNS))),
        np.zeros((n, inputs.S, inputs.M, len(MONTH_COLUMNS))), np.zeros((n, 2)),
        np.zeros((n, 2), dtype=np.int64), np.zeros((n, log_rows, 4), dtype=np.int64),
        np.zeros((n, 1), dtype=np.int64))


def simulate_into(inputs: KernelInputs, seed: int, out: RawOutputs, lo: int, hi: int,
                  log_strategy=-1):
    """Simulate the paths of rows lo..hi-1 of `out` (all strategy rows,
    phantoms included), writing the kernel's outputs in place."""
    log_row = inputs.n_phantoms + log_strategy if log_strategy >= 0 else -1
    simulate_paths(out.paths[lo:hi], np.uint64(seed), *inputs.args, out.path[lo:hi],
                   out.period[lo:hi], out.month[lo:hi], out.mult[lo:hi], out.events[lo:hi],
                   np.int64(log_row), out.log[lo:hi], out.log_n[lo:hi])


def without_phantoms(inputs: KernelInputs, out: RawOutputs) -> RawOutputs:
    ph = inputs.n_phantoms
    log_n = out.log_n[:, 0] if out.log_n.ndim == 2 else out.log_n
    return RawOutputs(out.paths, out.path[:, ph:], out.period[:, ph:], out.month[:, ph:],
                      out.mult, out.events, out.log, log_n)


def simulate_chunk(inputs: KernelInputs, seed: int, paths, log_strategy=-1,
                   log_rows=0) -> RawOutputs:
    """Simulate the given path numbers (in parallel with numba threads).
    With `log_strategy` >= 0 (a scenario strategy index), up to `log_rows`
    contact events per path of that strategy are logged."""
    out = allocate_outputs(inputs, paths, log_rows if log_strategy >= 0 else 0)
    simulate_into(inputs, seed, out, 0, out.paths.shape[0], log_strategy)
    return without_phantoms(inputs, out)


def concat(parts) -> RawOutputs:
    return RawOutputs(*(np.concatenate([getattr(p, f) for p in parts])
                        for f in ("paths", "path", "period", "month", "mult", "events")))


def contact_log(scn, strategy=None, max_rows=1_000_000, paths=None, seed=None):
    """The WeCom adds and churns of one strategy (default: the first) on
    every path, as a dict of numpy columns: path, day, customer, kind
    (dynamics.LOG_ADD / LOG_CHURN), segment. Raises ScenarioError when the
    log would exceed `max_rows` rows."""
    from .scenario import ScenarioError
    if paths is not None or seed is not None:
        scn = scn.replace_run(paths=paths, seed=seed)
    names = [s.name for s in scn.strategies]
    if strategy is None:
        strategy = names[0]
    if strategy not in names:
        raise ScenarioError(f"{scn.source}: strategy {strategy!r} not found; "
                            f"expected one of {', '.join(names)}")
    inputs = pack_scenario(scn)
    per_path = max(1, max_rows // scn.paths + 1)
    raw = simulate_chunk(inputs, scn.seed, np.arange(scn.paths),
                         log_strategy=names.index(strategy), log_rows=per_path)
    total = int(raw.log_n.sum())
    if total > max_rows or (raw.log_n > per_path).any():
        raise ScenarioError(
            f"{scn.source}: the contact log would have {total:,} rows, more than the limit "
            f"of {max_rows:,}; lower scenario.paths or population.size for --events")
    rows = [raw.log[i, :raw.log_n[i]] for i in range(scn.paths)]
    flat = np.concatenate(rows) if rows else np.zeros((0, 4), np.int64)
    return {"path": np.repeat(np.arange(scn.paths), raw.log_n), "day": flat[:, 0],
            "customer": flat[:, 1], "kind": flat[:, 2], "segment": flat[:, 3]}


def estimate_memory(scn, threads: int, chunk: int) -> int:
    """Bytes a run needs at its peak: per-thread path working memory plus the
    output arrays of the whole run (kept for the result tables)."""
    N = scn.population
    pool = N - sum(s.initial_contacts for s in scn.segments)
    initial = N - pool
    S = len(scn.strategies) + sum(1 for s in scn.strategies if s.renewal == "oracle")
    per_path = 40 * pool + 48 * initial + 48 * N // 4 + 64 * scn.days + 16 * 64 * 1024
    outputs_per_path = 8 * S * (len(PATH_COLUMNS) + scn.periods * len(PERIOD_COLUMNS)
                                + scn.months * len(MONTH_COLUMNS)) * 3
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
    from .scenario import ScenarioError
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
        executor=None):
    """Simulate a scenario; returns a `Result` (tables of SPEC section 7).

    `paths` and `seed` override the scenario's; `threads` defaults to all
    cores; `progress(done, total)` is called after each chunk; `executor`
    (see `executor.py`) defaults to local numba threads.
    """
    from .executor import LocalExecutor, default_chunk
    from .result import Result
    if paths is not None or seed is not None:
        scn = scn.replace_run(paths=paths, seed=seed)
    executor = executor or LocalExecutor(threads)
    n_threads = getattr(executor, "threads", 1)
    chunk = int(chunk_size) if chunk_size else default_chunk(n_threads)
    check_resources(scn, n_threads, chunk)
    inputs = pack_scenario(scn)
    start = time.perf_counter()
    raw = executor.simulate(inputs, scn.seed, np.arange(scn.paths), chunk, progress)
    wall = time.perf_counter() - start
    events = int(raw.events[:, 0].sum())
    simulated = int(raw.events[:, 1].sum())
    manifest = {
        "scenario": scn.resolved,
        "scenario_sha256": scn.sha256,
        "seed": scn.seed,
        "paths": scn.paths,
        "engine_version": __version__,
        "threads": n_threads,
        "chunk_size": chunk,
        "wall_seconds": wall,
        # events of every strategy (those replayed from a never-blocked run
        # included), and the events the kernel actually stepped through
        "customer_events": events,
        "events_per_second": events / wall if wall > 0 else None,
        "simulated_events": simulated,
        "simulated_events_per_second": simulated / wall if wall > 0 else None,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "numba": numba.__version__},
    }
    return Result.from_raw(scn, inputs.strategy_names, raw, manifest)
