"""Regenerate every example output, figure and measured number of README.md,
so that none can drift from what the code does.

    python docs/make_readme.py                 # rerun the examples; rewrite README.md, docs/img/
                                               # (15-20 min: optimize alone takes 5-10)
    python docs/make_readme.py --check         # rerun; exit 1 if README.md differs (timings may)
    python docs/make_readme.py --only sweep    # some pieces only (names: --list)
    python docs/make_readme.py --performance   # also benchmarks/measure.py (5-10 min)

README.md marks each generated piece, a whole block or a few words:

    <!-- make_readme: NAME -->
    ...generated, replaced on every run...
    <!-- /make_readme -->

Every command runs as `python -m simengine` of this checkout, in a fresh
temporary directory holding copies of the repository's `scenarios/` and
`docs/examples/`, with stdout a pipe (plain tables with every column,
progress as lines) and the user's numba cache (a first run compiles). Seeds
are fixed, so every number is reproduced exactly on any machine; only
timings differ, and `--check` compares everything but them (it writes
nothing, and leaves the images alone: their bytes vary with matplotlib).
Chromium is needed for the report.html screenshot; without it the old
screenshot is kept and the script says so.
"""
from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
IMG = ROOT / "docs" / "img"
MARK = re.compile(r"(<!-- make_readme: ([\w-]+) -->)(.*?)(<!-- /make_readme -->)", re.S)
# timings and machine-dependent figures: compared as placeholders by --check
VOLATILE = [
    (re.compile(r"\d[\d,]*(\.\d+)? ?(s|ms|min|M/s|MiB|GiB)\b"), "<measured>"),
    (re.compile(r"\d+(\.\d+)?x\b"), "<ratio>"),
    # whether this machine's numba cache held the kernels (a fresh clone compiles)
    (re.compile(r"^simengine: .*compiling \(first run only\) \.\.\.\n", re.M), ""),
    (re.compile(r"compiling the kernels|loading the compiled kernels"), "<kernels>"),
]


