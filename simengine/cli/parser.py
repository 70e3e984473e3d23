"""The one argument parser: every command, option, help text and example.
An option several commands take is declared once, in a parent parser
(`_shared_options`), and each command lists the parents it takes."""
from __future__ import annotations

import argparse
import math
from types import SimpleNamespace

from ..executor import ExecutorError, thread_count
from ..optimize.objective import Objective
from ..scenario import ScenarioError
from ..version import __version__
from .commands import (cmd_calibrate, cmd_compare, cmd_optimize, cmd_report, cmd_run,
                       cmd_sweep, cmd_validate, cmd_warmup)
from .common import PROG


# --------------------------------------------------------------------------
# Parser

def _positive_int(text):
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _threads(text):
    """--threads: the executor's one rule (`executor.thread_count`), applied
    as the option is read."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = text
    try:
        return thread_count(value)
    except ExecutorError as e:
        raise argparse.ArgumentTypeError(str(e).split(": ", 1)[1]) from None


def _non_negative(text):
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return v


def _objective(text):
    """STAT:METRIC, checked here so the error names the option like the others."""
    try:
        Objective.parse(text, "--objective")
    except ScenarioError as e:
        raise argparse.ArgumentTypeError(str(e).split(": ", 1)[1]) from None
    return text


def _positive_number(text):
    try:
        v = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return v


SCALE_HELP = ("a small (or large) version of the scenario on purpose: multiply the "
              "population and every segment's initial_contacts by F (e.g. 0.02: 20,000 of "
              "the default's 1,000,000 customers); rates stay, so which tiers bind changes. "
              "Applied before --set")

SET_HELP = ("override a scalar key of the scenario by its dotted path, e.g. "
            "billing.rule=cumulative, population.size=2000000, "
            "segment.vip.churn_rate=0.001, strategy.fit.headroom=0.1 (repeatable; sweep: on "
            "every point, after the file's [sweep.set], not a swept key)")

# Examples in each command's help. They run as written from the repository's
# root, in this order (a later one may read what an earlier one wrote);
# tests/test_cli_help.py runs every one.
EXAMPLES = {
    "run": [
        ("simengine run --paths 16", "the bundled default, 16 paths"),
        ("simengine run --paths 16 --seed 7 --threads 2 --out runs/seed7", ""),
        ("simengine run --paths 16 --seed 7 --set billing.rule=cumulative "
         "--out runs/seed7-cumulative", "the same paths under the other billing rule"),
        ("simengine run --scale 0.02 --paths 16", "a small version: 20,000 customers"),
        ("simengine run --paths 16 --set billing.rule=cumulative "
         "--set strategy.fit.headroom=0.1", ""),
        ("simengine run --paths 16 --format parquet --out runs/parquet", ""),
        ("simengine run --paths 16 --executor dask --workers 2 --out runs/dask",
         "a LocalCluster of 2 processes"),
        ("simengine run docs/examples/calibration-truth.toml --paths 3 --out runs/truth "
         "--events --events-strategy oracle", "also the contact log of 'oracle'"),
    ],
    "validate": [
        ("simengine validate default", "the bundled default"),
        ("simengine validate default --set population.size=2000000 "
         "--set billing.rule=cumulative", ""),
    ],
    "report": [
        ("simengine report runs/seed7", "after the run examples"),
        ("simengine report runs/parquet --metric economic_cost", ""),
        ("simengine report runs/seed7 --metric cheapest", "the share of paths each wins"),
        ("simengine report runs/seed7 --format csv", "or md, json: the table only"),
        ("simengine report runs/seed7 --html", "report.html: one page to mail or print"),
    ],
    "compare": [
        ("simengine compare runs/seed7 runs/seed7-cumulative", "after the run examples: "
         "paired differences"),
        ("simengine compare runs/seed7 runs/seed7-cumulative --metric economic_cost", ""),
    ],
    "warmup": [("simengine warmup", "")],
    "sweep": [
        ("simengine sweep docs/examples/sweep-quick.toml --out sweeps", "2 points, 8 paths each"),
        ("simengine sweep rule-by-churn --paths 4 --scale 0.02 --out sweeps-small",
         "the bundled sweep, small: 10 points of 20,000 customers, 4 paths"),
        ("simengine sweep docs/examples/sweep-quick.toml --set strategy.fit.headroom=0.1 "
         "--format parquet --out sweeps-parquet", ""),
        ("simengine sweep docs/examples/sweep-quick.toml --out sweeps",
         "again: every point is done, nothing runs"),
        ("simengine sweep docs/examples/sweep-quick.toml --executor dask --workers 2 "
         "--out sweeps-dask", ""),
        ("simengine report sweeps/quick", "the sweep report: tables, plots, report.md"),
    ],
    "calibrate": [
        ("simengine calibrate runs/truth/events.arrow --population 40000 --check-paths 50 "
         "-o fitted.toml", "the log of the last run example"),
        ("simengine calibrate runs/truth/events.arrow --path 1 --check-paths 0 "
         "-o fitted-path1.toml", "path 1, population estimated, no check"),
        ("simengine validate fitted.toml", ""),
        ("simengine calibrate --cohorts docs/examples/fader-hardie-regular.csv "
         "--base docs/examples/fader-hardie-base.toml --fit-through 7 -o fader-hardie.toml",
         "churn from a cohort retention table (Fader and Hardie 2007), years 8-12 held out"),
    ],
    "optimize": [
        ("simengine optimize --scale 0.02 --space docs/examples/optimize-quick.toml "
         "--out runs/optimize", "a small space on a small version of the default (seconds)"),
        ("simengine run runs/optimize/best.toml --paths 16",
         "the winners, the scenario's own strategies and the oracle, ready to run"),
        ("simengine optimize docs/examples/optimize-new-team.toml --out runs/new-team",
         "a team with no strategy yet (no [[strategy]]): the winners against the hindsight "
         "bound alone; its space asks when to order"),
    ],
}


def _epilog(command, extra=""):
    lines = []
    if command in EXAMPLES:
        lines.append("examples (from the repository's root, in this order):")
        for cmd, note in EXAMPLES[command]:
            lines += ([f"  # {note}"] if note else []) + [f"  {cmd}"]
    if extra:
        lines += ["", extra]
    return "\n".join(lines)


def _shared_options() -> SimpleNamespace:
    """The options several commands take, each declared once: a parent
    parser per group, which a command lists in `parents`."""
    def group():
        return argparse.ArgumentParser(add_help=False)

    changes = group()           # run, validate, sweep, optimize
    changes.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help=SET_HELP)
    changes.add_argument("--scale", type=_positive_number, metavar="F", help=SCALE_HELP)

    paths = group()             # run, sweep, optimize
    paths.add_argument("--paths", type=_positive_int, metavar="N",
                       help="number of paths (run: default the scenario's; sweep: of every "
                       "point, default the sweep's; optimize: of the search, default 256)")

    seed = group()              # run, calibrate
    seed.add_argument("--seed", type=_non_negative, metavar="S",
                      help="random seed (run: default the scenario's; calibrate: of the check "
                      "simulation, default 0)")

    threads = group()           # run, warmup, optimize
    threads.add_argument("--threads", type=_threads, metavar="T",
                         help="numba threads of a local run (default: all cores)")

    tables = group()            # run, sweep
    tables.add_argument("--format", choices=("arrow", "parquet"), default="arrow",
                        help="table files: Arrow IPC (.arrow; default) or Parquet (.parquet); "
                        "the same columns")

    executor = group()          # run, sweep, optimize
    executor.add_argument("--executor", choices=("local", "dask"), default="local",
                          help="where paths run: numba threads here (local, default; a "
                          "sweep's points one after another) or a dask.distributed cluster "
                          "(dask; the same tables, bit for bit)")
    executor.add_argument("--scheduler", metavar="ADDRESS",
                          help="with --executor dask: the scheduler (tcp://HOST:8786); "
                          "default: a LocalCluster started here")
    executor.add_argument("--workers", type=_positive_int, metavar="N",
                          help="with --executor dask: LocalCluster processes (default 2), or "
                          "the workers to wait for with --scheduler (sweep with --executor "
                          "local: numba threads, default all cores)")

    out = group()               # run, sweep, optimize
    out.add_argument("--out", metavar="DIR",
                     help="run, optimize: write exactly this new directory (refused if it "
                     "exists); sweep: the directory the sweep's folder goes in (default: "
                     "results)")
    return SimpleNamespace(changes=changes, paths=paths, seed=seed, threads=threads,
                           tables=tables, executor=executor, out=out)


def _subparser(sub, name, help, description, extra="", parents=()):
    return sub.add_parser(name, help=help, description=description, epilog=_epilog(name, extra),
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          parents=list(parents))


def _add_run(sub, shared):
    r = _subparser(sub, "run", "simulate a scenario and write a run directory",
                   "Simulate a scenario and write paths, periods, monthly and summary tables "
                   "and manifest.json into a new directory (default "
                   "results/<scenario name>/<timestamp>-<id>/); print the percentile table "
                   "of total_cost per strategy.",
                   parents=(shared.paths, shared.seed, shared.threads, shared.out,
                            shared.changes, shared.tables, shared.executor))
    r.add_argument("scenario", nargs="?", default=None, metavar="SCENARIO",
                   help="scenario TOML file or bundled name (default: the bundled default)")
    r.add_argument("--events", nargs="?", const="", default=None, metavar="FILE",
                   help="also write the contact event log of one strategy "
                   "(default RUN_DIR/events.arrow; put SCENARIO before --events or use "
                   "--events=FILE)")
    r.add_argument("--events-strategy", metavar="NAME",
                   help="with --events: the strategy whose contact log is written (default: "
                   "the first oracle, which blocks nobody, so the log shows the customers' own "
                   "adds and churns, what calibrate fits; without an oracle, the first)")
    r.add_argument("--chunk-size", type=_positive_int, help=argparse.SUPPRESS)
    r.add_argument("--no-progress", action="store_true",
                   help="no progress bar (one line at the start instead)")
    r.set_defaults(handler=cmd_run)


def _add_validate(sub, shared):
    v = _subparser(sub, "validate", "check a scenario and list every problem",
                   "Check a scenario file; print a one-line summary (exit 0) or every "
                   "problem found (exit 2).", parents=(shared.changes,))
    v.add_argument("scenario", metavar="SCENARIO", help="scenario TOML file or bundled name")
    v.set_defaults(handler=cmd_validate)


def _add_report(sub, shared):
    rp = _subparser(sub, "report", "print a run's table and write its plots",
                    "Print the percentile table of a run directory (Arrow or Parquet) and "
                    "write cost_distribution.png, contacts_vs_capacity.png and "
                    "yearly_cost.png into it. A sweep directory gets the sweep report.")
    rp.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by run or sweep")
    rp.add_argument("--metric", default="total_cost", metavar="M",
                    help="summary metric of the table (default total_cost; e.g. "
                    "economic_cost, regret, peak_contacts, blocked; cheapest: the share of "
                    "paths each strategy wins)")
    rp.add_argument("--format", choices=("text", "csv", "md", "json"), default="text",
                    help="the table as text (default; also writes the plots), CSV, Markdown "
                    "or JSON (stdout holds the table only; CSV and JSON unrounded)")
    rp.add_argument("--html", action="store_true",
                    help="also write report.html into the run directory: one self-contained "
                    "page (scenario in words, tables with intervals, regret, plots, the run's "
                    "facts) to mail or print")
    rp.set_defaults(handler=cmd_report)


def _add_compare(sub, shared):
    c = _subparser(sub, "compare", "set two runs side by side, per strategy",
                   "Set two run directories side by side per strategy (mean, P50, P95). When "
                   "they simulate the same customers on the same paths (the same scenario "
                   "apart from --set changes, the same seed and paths), also the paired "
                   "difference B - A path by path: its mean and P95 with 95% intervals, far "
                   "tighter than the difference of two separate estimates.")
    c.add_argument("run_a", metavar="RUN_A", help="the first run directory (the baseline)")
    c.add_argument("run_b", metavar="RUN_B", help="the second run directory")
    c.add_argument("--metric", default="total_cost", metavar="M",
                   help="the per-path quantity to compare (default total_cost; e.g. "
                   "economic_cost, regret, blocked)")
    c.set_defaults(handler=cmd_compare)


def _add_warmup(sub, shared):
    w = _subparser(sub, "warmup", "compile the numba kernels (or load them from cache)",
                   "Compile the numba kernels once (later runs load them from numba's "
                   "cache) and time a tiny run.", parents=(shared.threads,))
    w.set_defaults(handler=cmd_warmup)


def _add_sweep(sub, shared):
    s = _subparser(sub, "sweep", "run a scenario over a grid of --set values",
                   "Run every unfinished point of a sweep file (docs/model.md section 10) into "
                   "results/<sweep name>/ (or DIR/<sweep name>/): one Arrow dataset per table, "
                   "partitioned by the swept keys; print the cheapest strategy per point. "
                   "Rerunning resumes: finished points are skipped. --scale, --set and --paths "
                   "change every point, so such a sweep has its own folder, named with the "
                   "changes (results/<sweep name>_scale=0.02_paths=8/).",
                   parents=(shared.out, shared.changes, shared.paths, shared.tables,
                            shared.executor))
    s.add_argument("sweep", metavar="SWEEP.toml",
                   help="the sweep file ([sweep] table), or a bundled sweep by name "
                   "(rule-by-churn)")
    s.set_defaults(handler=cmd_sweep)


def _add_calibrate(sub, shared):
    c = _subparser(sub, "calibrate", "fit a scenario to a contact event log or a cohort table",
                   "Estimate segment rates from a WeCom contact event log (docs/model.md "
                   "section 11) and write a scenario TOML, with SCENARIO-check.png and "
                   "SCENARIO-fit.json beside it; print the fit report. Or, with --cohorts, fit "
                   "churn to a cohort retention table and write the base scenario with it "
                   "(section 12a). An existing output is never overwritten.",
                   parents=(shared.seed,))
    c.add_argument("events", metavar="EVENTS", nargs="?",
                   help="event log: CSV, Parquet or Arrow (time, external_user_id, user_id, "
                   "chat_id, event)")
    c.add_argument("--observed-from", metavar="TIME",
                   help="the start of the window the log observes (ISO 8601 or unix seconds); "
                   "rows before it are the contacts held then, with their add times (default: "
                   "the start a simulated log records, else the first row)")
    cohorts = c.add_argument_group("a cohort retention table instead of an event log")
    cohorts.add_argument("--cohorts", metavar="FILE",
                         help="CSV/Parquet/Arrow with cohort, period, alive (or share and n): "
                         "each cohort, named after a segment of --base, is fitted by "
                         "interval-censored likelihood")
    cohorts.add_argument("--period-days", type=_positive_int, metavar="D",
                         help="days in a period of the table (default 365)")
    cohorts.add_argument("--fit-through", type=_positive_int, metavar="P",
                         help="fit periods 0..P only; later ones show the projection's error")
    cohorts.add_argument("--base", metavar="SCENARIO",
                         help="the scenario whose segments' churn the cohorts replace "
                         "(default: the bundled default)")
    c.add_argument("--population", type=_positive_int, metavar="N",
                   help="addressable customers (default: estimated from the adds' saturation, "
                   "or the customers listed by --segments)")
    c.add_argument("--segments", metavar="FILE",
                   help="CSV/Parquet/Arrow of external_user_id, segment: fit each segment apart")
    c.add_argument("-o", "--output", required=True, metavar="SCENARIO.toml",
                   help="the scenario to write (refused if it exists)")
    c.add_argument("--force", action="store_true",
                   help="replace SCENARIO.toml and the files beside it if they exist")
    c.add_argument("--path", type=_non_negative, metavar="P",
                   help="with a simulated log (a `path` column): calibrate on this path only "
                   "(default 0)")
    c.add_argument("--check-paths", type=_non_negative, metavar="N",
                   help="paths of the check simulation (default 200; 0 = no check)")
    c.add_argument("--no-uncertainty", action="store_true",
                   help="leave the [uncertainty] table (from the fits' standard errors) out of "
                   "the written scenario")
    c.set_defaults(handler=cmd_calibrate)


def _add_optimize(sub, shared):
    o = _subparser(sub, "optimize", "search a space of strategies for the lowest risk of cost",
                   "Search a space of strategies (docs/model.md section 13; docs/optimize.md) for the "
                   "one with the lowest objective on shared search paths, then validate the "
                   "best on fresh paths against the scenario's own strategies and the "
                   "hindsight bound.",
                   parents=(shared.paths, shared.out, shared.changes, shared.threads,
                            shared.executor))
    o.add_argument("scenario", nargs="?", metavar="SCENARIO",
                   help="scenario TOML file or bundled name (default: the bundled default); "
                   "its [optimize] table is used when present; it may have no [[strategy]] "
                   "(the winners are then compared with the hindsight bound alone)")
    o.add_argument("--space", metavar="SPACE.toml",
                   help="a file with an [optimize] table (default: the scenario's, else the "
                   "documented default space)")
    o.add_argument("--objective", type=_objective, metavar="STAT:METRIC",
                   help="STAT one of mean, p50, p90, p95, p99, cvar95; METRIC a money column "
                   "of paths.arrow: economic_cost, total_cost, regret, tier_cost, ... "
                   "(default p95:economic_cost)")
    o.add_argument("--validate-paths", type=_positive_int, metavar="N",
                   help="fresh paths for the best candidates (default 1024)")
    o.add_argument("--top", type=_positive_int, metavar="K",
                   help="candidates validated (default 5)")
    o.add_argument("--no-prune", action="store_true",
                   help="evaluate every candidate on every search path (no successive halving)")
    o.set_defaults(handler=cmd_optimize)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Monte Carlo engine for the cost of WeCom external-contact "
        "scale tiers.", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 ok, 2 bad input, 1 other failure, 130 interrupted (Ctrl-C), "
        "143 terminated.\nSIMENGINE_DEBUG=1 shows tracebacks. "
        "`simengine COMMAND --help` shows each command's options and examples.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    shared = _shared_options()
    for add in (_add_run, _add_validate, _add_report, _add_compare, _add_warmup, _add_sweep,
                _add_calibrate, _add_optimize):
        add(sub, shared)
    return p
