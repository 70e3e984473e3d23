"""The driver: a chunk's paths on numba's thread count (`numba.get_num_threads`,
which the executor sets). Each path's results depend only on its number and
its inputs (normals and records, computed per run by the engine), so threads
and chunking never change a number.

The threads are Python threads, each calling the compiled `simulate_rows`
(which releases the GIL) for the next path not yet taken, so a slow path
holds up no other. Not a numba prange: a parallel function compiles the
whole kernel three more times (its body and two wrappers), a third of the
first compile.
"""
import itertools
import threading

import numba

from ..jit import jit
from .layout import KernelScenario
from .path import simulate_path


def simulate_paths(paths, seed, scn, inputs, out_path, out_period, out_month, out_mult,
                   out_events, log_strategy, out_log, out_log_n):
    """Simulate paths[i] into row i of every output, in parallel: out_path[n, S]
    (schema.PATH_RECORD), out_period[n, S, K], out_month[n, S, M]; out_mult[n, 2]
    (growth, churn multiplier); out_events[n, 2] (customer events of every
    strategy, events simulated); the contact log of row `log_strategy` (-1:
    none) in out_log[n, L] (layout.LOG), out_log_n[n] the rows each path
    wanted. `inputs` (layout.PathInputs): row i holds path i's normals and
    its own config, segment and strategy records, which replace the
    scenario's. With no path, it compiles the kernel (or loads it from
    numba's cache)."""
    args = (paths, seed, scn, inputs, out_path, out_period, out_month, out_mult, out_events,
            log_strategy, out_log, out_log_n)
    n = paths.shape[0]
    threads = min(numba.get_num_threads(), n)
    if threads <= 1:
        simulate_rows(0, n, *args)
        return
    taken = itertools.count()           # next() under the GIL: each path taken once
    stop = threading.Event()
    errors = []

    def work():
        try:
            for i in taken:
                if i >= n or stop.is_set():
                    return
                simulate_rows(i, i + 1, *args)
        except BaseException as e:      # a helper's error, or a Ctrl-C in this thread
            errors.append(e)
            stop.set()

    helpers = [threading.Thread(target=work, name=f"simengine-paths-{k}")
               for k in range(threads - 1)]
    for t in helpers:
        t.start()
    try:
        work()
    finally:
        stop.set()                      # no path taken any more; those under way finish
        for t in helpers:
            t.join()
    if errors:
        raise errors[0]


@jit(nogil=True)
def simulate_rows(lo, hi, paths, seed, scn, inputs, out_path, out_period, out_month, out_mult,
                  out_events, log_strategy, out_log, out_log_n):
    """Rows lo..hi-1 of `simulate_paths`, one after the other."""
    for i in range(lo, hi):
        path_scn = KernelScenario(inputs.config[i], scn.tiers, inputs.segments[i],
                                  inputs.strategies[i], scn.admit, scn.reserve, scn.season_day,
                                  scn.month_end)
        represented, simulated, logged = simulate_path(
            paths[i], seed, path_scn, inputs.normals[i], out_path[i], out_period[i],
            out_month[i], out_mult[i], log_strategy, out_log[i])
        out_events[i, 0] = represented
        out_events[i, 1] = simulated
        out_log_n[i] = logged
