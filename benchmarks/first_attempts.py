"""First attempts as counts (docs/performance.md): before/after figures and
the check that the distributions did not move.

    python benchmarks/first_attempts.py kernel OLD_TREE NEW_TREE [--rounds 3] [--paths 5]
    python benchmarks/first_attempts.py run OLD_TREE NEW_TREE [--rounds 3] [--paths 256]
    python benchmarks/first_attempts.py arrivals OLD_TREE NEW_TREE [--rounds 3] [--paths 5]
    python benchmarks/first_attempts.py compare OLD_RUN_DIR NEW_RUN_DIR

`kernel`: per-path kernel time on one thread (benchmarks/measure.py's
`kernel` task of each tree, in a fresh process per tree and round, the trees
alternating so drift in the machine's load hits both alike): the default's
customers under one never-binding strategy at 100k, 1M and 10M customers,
at 10M with a quarter of the adoption, and the default's strategies at 1M.
Prints the medians over rounds of each process's median per path.

`arrivals`: the first-attempt draw alone (`kernel.arrivals.first_attempts` of
the default's customers at each size, one thread), ms per path.

`run`: `simengine run --paths N` of the bundled default in each tree,
alternating, the wall time from the manifest (compilation excluded).

`compare`: two runs of one scenario (say the old engine's and the new one's,
same paths and seed): per strategy and metric, the two-sample
Kolmogorov-Smirnov p-value and the z of the difference of the means (Welch),
and the paired z: path p of both runs shares its path multipliers (the same
seed), which carry almost all of the variance, so the mean of the per-path
differences over their standard error is the sharp test of a shift in what
the change touches (the customers' own draws). With two seeds (independent
paths) only KS and Welch mean anything.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CONFIGS = [
    ("100k, 1 strategy", {"population": 100_000, "one_strategy": True}),
    ("1M, 1 strategy", {"population": 1_000_000, "one_strategy": True}),
    ("10M, 1 strategy", {"population": 10_000_000, "one_strategy": True}),
    ("10M, adoption x 0.25, 7 strategies", {"population": 10_000_000, "adoption_scale": 0.25}),
    ("1M, 7 strategies (the default)", {"population": 1_000_000}),
]
METRICS = ["economic_cost", "total_cost", "peak_contacts", "blocked", "first_adds"]


def _kernel(tree, paths):
    spec = json.dumps({"task": "kernel", "configs": [c for _, c in CONFIGS], "paths": paths})
    p = subprocess.run([sys.executable, "benchmarks/measure.py", "--worker", spec],
                       cwd=tree, env=dict(os.environ, PYTHONPATH=tree),
                       capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode or not lines:
        raise RuntimeError(f"{tree}: {p.stderr[-3000:]}")
    return json.loads(lines[-1][7:])["results"]


ARRIVALS = """
import json, sys, time, statistics
import numpy as np
import benchmarks as b
from simengine.kernel import arrivals, campaigns
from simengine.rng import path_key
paths = int(sys.argv[1])
out = []
for population, scale in ((100_000, None), (1_000_000, None), (10_000_000, None),
                          (10_000_000, 0.25)):
    inp = b.pack_scenario(b.scenario(population, adoption_scale=scale)).kernel
    secs = []
    for p in range(paths + 1):                  # the first call loads the kernel
        pk = np.uint64(path_key(np.uint64(20230914), np.uint64(p)))
        t = time.perf_counter()
        runs = campaigns.campaign_runs(pk, inp.campaigns, inp.season_day.shape[0])
        off, ev = arrivals.first_attempts(pk, inp.segments, inp.season_day, 1.0, 1.0, runs,
                                          inp.reach)
        secs.append(time.perf_counter() - t)
    out.append({"median": statistics.median(secs[1:]), "attempts": int(off[-1])})
