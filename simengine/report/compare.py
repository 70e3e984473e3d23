"""`simengine compare RUN_A RUN_B` (docs/model.md section 9): what changed between two
runs, strategy by strategy.

Side by side: each run's mean, P50 and P95 of the metric. When both runs
simulate the same customers on the same paths (the same scenario apart from
`--set` changes, the same seed, the same path numbers, the same sampling),
common random numbers make the change on each path the thing to measure:
the paired difference B - A, its mean with a t interval (mean +- t * sd /
sqrt(n)) and its P95 with the distribution-free order-statistic interval of
`stats.distribution_stats`. Under `sobol` sampling with several replicates
the intervals come from sectioning over the replicates instead (docs/model.md
section 12). The interval of the difference of two separate estimates is
shown beside it, so the gain from pairing is visible.
"""
from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field

import numpy as np

from ..percentiles import number, summary_rows
from ..stats import distribution_stats, mean_interval, sectioning_interval
from ..tables import Column, compact_interval, format_table, html_table, interval
from .runs import Run

PAIRED_P95 = "P95 of B-A"     # the header of the paired differences' P95
PAIRABLE = ("total_cost", "economic_cost", "tier_cost", "upgrade_cost", "certification_cost",
            "overflow_cost", "lost_value", "peak_contacts", "final_contacts", "first_adds",
            "readds", "churns", "blocked", "lost", "overflowed", "upgrades", "regret")


def _flat(resolved: dict) -> dict:
    """A resolved scenario as {dotted --set key: value}: `table.key`,
    `segment.<name>.<key>`, `strategy.<name>.<key>`."""
    out = {}
    for table, value in resolved.items():
        if isinstance(value, dict):
            for k, v in value.items():
                out[f"{table}.{k}"] = v
        elif isinstance(value, list):
            for entry in value:
                if isinstance(entry, dict):
                    for k, v in entry.items():
                        if k != "name":
                            out[f"{table}.{entry.get('name')}.{k}"] = v
    return out


def _show(v) -> str:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else str(v)


def scenario_changes(a: dict, b: dict) -> list[str]:
    """Every key whose value differs from run A to run B, as `key: a -> b`."""
    fa, fb = _flat(a), _flat(b)
    out = []
    for key in list(fa) + [k for k in fb if k not in fa]:
        va, vb = fa.get(key, "(unset)"), fb.get(key, "(unset)")
        if va != vb:
            out.append(f"{key}: {_show(va)} -> {_show(vb)}")
    return out


def _names(resolved, table) -> list:
    return [e.get("name") for e in resolved.get(table, []) if isinstance(e, dict)]


def why_not_paired(a: Run, b: Run, metric: str) -> str | None:
    """None when the two runs can be compared path by path; else why not."""
    ra, rb = a.manifest.get("scenario", {}), b.manifest.get("scenario", {})
    if metric not in PAIRABLE:
        return f"{metric} is not a per-path column"
    if _names(ra, "segment") != _names(rb, "segment"):
        return "the runs have different segments, so their customers differ"
    sa, sb = ra.get("scenario", {}), rb.get("scenario", {})
    if a.manifest.get("seed") != b.manifest.get("seed"):
        return (f"the seeds differ ({a.manifest.get('seed')} and {b.manifest.get('seed')}), so "
                "the paths draw different random numbers")
    for key in ("sampling", "replicates"):
        if sa.get(key) != sb.get(key):
            return f"scenario.{key} differs, so the paths' numbers differ"
    if set(_paths(a)) != set(_paths(b)):
        return (f"the runs simulated different paths ({len(_paths(a)):,} and "
                f"{len(_paths(b)):,}); rerun one with the other's --paths")
    if not [s for s in a.strategies if s in b.strategies]:
        return "no strategy is in both runs"
    return None


def _paths(run: Run) -> np.ndarray:
    return np.unique(run.paths.column("path").to_numpy())


