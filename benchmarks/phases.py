"""Where a path's time goes, phase by phase, and what this machine allows.

    python benchmarks/phases.py limits            # the machine: random numbers, calendar, memory
    python benchmarks/phases.py phases [--paths 8]    # the default, phase by phase (1 thread)
    python benchmarks/phases.py tables [--paths 256]  # the Python side of a run: tables, files

Every figure is a median over repetitions in this process, after a warm-up
(no compilation timed); one thread. `docs/performance.md` ("Where the time
goes") holds a run of all three and reads them.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import benchmarks as b  # noqa: E402
from simengine.jit import jit  # noqa: E402
from simengine.kernel import calendar as cal_  # noqa: E402
from simengine.kernel.layout import STAGED  # noqa: E402
from simengine.rng import (LAMBDA, LIFETIME, exponential, gamma, mix64, normal,  # noqa: E402
                           normal_ziggurat, path_key, uniform)


def median_seconds(fn, *args, repeat=7):
    fn(*args)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# ---------------------------------------------------------------- the machine

@jit
def _mixes(n):
    z = np.uint64(1)
    for _ in range(n):
        z = mix64(z)
    return z


@jit
def _uniforms(pk, n):
    """A new customer key per draw, as the kernel's draws mostly are."""
    s = 0.0
    for i in range(n):
        s += uniform(pk, i, LIFETIME, 0)
    return s


@jit
def _exponentials(pk, n):
    s = 0.0
    for i in range(n):
        s += exponential(pk, i, LIFETIME, 0)
    return s


@jit
def _normals(pk, n, ziggurat):
    s = 0.0
    for i in range(n):
        s += normal_ziggurat(pk, i, LAMBDA, 0) if ziggurat else normal(pk, i, LAMBDA, 0)
    return s


@jit
def _gammas(pk, n, shape):
    s = 0.0
    for i in range(n):
        s += gamma(pk, i, LAMBDA, shape)
    return s


@jit
def _calendar(cal, staged, days, per_day, pk, out):
    """The kernel's calendar traffic: each day take the day's events, and
    schedule as many again at 1 + Exponential(mean 300) days (a churn's or
    a re-add's delay), pushed in one call, as `simulate_days` does."""
    moved = 0
    for t in range(days):
        n = cal_.take(cal, cal_.CHURNS, t, out, np.int64(0))
        moved += n
        m = max(n, per_day) if t < days // 4 else n
        k = 0
        for i in range(m):
            d = t + 1 + np.int64(300.0 * exponential(pk, i, LIFETIME, t))
            if d < days:
                staged[k].queue = cal_.CHURNS
                staged[k].day = d
                staged[k].word = i
                staged[k].lam = 0.0
                k += 1
        if cal_.blocks_free(cal) < k:
            cal = cal_.with_room(cal, k)
        cal_.push(cal, staged, k)
    return moved


