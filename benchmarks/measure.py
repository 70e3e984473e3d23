"""Measure the README's performance figures and print them as a markdown table.

    python benchmarks/measure.py              # full: about 5-10 minutes on 2 cores
    python benchmarks/measure.py --quick      # short version: about 2 minutes
    python benchmarks/measure.py --repeat 5   # fresh processes per repeated figure

Every measurement runs in a fresh Python process (so one figure's memory,
threads or JIT state never leaks into another) started through a small
wrapper process that reads the child's peak RSS with
`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`. Timings exclude numba's
compilation (each process first does a tiny warm-up run) except the compile
figures themselves. Figures taken over several runs are medians.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEED = 20230914


# --------------------------------------------------------------------------
# Work done inside a fresh process (`--worker`): each returns a JSON-able dict.

def _bench():
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    import benchmarks
    return benchmarks


def task_run(population=1_000_000, paths=100, threads=2, dormant=0):
    """`simengine.run` on the default scenario at `population` (initial contacts
    scaled); the manifest's wall time excludes compilation (warmed first)."""
    import simengine
    b = _bench()
    b.warm()
    scn = (simengine.load_scenario("default") if population == 1_000_000 and not dormant
           else b.scenario(population, dormant=dormant))
    t = time.perf_counter()
    res = simengine.run(scn, paths=paths, seed=SEED, threads=threads)
    total = time.perf_counter() - t
    m = res.manifest
    return {"wall": m["wall_seconds"], "total": total, "events": m["customer_events"],
            "eps": m["events_per_second"], "threads": m["threads"], "paths": paths,
            "simulated_eps": m.get("simulated_events_per_second"),
            "strategies": len(scn.strategies), "years": scn.horizon_years}


def task_kernel(configs, paths=5):
    """Per-path kernel time on one thread for each config (a dict of
    `benchmarks.scenario` keywords, or with `one_strategy: true` the
    never-binding single strategy). Paths are interleaved across configs
    (path p of every config, then p + 1...) so drift in the machine's load
    hits them alike; medians over `paths` paths each."""
    import numba
    import numpy as np
    b = _bench()
    pack_scenario, simulate_chunk = b.pack_scenario, b.simulate_chunk
    numba.set_num_threads(1)
    b.warm()
    packed, out = [], []
    for c in configs:
        c = dict(c)
        scn = (b.one_strategy(c["population"], c.get("horizon_years"))
               if c.pop("one_strategy", False) else b.scenario(**c))
        packed.append(pack_scenario(scn))
        simulate_chunk(packed[-1], SEED, np.arange(1))       # touch the memory once
        out.append({"secs": [], "events": [], "strategies": len(scn.strategies),
                    "days": scn.days, "customers": scn.population})
    for p in range(paths):
        for inp, o in zip(packed, out):
            t = time.perf_counter()
            raw = simulate_chunk(inp, SEED, np.arange(p, p + 1))
            o["secs"].append(time.perf_counter() - t)
            o["events"].append(b.customer_events(raw))
    for o in out:
        o["median"] = statistics.median(o["secs"])
        o["events_median"] = statistics.median(o["events"])
        o["ns_per_event"] = 1e9 * sum(o["secs"]) / max(1, sum(o["events"]))
    return {"results": out}


def task_numpy(population=1_000_000, horizon_years=5, paths=1):
    """Per-path time of the NumPy day-stepped baseline (one never-binding strategy)."""
    b = _bench()
    from benchmarks.numpy_baseline import simulate_scenario
    scn = b.one_strategy(population, horizon_years)
    secs = []
    for p in range(paths):
        t = time.perf_counter()
        simulate_scenario(scn, rng=SEED + p)
        secs.append(time.perf_counter() - t)
    return {"median": statistics.median(secs), "secs": secs}


def task_compile(cache_dir, runs=1):
    """The compile probe of bench_compile: `runs` fresh processes sharing cache_dir."""
    _bench()
    from benchmarks.bench_compile import probe
    return {"probes": [probe(cache_dir) for _ in range(runs)]}


TASKS = {"run": task_run, "kernel": task_kernel, "numpy": task_numpy, "compile": task_compile}


# --------------------------------------------------------------------------
# Process plumbing: parent -> wrapper (--child, measures RSS) -> worker (--worker).

def _worker(spec):
    out = TASKS[spec.pop("task")](**spec)
    print("RESULT " + json.dumps(out), flush=True)


def _child(spec_text):
    import resource
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", spec_text],
                       capture_output=True, text=True)
    rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode or not lines:
        print("ERROR " + json.dumps({"rc": p.returncode, "stderr": p.stderr[-3000:]}))
        return
    out = json.loads(lines[-1][7:])
    out["max_rss_bytes"] = rss_kib * 1024
    print("RESULT " + json.dumps(out), flush=True)