print("RESULT " + json.dumps(out))
"""
ARRIVAL_LABELS = ["100k", "1M", "10M", "10M, adoption x 0.25"]


def _arrivals(tree, paths):
    p = subprocess.run([sys.executable, "-c", ARRIVALS, str(paths)], cwd=tree,
                       env=dict(os.environ, PYTHONPATH=tree), capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode or not lines:
        raise RuntimeError(f"{tree}: {p.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def _run(tree, paths):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "run")
        subprocess.run([sys.executable, "-m", "simengine", "run", "--paths", str(paths),
                        "--out", out, "--no-progress"], cwd=tree, check=True,
                       env=dict(os.environ, PYTHONPATH=tree), capture_output=True)
        with open(os.path.join(out, "manifest.json")) as f:
            return json.load(f)["wall_seconds"]


def compare(old_dir, new_dir):
    import numpy as np
    import pyarrow.ipc as ipc
    from scipy import stats

    def table(d):
        return ipc.open_file(os.path.join(d, "paths.arrow")).read_all().to_pandas()

    old, new = (table(d).sort_values(["strategy", "path"]) for d in (old_dir, new_dir))
    rows = []
    for s in old["strategy"].unique():
        for m in METRICS:
            a = old.loc[old.strategy == s, m].to_numpy(float)
            b = new.loc[new.strategy == s, m].to_numpy(float)
            se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
            z = (b.mean() - a.mean()) / se if se > 0 else 0.0
            ks = (stats.ks_2samp(a, b, method="asymp").pvalue
                  if (a.std() > 0 or b.std() > 0) else 1.0)
            d = b - a              # both tables are sorted by path within a strategy
            sd = d.std(ddof=1) / np.sqrt(len(d))
            zp = d.mean() / sd if sd > 0 else 0.0
            rows.append((s, m, a.mean(), b.mean(), z, ks, zp))
    print("| strategy | metric | old mean | new mean | z (means) | KS p | paired z |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for s, m, a, b, z, ks, zp in rows:
        print(f"| {s} | {m} | {a:,.1f} | {b:,.1f} | {z:+.2f} | {ks:.3f} | {zp:+.2f} |")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["kernel", "arrivals", "run", "compare"])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--paths", type=int, default=None)
    args = ap.parse_args(argv)
    if args.what == "compare":
        compare(args.old, args.new)
        return
    trees = {"old": os.path.abspath(args.old), "new": os.path.abspath(args.new)}
    samples = {k: [] for k in trees}
    for r in range(args.rounds):
        for name, tree in trees.items():
            if args.what == "kernel":
                samples[name].append(_kernel(tree, args.paths or 5))
            elif args.what == "arrivals":
                samples[name].append(_arrivals(tree, args.paths or 5))
            else:
                samples[name].append(_run(tree, args.paths or 256))
            print(f"round {r} {name}: {samples[name][-1] if args.what == 'run' else 'done'}",
                  file=sys.stderr)
    if args.what == "run":
        o, n = statistics.median(samples["old"]), statistics.median(samples["new"])
        print(f"default run wall, median of {args.rounds}: old {o:.1f} s, new {n:.1f} s, "
              f"{o / n:.2f}x; samples old {samples['old']}, new {samples['new']}")
        return
    if args.what == "arrivals":
        print("| customers | old ms/path | new ms/path | speed-up | first attempts/path |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for i, label in enumerate(ARRIVAL_LABELS):
            o = statistics.median(s[i]["median"] for s in samples["old"]) * 1e3
            n = statistics.median(s[i]["median"] for s in samples["new"]) * 1e3
            print(f"| {label} | {o:.2f} | {n:.2f} | {o / n:.1f}x | "
                  f"{samples['new'][-1][i]['attempts']:,} |")
        return
    print("| configuration | old ms/path | new ms/path | speed-up | events/path |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for i, (label, _) in enumerate(CONFIGS):
        o = statistics.median(s[i]["median"] for s in samples["old"]) * 1e3
        n = statistics.median(s[i]["median"] for s in samples["new"]) * 1e3
        ev = statistics.median(s[i]["events_median"] for s in samples["new"])
        print(f"| {label} | {o:.1f} | {n:.1f} | {o / n:.2f}x | {ev:,.0f} |")


if __name__ == "__main__":
    main()
