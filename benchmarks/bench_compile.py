"""Compilation: the first run in a fresh process with an empty numba cache
(cold) and with a filled one (cached)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

# A fresh interpreter: import, then a tiny run twice; the first run's extra
# time over the second is what compiling (or loading the cache) costs. Its
# CPU time too: compiling is single threaded, so on a busy machine the CPU
# time is the steadier figure.
PROBE = """
import json, resource, time

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

t0 = time.perf_counter()
import simengine
t1 = time.perf_counter()
scn = simengine.load_scenario("default", ["population.size=10000", "scenario.horizon_years=1",
    "segment.vip.initial_contacts=120", "segment.repeat.initial_contacts=450",
    "segment.new.initial_contacts=330", "segment.prospect.initial_contacts=100"])
t2, c2 = time.perf_counter(), cpu()
simengine.run(scn, paths=2, seed=1, threads=1)
t3, c3 = time.perf_counter(), cpu()
simengine.run(scn, paths=2, seed=1, threads=1)
t4, c4 = time.perf_counter(), cpu()
print(json.dumps({"import": t1 - t0, "first_run": t3 - t2, "second_run": t4 - t3,
                  "compile": (t3 - t2) - (t4 - t3), "compile_cpu": (c3 - c2) - (c4 - c3)}))
"""


def probe(cache_dir, timeout=600):
    """Run PROBE in a subprocess with NUMBA_CACHE_DIR=cache_dir; its JSON."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, timeout=timeout, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


class Compile:
    """Seconds that compiling the kernel adds to a fresh process's first run
    (cold: empty cache; cached: numba's on-disk cache filled beforehand),
    wall and CPU time. One cold and one cached probe serve every figure."""
    timeout = 600

    def setup_cache(self):
        cache_dir = tempfile.mkdtemp(prefix="simengine-numba-cache-")
        try:
            return {"cold": probe(cache_dir), "cached": probe(cache_dir)}
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)

    def track_compile_seconds_cold(self, probes):
        return probes["cold"]["compile"]

    track_compile_seconds_cold.unit = "s"

    def track_compile_cpu_seconds_cold(self, probes):
        return probes["cold"]["compile_cpu"]

    track_compile_cpu_seconds_cold.unit = "s"

    def track_compile_seconds_cached(self, probes):
        return probes["cached"]["compile"]

    track_compile_seconds_cached.unit = "s"
