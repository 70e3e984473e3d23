"""The percentile table of one summary metric (SPEC section 9): what
`simengine run` prints, a Result shows, `simengine report` writes and the
exports carry, read from a summary table alone.

    title, columns, rows = percentile_parts(res.summary, "total_cost", 5)
    print(percentile_table(res.summary, "economic_cost", 5))
"""
from __future__ import annotations

import math

import pyarrow as pa

from .stats import share_interval
from .tables import Column, compact_interval, format_table, interval

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
                changes=()) -> str:
    rows = summary_rows(summary, metric)
    n = rows[0].get("n")
    label = METRIC_LABELS.get(metric, metric)
    horizon = (f" over {horizon_years} year{'s' if horizon_years != 1 else ''}"
               if horizon_years else "")
    return f"{metric} per path{horizon}, {n:,} path{'s' * (n != 1)}{changes_text(changes)}: {label}"


def _ordered(rows, strategies):
    if not strategies:
        return rows
    pos = {s: i for i, s in enumerate(strategies)}
    return sorted(rows, key=lambda r: pos.get(r["strategy"], len(pos)))


def _percent(v) -> str:
    return "n/a" if _missing(v) else f"{100 * v:.1f}%"


def _won(share, n) -> str:
    won = share * n
    return f"{won:,.0f}" if abs(won - round(won)) < 1e-6 else f"{won:,.1f}"


def _share_parts(rows):
    """The `cheapest` metric is a 0/1 indicator per path (ties split): its
    table is the share of paths each strategy wins, with an interval, not
    percentiles of zeros and ones."""
    columns = [Column("strategy", "left"), Column("paths won"), Column("share"),
               Column("share 95% CI", "right", 1, compact_interval)]
    body = []
    for r in rows:
        lo, hi = share_interval(r["mean"], r["n"])
        body.append([r["strategy"], _won(r["mean"], r["n"]), _percent(r["mean"]),
                     "n/a" if _missing(lo) else interval(_percent(lo), _percent(hi))])
    return columns, body


def percentile_parts(summary: pa.Table, metric="total_cost", horizon_years=None,
                     strategies=None, changes=()):
    """(title, columns, rows) of the table of one summary metric: its
    percentiles, or for `cheapest` the share of paths won. `changes`: the
    run's command-line changes to the scenario (run_changes), in the title."""
    rows = _ordered(summary_rows(summary, metric), strategies)
    title = table_title(summary, metric, horizon_years, changes)
    if metric == "cheapest":
        return (title,) + _share_parts(rows)
    digits = _digits(rows)
    columns = [Column("strategy", "left")] + [
        Column(head, "right", priority,
               compact_interval if col == "p95_ci" else None)
        for col, head, priority in PERCENTILE_COLUMNS]
    body = [[r["strategy"]] + _cells(r, digits) for r in rows]
    return title, columns, body


def percentile_table(summary: pa.Table, metric="total_cost", horizon_years=None,
                     strategies=None, width=None, changes=()) -> str:
    """The percentile table as text, fitted to `width` (None: every column).
    Raises ValueError for a metric the summary does not have."""
    return format_table(*percentile_parts(summary, metric, horizon_years, strategies, changes),
                        width)


RECORD_STATS = ("n", "mean", "std", "se", "p5", "p50", "p90", "p95", "p95_lo", "p95_hi", "p99",
                "cvar95")


def table_records(summary: pa.Table, metric="total_cost", strategies=None) -> list:
    """The table's numbers as plain records (for CSV and JSON): unrounded,
    None where a statistic cannot be computed. For `cheapest`: the share of
    paths won and its interval."""
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
                       | {k: value(r.get(k)) for k in RECORD_STATS if k in r})
    return out
