"""Measure how precise the bundled default's answers are per path and per
second, under `sampling = "sobol"` and `"mc"` (docs/precision.md's table).

    python benchmarks/measure_precision.py                    # about 4 minutes on 2 cores
    python benchmarks/measure_precision.py --sobol 256 512 --mc 1024 --metric economic_cost
    python benchmarks/measure_precision.py --spread 6 --paths 256   # the real error, over seeds

For each (sampling, paths): one `simengine.run` of the bundled default at its
seed, on all threads, compiled beforehand (the manifest's wall time excludes
compilation). The figure per strategy is the half-width of the 95%
confidence interval of P95 of the metric, relative to P95: (p95_hi - p95_lo)
/ 2 / p95 (order statistics under mc, sectioning over the replicates under
sobol; docs/model.md section 12); and of the mean, 1.96 se / mean. Prints markdown
tables and, with --json, writes every number.

`--spread K`: instead, the real error: K runs per sampling at seeds 1000 ..
1000 + K - 1 and `--paths` paths, and the relative standard deviation over
them of each strategy's P95 and mean.

`--intervals`: instead, how often the sectioning intervals of P95 and
CVaR95 of a non-negative quantity hold the true value, on the plain scale
and on the log scale (what the summary uses; docs/precision.md, "Intervals
that respect the data"): 8 replicates of 8, 16 and 64 points of skewed
distributions (independent draws per replicate, 2,000 trials each), and the
scenario of tests/test_sampling.py (8 scrambled Sobol' replicates, 100 to
200 seeds). About a minute.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the strategies a team compares (no-purchase's lost value and the oracle's
# hindsight bound are not choices to price precisely)
MAIN = ("fixed-200k", "fit", "fit-90-weekly", "forecast", "vip-first", "fixed-200k-reserve")


def p95_half_widths(summary, metric="economic_cost") -> dict:
    """{strategy: (p95, relative half-width of its 95% interval)} of one run."""
    out = {}
    for r in summary.to_pylist():
        if r["metric"] != metric:
            continue
        lo, hi, p95 = r["p95_lo"], r["p95_hi"], r["p95"]
        half = (hi - lo) / 2 / p95 if None not in (lo, hi) and p95 else math.nan
        out[r["strategy"]] = (p95, half)
    return out


def mean_half_widths(summary, metric="economic_cost") -> dict:
    """{strategy: (mean, 1.96 se / mean)} of one run."""
    return {r["strategy"]: (r["mean"], 1.959964 * r["se"] / r["mean"]
                            if r["se"] is not None and r["mean"] else math.nan)
            for r in summary.to_pylist() if r["metric"] == metric}


def measure(sampling, paths, metric="economic_cost", threads=None, scenario="default"):
    """One run: {'sampling', 'paths', 'wall', 'p95': {strategy: (p95, rel half)}}."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    import simengine
    scn = simengine.load_scenario(scenario, [f"scenario.sampling={sampling}"])
    res = simengine.run(scn, paths=paths, threads=threads)
    return {"sampling": sampling, "paths": res.manifest["paths"],
            "wall": res.manifest["wall_seconds"], "threads": res.manifest["threads"],
            "p95": p95_half_widths(res.summary, metric),
            "mean": mean_half_widths(res.summary, metric)}