@jit
def _exponential_stream(pk, days, per_day):
    """The same delays drawn, nothing pushed: the random numbers' share."""
    s = 0.0
    for t in range(days // 4):
        for i in range(per_day):
            s += exponential(pk, i, LIFETIME, t)
    return s


@jit
def _chase(nxt, steps):
    i = 0
    for _ in range(steps):
        i = nxt[i]
    return i


def limits():
    pk = np.uint64(path_key(np.uint64(1), 0))
    n = 20_000_000
    rows = [("mix64, one SplitMix64 finaliser after another (latency)",
             median_seconds(_mixes, n) / n),
            ("counter-based uniform, a new customer key", median_seconds(_uniforms, pk, n) / n),
            ("exponential (rng.exponential: the ziggurat)",
             median_seconds(_exponentials, pk, n) / n),
            ("normal, inverse CDF (rng.normal: Sobol' points, campaign lifts)",
             median_seconds(_normals, pk, n, False) / n),
            ("normal, the ziggurat (rng.normal_ziggurat: the gamma's trials)",
             median_seconds(_normals, pk, n, True) / n),
            ("gamma, shape 1.5 (a churn propensity)", median_seconds(_gammas, pk, n, 1.5) / n),
            ("gamma, shape 0.8 (boosted: one exponential and an exp more)",
             median_seconds(_gammas, pk, n, 0.8) / n)]
    days, per_day = 1095, 2_000
    out = np.empty(1 << 20, cal_.EVENT)
    staged = np.empty(1 << 16, STAGED)

    def calendar_run():
        return _calendar(cal_.new_calendar(days, 1024), staged, days, per_day, pk, out)

    moved = calendar_run()
    pushed_total = median_seconds(calendar_run, repeat=5)
    rng_only = median_seconds(_exponential_stream, pk, days, per_day, repeat=5)
    # the calendar's own share: pushes and takes, less the delays' draws
    drawn = (days // 4) * per_day
    rows.append(("calendar push + take, per event (less its draw)",
                 (pushed_total - rng_only * moved / drawn) / moved))
    size = 1 << 25                      # 256 MB of int64
    src = np.ones(size)
    dst = np.empty(size)
    t = median_seconds(np.copyto, dst, src, repeat=5)
    bandwidth = 2 * src.nbytes / t      # read + write
    perm = np.random.default_rng(0).permutation(size // 8)
    nxt = np.empty(size // 8, np.int64)
    nxt[perm] = np.roll(perm, 1)        # one cycle through the array, random order
    steps = 5_000_000
    latency = median_seconds(_chase, nxt, steps, repeat=3) / steps
    print("| measure | per unit |")
    print("| --- | ---: |")
    for name, sec in rows:
        print(f"| {name} | {sec * 1e9:.1f} ns |")
    print(f"| memory, sequential copy (256 MB) | {bandwidth / 1e9:.1f} GB/s |")
    print(f"| memory, a dependent random load (256 MB) | {latency * 1e9:.0f} ns |")


# --------------------------------------------------------------- the phases

def phases(paths):
    import numba
    from simengine.kernel import arrivals as A
    from simengine.kernel.campaigns import campaign_runs
    numba.set_num_threads(1)
    b.warm()
    default = b.scenario(1_000_000)
    k = b.pack_scenario(default).kernel
    D = int(k.config[0]["days"])
    rows = []

    def per_path(fn):
        return statistics.median(median_seconds(fn, p, repeat=3) for p in range(paths))

    def key(p):
        return np.uint64(path_key(np.uint64(b.SEED), p))   # a uint64 key stays one

    t_runs = per_path(lambda p: campaign_runs(key(p), k.campaigns, D))
    runs = campaign_runs(key(0), k.campaigns, D)
    t_counts = per_path(lambda p: A.first_attempt_counts(key(p), k.segments, k.season_day,
                                                         1.0, runs, k.reach))
    t_first = per_path(lambda p: A.first_attempts(key(p), k.segments, k.season_day, 1.0, 1.0,
                                                  runs, k.reach))
    t_initial = per_path(lambda p: A.initial_churns(key(p), k.segments, D, 1.0))
    rows += [("arrivals: campaign runs", t_runs, None),
             ("arrivals: first attempts, the binomial counts", t_counts, None),
             ("arrivals: first attempts, the attempters' propensities", t_first - t_counts, None),
             ("arrivals: starting contacts (age, propensity, first churn)", t_initial, None)]
    t_arrivals = t_runs + t_first + t_initial

    def kernel(scn, reps=3):
        """Per path: the fastest of `reps` passes over the same paths (a
        strategy's share is then a difference on the same paths), and the
        mean events (customer events, events simulated) per path."""
        packed = b.pack_scenario(scn)
        b.simulate_chunk(packed, b.SEED, np.arange(1))
        best = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            raw = b.simulate_chunk(packed, b.SEED, np.arange(paths))
            best = min(best, time.perf_counter() - t)
        return best / paths, np.asarray(raw.events).mean(axis=0)

    one, ev_one = kernel(b.one_strategy(1_000_000))
    loop = one - t_arrivals
    rows.append(("event loop of one never-blocking strategy (calendar, churns, attempts, "
                 "day records)", loop, ev_one[1]))
    by_name = {s.name: s for s in default.strategies}
    full, ev_full = kernel(default)
    for name in by_name:
        without, ev_without = kernel(dataclasses.replace(default, strategies=tuple(
            s for s in default.strategies if s.name != name)))
        rows.append((f"strategy `{name}` (its share of the default's pass)", full - without,
                     ev_full[1] - ev_without[1]))
    print(f"default scenario, 1,000,000 customers, 3 years, one thread: the arrivals the "
          f"median of {paths} paths, each pass the fastest of 3 over the same {paths} paths")
    print()
    print("| phase | ms per path | events simulated | ns per event |")
    print("| --- | ---: | ---: | ---: |")
    for name, sec, ev in rows:
        per = f"{sec / ev * 1e9:.0f}" if ev and ev > 1000 else ""
        evs = f"{ev:,.0f}" if ev is not None else ""
        print(f"| {name} | {sec * 1e3:.2f} | {evs} | {per} |")
    print(f"| **the default's pass, 7 strategies** | **{full * 1e3:.2f}** | {ev_full[1]:,.0f} "
          f"| {full / ev_full[1] * 1e9:.0f} |")
    print(f"\ncustomer events represented per path: {ev_full[0]:,.0f} (the default), "
          f"{ev_one[0]:,.0f} (one strategy)")


def tables(paths):
    import simengine
    b.warm()
    scn = simengine.load_scenario("default")
    simengine.run(scn, paths=4, seed=b.SEED, threads=2)
    t = time.perf_counter()
    res = simengine.run(scn, paths=paths, seed=b.SEED, threads=2)
    total = time.perf_counter() - t
    kernel = res.manifest["wall_seconds"]
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        res.write(os.path.join(d, "run"))
        write = time.perf_counter() - t
    print(f"simengine.run, the default, {paths} paths, 2 threads: {total:.2f} s, of which the "
          f"kernel {kernel:.2f} s and the tables (build, summary, intervals) "
          f"{total - kernel:.2f} s; writing the folder {write:.2f} s")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["limits", "phases", "tables"])
    ap.add_argument("--paths", type=int, default=None)
    a = ap.parse_args(argv)
    if a.what == "limits":
        limits()
    elif a.what == "phases":
        phases(a.paths or 8)
    else:
        tables(a.paths or 256)


if __name__ == "__main__":
    main()
