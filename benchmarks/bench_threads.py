"""Threads: the same batch of paths on 1 and 2 numba threads."""
import statistics

import numpy as np

from . import SEED, pack_scenario, scenario, set_threads, simulate_chunk, timed, warm

BATCH = 8            # paths of the default scenario, 1,000,000 customers


class Threads:
    """A batch of 8 paths of the default scenario (1,000,000 customers,
    3 years, 7 strategies) in one parallel call."""
    params = [[1, 2]]
    param_names = ["threads"]
    number = 1
    repeat = (1, 5, 20.0)
    rounds = 1
    warmup_time = 0
    timeout = 300

    def setup(self, threads):
        set_threads(threads)
        warm()
        self.packed = pack_scenario(scenario(1_000_000))
        self.paths = np.arange(BATCH)
        # wake the threads and touch the memory once
        simulate_chunk(self.packed, SEED, np.arange(threads))

    def teardown(self, threads):
        import numba
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)

    def time_batch(self, threads):
        simulate_chunk(self.packed, SEED, self.paths)

    def track_speedup(self, threads):
        """Wall time of the batch on 1 thread over that on `threads`,
        medians of 3 alternating runs."""
        import numba
        t = {1: [], threads: []}
        for _ in range(3):
            for n in t:
                numba.set_num_threads(n)
                t[n].append(timed(simulate_chunk, self.packed, SEED, self.paths)[0])
        numba.set_num_threads(threads)
        return statistics.median(t[1]) / statistics.median(t[threads])

    track_speedup.unit = "x"
