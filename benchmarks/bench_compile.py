"""Compilation: the first run in a fresh process with an empty numba cache
(cold) and with a filled one (cached)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

# A fresh interpreter: import, then a tiny run twice; the first run's extra
# time over the second is what compiling (or loading the cache) costs.
PROBE = """
import json, time
t0 = time.perf_counter()
import simengine
t1 = time.perf_counter()
scn = simengine.load_scenario("default", ["population.size=10000", "scenario.horizon_years=1",
    "segment.vip.initial_contacts=120", "segment.repeat.initial_contacts=450",
    "segment.new.initial_contacts=330", "segment.prospect.initial_contacts=100"])
t2 = time.perf_counter()
simengine.run(scn, paths=2, seed=1, threads=1)
t3 = time.perf_counter()
simengine.run(scn, paths=2, seed=1, threads=1)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_run": t3 - t2, "second_run": t4 - t3,
                  "compile": (t3 - t2) - (t4 - t3)}))
"""


def probe(cache_dir, timeout=600):
    """Run PROBE in a subprocess with NUMBA_CACHE_DIR=cache_dir; its JSON."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, timeout=timeout, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


class Compile:
    """Seconds that compiling the kernel adds to a fresh process's first run
    (cold: empty cache; cached: numba's on-disk cache filled beforehand)."""
    timeout = 600

    def setup(self):
        self.dir = tempfile.mkdtemp(prefix="simengine-numba-cache-")

    def teardown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def track_compile_seconds_cold(self):
        return probe(self.dir)["compile"]

    track_compile_seconds_cold.unit = "s"

    def track_compile_seconds_cached(self):
        probe(self.dir)                    # fills the cache
        return probe(self.dir)["compile"]

    track_compile_seconds_cached.unit = "s"
