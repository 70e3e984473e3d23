"""Drives a run: packs a scenario once into the kernel's records
(`pack_scenario`), has an executor stream paths through the kernel in
chunks (numba threads within a chunk), gathers the outputs.

Results depend only on (scenario, seed, path number): not on threads, chunk
size or executor. The path-level numbers (the normals behind the growth and
churn multipliers and the `[uncertainty]` draws, `sampling.py`) are drawn
once per run and handed to the kernel with the paths, each path with its own
copy of the records its `[uncertainty]` values change (`path_inputs`).
Memory is bounded by the paths in flight (one chunk), apart from the output
tables themselves.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass

import numba
import numpy as np

from . import store
from .billing import COVERS, PRICING, RULE, tier_capacities
from .kernel.driver import simulate_paths
from .kernel.layout import (CONFIG, LOG, MAX_CUSTOMERS, SEGMENT, STRATEGY, TIER, UNBOUNDED,
                            KernelScenario, PathInputs)
from .sampling import Sampling, draw_values
from .schema import MONTH_RECORD, PATH_RECORD, PERIOD_RECORD
from .strategies import B_LOST, ON_BLOCKED, OTHERS, R_NONE, RENEWAL, U_NONE, UPGRADE


def month_bounds(horizon_years):
    """First day of each month (SPEC section 2), plus D at the end."""
    starts = [365 * y + (365 * m) // 12 for y in range(horizon_years) for m in range(12)]
    return np.array(starts + [365 * horizon_years], dtype=np.int64)


@dataclass(frozen=True)
class UncertainField:
    """Where an [uncertainty] key's value goes: `record` ("config",
    "segments" or "strategies" of layout.PathInputs), its row and field."""
    record: str
    row: int
    field: str


@dataclass(frozen=True)
class PathDraws:
    """The path-level normals of paths 0..n-1 for one seed, drawn once per
    run (`with_path_draws`)."""
    seed: int
    normals: np.ndarray


@dataclass
class PackedScenario:
    """The scenario as the kernel reads it (records and structured arrays of
    kernel/layout.py), built once by `pack_scenario`; picklable."""
    kernel: KernelScenario
    S: int                     # strategy rows: phantoms, then the scenario's strategies
    K: int                     # billing periods
    M: int                     # months
    n_phantoms: int
    strategy_names: list
    sampling: Sampling = None
    uncertainty: tuple = ()    # scenario.Uncertainty entries
    medians: tuple = ()        # the scenario's value of each
    fields: tuple = ()         # an UncertainField per entry, or None (no effect)
    draws: PathDraws = None    # the run's normals (else drawn per chunk: same numbers)


def records(dtype, rows):
    """A structured array of `dtype` from dicts naming every field."""
    out = np.zeros(len(rows), dtype)
    for i, row in enumerate(rows):
        if set(row) != set(dtype.names):
            raise ValueError(f"record fields: expected {dtype.names}, got {tuple(row)}")
        for name, value in row.items():
            out[i][name] = value
    return out


def _pack_billing(scn):
    """The CONFIG record and the TIER array."""
    b = scn.billing
    sizes = np.array([t[0] for t in b.tiers], dtype=np.int64)
    nominal, effective, no_tier_cap = tier_capacities(sizes, b.free_quota,
                                                      COVERS[b.tier_covers], scn.staff.member_cap)
    config = records(CONFIG, [dict(
        days=scn.days, period_days=b.period_days, rule=RULE[b.rule], free_quota=b.free_quota,
        pricing=PRICING[b.upgrade_pricing],
        certification_fee=float(b.certification_fee) if b.certified else 0.0,
        account_capacity=scn.overflow.account_capacity,
        account_cost=float(scn.overflow.account_cost), no_tier_capacity=no_tier_cap,
        usage_cap=UNBOUNDED if scn.staff.member_cap is None else scn.staff.member_cap,
        growth_sigma=float(scn.growth.sigma), churn_sigma=float(scn.growth.churn_sigma))])
    tiers = records(TIER, [dict(tier_size=size, price=float(price), nominal=n, effective=e)
                           for (size, price), n, e in zip(b.tiers, nominal, effective)])
    return config, tiers


def _pack_segments(scn):
    end = np.cumsum([s.size for s in scn.segments], dtype=np.int64)
    return records(SEGMENT, [dict(
        start=e - s.size, end=e, initial=s.initial_contacts, adoption=s.adoption_rate,
        churn_rate=s.churn_rate, churn_shape=s.churn_shape, readd_prob=s.readd_prob,
        readd_delay=s.readd_delay_days, lost_value=s.lost_value,
        initial_age=float(s.initial_age_days), stock_ages=s.initial_ages == "stock")
        for s, e in zip(scn.segments, end)])


def _pack_strategies(scn):
    """STRATEGY rows and the admit matrix. Rows 0..n_phantoms-1 are phantoms;
    the scenario's strategies follow, in file order.

    A phantom (a never-blocked run) is simulated for each admission rule that
    an oracle uses or that several strategies share: strategies that never
    block are then replayed from it instead of simulated (kernel/replay.py)."""
    seg_names = [s.name for s in scn.segments]
    sizes = [t[0] for t in scn.billing.tiers]

    def admit_row(st):
        # an empty admit list means every segment (SPEC's default)
        return tuple(not st.admit or name in st.admit for name in seg_names)

    keys = [(admit_row(st), st.others) for st in scn.strategies]
    phantom_keys = []
    for st, key in zip(scn.strategies, keys):
        if (st.renewal == "oracle" or keys.count(key) > 1) and key not in phantom_keys:
            phantom_keys.append(key)
    rows = [dict(renewal=R_NONE, fixed_tier=-1, upgrade=U_NONE, headroom=0.0,
                 others=OTHERS[others], on_blocked=B_LOST, retry_days=0.0, max_retries=0,
                 max_reserve=0, unbounded=True, oracle_source=-1, replay_source=-1)
            for _, others in phantom_keys]
    reserve = [[0] * len(seg_names) for _ in phantom_keys]
    for st, key in zip(scn.strategies, keys):
        phantom = phantom_keys.index(key) if key in phantom_keys else -1
        oracle = st.renewal == "oracle"
        # the hindsight plan chooses every tier: an oracle's upgrade, headroom
        # and reserve have no effect (`validate` warns)
        reserve.append([0 if oracle else st.reserve_of(name) for name in seg_names])
        rows.append(dict(
            renewal=RENEWAL[st.renewal],
            fixed_tier=sizes.index(st.tier) if st.renewal == "fixed" else -1,
            upgrade=U_NONE if oracle else UPGRADE[st.upgrade],
            headroom=0.0 if oracle else float(st.headroom), others=OTHERS[st.others],
            on_blocked=ON_BLOCKED[st.on_blocked], retry_days=float(st.retry_days),
            max_retries=int(st.max_retries), max_reserve=max(reserve[-1]), unbounded=False,
            oracle_source=phantom if oracle else -1, replay_source=phantom))
    admit = np.array([adm for adm, _ in phantom_keys] + [adm for adm, _ in keys],
                     dtype=np.bool_).reshape(len(rows), len(seg_names))
    reserve = np.array(reserve, dtype=np.int64).reshape(len(rows), len(seg_names))
    return records(STRATEGY, rows), admit, reserve, len(phantom_keys)


# [uncertainty] keys -> record fields (scenario/checks.py UNCERTAIN_KEYS)
_CONFIG_FIELDS = {"growth.sigma": "growth_sigma", "growth.churn_sigma": "churn_sigma",
                  "billing.certification_fee": "certification_fee",
                  "overflow.account_cost": "account_cost"}
_SEGMENT_FIELDS = {"adoption_rate": "adoption", "churn_rate": "churn_rate",
                   "churn_shape": "churn_shape", "readd_prob": "readd_prob",
                   "readd_delay_days": "readd_delay", "lost_value": "lost_value",
                   "initial_age_days": "initial_age"}
_STRATEGY_FIELDS = {"headroom": "headroom", "retry_days": "retry_days"}


def _uncertain_field(scn, key, n_phantoms):
    """(the scenario's value of `key`, its UncertainField or None where the
    value has no effect: the fee of an uncertified enterprise, an oracle's
    headroom)."""
    table, _, rest = key.partition(".")
    if key in _CONFIG_FIELDS:
        value = getattr(getattr(scn, table), rest)
        live = key != "billing.certification_fee" or scn.billing.certified
        return value, UncertainField("config", 0, _CONFIG_FIELDS[key]) if live else None
    name, _, leaf = rest.rpartition(".")
    if table == "segment":
        i = [s.name for s in scn.segments].index(name)
        return (getattr(scn.segments[i], leaf),
                UncertainField("segments", i, _SEGMENT_FIELDS[leaf]))
    i = [s.name for s in scn.strategies].index(name)
    st = scn.strategies[i]
    live = not (st.renewal == "oracle" and leaf == "headroom")
    return getattr(st, leaf), (UncertainField("strategies", n_phantoms + i,
                                              _STRATEGY_FIELDS[leaf]) if live else None)


def pack_scenario(scn) -> PackedScenario:
    config, tiers = _pack_billing(scn)
    strategies, admit, reserve, n_phantoms = _pack_strategies(scn)
    bounds = month_bounds(scn.horizon_years)
    season = np.asarray(scn.growth.season, dtype=np.float64)
    month_of_day = np.repeat(np.arange(scn.months) % 12, np.diff(bounds))
    kernel = KernelScenario(config, tiers, _pack_segments(scn), strategies, admit, reserve,
                            season[month_of_day], bounds[1:] - 1)
    targets = [_uncertain_field(scn, u.key, n_phantoms) for u in scn.uncertainty]
    return PackedScenario(kernel=kernel, S=len(strategies), K=scn.periods, M=scn.months,
                          n_phantoms=n_phantoms,
                          strategy_names=[s.name for s in scn.strategies],
                          sampling=Sampling.of(scn), uncertainty=tuple(scn.uncertainty),
                          medians=tuple(float(v) for v, _ in targets),
                          fields=tuple(f for _, f in targets))


def with_path_draws(packed: PackedScenario, seed: int, paths: int) -> PackedScenario:
    """`packed` carrying the normals of paths 0..paths-1 for `seed`, drawn
    once (they travel with it to Dask workers)."""
    normals = packed.sampling.normals(seed, np.arange(paths))
    return dataclasses.replace(packed, draws=PathDraws(int(seed), normals))


def path_inputs(packed: PackedScenario, seed: int, paths):
    """(layout.PathInputs, replicate, [uncertainty] values) of the given path
    numbers: their normals (the run's, else drawn now: the same numbers) and
    per-path copies of the config, segment and strategy records holding the
    path's [uncertainty] values."""
    paths = np.asarray(paths, dtype=np.int64)
    d = packed.draws
    if d is not None and d.seed == int(seed) and (paths < d.normals.shape[0]).all():
        normals = d.normals[paths]
    else:
        normals = packed.sampling.normals(seed, paths)
    values = draw_values(packed.uncertainty, packed.medians, normals)
    k, n = packed.kernel, paths.shape[0]
    records = {"config": np.repeat(k.config[None], n, axis=0),
               "segments": np.repeat(k.segments[None], n, axis=0),
               "strategies": np.repeat(k.strategies[None], n, axis=0)}
    for j, f in enumerate(packed.fields):
        if f is not None:
            records[f.record][f.field][:, f.row] = values[:, j]
    inputs = PathInputs(np.ascontiguousarray(normals), records["config"],
                        records["segments"], records["strategies"])
    return inputs, packed.sampling.replicate(paths), values


@dataclass
class RawOutputs:
    """Kernel outputs for a set of paths, phantom rows already dropped."""
    paths: np.ndarray          # path numbers
    path: np.ndarray           # (n, S) schema.PATH_RECORD
    period: np.ndarray         # (n, S, K) schema.PERIOD_RECORD
    month: np.ndarray          # (n, S, M) schema.MONTH_RECORD
    mult: np.ndarray           # (n, 2): growth, churn multiplier
    events: np.ndarray         # (n, 2) customer events of all strategies; events simulated
    replicate: np.ndarray      # (n,) the path's replicate (sobol; 0 under mc)
    uncertain: np.ndarray      # (n, keys) the path's [uncertainty] values
    log: np.ndarray = None     # (n, L) kernel.layout.LOG rows (day, customer, kind, segment)
    log_n: np.ndarray = None   # (n,) rows each path wanted to log


RAW_FIELDS = ("paths", "path", "period", "month", "mult", "events", "replicate", "uncertain")


def allocate_outputs(packed: PackedScenario, paths, log_rows=0) -> RawOutputs:
    paths = np.ascontiguousarray(paths, dtype=np.int64)
    n = paths.shape[0]
    return RawOutputs(
        paths, np.zeros((n, packed.S), PATH_RECORD),
        np.zeros((n, packed.S, packed.K), PERIOD_RECORD),
        np.zeros((n, packed.S, packed.M), MONTH_RECORD), np.zeros((n, 2)),
        np.zeros((n, 2), dtype=np.int64), np.zeros(n, dtype=np.int64),
        np.zeros((n, len(packed.uncertainty))), np.zeros((n, log_rows), LOG),
        np.zeros(n, dtype=np.int64))


def simulate_into(packed: PackedScenario, seed: int, out: RawOutputs, lo: int, hi: int,
                  log_strategy=-1):
    """Simulate the paths of rows lo..hi-1 of `out` (all strategy rows,
    phantoms included), writing the kernel's outputs in place."""
    log_row = packed.n_phantoms + log_strategy if log_strategy >= 0 else -1
    inputs, replicate, values = path_inputs(packed, seed, out.paths[lo:hi])
    out.replicate[lo:hi] = replicate
    out.uncertain[lo:hi] = values
    simulate_paths(out.paths[lo:hi], np.uint64(seed), packed.kernel, inputs, out.path[lo:hi],
                   out.period[lo:hi], out.month[lo:hi], out.mult[lo:hi], out.events[lo:hi],
                   np.int64(log_row), out.log[lo:hi], out.log_n[lo:hi])


def without_phantoms(packed: PackedScenario, out: RawOutputs) -> RawOutputs:
    ph = packed.n_phantoms
    return RawOutputs(out.paths, out.path[:, ph:], out.period[:, ph:], out.month[:, ph:],
                      out.mult, out.events, out.replicate, out.uncertain, out.log, out.log_n)


def simulate_chunk(packed: PackedScenario, seed: int, paths, log_strategy=-1,
                   log_rows=0) -> RawOutputs:
    """Simulate the given path numbers (in parallel with numba threads).
    With `log_strategy` >= 0 (a scenario strategy index), up to `log_rows`
    contact events per path of that strategy are logged."""
    out = allocate_outputs(packed, paths, log_rows if log_strategy >= 0 else 0)
    simulate_into(packed, seed, out, 0, out.paths.shape[0], log_strategy)
    return without_phantoms(packed, out)


def concat(parts) -> RawOutputs:
    return RawOutputs(*(np.concatenate([getattr(p, f) for p in parts]) for f in RAW_FIELDS))


def contact_log(scn, strategy=None, max_rows=1_000_000, paths=None, seed=None):
    """The WeCom adds and churns of one strategy (default: the first) on
    every path, as a dict of numpy columns: path, day, customer, kind
    (kernel.layout.LOG_ADD / LOG_CHURN), segment. Raises ScenarioError when the
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
    packed = pack_scenario(scn)
    per_path = max(1, max_rows // scn.paths + 1)
    raw = simulate_chunk(packed, scn.seed, np.arange(scn.paths),
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


def estimate_memory(scn, threads: int, chunk: int) -> int:
    """Bytes a run needs at its peak: per-thread path working memory plus the
    output arrays of the whole run (kept for the result tables)."""
    N = scn.population
    pool = N - sum(s.initial_contacts for s in scn.segments)
    initial = N - pool
    S = len(scn.strategies) + sum(1 for s in scn.strategies if s.renewal == "oracle")
    # the calendar (48 * N // 4) twice: strategies resumed from the never-
    # blocked run work on a fork of its calendar (kernel/path.resume_blocking)
    per_path = 40 * pool + 48 * initial + 2 * (48 * N // 4) + 64 * scn.days + 16 * 64 * 1024
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


def run_shape(threads=None, chunk_size=None, executor=None):
    """(threads, paths per chunk) of a run: the one rule. Threads: the
    executor's (1 when it has none), else executor.thread_count(threads);
    chunk: `chunk_size`, else executor.default_chunk(threads)."""
    from .executor import default_chunk, thread_count
    n = getattr(executor, "threads", 1) if executor is not None else thread_count(threads)
    return n, int(chunk_size) if chunk_size else default_chunk(n)


def compile_kernels(packed: PackedScenario) -> float:
    """Compile (or load from numba's cache) the kernels for this packed
    scenario's types by simulating no path; returns the seconds it took.
    A Ctrl-C (or SIGTERM) meanwhile is raised once compilation returns."""
    def compile_now():
        out = allocate_outputs(packed, np.zeros(0, np.int64))
        simulate_into(packed, 0, out, 0, 0)
    start = time.perf_counter()
    _with_signals_held(compile_now)
    return time.perf_counter() - start


def _with_signals_held(work):
    """Run `work()` with the Python handlers of SIGINT and SIGTERM held back,
    then (whether it returned or raised) run the handler of each signal that
    arrived: KeyboardInterrupt after a Ctrl-C.

    LLVM generates machine code in C and then calls llvmlite's object-cache
    hook, a ctypes callback: a signal that arrived meanwhile has its handler
    run inside that callback, where ctypes prints the KeyboardInterrupt as
    "Exception ignored" and drops it, and the run went on (a Ctrl-C at a
    random moment of a first compile was lost about one time in five).
    Nor can a second Ctrl-C be raised at once: it would as often be dropped
    the same way, or in a `__del__`. Handlers belong to the main thread: in
    any other `work()` just runs."""
    import signal
    import threading
    held, previous = [], {}

    def hold(signum, frame):
        held.append(signum)

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(signum)
            if callable(handler):           # not SIG_DFL, SIG_IGN, or one set in C
                previous[signum] = signal.signal(signum, hold)
    try:
        work()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(held):
            previous[signum](signum, None)


def _checked_threads(threads):
    from .scenario import ScenarioError
    cores = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) \
            or not 1 <= threads <= cores:
        raise ScenarioError(f"threads: expected an integer from 1 to {cores} (this "
                            f"machine's cores), or None for all of them; got {threads!r}")
    return int(threads)


def run(scn, paths=None, seed=None, threads=None, chunk_size=None, progress=None,
        executor=None, on_phase=None):
    """Simulate a scenario; returns a `Result` (tables of SPEC section 7).

    `scn`: a Scenario or a scenario file (path or bundled name). `paths` and
    `seed` override the scenario's; `threads` (1 to the cores; default all)
    sets numba's threads; `progress(done, total)` is called after each
    chunk; `executor` (see `executor.py`) defaults to local numba threads;
    `on_phase(name)` hears "compiling" and "simulating" as they start. The
    manifest's `wall_seconds` excludes compilation, `compile_seconds` is it.
    """
    from .executor import LocalExecutor
    from .result import Result
    from .scenario import Scenario, load_scenario
    from .scenario.checks import sampling_warnings
    if not isinstance(scn, Scenario):
        scn = load_scenario(os.fspath(scn))
    if paths is not None or seed is not None:
        scn = scn.replace_run(paths=paths, seed=seed)
    executor = executor or LocalExecutor(_checked_threads(threads))
    n_threads, chunk = run_shape(threads, chunk_size, executor)
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