class Workspace:
    """A fresh directory with the example files, and `simengine` run there."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="simengine-readme-"))
        for sub in ("scenarios", "docs/examples"):
            shutil.copytree(ROOT / sub, self.dir / sub)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("COLUMNS", "SIMENGINE_DEBUG", "LINES")}
        self.env.update(PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                        PYTHONUNBUFFERED="1")

    def run(self, command: str, ok=(0,)) -> str:
        """`$ command` and what it printed (stdout and stderr, in order)."""
        args = command.split()
        assert args[0] == "simengine", command
        start = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "simengine", *args[1:]], cwd=self.dir,
                           env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if p.returncode not in ok:
            raise SystemExit(f"make_readme: `{command}` exited {p.returncode}:\n{p.stdout}")
        self.seconds = time.perf_counter() - start
        return f"$ {command}\n{p.stdout.rstrip()}"

    def path(self, rel) -> Path:
        return self.dir / rel


def block(text, lang="") -> str:
    return f"\n```{lang}\n{text.rstrip()}\n```\n"


def elide(text, keep) -> str:
    """Lines for which keep(line) is false become one `...` per run."""
    out = []
    for line in text.splitlines():
        if keep(line) or line.startswith("$ "):
            out.append(line)
        elif not out or out[-1].strip() != "...":
            out.append("...")
    return "\n".join(out)


def seconds(x) -> str:
    return f"{x:.0f} s" if x >= 10 else f"{x:.1f} s"


WRITE_FIGURES = True           # --check writes nothing


def copy_figure(src: Path, name: str):
    if not WRITE_FIGURES:
        return
    IMG.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, IMG / name)


# --------------------------------------------------------------------------
# The pieces: each fills some blocks (and figures) of README.md

def first_steps(ws, out):
    out["small-run"] = block(ws.run("simengine run --scale 0.02 --paths 64 --out results/small"))
    out["small-error"] = block(ws.run("simengine run --set population.size=20000", ok=(2,)))


def worked_example(ws, out):
    text = ws.run("simengine run --paths 200 --out results/example")
    out["worked-seconds"] = seconds(json.loads(
        ws.path("results/example/manifest.json").read_text())["wall_seconds"])
    out["worked-example"] = block(text)
    out["economic-cost"] = block(ws.run("simengine report results/example --metric economic_cost"))
    command, table = ws.run("simengine report results/example --metric cheapest "
                            "--format md").split("\n", 1)
    out["cheapest"] = block(command) + "\n" + table + "\n"
    copy_figure(ws.path("results/example/cost_distribution.png"), "cost_distribution.png")
    copy_figure(ws.path("results/example/contacts_vs_capacity.png"), "contacts_vs_capacity.png")
    out["report-csv"] = block("\n".join(ws.run(
        "simengine report results/example --format csv").splitlines()[:4]) + "\n...")


def compare(ws, out):
    ws.run("simengine run --paths 200 --set billing.rule=cumulative "
           "--out results/example-cumulative")
    out["compare"] = block(ws.run("simengine compare results/example "
                                  "results/example-cumulative"))


def html(ws, out):
    from simengine.report import browser
    text = ws.run("simengine report results/example --html")
    out["report-html"] = block(text)
    if browser.find_browser() is None:
        print("make_readme: no Chromium: docs/img/report-html.png kept as it was",
              file=sys.stderr)
        return
    shot = browser.screenshot(ws.path("results/example/report.html"), ws.path("page.png"),
                              width=1100, height=2600)
    copy_figure(shot, "report-html.png")


SNIPPETS = {
    "reading-pyarrow": '''\
import pyarrow.ipc
with pyarrow.ipc.open_file(f"{run}/paths.arrow") as f:
    paths = f.read_all()
>>> paths.num_rows, paths.schema.metadata[b"scenario_sha256"][:12]

import pyarrow.dataset as ds
monthly = ds.dataset(f"{run}/monthly.arrow", format="ipc")
fit = monthly.to_table(filter=ds.field("strategy") == "fit",
                       columns=["path", "month", "contacts", "capacity"])
>>> fit.num_rows''',
    "reading-pandas": '''\
import pandas as pd
df = pd.read_feather(f"{run}/paths.arrow")
>>> df.groupby("strategy", sort=False)["total_cost"].quantile([0.5, 0.95]).unstack().head(3)''',
    "reading-polars": '''\
import polars as pl
periods = pl.read_ipc(f"{run}/periods.arrow")
>>> periods.group_by("strategy", "period", maintain_order=True).agg(
    pl.col("tier_cost").mean(), pl.col("blocked").mean()).rows()[:3]''',
    "reading-duckdb": '''\
import duckdb, pyarrow.dataset as ds
paths_ds = ds.dataset(f"{run}/paths.arrow", format="ipc")
>>> duckdb.sql("""SELECT strategy, median(economic_cost) AS p50,
                     quantile_cont(economic_cost, 0.95) AS p95
              FROM paths_ds GROUP BY strategy ORDER BY p95, strategy""").fetchall()[:3]''',
}


def _snippet(ws, code) -> str:
    """Run a snippet in the workspace; each `>>> expr` (with its indented
    continuation lines) is shown as code followed by `# value` lines."""
    chunks, lines, i = [], code.splitlines(), 0
    while i < len(lines):
        j = i + 1
        if lines[i].startswith(">>> "):
            while j < len(lines) and lines[j].startswith(" "):
                j += 1
            chunks.append(("eval", "\n".join([lines[i][4:]] + lines[i + 1:j])))
        else:
            while j < len(lines) and not lines[j].startswith(">>> "):
                j += 1
            chunks.append(("exec", "\n".join(lines[i:j])))
        i = j
    ns, out, cwd = {"run": "results/example"}, [], os.getcwd()
    os.chdir(ws.dir)
    try:
        for kind, src in chunks:
            out += src.splitlines()
            if kind == "exec":
                exec(src, ns)
            else:
                out += [f"# {x}" for x in repr(eval(src, ns)).splitlines()]
    finally:
        os.chdir(cwd)
    return "\n".join(out)


def reading(ws, out):
    for name, code in SNIPPETS.items():
        out[name] = block(_snippet(ws, code), "python")


def validate(ws, out):
    out["validate-bad"] = block(ws.run("simengine validate docs/examples/bad.toml", ok=(2,))
                                + "\n" + ws.run("simengine validate default"))


CALIBRATION_KEEP_MONTHS = ("month  1 ", "month  6 ", "month 11 ", "month 12 ")


def calibration(ws, out):
    run = ws.run("simengine run docs/examples/calibration-truth.toml --out "
                 "results/calibration-demo --events --no-progress")
    fit = ws.run("simengine calibrate results/calibration-demo/events.arrow --population 40000 "
                 "-o results/calibration-demo/fitted.toml")
    check = ws.run("simengine validate results/calibration-demo/fitted.toml")
    run = elide(run, lambda ln: ln.startswith("simengine:"))
    fit = elide(fit, lambda ln: "month" not in ln or ln.strip().startswith(
        CALIBRATION_KEEP_MONTHS) or "parameter" in ln)
    out["calibration"] = block("\n".join([run, fit, check]))
    out["calibration-misses"] = _misses(ws)
    copy_figure(ws.path("results/calibration-demo/fitted-check.png"), "calibration-check.png")
    out["calibrate-bad"] = block(ws.run("simengine calibrate docs/examples/callbacks-bad.csv "
                                        "--population 1000 -o fitted.toml", ok=(2,)))


def _misses(ws) -> str:
    """Which fitted intervals miss the truth of calibration-truth.toml."""
    import tomllib
    truth = tomllib.loads(ws.path("docs/examples/calibration-truth.toml").read_text())
    seg = truth["segment"][0]
    season = truth["growth"]["season"]
    mean = sum(season) / len(season)
    want = {"adoption_rate": seg["adoption_rate"] * mean, "churn_rate": seg["churn_rate"],
            "churn_shape": seg["churn_shape"], "readd_prob": seg["readd_prob"],
            "readd_delay_days": seg["readd_delay_days"]}
    fit = json.loads(ws.path("results/calibration-demo/fitted-fit.json").read_text())
    rows = [(k, want[k], e) for k, e in fit["segments"][0]["estimates"].items() if k in want]
    rows += [(f"month {m + 1}", season[m] / mean, e) for m, e in enumerate(fit["season"])]
    misses = [f"{name} (true {t:.4g}, interval {e['lo']:.4g} to {e['hi']:.4g})"
              for name, t, e in rows if not e["lo"] <= t <= e["hi"]]
    n = len(rows)
    if not misses:
        return f"every one of the {n} intervals holds its true value"
    return (f"{n - len(misses)} of the {n} intervals hold their true value; the "
            f"miss{'es' * (len(misses) > 1)}: {'; '.join(misses)}")


def sweep(ws, out):
    run = ws.run("simengine sweep rule-by-churn")
    out["sweep-seconds"] = seconds(ws.seconds)
    out["sweep"] = block(elide(run, lambda ln: ln.startswith(("wrote", "10 points"))))
    rep = ws.run("simengine report results/rule-by-churn")
    start = rep.index("Crossovers")
    out["sweep-report"] = block("$ simengine report results/rule-by-churn\n...\n"
                                + rep[start:].split("\nwrote")[0].rstrip())
    copy_figure(ws.path("results/rule-by-churn/plots/segment.prospect.churn_rate.png"),
                "sweep-rule-by-churn.png")
    import pyarrow.ipc as ipc
    with ipc.open_file(ws.path("results/rule-by-churn/sweep_summary.arrow")) as f:
        rows = f.read_all().to_pylist()

    def value(rule, churn, strategy, stat):
        r = next(r for r in rows if r["billing.rule"] == rule and math.isclose(
            r["segment.prospect.churn_rate"], churn) and r["strategy"] == strategy
            and r["metric"] == "economic_cost")
        return f"{r[stat]:,.0f}"
    out["sweep-numbers"] = (
        f"at a prospect churn of 0.01 a day under the concurrent reading, fixed-200k's median "
        f"economic cost is {value('concurrent', 0.01, 'fixed-200k', 'p50')} yuan against "
        f"fit's {value('concurrent', 0.01, 'fit', 'p50')}, and its P95 "
        f"{value('concurrent', 0.01, 'fixed-200k', 'p95')} against fit's "
        f"{value('concurrent', 0.01, 'fit', 'p95')}; under the cumulative reading, at the "
        f"same churn, fixed-200k's median is {value('cumulative', 0.01, 'fixed-200k', 'p50')} "
        f"and fit's {value('cumulative', 0.01, 'fit', 'p50')}")


def when_to_order(ws, out):
    """The bundled sweep when-to-order and its picture
    (docs/examples/when_to_order.py): fit's order level x lead time."""
    run = ws.run("simengine sweep when-to-order")
    out["when-to-order-seconds"] = seconds(ws.seconds)
    p = subprocess.run([sys.executable, "docs/examples/when_to_order.py",
                        "results/when-to-order"], cwd=ws.dir, env=ws.env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise SystemExit(f"make_readme: when_to_order.py exited {p.returncode}:\n{p.stdout}")
    out["when-to-order"] = block(elide(run, lambda ln: ln.startswith(("wrote", "20 points")))
                                 + "\n$ python docs/examples/when_to_order.py "
                                 "results/when-to-order\n" + p.stdout.rstrip())
    copy_figure(ws.path("results/when-to-order/when-to-order.png"), "when-to-order.png")
    import pyarrow.ipc as ipc
    with ipc.open_file(ws.path("results/when-to-order/sweep_summary.arrow")) as f:
        rows = f.read_all().to_pylist()

    def value(lead, at, metric, stat, strategy="fit"):
        r = next(r for r in rows if r["billing.lead_days"] == lead and math.isclose(
            r["strategy.fit.upgrade_at"], at) and r["strategy"] == strategy
            and r["metric"] == metric)
        return r[stat]
    fees = {at: value(7, at, "total_cost", "mean") for at in (0.6, 0.7, 0.8, 0.9, 1.0)}
    best = min(fees, key=fees.get)
    out["when-to-order-numbers"] = (
        f"at the default's week from order to use, ordering at {best:.0%} of the scale pays "
        f"the least in fees on average ({fees[best]:,.0f} yuan over three years, against "
        f"{fees[0.6]:,.0f} ordering at 60%); the P95 of economic cost is "
        f"{value(7, 1.0, 'economic_cost', 'p95'):,.0f} ordering when full and "
        f"{value(7, 0.8, 'economic_cost', 'p95'):,.0f} at 80%, with no lead time "
        f"{value(0, 1.0, 'economic_cost', 'p95'):,.0f} when full and with two weeks "
        f"{value(14, 1.0, 'economic_cost', 'p95'):,.0f}; the hindsight bound is "
        f"{value(7, 1.0, 'economic_cost', 'p95', 'oracle'):,.0f}")


def optimize(ws, out):
    """`simengine optimize` on the bundled default with its default space
    (several minutes on 2 cores)."""
    text = ws.run("simengine optimize --out results/optimize")
    out["optimize"] = block(elide(text, lambda ln: not ln.startswith("simengine: optimize:")))
    copy_figure(ws.path("results/optimize/frontier.png"), "optimize-frontier.png")
    out["optimize-facts"] = _optimize_facts(ws.path("results/optimize"))


def _optimize_facts(folder) -> str:
    """The winner against the scenario's best own strategy and the hindsight
    bound, from the validation run's paths.arrow, with the search's sizes."""
    import numpy as np
    import pyarrow.ipc as ipc
    from simengine.optimize.objective import Objective
    m = json.loads((folder / "manifest.json").read_text())
    objective = Objective.parse(m["objective"])
    with ipc.open_file(folder / "validation" / "paths.arrow") as f:
        paths = f.read_all()
    names = paths.column("strategy").to_numpy(zero_copy_only=False)
    values = paths.column(objective.metric).to_numpy()
    rep = paths.column("replicate").to_numpy() if "replicate" in paths.column_names else None

    def value(name):
        keep = names == name
        return objective.estimate(values[keep], None if rep is None else rep[keep]).value

    v = m["validation"]
    winner, own, bound = (value(v[k]) for k in ("winner", "best_own", "oracle"))
    s = m["search"]
    paired = v.get("paired_difference")
    if v["winner"] == v["best_own"]:
        relation = "the same strategy"
    elif paired and paired.get("lo") is not None:
        relation = (f"the winner less it on the same paths, paired: {paired['value']:+,.0f} "
                    f"yuan, 95% interval {paired['lo']:+,.0f} to {paired['hi']:+,.0f}")
    else:
        relation = f"{winner - own:+,.0f} yuan against it" if winner != own else "a tie"
    return (f"the winner `{v['winner']}` has a validated {objective.label} of {objective.metric} "
            f"of {winner:,.0f} yuan on {v['paths']:,} fresh paths; the scenario's own best, "
            f"`{v['best_own']}`, has {own:,.0f} ({relation}); the hindsight bound is "
            f"{bound:,.0f}. The search evaluated {s['candidates']:,} distinct candidates "
            f"({s['combinations']:,} combinations), dropped {s['dropped']:,} by pruning, and "
            f"spent {s['strategy_paths']:,} strategy-paths in {s['kernel_passes']} kernel "
            f"passes; {seconds(m['wall_seconds'])} in all")


def performance(ws, out):
    p = subprocess.run([sys.executable, "benchmarks/measure.py", "--repeat", "5", "--quiet"],
                       cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
    head, _, table = p.stdout.strip().partition("\n\n")
    out["performance-table"] = "\n" + "\n\n".join(head.splitlines() + [table]) + "\n"


# the figures of benchmarks/before_after.json, in the README's order: (key,
# words, unit, scale)
BEFORE_AFTER = (
    ("measure_default_1000_paths_2_threads",
     "measure.py --quick: the default, 1,000 paths, 2 threads", "s", 1.0),
    ("measure_default_1000_paths_1_thread",
     "measure.py --quick: the default, 1,000 paths, 1 thread", "s", 1.0),
    ("measure_events_per_second_2_threads",
     "measure.py --quick: customer events per second, 2 threads", "M/s", 1e-6),
    ("per_path_1_threads_wall", "the default, per path, 1 thread", "ms", 1e3),
    ("per_path_2_threads_wall", "the default, per path, 2 threads", "ms", 1e3),
    ("marginal_blocking", "asv `MarginalStrategy` blocking, per added strategy and path",
     "ms", 1.0),
    ("marginal_never_blocking", "asv `MarginalStrategy` never_blocking", "ms", 1.0),
    ("marginal_space", "asv `MarginalStrategy` space", "ms", 1.0),
    ("events_per_second_1m", "asv `Kernel.track_events_per_second`, 1M customers", "M/s",
     1e-6),
    ("compile_cold", "cold compile (benchmarks/bench_compile.py's probe)", "s", 1.0),
    ("optimize_default", "`simengine optimize` on the default, its default space, 2 threads",
     "s", 1.0),
)


def before_after(ws, out):
    """The table of benchmarks/before_after.json (`benchmarks/compare.py
    --json`): medians, samples in brackets, and their ratio."""
    data = json.loads((ROOT / "benchmarks" / "before_after.json").read_text())
    old, new = data["commits"]["old"], data["commits"]["new"]
    rows = [f"| measure | before ({old}) | after ({new}) | after / before |",
            "| --- | ---: | ---: | ---: |"]
    for key, words, unit, scale in BEFORE_AFTER:
        if key not in data["samples"]:
            continue
        cell = {}
        for tree in ("old", "new"):
            xs = [x * scale for x in data["samples"][key][tree]]
            cell[tree] = (statistics.median(xs), ", ".join(f"{x:.1f}" for x in xs))
        rows.append(f"| {words} | {cell['old'][0]:.1f} {unit} ({cell['old'][1]}) | "
                    f"{cell['new'][0]:.1f} {unit} ({cell['new'][1]}) | "
                    f"{cell['new'][0] / cell['old'][0]:.2f} |")
    out["before-after"] = "\n`" + data["command"] + "`\n\n" + "\n".join(rows) + "\n"


PIECES = {"first-steps": first_steps, "worked-example": worked_example, "compare": compare,
          "html": html, "reading": reading, "validate": validate, "calibration": calibration,
          "sweep": sweep, "when-to-order": when_to_order, "optimize": optimize,
          "performance": performance, "before-after": before_after}
NEEDS = {"compare": "worked-example", "html": "worked-example", "reading": "worked-example"}


# --------------------------------------------------------------------------
# README.md

def fill(text: str, blocks: dict) -> str:
    """README text with the generated blocks in place (others untouched)."""
    def put(m):
        name = m.group(2)
        return m.group(1) + blocks[name] + m.group(4) if name in blocks else m.group(0)
    return MARK.sub(put, text)


def masked(text: str) -> str:
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with README.md instead of writing it (timings may differ)")
    ap.add_argument("--only", help="comma-separated pieces to run (see --list)")
    ap.add_argument("--performance", action="store_true",
                    help="also rerun benchmarks/measure.py for the performance table")
    ap.add_argument("--list", action="store_true", help="list the pieces and exit")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)
    global WRITE_FIGURES
    WRITE_FIGURES = not args.check
    if args.list:
        print("\n".join(PIECES))
        return 0
    names = args.only.split(",") if args.only else [n for n in PIECES if n != "performance"]
    if args.performance and "performance" not in names:
        names.append("performance")
    unknown = [n for n in names if n not in PIECES]
    if unknown:
        ap.error(f"unknown piece(s) {', '.join(unknown)}; pieces: {', '.join(PIECES)}")
    for n in list(names):
        if n in NEEDS and NEEDS[n] not in names:
            names.insert(0, NEEDS[n])
    names = list(dict.fromkeys(sorted(names, key=list(PIECES).index)))
    text = README.read_text(encoding="utf-8")
    present = {m.group(2) for m in MARK.finditer(text)}
    ws = Workspace()
    blocks = {}
    try:
        for name in names:
            t0 = time.perf_counter()
            PIECES[name](ws, blocks)
            print(f"make_readme: {name} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    finally:
        if args.keep:
            print(f"make_readme: kept {ws.dir}", file=sys.stderr)
        else:
            shutil.rmtree(ws.dir, ignore_errors=True)
    missing = sorted(set(blocks) - present)
    if missing:
        print(f"make_readme: README.md has no marker for {', '.join(missing)}", file=sys.stderr)
        return 1
    new = fill(text, blocks)
    if args.check:
        old_m, new_m = masked(text), masked(new)
        if old_m == new_m:
            print("make_readme: README.md matches (timings aside)")
            return 0
        sys.stdout.writelines(difflib.unified_diff(old_m.splitlines(True), new_m.splitlines(True),
                                                   "README.md", "regenerated"))
        return 1
    README.write_text(new, encoding="utf-8")
    print(f"make_readme: wrote README.md ({len(blocks)} pieces) and docs/img/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
