"""Before/after timing of the kernel: two source trees (say the code before a
change and after it), each timed in fresh processes, runs alternating
between the trees so drift in the machine's load hits both alike.

    python benchmarks/compare.py OLD_TREE NEW_TREE [--rounds 5] [--paths 16]
                                 [--threads 1 2] [--compile 2] [--asv 3]

Per-path time: the default scenario (1,000,000 customers, 3 years, 7
strategies; sampling = "mc" in trees that have it), `simulate_chunk` on
`--paths` paths (1..paths) in one call, after a warm-up (numba's cache
warm, threads awake); per process the fastest of `--reps` calls, as wall
time and as the process's CPU time (on a shared machine CPU time is the
steadier figure; with 2 threads it adds both threads' time), each over the
paths. Compile: the cold first-run overhead of
benchmarks/bench_compile.py's probe with an empty NUMBA_CACHE_DIR. `--asv N`:
N samples per tree of the asv figures this tree's benchmarks compute
(`MarginalStrategy.track_ms_per_path` for each kind, `Kernel.track_events_per_second`
at 1,000,000 customers), each in a fresh process with the tree's own
`benchmarks` package, trees alternating (asv itself would run each commit's
benchmarks in turn, not alternating). `--measure N`: N samples per tree of
`benchmarks/measure.py --quick` (the README's performance table, short),
trees alternating: the default's 1,000 paths on 2 threads and on 1 (from
its 40-path runs) and customer events per second. `--optimize N`: N samples
per tree of `simengine optimize` on the default with its default space (2
threads, warm: the seconds "in all" it prints), trees alternating. Prints medians (and every
sample) per tree. `--json FILE` also writes them, with each tree's commit and the
command, for `docs/make_readme.py`'s before-and-after table of the README
(`benchmarks/before_after.json`).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SEED = 20230914

WORKER = """
import json, sys, time
import numba, numpy as np
threads, paths, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
import simengine
try:
    from simengine.chunks import simulate_chunk
    from simengine.packing import pack_scenario
except ImportError:     # a tree before simengine.chunks and simengine.packing
    from simengine.engine import pack_scenario, simulate_chunk
numba.set_num_threads(threads)
try:        # independent paths where the tree has sampling (issue 11), as before it
    scn = simengine.load_scenario("default", ["scenario.sampling=mc"])
except simengine.ScenarioError:
    scn = simengine.load_scenario("default")
packed = pack_scenario(scn)
simulate_chunk(packed, SEED, np.arange(threads))          # compile or load, wake threads
wall, cpu = [], []
for _ in range(reps):
    t, c = time.perf_counter(), time.process_time()
    simulate_chunk(packed, SEED, np.arange(1, 1 + paths))
    wall.append((time.perf_counter() - t) / paths)
    cpu.append((time.process_time() - c) / paths)
print("RESULT " + json.dumps({"wall": min(wall), "cpu": min(cpu)}))
""".replace("SEED", str(SEED))


ASV = """
import json, sys
import numpy as np
from benchmarks.bench_kernel import Kernel
from benchmarks.bench_optimize import MarginalStrategy
out = {}
for kind in ("blocking", "never_blocking", "space"):
    m = MarginalStrategy()
    m.setup(kind)
    out["marginal_" + kind] = m.track_ms_per_path(kind)
