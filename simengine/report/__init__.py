"""Reporting, shared by run, sweep and calibration: the one table formatter
(`tables`), the percentile table and run directories read back (`runs`),
the plots (`plots`) and the progress display (`progress`).

    from simengine import report
    run = report.load_run("results/default/20250101-120000-a1b2c3")
    print(report.percentile_table(run.summary, "total_cost", run.horizon_years))
    report.write_plots(run)                          # three PNGs into the run dir
    report.write_html(run)                           # and report.html, one page
    print(report.render_table("csv", run.summary, "economic_cost"))

Only numpy, pyarrow, rich and matplotlib (Agg) are used, so reporting works
with the core dependencies.
"""
from .tables import (SECTION, Column, format_table, markdown_table, print_table,  # noqa: F401
                     terminal_width)
from .runs import (FILES, METRIC_LABELS, NotARun, Run, changes_text, load_run,  # noqa: F401
                   number, percentile_parts, percentile_table, read_manifest, run_changes,
                   run_files, share_interval, table_records, table_title)
from .export import FORMATS, render_table  # noqa: F401
from .progress import Progress, plural  # noqa: F401

from .compare import Comparison, compare_runs  # noqa: F401
from .html import REPORT_FILE, html_report, html_table, write_html  # noqa: F401
from .plots import (PLOTS, plot_contacts_vs_capacity, plot_cost_distribution,  # noqa: F401
                    plot_yearly_cost, write_plots)
