"""Precision per second: how tight the P95 of cost gets for the time spent.

A change that loses precision (worse sampling, a broken interval) or speed
shows as a rise of `track_p95_width_sqrt_seconds`: the half-width of the 95%
interval of P95 of economic cost relative to P95, averaged over the main
strategies and over a few seeds, times the square root of a run's wall time
(for plain Monte Carlo the half-width falls as 1 / sqrt(paths), so this
figure does not depend on the path count; quasi-Monte Carlo lowers it).
Lower is better, as asv reads every figure. `benchmarks/measure_precision.py`
makes the full table of docs/precision.md.
"""
import math

from . import SEED, scenario, warm
from .measure_precision import MAIN, p95_half_widths

POPULATION = 100_000        # the default's customers, scaled: about 10 ms a path
PATHS = 128
SEEDS = 4                   # one interval's width varies by about 25% (8 replicates)


class Precision:
    """The bundled default at 100,000 customers, 128 paths, all threads,
    under each sampling, on SEEDS seeds (setup_cache: once), timed by the
    manifests (compilation excluded)."""
    params = [["sobol", "mc"]]
    param_names = ["sampling"]
    timeout = 600

    def setup_cache(self):
        import simengine
        warm()
        out = {}
        for method in self.params[0]:
            scn = scenario(POPULATION, paths=PATHS, sampling=method)
            walls, halves = [], []
            for k in range(SEEDS):
                res = simengine.run(scn, seed=SEED + k)
                widths = p95_half_widths(res.summary)
                walls.append(res.manifest["wall_seconds"])
                halves.append(sum(widths[s][1] for s in MAIN) / len(MAIN))
            out[method] = {"wall": sum(walls) / SEEDS, "half": sum(halves) / SEEDS}
        return out

    def track_p95_width_sqrt_seconds(self, runs, sampling):
        r = runs[sampling]
        return r["half"] * math.sqrt(r["wall"])

    track_p95_width_sqrt_seconds.unit = "sqrt(s)"

    def track_p95_relative_half_width(self, runs, sampling):
        """The precision alone (the seeds are fixed, so it moves only when
        the numbers do)."""
        return runs[sampling]["half"]

    track_p95_relative_half_width.unit = "fraction of P95"
