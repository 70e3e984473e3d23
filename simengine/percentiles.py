"""The percentile table of one summary metric (docs/model.md section 9): what
`simengine run` prints, a Result shows, `simengine report` writes and the
exports carry, read from a summary table alone.

    title, columns, rows = percentile_parts(res.summary, "total_cost", 5)
    print(percentile_table(res.summary, "economic_cost", 5))
"""
from __future__ import annotations

import json
import math

import pyarrow as pa

from .stats import share_interval
from .tables import SECTION, Column, compact_interval, format_table, interval

METRIC_LABELS = {
    "total_cost": "total cost (tier + upgrade + certification + overflow), yuan",
    "economic_cost": "economic cost (total cost + lost customer value), yuan",
    "tier_cost": "tier cost, yuan",
    "upgrade_cost": "upgrade cost, yuan",
    "overflow_cost": "overflow (personal WeChat) cost, yuan",
    "lost_value": "lost customer value, yuan",
    "peak_contacts": "peak WeCom contacts",
    "final_contacts": "WeCom contacts at the horizon",
    "blocked": "blocked add attempts",
    "lost": "customers lost",
    "overflowed": "customers put on personal WeChat",
    "cheapest": "share of paths where the strategy has the lowest economic cost",
    "regret": ("money left on the table: economic cost above the hindsight plan (the "
               "cheapest tiers and upgrades that block nobody, chosen knowing the path's "
               "future) on the same path, yuan; 0 = nothing to gain"),
}


BOUND = "hindsight bound"


def hindsight_bounds(summary: pa.Table) -> list:
    """The run's oracle strategies, named in the summary's metadata (the
    hindsight plan: a bound, not a strategy one can buy); [] for a summary
    written before the metadata existed."""
    meta = summary.schema.metadata or {}
    try:
        names = json.loads(meta.get(b"hindsight_bounds", b"[]"))
    except ValueError:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def bound_label(name: str) -> str:
    """The strategy cell of a bound: "oracle (hindsight bound)"."""
    return f"{name} ({BOUND})"


def changes_text(changes) -> str:
    """" (--set a=1, --set b=2)" for a title; "" when nothing changed."""
    return f" ({', '.join(changes)})" if changes else ""


# (summary statistic, header, priority: which goes first when the table is
# too wide; P50 and P95 always stay)
PERCENTILE_COLUMNS = (("mean", "mean", 3), ("p50", "P50", 0), ("p90", "P90", 5),
                      ("p95", "P95", 0), ("p95_ci", "P95 95% CI", 2), ("p99", "P99", 4),
                      ("cvar95", "CVaR95", 1))


def summary_rows(summary: pa.Table, metric: str) -> list:
    """The summary's rows (dicts) of one metric; ValueError naming the
    metrics it has when it has not that one."""
    rows = [r for r in summary.to_pylist() if r["metric"] == metric]
    if not rows:
        metrics = sorted(set(summary.column("metric").to_pylist()))
        raise ValueError(f"no metric {metric!r} in the summary; metrics: {', '.join(metrics)}")
    return rows


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def number(v, digits=0) -> str:
    """A statistic as a cell: thousands separators, `n/a` when missing."""
    return "n/a" if _missing(v) else f"{v:,.{digits}f}"


def _cells(row, digits) -> list:
    out = []
    for col, _, _ in PERCENTILE_COLUMNS:
        if col == "p95_ci":
            lo, hi = row["p95_lo"], row["p95_hi"]
            out.append("n/a (too few paths)" if _missing(lo) or _missing(hi)
                       else interval(number(lo, digits), number(hi, digits)))
        else:
            out.append(number(row[col], digits))
    return out


def _digits(rows) -> int:
    """Whole yuan for costs; decimals only for small-valued metrics (shares)."""
    if "yuan" in METRIC_LABELS.get(rows[0]["metric"], ""):
        return 0
    vals = [abs(r[c]) for r in rows for c in ("mean", "p99") if not _missing(r[c])]
    return 0 if not vals or max(vals) >= 100 else 2


def table_title(summary: pa.Table, metric="total_cost", horizon_years=None,
                changes=(), bounds=None) -> str:
    rows = summary_rows(summary, metric)
    n = rows[0].get("n")
    label = METRIC_LABELS.get(metric, metric)
    horizon = (f" over {horizon_years} year{'s' if horizon_years != 1 else ''}"
               if horizon_years else "")
    bounds = hindsight_bounds(summary) if bounds is None else bounds
    if metric == "cheapest" and bounds:
        label += (f" ({', '.join(bounds)}, the {BOUND}, left out: it knows each path's "
                  "future, so it is not a strategy one can buy)")
    return f"{metric} per path{horizon}, {n:,} path{'s' * (n != 1)}{changes_text(changes)}: {label}"