k = Kernel()
k.setup(1_000_000)
out["events_per_second_1m"] = k.track_events_per_second(1_000_000)
print("RESULT " + json.dumps(out))
"""


def _run(tree, code, args, env=None):
    env = dict(os.environ if env is None else env, PYTHONPATH=tree)
    p = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env,
                       capture_output=True, text=True, cwd=tree)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode or not lines:
        raise RuntimeError(f"{tree}: {p.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def per_path(tree, threads, paths, reps):
    """(wall, cpu) seconds per path: the fastest of `reps` calls in one process."""
    r = _run(tree, WORKER, [threads, paths, reps])
    return r["wall"], r["cpu"]


def compile_cold(tree):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks.bench_compile import PROBE
    d = tempfile.mkdtemp(prefix="simengine-numba-cache-")
    try:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        out = subprocess.run([sys.executable, "-c", PROBE], env=dict(env, PYTHONPATH=tree),
                             capture_output=True, text=True, cwd=tree, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])["compile"]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def measure_quick(tree):
    """The tree's `benchmarks/measure.py --quick` in a fresh process: the
    default's 1,000 paths (seconds) on 2 threads and on 1, and customer
    events per second on 2 threads and on 1, each the median of its runs."""
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        subprocess.run([sys.executable, "benchmarks/measure.py", "--quick", "--quiet",
                        "--json", path], env=dict(os.environ, PYTHONPATH=tree), cwd=tree,
                       capture_output=True, text=True, check=True)
        with open(path) as f:
            raw = json.load(f)
    finally:
        os.remove(path)
    out = {}
    for key, name in (("default_2_threads", "2_threads"), ("default_1_thread", "1_thread")):
        runs = raw[key]
        out[f"measure_default_1000_paths_{name}"] = statistics.median(
            r["wall"] * 1000 / r["paths"] for r in runs)
        out[f"measure_events_per_second_{name}"] = statistics.median(r["eps"] for r in runs)
    return out


def optimize_seconds(tree):
    """The tree's `simengine optimize` of the default (its default space, all
    cores) in a fresh process: the seconds "in all" it prints (the search
    and the validation, compilation excluded)."""
    import re
    out = tempfile.mkdtemp(prefix="simengine-optimize-")
    try:
        p = subprocess.run([sys.executable, "-m", "simengine", "optimize", "--out",
                            os.path.join(out, "opt")], env=dict(os.environ, PYTHONPATH=tree),
                           cwd=tree, capture_output=True, text=True, check=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    found = re.findall(r"in all ([0-9.]+) s", p.stdout)
    if not found:
        raise RuntimeError(f"{tree}: no time in simengine optimize's output")
    return float(found[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--paths", type=int, default=16)
    ap.add_argument("--reps", type=int, default=3, help="timed calls per process (fastest kept)")
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--compile", type=int, default=0, help="cold compile samples per tree")
    ap.add_argument("--asv", type=int, default=0, help="samples per tree of the asv figures")
    ap.add_argument("--measure", type=int, default=0,
                    help="samples per tree of benchmarks/measure.py --quick")
    ap.add_argument("--optimize", type=int, default=0,
                    help="samples per tree of simengine optimize on the default")
    ap.add_argument("--json", help="also write the samples, commits and command to this file")
    args = ap.parse_args(argv)
    trees = {"old": os.path.abspath(args.old), "new": os.path.abspath(args.new)}
    results = {}
    for threads in args.threads:
        wall, cpu = {k: [] for k in trees}, {k: [] for k in trees}
        for r in range(args.rounds):
            order = list(trees) if r % 2 == 0 else list(trees)[::-1]
            for k in order:
                w, c = per_path(trees[k], threads, args.paths, args.reps)
                wall[k].append(w)
                cpu[k].append(c)
        results[f"per_path_{threads}_threads_wall"] = wall
        results[f"per_path_{threads}_threads_cpu"] = cpu
    if args.compile:
        samples = {k: [] for k in trees}
        for r in range(args.compile):
            for k in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
                samples[k].append(compile_cold(trees[k]))
        results["compile_cold"] = samples
    if args.asv:
        for r in range(args.asv):
            for k in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
                for fig, value in _run(trees[k], ASV, []).items():
                    results.setdefault(fig, {t: [] for t in trees})[k].append(value)
    for r in range(args.measure):
        for k in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
            for fig, value in measure_quick(trees[k]).items():
                results.setdefault(fig, {t: [] for t in trees})[k].append(value)
    for r in range(args.optimize):
        for k in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
            results.setdefault("optimize_default", {t: [] for t in trees})[k].append(
                optimize_seconds(trees[k]))
    for fig, samples in results.items():
        med = {k: statistics.median(v) for k, v in samples.items()}
        unit, scale = (("ms", 1e3) if fig.startswith("per_path") else
                       ("ms", 1.0) if fig.startswith("marginal") else
                       ("M/s", 1e-6) if fig.startswith(("events", "measure_events")) else
                       ("s", 1.0))
        print(f"{fig}: old {med['old'] * scale:.1f} {unit}, new {med['new'] * scale:.1f} {unit} "
              f"(new/old {med['new'] / med['old']:.3f})")
        for k, v in samples.items():
            print(f"    {k}: " + ", ".join(f"{x * scale:.1f}" for x in v))
    print("RAW " + json.dumps(results))
    if args.json:
        record = {"command": "python benchmarks/compare.py OLD NEW " + " ".join(
                      f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                      for k, v in (("rounds", args.rounds), ("paths", args.paths),
                                   ("threads", args.threads), ("compile", args.compile),
                                   ("asv", args.asv), ("measure", args.measure),
                                   ("optimize", args.optimize))),
                  "commits": {k: _commit(t) for k, t in trees.items()},
                  "samples": results}
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
            f.write("\n")


def _commit(tree):
    p = subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)
    return p.stdout.strip() or None


if __name__ == "__main__":
    main()
