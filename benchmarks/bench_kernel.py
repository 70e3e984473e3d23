"""The kernel: time per path as the population grows, customer events per
second, and the memory of a run."""
import numpy as np

from . import (SEED, customer_events, pack_scenario, scenario, set_threads, simulate_chunk,
               timed, warm)

SIZES = [100_000, 1_000_000, 10_000_000]
# paths per events/s measurement: enough work for a stable rate, not more
TRACK_PATHS = {100_000: 16, 1_000_000: 4, 10_000_000: 1}


class Kernel:
    """One path of the default scenario (3 years, 7 strategies) on one
    thread, `customers` customers (initial contacts scaled with them).
    `setup` compiles or loads the kernel and runs the path once, so the
    timing excludes compilation and the first touch of its memory."""
    params = [SIZES]
    param_names = ["customers"]
    number = 1
    repeat = (1, 5, 10.0)
    rounds = 1
    warmup_time = 0
    timeout = 300

    def setup(self, customers):
        set_threads(1)
        warm()
        self.packed = pack_scenario(scenario(customers))
        self.path = np.arange(1)
        self.time_path(customers)

    def time_path(self, customers):
        simulate_chunk(self.packed, SEED, self.path)

    def track_events_per_second(self, customers):
        seconds, raw = timed(simulate_chunk, self.packed, SEED,
                             np.arange(1, 1 + TRACK_PATHS[customers]))
        return customer_events(raw) / seconds

    track_events_per_second.unit = "events/s"


class KernelMemory:
    """Peak resident memory of `simengine.run` on the default scenario,
    1,000,000 customers, a few paths, 2 threads (or all there are)."""
    timeout = 300

    def setup(self):
        import numba
        set_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        warm()
        self.scn = scenario(1_000_000)

    def peakmem_run_1m_customers_4_paths(self):
        import numba
        import simengine
        simengine.run(self.scn, paths=4, seed=SEED, threads=numba.get_num_threads())
