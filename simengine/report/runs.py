"""A run directory read back (Arrow or Parquet tables, SPEC section 7) and its
percentile table.

    from simengine import report
    run = report.load_run("results/default/20250101-120000-a1b2c3")
    print(report.percentile_table(run.summary, "total_cost", run.horizon_years))
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from .. import schema, store
from .tables import Column, compact_interval, format_table, interval

# the columns the report reads from each table; all of them are schema columns
REPORT_COLUMNS = {
    "paths": ("strategy", "path", "total_cost", "economic_cost"),
    "periods": ("strategy", "path", "period", "tier_cost", "upgrade_cost",
                "certification_cost", "overflow_cost"),
    "monthly": ("strategy", "path", "month", "contacts", "usage", "capacity"),
    "summary": ("strategy", "metric", "n", "mean", "p50", "p90", "p95", "p95_lo", "p95_hi",
                "p99", "cvar95"),
}
for _name, _cols in REPORT_COLUMNS.items():       # a renamed column fails at import
    assert set(_cols) <= set(schema.BY_NAME[_name].names), (_name, _cols)

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


class NotARun(ValueError):
    """The directory is not a simengine run directory (message says why)."""


def run_files(fmt: str = "arrow") -> tuple:
    """The files of a complete run directory written in format `fmt`."""
    return tuple(store.table_file(t.name, fmt) for t in schema.TABLES) + ("manifest.json",)


FILES = run_files("arrow")


@dataclass
class Run:
    """A run directory read back: its tables and manifest."""
    directory: Path
    manifest: dict
    paths: pa.Table
    periods: pa.Table
    monthly: pa.Table
    summary: pa.Table
    strategies: list = field(default_factory=list)

    @property
    def horizon_years(self) -> int:
        try:
            return int(self.manifest["scenario"]["scenario"]["horizon_years"])
        except (KeyError, TypeError, ValueError):
            months = self.monthly.column("month").to_numpy()
            return max(1, int(months.max() + 1) // 12) if len(months) else 1

    @property
    def oracles(self) -> list:
        """The run's oracle strategies (the hindsight benchmark), in file order."""
        return [s["name"] for s in self.manifest["scenario"].get("strategy", [])
                if s.get("renewal") == "oracle"]

    @property
    def changes(self) -> list:
        """What the command line changed in the scenario (run_changes)."""
        return run_changes(self.manifest)

    @property
    def scenario_name(self) -> str:
        try:
            return str(self.manifest["scenario"]["scenario"]["name"])
        except (KeyError, TypeError):
            return self.directory.parent.name


def run_changes(manifest) -> list:
    """What the command line changed in the scenario file, as options:
    ["--scale 0.1", "--set billing.rule=cumulative"] (empty when nothing;
    `--paths` and `--seed` are in every table's title and the manifest)."""
    out = []
    scale = manifest.get("scale")
    if scale not in (None, 1, 1.0):
        out.append(f"--scale {scale:g}" if isinstance(scale, (int, float)) else f"--scale {scale}")
    out += [f"--set {s}" for s in manifest.get("overrides") or []]
    return out


def changes_text(changes) -> str:
    """" (--set a=1, --set b=2)" for a title; "" when nothing changed."""
    return f" ({', '.join(changes)})" if changes else ""


def read_manifest(directory) -> dict:
    """manifest.json of a run or sweep directory; NotARun when absent or bad."""
    directory = Path(directory)
    if not directory.exists():
        raise NotARun(f"{directory}: no such directory")
    if not directory.is_dir():
        raise NotARun(f"{directory}: not a directory (expected a run directory "
                      f"holding {', '.join(FILES)})")
    mpath = directory / "manifest.json"
    if not mpath.is_file():
        raise NotARun(f"{directory}: not a run directory: no manifest.json (expected "
                      f"{', '.join(FILES)}, as `simengine run` writes them)")
    try:
        manifest = store.read_json(mpath)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise NotARun(f"{mpath}: not a readable run manifest: {e}") from None
    if not isinstance(manifest, dict):
        raise NotARun(f"{mpath}: expected a JSON object")
    return manifest


def _format_of(directory: Path, manifest: dict) -> str:
    """The run's table format: the manifest's, else whichever files exist."""
    fmt = manifest.get("format")
    if fmt in store.FORMATS:
        return fmt
    if (directory / "paths.parquet").is_file() and not (directory / "paths.arrow").is_file():
        return "parquet"
    return "arrow"


def load_run(directory) -> Run:
    """Read a run directory (SPEC section 7), Arrow or Parquet. Raises
    NotARun naming what is missing or unreadable."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    fmt = _format_of(directory, manifest)
    missing = [f for f in run_files(fmt) if not (directory / f).is_file()]
    if missing:
        raise NotARun(f"{directory}: not a complete run directory: missing {', '.join(missing)}")
    tables = {}
    for spec in schema.TABLES:
        path = directory / store.table_file(spec.name, fmt)
        try:
            tables[spec.name] = store.read_table(path)
        except (OSError, pa.ArrowInvalid) as e:
            kind = "Parquet" if fmt == "parquet" else "Arrow IPC"
            raise NotARun(f"{path}: not a readable {kind} file: {e}") from None
        absent = [c for c in REPORT_COLUMNS[spec.name] if c not in tables[spec.name].column_names]
        if absent:
            raise NotARun(f"{path}: missing columns {', '.join(absent)}")
    strategies = _strategy_order(manifest, tables["summary"])
    return Run(directory, manifest, strategies=strategies, **tables)


def _strategy_order(manifest, summary) -> list:
    """Strategies in scenario order (manifest), else order of first appearance."""
    present = list(dict.fromkeys(summary.column("strategy").to_pylist()))
    try:
        names = [s["name"] for s in manifest["scenario"]["strategy"]]
    except (KeyError, TypeError):
        names = []
    ordered = [n for n in names if n in present]
    return ordered + [n for n in present if n not in ordered]


# --------------------------------------------------------------------------
# The percentile table

# (summary statistic, header, priority: which goes first when the table is
# too wide; P50 and P95 always stay)
PERCENTILE_COLUMNS = (("mean", "mean", 3), ("p50", "P50", 0), ("p90", "P90", 5),
                      ("p95", "P95", 0), ("p95_ci", "P95 95% CI", 2), ("p99", "P99", 4),
                      ("cvar95", "CVaR95", 1))


def _summary_rows(summary: pa.Table, metric: str) -> list:
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
    rows = _summary_rows(summary, metric)
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


def share_interval(share, n, z=1.959964) -> tuple:
    """Wilson's 95% interval of a share of n paths (sound near 0 and 1,
    where mean +- 1.96 se is not)."""
    if _missing(share) or not n:
        return math.nan, math.nan
    d = 1 + z * z / n
    mid = (share + z * z / (2 * n)) / d
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / d
    return max(0.0, mid - half), min(1.0, mid + half)


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
    rows = _ordered(_summary_rows(summary, metric), strategies)
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
    rows = _ordered(_summary_rows(summary, metric), strategies)
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
