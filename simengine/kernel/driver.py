"""The parallel driver: paths in a numba prange. Each path's results depend
only on its number, so threads and chunking never change a number."""
from collections import namedtuple

from numba import njit, prange

from .path import simulate_path

# Outputs of n paths (schema's records): path[n, S], period[n, S, K],
# month[n, S, M]; mult[n, 2] (growth, churn multiplier); events[n, 2]
# (customer events of every strategy, events simulated); log[n, L]
# (layout.LOG) and log_n[n] (rows each path wanted to log).
KernelOutputs = namedtuple("KernelOutputs", "path period month mult events log log_n")


@njit(cache=True, parallel=True)
def simulate_paths(paths, seed, scn, out, log_strategy):
    """Simulate paths[i] into row i of every output, in parallel."""
    # unpacked here: writing through `out.events[i, 0]` inside the prange lost the
    # writes (numba 0.68)
    path, period, month, mult, events, log, log_n = out
    for i in prange(paths.shape[0]):
        represented, simulated, logged = simulate_path(
            paths[i], seed, scn, path[i], period[i], month[i], mult[i], log_strategy, log[i])
        events[i, 0] = represented
        events[i, 1] = simulated
        log_n[i] = logged
