"""The parallel driver: paths in a numba prange. Each path's results depend
only on its number and its inputs (normals and records, computed per run by
the engine), so threads and chunking never change a number."""
from numba import prange

from ..jit import jit
from .layout import KernelScenario
from .path import simulate_path


@jit(parallel=True)
def simulate_paths(paths, seed, scn, inputs, out_path, out_period, out_month, out_mult,
                   out_events, log_strategy, out_log, out_log_n):
    """Simulate paths[i] into row i of every output, in parallel: out_path[n, S]
    (schema.PATH_RECORD), out_period[n, S, K], out_month[n, S, M]; out_mult[n, 2]
    (growth, churn multiplier); out_events[n, 2] (customer events of every
    strategy, events simulated); the contact log of row `log_strategy` (-1:
    none) in out_log[n, L] (layout.LOG), out_log_n[n] the rows each path
    wanted. `inputs` (layout.PathInputs): row i holds path i's normals and
    its own config, segment and strategy records, which replace the
    scenario's. (Outputs are separate arrays: numba 0.68 lost writes made
    inside a prange to arrays taken from a namedtuple.)"""
    for i in prange(paths.shape[0]):
        path_scn = KernelScenario(inputs.config[i], scn.tiers, inputs.segments[i],
                                  inputs.strategies[i], scn.admit, scn.reserve, scn.season_day,
                                  scn.month_end)
        represented, simulated, logged = simulate_path(
            paths[i], seed, path_scn, inputs.normals[i], out_path[i], out_period[i],
            out_month[i], out_mult[i], log_strategy, out_log[i])
        out_events[i, 0] = represented
        out_events[i, 1] = simulated
        out_log_n[i] = logged
