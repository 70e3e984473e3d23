"""Scenario sweeps (SPEC section 10): a grid of `--set` overrides on a base
scenario, run point by point on one executor (local numba threads or Dask),
written as one hive-partitioned Arrow dataset per table, resumable.

    from simengine import sweeps
    sweep = sweeps.load_sweep("scenarios/sweep-rule-by-churn.toml")   # every point checked
    run = sweeps.run_sweep(sweep, out="results", executor="local")
    sweeps.result_table(sweep, run)          # the cheapest strategy per point
    sweeps.report_sweep(run.directory).print()                # plots, report.md
    sweeps.open_dataset(run.directory, "paths").to_table()    # every point's rows

Modules: `spec` (the sweep file), `execution` (running the points),
`storage` (the folder: dataset, markers, manifest, resuming), `report`
(tables, crossovers, plots, report.md). docs/sweeps.md has it all.
"""
from __future__ import annotations

import sys

from .execution import SweepRun, run_sweep
from .report import SweepReport, SweepTable, report_sweep, result_table
from .spec import TABLES, Point, Sweep, load_sweep
from .storage import DEFAULT_OUT, SweepError, open_dataset, read_manifest, read_sweep_summary

__all__ = ["DEFAULT_OUT", "TABLES", "Point", "Sweep", "SweepError", "SweepReport", "SweepRun",
           "SweepTable", "cli_sweep", "load_sweep", "open_dataset", "read_manifest",
           "read_sweep_summary", "report_sweep", "result_table", "run_sweep"]


def cli_sweep(args) -> int:
    """`simengine sweep SWEEP.toml [--out DIR] [--executor local|dask]
    [--scheduler ADDRESS] [--workers N]` until cli.py runs it itself:
    0 done, 2 bad input (every problem printed), 130/143 interrupted (the
    finished points are kept), 1 any other failure."""
    from ..report.progress import plural
    from ..report.tables import print_table
    from ..scenario import ScenarioError
    try:
        sweep = load_sweep(args.sweep)
        run = run_sweep(sweep, out=getattr(args, "out", None),
                        executor=getattr(args, "executor", None) or "local",
                        scheduler=getattr(args, "scheduler", None),
                        workers=getattr(args, "workers", None))
    except ScenarioError as e:
        for line in e.problems:
            print(f"error: {line}", file=sys.stderr)
        if len(e.problems) > 1:
            print(f"{len(e.problems)} problems found", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:     # Ctrl-C, or SIGTERM as the CLI's Terminated
        terminated = type(e).__name__ == "Terminated"
        print(f"\n{'terminated' if terminated else 'interrupted'}: finished points are kept; "
              "rerun the same command to resume", file=sys.stderr)
        return 143 if terminated else 130
    print_table(*result_table(sweep, run))
    print(f"{plural(len(sweep.points), 'point')}: {len(run.simulated)} simulated, "
          f"{len(run.skipped)} already done, in {run.wall_seconds:.1f} s")
    print(f"wrote {run.directory} (report: simengine report {run.directory})")
    return 0