def spread(seeds, paths, metric="economic_cost", threads=None, strategies=MAIN) -> str:
    """Markdown table: relative sd over `seeds` seeds of P95 and the mean,
    under mc and sobol, and their ratio."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    import numpy as np
    import simengine
    sd = {}
    for method in ("mc", "sobol"):
        scn = simengine.load_scenario("default", [f"scenario.sampling={method}"])
        est = {s: {"p95": [], "mean": []} for s in strategies}
        for seed in range(1000, 1000 + seeds):
            res = simengine.run(scn, paths=paths, seed=seed, threads=threads)
            for r in res.summary.to_pylist():
                if r["metric"] == metric and r["strategy"] in est:
                    est[r["strategy"]]["p95"].append(r["p95"])
                    est[r["strategy"]]["mean"].append(r["mean"])
        sd[method] = {s: {k: np.std(v, ddof=1) / np.mean(v) for k, v in e.items()}
                      for s, e in est.items()}
    lines = ["| strategy | P95: mc | P95: sobol | ratio | mean: mc | mean: sobol | ratio |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for s in strategies:
        cells = [s]
        for k in ("p95", "mean"):
            a, b = sd["mc"][s][k], sd["sobol"][s][k]
            cells += [f"{a:.2%}", f"{b:.2%}", f"{a / b:.1f}" if b > 0 else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _sectioned(groups, pooled_sample, nonnegative):
    """{stat: (lo, hi, pooled)} of P95 and CVaR95 by sectioning over `groups`."""
    import numpy as np
    from simengine.stats import cvar95, sectioning_interval
    out = {}
    for stat, f in (("p95", lambda a: float(np.percentile(a, 95))), ("cvar95", cvar95)):
        pooled = f(np.sort(pooled_sample))
        lo, hi = sectioning_interval(pooled, [f(np.sort(g)) for g in groups],
                                     nonnegative=nonnegative)
        out[stat] = (lo, hi, pooled)
    return out


def intervals(trials=2000) -> str:
    """Markdown table: coverage of the plain and the log-scale sectioning
    intervals, and how often the plain one runs below zero."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    import numpy as np
    from simengine.stats import cvar95
    rng = np.random.default_rng(1)
    laws = {"lognormal, sigma 1": lambda n: rng.lognormal(0, 1, n),
            "lognormal, sigma 2": lambda n: rng.lognormal(0, 2, n),
            "a flat fee, 1 path in 10 far dearer": lambda n: 21000 + (rng.random(n) > 0.9)
            * rng.lognormal(9, 1.5, n),
            "exponential": lambda n: rng.exponential(1, n)}
    lines = ["| law | points per replicate | P95 plain | P95 log | CVaR95 plain | CVaR95 log "
             "| plain P95 below 0 |", "|" + " --- |" * 7]

    def row(name, per, runs, truth):
        cov = {(s, k): 0 for s in truth for k in (False, True)}
        below = 0
        for groups in runs:
            pooled = np.concatenate(groups)
            for k in (False, True):
                for s, (lo, hi, _) in _sectioned(groups, pooled, k).items():
                    cov[(s, k)] += lo <= truth[s] <= hi
                    below += (not k and s == "p95" and lo < 0)
        n = len(runs)
        lines.append(f"| {name} | {per} | " + " | ".join(
            f"{cov[(s, k)] / n:.1%}" for s in ("p95", "cvar95") for k in (False, True))
            + f" | {below / n:.1%} |")

    for name, law in laws.items():
        big = np.sort(law(4_000_000))
        truth = {"p95": float(np.percentile(big, 95)), "cvar95": cvar95(big)}
        for per in (8, 16, 64):
            row(name, per, [[law(per) for _ in range(8)] for _ in range(trials)], truth)
    # the scenario of tests/test_sampling.py, through the kernel
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from test_sampling import lost_value, small
    from simengine.packing import pack_scenario
    from simengine.stats import distribution_stats
    scn = small(paths=2**14, seed=12345)
    truth = distribution_stats(*lost_value(pack_scenario(scn), scn.seed, scn.paths))
    for paths, seeds in ((64, 200), (128, 200), (512, 100)):
        packed = pack_scenario(small("sobol", paths))
        runs = []
        for seed in range(seeds):
            x, rep = lost_value(packed, seed, paths)
            runs.append([x[rep == r] for r in np.unique(rep)])
        row("tests/test_sampling.py's scenario (Sobol')", paths // 8, runs, truth)
    return "\n".join(lines)


def table(results, stat="p95", strategies=MAIN) -> str:
    head = ["sampling", "paths", "wall s"] + list(strategies) + ["worst"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in results:
        halves = [r[stat][s][1] for s in strategies]
        cells = [r["sampling"], f"{r['paths']:,}", f"{r['wall']:.1f}"]
        cells += [f"±{h:.2%}" for h in halves] + [f"±{max(halves):.2%}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sobol", type=int, nargs="*", default=[128, 256, 512, 1024])
    ap.add_argument("--mc", type=int, nargs="*", default=[1024])
    ap.add_argument("--metric", default="economic_cost")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--spread", type=int, default=0, metavar="K",
                    help="the real error over K seeds instead (at --paths paths)")
    ap.add_argument("--paths", type=int, default=256, help="paths per run with --spread")
    ap.add_argument("--intervals", action="store_true",
                    help="the coverage of plain and log-scale sectioning intervals instead")
    args = ap.parse_args(argv)
    if args.intervals:
        print("Coverage of 95% sectioning intervals (8 replicates), plain and log scale")
        print(intervals())
        return
    if args.spread:
        print(f"Relative sd over {args.spread} seeds of P95 and mean of {args.metric}, "
              f"{args.paths} paths")
        print(spread(args.spread, args.paths, args.metric, args.threads))
        return
    results = [measure("mc", n, args.metric, args.threads) for n in args.mc]
    results += [measure("sobol", n, args.metric, args.threads) for n in args.sobol]
    print(f"P95 of {args.metric}: half-width of its 95% interval, relative to P95")
    print(table(results, "p95"))
    print(f"\nMean of {args.metric}: half-width of its 95% interval (1.96 se), relative")
    print(table(results, "mean"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
