"""Precision per second: how tight the P95 of cost gets for the time spent.

A change that loses precision (worse sampling, a broken interval) or speed
shows as a rise of `track_p95_width_sqrt_seconds`: the mean, over the main
strategies, of the 95% interval's half-width of P95 of economic cost
relative to P95, times the square root of the run's wall time (for plain
Monte Carlo the half-width falls as 1 / sqrt(paths), so this figure does not
depend on the path count; quasi-Monte Carlo lowers it). Lower is better, as
asv reads every figure. `benchmarks/measure_precision.py` makes the full
table of docs/precision.md.
"""
import math

from . import SEED, scenario, warm
from .measure_precision import MAIN, p95_half_widths

POPULATION = 100_000        # the default's customers, scaled: about 10 ms a path
PATHS = 256


class Precision:
    """The bundled default at 100,000 customers, 256 paths, all threads,
    under each sampling; one run each (setup_cache), timed by the manifest
    (compilation excluded)."""
    params = [["sobol", "mc"]]
    param_names = ["sampling"]
    timeout = 600

    def setup_cache(self):
        import simengine
        warm()
        out = {}
        for method in self.params[0]:
            res = simengine.run(scenario(POPULATION, paths=PATHS, sampling=method), seed=SEED)
            halves = p95_half_widths(res.summary)
            out[method] = {"wall": res.manifest["wall_seconds"],
                           "half": sum(halves[s][1] for s in MAIN) / len(MAIN)}
        return out

    def track_p95_width_sqrt_seconds(self, runs, sampling):
        r = runs[sampling]
        return r["half"] * math.sqrt(r["wall"])

    track_p95_width_sqrt_seconds.unit = "sqrt(s)"

    def track_p95_relative_half_width(self, runs, sampling):
        """The precision alone (the seed is fixed, so it moves only when the
        numbers do)."""
        return runs[sampling]["half"]

    track_p95_relative_half_width.unit = "fraction of P95"
