"""A run's table in the formats other tools read (`simengine report
--format text|csv|md|json`): text for a terminal, CSV for a spreadsheet,
Markdown for a wiki, JSON for another program.

CSV and JSON carry the numbers unrounded (empty / null where a statistic
cannot be computed); text and Markdown carry the same cells as the terminal
table.
"""
from __future__ import annotations

import csv
import io
import json

from ..percentiles import percentile_parts, table_records
from ..tables import format_table, markdown_table

FORMATS = ("text", "csv", "md", "json")


def render_table(fmt, summary, metric="total_cost", horizon_years=None, strategies=None,
                 changes=(), width=None) -> str:
    """The table of one summary metric as text in `fmt` (FORMATS). Raises
    ValueError for an unknown format or a metric the summary lacks."""
    if fmt not in FORMATS:
        raise ValueError(f"expected one of {', '.join(FORMATS)}, got {fmt!r}")
    title, columns, rows = percentile_parts(summary, metric, horizon_years, strategies, changes)
    if fmt == "text":
        return format_table(title, columns, rows, width)
    if fmt == "md":
        return f"**{title}**\n\n{markdown_table(columns, rows)}"
    records = table_records(summary, metric, strategies)
    if fmt == "json":
        return json.dumps({"title": title, "metric": metric, "horizon_years": horizon_years,
                           "changes": list(changes), "rows": records}, indent=2)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue().rstrip("\n")
