"""Scenario sweeps (docs/model.md section 10): a grid of `--set` overrides on a base
scenario, run point by point on one executor (local numba threads or Dask),
written as one hive-partitioned Arrow dataset per table, resumable.

    from simengine import sweeps
    sweep = sweeps.load_sweep("rule-by-churn")   # every point checked
    run = sweeps.run_sweep(sweep, out="results", executor="local")
    sweeps.result_table(sweep, run)          # the table `simengine sweep` prints
    sweeps.report_sweep(run.directory).print()                # plots, report.md
    sweeps.open_dataset(run.directory, "paths").to_table()    # every point's rows

Modules: `spec` (the sweep file), `execution` (running the points),
`storage` (the folder: dataset, markers, manifest, resuming), `report`
(tables, crossovers, plots, report.md). docs/sweeps.md has it all.
"""
from __future__ import annotations

from .execution import SweepRun, run_sweep
from .report import SweepReport, SweepTable, report_sweep, result_table
from .spec import TABLES, Point, Sweep, load_sweep
from .storage import DEFAULT_OUT, SweepError, open_dataset, read_manifest, read_sweep_summary

__all__ = ["DEFAULT_OUT", "TABLES", "Point", "Sweep", "SweepError", "SweepReport", "SweepRun",
           "SweepTable", "load_sweep", "open_dataset", "read_manifest",
           "read_sweep_summary", "report_sweep", "result_table", "run_sweep"]