def _ordered(rows, strategies):
    if not strategies:
        return rows
    pos = {s: i for i, s in enumerate(strategies)}
    return sorted(rows, key=lambda r: pos.get(r["strategy"], len(pos)))


def _apart(rows, bounds, cells):
    """The table's rows: the strategies one can buy, then (after a blank
    line) the hindsight bounds, labelled so."""
    own = [cells(r, r["strategy"]) for r in rows if r["strategy"] not in bounds]
    apart = [cells(r, bound_label(r["strategy"])) for r in rows if r["strategy"] in bounds]
    return own + ([SECTION] + apart if apart and own else apart)


def _percent(v) -> str:
    return "n/a" if _missing(v) else f"{100 * v:.1f}%"


def _won(share, n) -> str:
    won = share * n
    return f"{won:,.0f}" if abs(won - round(won)) < 1e-6 else f"{won:,.1f}"


def _share_parts(rows, bounds):
    """The `cheapest` metric is a 0/1 indicator per path (ties split): its
    table is the share of paths each strategy wins, with an interval, not
    percentiles of zeros and ones. (A bound has no row in a summary written
    since bounds are left out; an older summary's is shown apart.)"""
    columns = [Column("strategy", "left"), Column("paths won"), Column("share"),
               Column("share 95% CI", "right", 1, compact_interval)]

    def cells(r, name):
        lo, hi = share_interval(r["mean"], r["n"])
        return [name, _won(r["mean"], r["n"]), _percent(r["mean"]),
                "n/a" if _missing(lo) else interval(_percent(lo), _percent(hi))]
    return columns, _apart(rows, bounds, cells)


def percentile_parts(summary: pa.Table, metric="total_cost", horizon_years=None,
                     strategies=None, changes=(), bounds=None):
    """(title, columns, rows) of the table of one summary metric: its
    percentiles, or for `cheapest` the share of paths won. `changes`: the
    run's command-line changes to the scenario (run_changes), in the title.
    `bounds`: the oracle strategies (default: those the summary's metadata
    names), shown last, apart, as "oracle (hindsight bound)"."""
    bounds = hindsight_bounds(summary) if bounds is None else list(bounds)
    rows = _ordered(summary_rows(summary, metric), strategies)
    title = table_title(summary, metric, horizon_years, changes, bounds)
    if metric == "cheapest":
        return (title,) + _share_parts(rows, bounds)
    digits = _digits(rows)
    columns = [Column("strategy", "left")] + [
        Column(head, "right", priority,
               compact_interval if col == "p95_ci" else None)
        for col, head, priority in PERCENTILE_COLUMNS]
    return title, columns, _apart(rows, bounds, lambda r, name: [name] + _cells(r, digits))


def percentile_table(summary: pa.Table, metric="total_cost", horizon_years=None,
                     strategies=None, width=None, changes=(), bounds=None) -> str:
    """The percentile table as text, fitted to `width` (None: every column).
    Raises ValueError for a metric the summary does not have."""
    return format_table(*percentile_parts(summary, metric, horizon_years, strategies, changes,
                                          bounds), width)


def cheapest_strategy(summary: pa.Table, metric="economic_cost", stat="mean", bounds=None):
    """The strategy one can buy with the lowest `stat` of `metric` (the
    first in the summary's order on a tie), or None; a hindsight bound is
    never the answer."""
    bounds = hindsight_bounds(summary) if bounds is None else list(bounds)
    best = None
    for r in summary_rows(summary, metric):
        v = r.get(stat)
        if r["strategy"] not in bounds and not _missing(v) and (best is None or v < best[1]):
            best = (r["strategy"], v)
    return None if best is None else best[0]


RECORD_STATS = ("n", "mean", "std", "se", "p5", "p50", "p90", "p95", "p95_lo", "p95_hi", "p99",
                "cvar95")


def table_records(summary: pa.Table, metric="total_cost", strategies=None, bounds=None) -> list:
    """The table's numbers as plain records (for CSV and JSON): unrounded,
    None where a statistic cannot be computed, `hindsight_bound` true for an
    oracle. For `cheapest`: the share of paths won and its interval (an
    oracle wins none: it has no row)."""
    bounds = hindsight_bounds(summary) if bounds is None else list(bounds)
    rows = _ordered(summary_rows(summary, metric), strategies)
    out = []
    for r in rows:
        def value(v):
            return None if _missing(v) else v
        if metric == "cheapest":
            lo, hi = share_interval(r["mean"], r["n"])
            out.append({"strategy": r["strategy"], "metric": metric, "n": r["n"],
                        "paths_won": value(r["mean"] * r["n"]), "share": value(r["mean"]),
                        "share_lo": value(lo), "share_hi": value(hi)})
        else:
            out.append({"strategy": r["strategy"], "metric": metric}
                       | {k: value(r.get(k)) for k in RECORD_STATS if k in r}
                       | {"hindsight_bound": r["strategy"] in bounds})
    return out
