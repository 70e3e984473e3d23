"""The driver: a chunk's paths on numba's thread count (`numba.get_num_threads`,
which the executor sets). Each path's results depend only on its number and
its inputs (normals and records, computed per run by the engine), so threads
and chunking never change a number.

The threads are Python threads, each calling the compiled
`path.simulate_path` (which releases the GIL) for the next path not yet
taken, so a slow path holds up no other. Not a numba prange, nor a compiled
loop over the paths: a compiled function that calls the kernel compiles the
whole kernel again, a parallel one four times (itself, its loop body and two
wrappers); that was about 30% of the first compile.
"""
import itertools
import threading

import numba
import numpy as np

from .layout import Chunk, ChunkOutputs
from .path import simulate_path


def record_bytes(records):
    """The bytes of `records` (n, S, ...), a view: (n, S, bytes per row)."""
    n, S = records.shape[:2]
    return records.view(np.uint8).reshape(n, S, records.dtype.itemsize *
                                          int(np.prod(records.shape[2:], dtype=np.int64)))


def simulate_paths(paths, seed, scn, inputs, out_path, out_period, out_month, out_mult,
                   out_events, log_strategy, out_log, out_log_n):
    """Simulate paths[i] into row i of every output, in parallel: out_path[n, S]
    (schema.PATH_RECORD), out_period[n, S, K], out_month[n, S, M]; out_mult[n, 2]
    (growth, churn multiplier); out_events[n, 2] (customer events of every
    strategy, events simulated); the contact log of row `log_strategy` (-1:
    none) in out_log[n, L] (layout.LOG), out_log_n[n] the rows each path
    wanted. `inputs` (layout.PathInputs): row i holds path i's normals and
    its own config, segment and strategy records, which replace the
    scenario's. With no path, it compiles the kernel for these types (or
    loads it from numba's cache)."""
    chunk = Chunk(paths, seed, scn, inputs, log_strategy)
    n = paths.shape[0]
    out = ChunkOutputs(out_path, out_period, out_month, out_mult, out_events, out_log, out_log_n,
                       *(record_bytes(a) for a in (out_path, out_period, out_month)))
    if n == 0:
        simulate_path.compile((numba.int64, numba.typeof(chunk), numba.typeof(out)))
        return
    taken = itertools.count()           # next() under the GIL: each path taken once
    stop = threading.Event()
    errors = []

    def work():
        try:
            for i in taken:
                if i >= n or stop.is_set():
                    return
                simulate_path(i, chunk, out)
        except BaseException as e:      # a helper's error, or a Ctrl-C in this thread
            errors.append(e)
            stop.set()

    helpers = [threading.Thread(target=work, name=f"simengine-paths-{k}")
               for k in range(min(numba.get_num_threads(), n) - 1)]
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
