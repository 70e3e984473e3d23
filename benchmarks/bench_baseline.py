"""The engine against a plain NumPy day-stepped version of the same
dynamics (benchmarks/numpy_baseline.py), one never-binding strategy."""
import statistics

import numpy as np

from . import (SEED, one_strategy, pack_scenario, set_threads, simulate_chunk, timed,
               warm)
from .numpy_baseline import simulate_scenario


class Baseline:
    """100,000 customers of the default scenario x 1 year, one fixed tier
    that never binds, one path on one thread."""
    number = 1
    repeat = (1, 5, 10.0)
    rounds = 1
    warmup_time = 0
    timeout = 300

    def setup(self):
        set_threads(1)
        warm()
        self.scn = one_strategy(100_000, horizon_years=1)
        self.packed = pack_scenario(self.scn)
        self.time_engine_path()

    def time_numpy_day_stepped(self):
        simulate_scenario(self.scn, rng=SEED)

    def time_engine_path(self):
        simulate_chunk(self.packed, SEED, np.arange(1))

    def track_ratio_numpy_over_engine(self):
        """Median NumPy time over median engine time per path (3 and 9 runs)."""
        numpy_s = [timed(simulate_scenario, self.scn, rng=SEED + i)[0] for i in range(3)]
        engine_s = [timed(simulate_chunk, self.packed, SEED, np.arange(i, i + 1))[0]
                    for i in range(9)]
        return statistics.median(numpy_s) / statistics.median(engine_s)

    track_ratio_numpy_over_engine.unit = "x"
