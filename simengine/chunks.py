"""The work of one chunk of paths: allocate the kernel's outputs, simulate
paths into them (numba threads within the chunk), drop the phantom rows,
join chunks; and compile the kernels before a run.

Executors (executor.py) call these; nothing here calls back up.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from .kernel.driver import simulate_paths
from .kernel.layout import LOG
from .packing import PackedScenario, path_inputs
from .schema import MONTH_RECORD, PATH_RECORD, PERIOD_RECORD


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


def compile_kernels(packed: PackedScenario) -> float:
    """Compile (or load from numba's cache) the kernels for this packed
    scenario's types by simulating no path; returns the seconds it took.
    A Ctrl-C (or SIGTERM) meanwhile is acknowledged at once on stderr and
    raised once compilation returns."""
    def compile_now():
        out = allocate_outputs(packed, np.zeros(0, np.int64))
        simulate_into(packed, 0, out, 0, 0)
    start = time.perf_counter()
    _with_signals_held(compile_now, lambda signum: _acknowledge(signum, start))
    return time.perf_counter() - start


SIGNAL_WORDS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


def _acknowledge(signum, start):
    """Say at once that a held signal was heard, and when it will act: a
    first compilation takes 20 to 60 s (a load from numba's cache, well
    under a second, would have returned already). Prompt: numba's compiler
    is mostly Python, so the handler runs within a second even while LLVM
    works (0.85 s at most, measured on the default's kernels). Written with
    os.write: the handler may run while Python is inside another write to
    stderr."""
    text = (f"\nsimengine: {SIGNAL_WORDS.get(signum, 'signal')} received; it takes effect when "
            "the kernels' compilation returns (a first compilation takes 20 to 60 s; "
            f"{time.perf_counter() - start:.0f} s so far)\n")
    try:
        os.write(sys.stderr.fileno(), text.encode())
    except (AttributeError, OSError, ValueError):    # stderr replaced (a test's capture)
        print(text, end="", file=sys.stderr, flush=True)


def _with_signals_held(work, acknowledge=None):
    """Run `work()` with the Python handlers of SIGINT and SIGTERM held back,
    then (whether it returned or raised) run the handler of each signal that
    arrived: KeyboardInterrupt after a Ctrl-C. `acknowledge(signum)` is
    called as each kind of signal first arrives (the user is told at once
    that it was heard; it acts later).

    LLVM generates machine code in C and then calls llvmlite's object-cache
    hook, a ctypes callback: a signal that arrived meanwhile has its handler
    run inside that callback, where ctypes prints the KeyboardInterrupt as
    "Exception ignored" and drops it, and the run went on (a Ctrl-C at a
    random moment of a first compile was lost about one time in five).
    Nor can a second Ctrl-C be raised at once: it would as often be dropped
    the same way, or in a `__del__`. Handlers belong to the main thread: in
    any other `work()` just runs."""
    held, previous = [], {}

    def hold(signum, frame):
        if acknowledge is not None and signum not in held:
            acknowledge(signum)
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