def per_path(run: Run, metric: str, strategy: str):
    """(path numbers, values, replicates or None) of one strategy, by path."""
    t = run.paths
    strat = np.asarray(t.column("strategy").to_numpy(zero_copy_only=False), dtype=object)
    if metric == "regret" and "regret" not in t.column_names:
        econ = t.column("economic_cost").to_numpy()
        oracles = [s["name"] for s in run.manifest.get("scenario", {}).get("strategy", [])
                   if s.get("renewal") == "oracle"]
        if not oracles:
            raise ValueError("regret needs an oracle strategy in both runs")
        path, v, rep = per_path(run, "economic_cost", strategy)
        _, o, _ = per_path(run, "economic_cost", oracles[0])
        return path, v - o, rep
    sel = strat == strategy
    path = t.column("path").to_numpy()[sel]
    v = t.column(metric).to_numpy().astype(np.float64)[sel]
    rep = t.column("replicate").to_numpy()[sel] if "replicate" in t.column_names else None
    order = np.argsort(path, kind="stable")
    return path[order], v[order], None if rep is None else rep[order]


def _replicates(run: Run):
    sc = run.manifest.get("scenario", {}).get("scenario", {})
    if sc.get("sampling") == "sobol" and (sc.get("replicates") or 1) > 1:
        return int(sc["replicates"])
    return None


def paired_stats(d, replicate=None) -> dict:
    """Mean and P95 of the per-path differences `d`, each with a 95%
    interval: t interval and order statistics, or sectioning over
    `replicate` when given (independent scramblings, docs/model.md section 12)."""
    d = np.asarray(d, dtype=np.float64)
    n = len(d)
    ds = distribution_stats(d)
    out = {"n": n, "mean": ds["mean"], "p95": ds.get("p95", math.nan)}
    if replicate is not None:
        groups = [d[replicate == r] for r in np.unique(replicate)]
        if len(groups) > 1:
            for key, f in (("mean", np.mean), ("p95", lambda x: np.percentile(x, 95))):
                out[f"{key}_lo"], out[f"{key}_hi"] = sectioning_interval(
                    out[key], [f(g) for g in groups])
            return out
    out["mean_lo"], out["mean_hi"] = mean_interval(ds["mean"], ds["std"], n)
    out["p95_lo"], out["p95_hi"] = ds["p95_lo"], ds["p95_hi"]
    return out


@dataclass(repr=False)
class Comparison:
    """Two runs set side by side (tables as (title, columns, rows)). Shown
    (repr, a notebook) as what changed and one table: the paired
    differences, or the side-by-side figures when the runs cannot be paired."""
    a: Run
    b: Run
    metric: str
    changes: list
    unpaired_reason: str | None
    side: tuple
    paired: tuple | None = None
    notes: list = field(default_factory=list)

    def lines(self) -> list[str]:
        """The header lines: the two runs and what changed."""
        def describe(tag, run):
            m = run.manifest
            extra = "; " + ", ".join(run.changes) if run.changes else ""
            return (f"{tag}: {run.directory} ({run.scenario_name}, {m.get('paths', 0):,} paths, "
                    f"seed {m.get('seed')}{extra})")
        out = [describe("A", self.a), describe("B", self.b)]
        out.append("What changed from A to B:" if self.changes else
                   "The two scenarios are the same.")
        out += [f"  {c}" for c in self.changes]
        return out

    def _shown(self):
        """The one table the repr shows."""
        return self.paired if self.paired is not None else self.side

    def _head(self) -> str:
        return (f"{self.metric}: A {self.a.directory}, B {self.b.directory}"
                + ("" if self.paired is not None else f" (not paired: {self.unpaired_reason})"))

    def __repr__(self) -> str:
        """Short: the runs, what changed, one table (`.side`, `.paired`:
        (title, columns, rows); `.a`, `.b`: the runs)."""
        return "\n".join([f"<simengine.report.Comparison of {self._head()}>"]
                          + self.lines()[2:] + [format_table(*self._shown())])

    def _repr_html_(self) -> str:
        """In a notebook: the same, as an HTML table."""
        changes = "".join(f"<li>{html.escape(c)}</li>" for c in self.changes)
        return (f'<div class="simengine-comparison"><p><b>simengine.report.Comparison</b> of '
                f"{html.escape(self._head())}; tables <code>.side</code>, "
                f"<code>.paired</code></p>"
                + (f"<p>What changed from A to B:</p><ul>{changes}</ul>" if changes
                   else "<p>The two scenarios are the same.</p>")
                + html_table(*self._shown()) + "</div>")


