"""Reporting, shared by run, sweep and calibration: run directories read
back (`runs`), two runs compared (`compare`), the exports (`export`), the
plots (`plots`), the HTML page (`html`) and the progress display
(`progress`); with the table formatter (`simengine.tables`) and the
percentile table (`simengine.percentiles`) they use, which live below
`result` so that a Result can show itself.

    from simengine import report
    run = report.load_run("results/default/20250101-120000-a1b2c3")
    print(report.percentile_table(run.summary, "total_cost", run.horizon_years))
    report.write_plots(run)                          # three PNGs into the run dir
    report.write_html(run)                           # and report.html, one page
    print(report.render_table("csv", run.summary, "economic_cost"))

Only numpy, pyarrow, rich and matplotlib (Agg) are used, so reporting works
with the core dependencies.
"""
from ..tables import (SECTION, Column, format_table, html_table, markdown_table,  # noqa: F401
                      print_table, terminal_width)
from ..percentiles import (METRIC_LABELS, bound_label, changes_text,  # noqa: F401
                           cheapest_strategy, hindsight_bounds, number, percentile_parts,
                           percentile_table, table_records, table_title)
from ..stats import share_interval  # noqa: F401
from .runs import FILES, NotARun, Run, load_run, read_manifest, run_changes, run_files  # noqa: F401
from .export import FORMATS, render_table  # noqa: F401
from .progress import Progress, plural  # noqa: F401

from .compare import Comparison, compare_runs  # noqa: F401
from .words import waiting_words  # noqa: F401
from .html import REPORT_FILE, html_report, write_html  # noqa: F401
from .plots import (PLOTS, plot_contacts_vs_capacity, plot_cost_distribution,  # noqa: F401
                    plot_yearly_cost, write_plots)