def measure(task, log=None, **spec):
    """Run one task in a fresh process; its result dict with max_rss_bytes."""
    spec["task"] = task
    text = json.dumps(spec)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", text],
                       capture_output=True, text=True)
    lines = p.stdout.splitlines()
    res = [ln for ln in lines if ln.startswith("RESULT ")]
    if not res:
        err = [ln for ln in lines if ln.startswith("ERROR ")]
        raise RuntimeError(f"measure {text} failed: {err[-1] if err else p.stderr[-3000:]}")
    out = json.loads(res[-1][7:])
    if log:
        log(f"  {task} {json.dumps({k: v for k, v in spec.items() if k != 'task'})}: "
            f"{time.perf_counter() - t:.1f} s")
    return out


# --------------------------------------------------------------------------
# The figures.

def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import numba
    import numpy
    return {"cpu_count": os.cpu_count(), "cpu_model": model,
            "numba_threads": numba.config.NUMBA_NUM_THREADS,
            "platform": platform.platform(), "python": platform.python_version(),
            "numpy": numpy.__version__, "numba": numba.__version__}


def _fmt_s(x):
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def _mib(b):
    return f"{b / 2**20:,.0f} MiB"


def _rate(x):
    return f"{x / 1e6:.1f} M/s"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=None,
                    help="fresh runs per repeated figure (default 5, --quick 1)")
    ap.add_argument("--quick", action="store_true", help="fewer paths and repeats")
    ap.add_argument("--paths", type=int, default=None,
                    help="paths per timed default run (default 100, --quick 40)")
    ap.add_argument("--json", metavar="FILE", help="also write the raw measurements here")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return _worker(json.loads(args.worker))
    if args.child:
        return _child(args.child)

    quick = args.quick
    R = args.repeat or (1 if quick else 5)
    P = args.paths or (40 if quick else 100)
    big_paths = 100 if quick else 1000
    log = None if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    t_start = time.perf_counter()
    raw = {"machine": machine(), "command": " ".join(["python"] + sys.argv), "repeat": R}
    threads2 = min(2, raw["machine"]["numba_threads"])

    # (a), (b), (c): the default scenario, P paths, 2 threads and 1 thread, R fresh runs each
    runs2, runs1 = [], []
    for _ in range(R):
        runs2.append(measure("run", log, paths=P, threads=threads2))
        runs1.append(measure("run", log, paths=P, threads=1))
    wall2 = statistics.median(r["wall"] for r in runs2)
    wall1 = statistics.median(r["wall"] for r in runs1)
    eps2 = statistics.median(r["eps"] for r in runs2)
    eps1 = statistics.median(r["eps"] for r in runs1)
    raw["default_2_threads"], raw["default_1_thread"] = runs2, runs1

    # (d) peak RSS: 1M x big_paths (2 threads; its wall time is also a full-size (a)),
    #     10M x 1 path
    big = measure("run", log, paths=big_paths, threads=threads2)
    ten = measure("run", log, population=10_000_000, paths=1, threads=threads2)
    raw["rss_1m"], raw["rss_10m"] = big, ten

    # (e) compile: cold (empty NUMBA_CACHE_DIR) and cached (same dir again)
    import shutil
    import tempfile
    colds, cached = [], []
    dirs = []
    try:
        for _ in range(min(R, 3)):          # cold is slow: at most 3 samples
            dirs.append(tempfile.mkdtemp(prefix="simengine-numba-cache-"))
            pr = measure("compile", log, cache_dir=dirs[-1], runs=2)["probes"]
            colds.append(pr[0]["compile"])
            cached.append(pr[1]["compile"])
        for _ in range(R - len(cached)):    # more cached samples from the filled cache
            pr = measure("compile", log, cache_dir=dirs[-1], runs=1)["probes"]
            cached.append(pr[0]["compile"])
    finally:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    raw["compile_cold"], raw["compile_cached"] = colds, cached

    # (f) NumPy baseline vs engine per path: 1M customers x 5 years, one strategy
    np_runs = 1 if quick else 3
    base = measure("numpy", log, population=1_000_000, horizon_years=5, paths=np_runs)
    eng = measure("kernel", log, paths=5 if quick else 15, configs=[
        {"population": 1_000_000, "horizon_years": 5, "one_strategy": True}])["results"][0]
    raw["numpy_1m_5y"], raw["engine_1m_5y_one_strategy"] = base, eng

    # (g) time vs horizon (default scenario, 1M, 1 thread), and 9M dormant customers
    kp = 5 if quick else 15
    res = measure("kernel", log, paths=kp, configs=[
        {"population": 1_000_000, "horizon_years": h} for h in (1, 2, 4)] + [
        {"population": 1_000_000, "horizon_years": 2, "dormant": 9_000_000}])["results"]
    hz = dict(zip((1, 2, 4), res[:3]))
    dflt, dormant = hz[2], res[3]
    raw["horizon"], raw["dormant"] = hz, dormant
    raw["seconds"] = time.perf_counter() - t_start
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)

    # ---- the table
    import simengine
    n_strategies = len(simengine.load_scenario("default").strategies)
    m = raw["machine"]
    rows = []
    add = lambda fig, val, how: rows.append((fig, val, how))   # noqa: E731
    add("Default scenario, 1,000 paths, 2 threads (compile excluded)",
        _fmt_s(wall2 * 1000 / P),
        f"median of {R} fresh runs of {P} paths (`run().manifest` wall time) x {1000 // P}; "
        f"1M customers, 3 years, {n_strategies} strategies")
    add(f"Same, {big_paths:,} paths measured in one run", _fmt_s(big["wall"]),
        f"one fresh run of {big_paths:,} paths, {threads2} threads"
        + ("" if big_paths == 1000 else " (--quick: not 1,000)"))
    add("Customer events per second, 2 threads", _rate(eps2),
        f"`manifest.events_per_second`, median of {R}; {runs2[0]['events'] / P / 1e6:.2f} M "
        "events per path")
    add("Customer events per second per core (1 thread)", _rate(eps1),
        f"same runs on 1 thread, median of {R}")
    if runs2[0].get("simulated_eps"):
        add("Events the kernel stepped through per second, 2 / 1 threads",
            f"{_rate(statistics.median(r['simulated_eps'] for r in runs2))} / "
            f"{_rate(statistics.median(r['simulated_eps'] for r in runs1))}",
            "`manifest.simulated_events_per_second` (strategies replayed from another "
            "strategy's run are counted in the customer events above, not here)")
    add("Speedup of 2 threads over 1", f"{wall1 / wall2:.2f}x",
        f"median wall, 1 thread / {threads2} threads, same {P} paths")
    add(f"Peak RSS, 1M customers x {big_paths:,} paths", _mib(big["max_rss_bytes"]),
        f"`ru_maxrss` of the run's process (RUSAGE_CHILDREN), {threads2} threads, whole process")
    add("Peak RSS, 10M customers x 1 path", _mib(ten["max_rss_bytes"]),
        f"same; wall {_fmt_s(ten['wall'])} for the path")
    add("Compile, cold", f"{statistics.median(colds):.1f} s",
        f"first tiny run minus second, fresh process, empty NUMBA_CACHE_DIR; median of "
        f"{len(colds)}: {', '.join(f'{c:.1f}' for c in colds)} s")
    add("Compile, from numba's cache", f"{statistics.median(cached):.2f} s",
        f"same with the cache filled; median of {len(cached)}")
    add("NumPy day-stepped baseline, per path", _fmt_s(base["median"]),
        f"benchmarks/numpy_baseline.py, 1M customers x 5 years, 1 never-binding strategy; "
        f"median of {np_runs}")
    add("Engine, per path, same size", _fmt_s(eng["median"]),
        f"kernel, 1 thread, 1 strategy; median of {len(eng['secs'])} paths; "
        f"{eng['events_median'] / 1e6:.2f} M events per path")
    add("NumPy baseline / engine", f"{base['median'] / eng['median']:.0f}x", "ratio of the two")
    for h, r in hz.items():
        add(f"Per path, horizon {h} year{'s' if h > 1 else ''}", _fmt_s(r["median"]),
            f"default scenario, 1M, {r['strategies']} strategies, 1 thread, median of {kp} paths "
            f"(interleaved with the rows below); {r['events_median'] / 1e6:.2f} M events, "
            f"{r['ns_per_event']:.0f} ns/event")
    add("Per path, + 9M customers with adoption 0 (10M)", _fmt_s(dormant["median"]),
        f"the 2-year row plus a 9M-customer segment that never shows up (same paths, "
        f"interleaved): {(dormant['median'] - dflt['median']) * 1e3:+.1f} ms per path")

    print(f"Machine: {m['cpu_count']} CPUs, {m['cpu_model']}; numba {m['numba']} "
          f"({m['numba_threads']} threads), numpy {m['numpy']}, Python {m['python']}, "
          f"{m['platform']}")
    print(f"Command: `{raw['command']}` ({raw['seconds'] / 60:.1f} min)\n")
    print("| Figure | Value | How |")
    print("| --- | ---: | --- |")
    for fig, val, how in rows:
        print(f"| {fig} | {val} | {how} |")


if __name__ == "__main__":
    main()