def _side_by_side(a: Run, b: Run, metric: str, strategies):
    ra = {r["strategy"]: r for r in summary_rows(a.summary, metric)}
    rb = {r["strategy"]: r for r in summary_rows(b.summary, metric)}
    digits = 0 if metric != "cheapest" else 3
    stats_ = (("mean", "mean"), ("p50", "P50"), ("p95", "P95"))
    columns = [Column("strategy", "left")]
    for key, head in stats_:
        columns += [Column(f"A {head}", "right", 0 if key != "mean" else 2),
                    Column(f"B {head}", "right", 0 if key != "mean" else 2)]
    rows = []
    for s in strategies:
        cells = [s]
        for key, _ in stats_:
            cells += [number(ra[s][key], digits) if s in ra else "-",
                      number(rb[s][key], digits) if s in rb else "-"]
        rows.append(cells)
    title = f"{metric} per path, run A and run B side by side"
    return title, columns, rows


def _paired_table(a: Run, b: Run, metric: str, strategies, n_paths):
    # "P95 of B-A": the P95 of the per-path differences, not the gap between
    # the two P95s (a mean of differences is the difference of the means)
    columns = [Column("strategy", "left"), Column("mean B-A"),
               Column("95% CI", "right", 0, compact_interval),
               Column("unpaired CI", "right", 2, compact_interval),
               Column(PAIRED_P95), Column("95% CI", "right", 1, compact_interval)]
    rows = []
    replicates = _replicates(a)
    se = [{r["strategy"]: r["se"] for r in summary_rows(run.summary, metric)}
          if metric in set(run.summary.column("metric").to_pylist()) else {} for run in (a, b)]
    for s in strategies:
        _, va, rep = per_path(a, metric, s)
        _, vb, _ = per_path(b, metric, s)
        d = vb - va
        st = paired_stats(d, rep if replicates else None)
        # each run's own standard error of its mean (sectioned under sobol)
        sea, seb = (x.get(s, v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else math.nan)
                    for x, v in zip(se, (va, vb)))
        sea, seb = (math.nan if v is None else v for v in (sea, seb))
        half = 1.959964 * math.sqrt(sea ** 2 + seb ** 2)
        rows.append([s, number(st["mean"]), _ci(st["mean_lo"], st["mean_hi"]),
                     _ci(st["mean"] - half, st["mean"] + half),
                     number(st["p95"]), _ci(st["p95_lo"], st["p95_hi"])])
    title = (f"Paired differences of {metric}, B - A, path by path on the same "
             f"{n_paths:,} paths (common random numbers)")
    return title, columns, rows


def _ci(lo, hi) -> str:
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return "n/a (too few paths)"
    return interval(number(lo), number(hi))


def compare_runs(a: Run, b: Run, metric: str = "total_cost") -> Comparison:
    """Compare two runs on `metric` (ValueError when a run lacks it)."""
    for run in (a, b):
        summary_rows(run.summary, metric)           # a missing metric: ValueError
    strategies = [s for s in a.strategies if s in b.strategies]
    strategies += [s for s in a.strategies + b.strategies if s not in strategies]
    common = [s for s in a.strategies if s in b.strategies]
    changes = scenario_changes(a.manifest.get("scenario", {}), b.manifest.get("scenario", {}))
    reason = why_not_paired(a, b, metric) if metric != "cheapest" else \
        "the share of paths won is not a per-path quantity"
    comp = Comparison(a, b, metric, changes, reason, _side_by_side(a, b, metric, strategies))
    only = [s for s in strategies if s not in common]
    if only:
        comp.notes.append(f"in one run only: {', '.join(only)}")
    if reason is None:
        comp.paired = _paired_table(a, b, metric, common, len(_paths(a)))
        comp.notes.append(
            "Each path holds the same customers and multipliers in both runs, so B - A on a "
            "path is what the change does there; its interval is narrower than that of the "
            "difference of two separate estimates (unpaired CI), often far narrower.")
    else:
        comp.notes.append(f"No paired differences: {reason}. The side-by-side figures are "
                          "separate estimates.")
    return comp
