"""The sweep report: P50/P95 of total and economic cost per point and
strategy, the cheapest strategy per point and where along each swept key it
changes (crossovers); `report.md` and one plot per swept axis.

An oracle strategy (the hindsight plan) knows each path's future: it is a
bound, not a strategy one can buy, so it is never "cheapest" nor a
crossover; the tables show it labelled as the hindsight bound, the plots as
a thin dark dashed line drawn over the others (a strategy that matches it
stays visible beneath).

Tables are data (`SweepTable`: title, columns, rows) printed with the one
table formatter of `simengine.tables`, and written to report.md as
Markdown with the same cells. matplotlib is imported inside the functions
that draw (about 0.3 s a sweep that is only printed should not pay).
"""
from __future__ import annotations

import itertools
import math
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .. import store
from ..percentiles import BOUND, bound_label
from ..tables import SECTION, Column, markdown_table, print_table
from .spec import text_value
from .storage import DONE, SweepError, read_manifest, read_sweep_summary

REPORT_METRICS = ("total_cost", "economic_cost")
REPORT_STATS = ("p50", "p95")
MAX_ROWS = 6            # combinations of the other axes drawn as rows of panels
ZOOM = 4.0              # strategies above ZOOM x the dearest of the cheapest values run off the top


class SweepTable(NamedTuple):
    """A table as data: print it with `tables.print_table(*table)`."""
    title: str
    columns: list           # tables.Column
    rows: list              # lists of cells (str), or SECTION between groups

    @property
    def headers(self) -> list:
        return [c.header for c in self.columns]


def _money(v):
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.0f}"


def cheapest(values: dict, order, previous=None):
    """The strategy with the lowest value; a tie keeps `previous`, else the
    first in strategy order."""
    best = min(values.values())
    tied = [s for s in order if s in values and values[s] == best]
    return previous if previous in tied else tied[0]


def sweep_bounds(root: Path, m: dict) -> list:
    """The sweep's oracle strategies, in strategy order: read from its
    finished points' markers (each holds its run's resolved scenario)."""
    found = set()
    done = Path(root) / DONE
    for f in sorted(done.glob("*.json")) if done.is_dir() else []:
        try:
            strategies = store.read_json(f)["run"]["scenario"]["strategy"]
            found |= {st["name"] for st in strategies if st.get("renewal") == "oracle"}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return [s for s in m["strategies"] if s in found]


def _buyable(strategies, bounds) -> list:
    return [s for s in strategies if s not in bounds]


def _bound_note(bounds) -> str:
    return (f"; {', '.join(bounds)}, the {BOUND}, left out" if bounds else "")


def report_data(summary) -> dict:
    """{point index: {(strategy, metric, stat): value}} from sweep_summary."""
    cols = summary.select(["point", "strategy", "metric", *REPORT_STATS]).to_pydict()
    out = {}
    for i in range(len(cols["point"])):
        if cols["metric"][i] in REPORT_METRICS:
            d = out.setdefault(cols["point"][i], {})
            for s in REPORT_STATS:
                d[(cols["strategy"][i], cols["metric"][i], s)] = cols[s][i]
    return out


def _cheapest_of(d, strategies, metric, stat):
    vals = {s: d[(s, metric, stat)] for s in strategies if (s, metric, stat) in d}
    return cheapest(vals, strategies) if vals else ""


# --------------------------------------------------------------------------
# Lines along each axis, and where the cheapest strategy changes

def axis_views(m, data):
    """For each axis: its values, and the rows (combinations of the other
    axes) to draw, each as (label, [point index per axis value or None])."""
    points, axes = m["points"], m["axes"]
    sizes = [1 + max(p["axes"][a] for p in points) for a in range(len(axes))]
    by_axes = {tuple(p["axes"]): p for p in points}
    views = []
    for a, keys in enumerate(axes):
        xs = []
        for i in range(sizes[a]):
            p = next(q for q in points if q["axes"][a] == i)
            xs.append([p["values"][k] for k in keys])
        others = [b for b in range(len(axes)) if b != a]
        combos = list(itertools.product(*[range(sizes[b]) for b in others]))
        held = len(combos) > MAX_ROWS
        rows = []
        for combo in combos[:1] if held else combos:
            idx = []
            for i in range(sizes[a]):
                full = [0] * len(axes)
                full[a] = i
                for b, v in zip(others, combo):
                    full[b] = v
                p = by_axes.get(tuple(full))
                idx.append(p["index"] if p is not None and p["index"] in data else None)
            parts = []
            for b, v in zip(others, combo):
                ref = next(q for q in points if q["axes"][b] == v)
                parts += [f"{k}={text_value(ref['values'][k])}" for k in axes[b]]
            rows.append((", ".join(parts), idx))
        views.append({"axis": a, "keys": keys, "xs": xs, "rows": rows, "held": held})
    return views


def crossovers(view, data, strategies):
    """Where the cheapest strategy changes along the axis, per row and series."""
    out = []
    x_text = [", ".join(text_value(v) for v in x) for x in view["xs"]]
    for label, idx in view["rows"]:
        for metric in REPORT_METRICS:
            for stat in REPORT_STATS:
                prev, prev_x = None, None
                for i, pi in enumerate(idx):
                    if pi is None:
                        continue
                    vals = {s: data[pi][(s, metric, stat)] for s in strategies
                            if (s, metric, stat) in data[pi]}
                    if not vals:
                        continue
                    best = cheapest(vals, strategies, prev)
                    if prev is not None and best != prev:
                        out.append({"axis": view["axis"], "row": label, "metric": metric,
                                    "stat": stat, "from": prev, "to": best,
                                    "between": (x_text[prev_x], x_text[i]), "at": (prev_x, i)})
                    prev, prev_x = best, i
    return out


# --------------------------------------------------------------------------
# Plots

def _yuan(v, _=None):
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.2g}M" if abs(v) < 1e7 else f"{v / 1e6:,.0f}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:,.0f}k"
    return f"{v:,.0f}"


def _zoom(ax, idx, data, strategies, metric, stat, bounds=()) -> str:
    """Keep the competitive range in view: the y axis runs from 0 to just
    above the dearest line that stays within ZOOM times the largest (over x)
    of the cheapest value (among the strategies one can buy); dearer lines
    run off the top, and the note returned names every one of them (those
    only partly above marked so); "" when none does."""
    lines = {}
    for s in strategies:
        vals = [data[pi][(s, metric, stat)] for pi in idx
                if pi is not None and (s, metric, stat) in data[pi]]
        vals = [v for v in vals if math.isfinite(v)]
        if vals:
            lines[s] = vals
    lows = []
    for pi in idx:
        if pi is not None:
            vals = [data[pi][(s, metric, stat)] for s in lines
                    if s not in bounds and (s, metric, stat) in data[pi]]
            if vals:
                lows.append(min(vals))
    if not lows or min(lows) < 0:
        return ""
    limit = ZOOM * max(lows)
    kept = [max(v) for v in lines.values() if max(v) <= limit]
    if len(kept) == len(lines) or not kept or max(kept) <= 0:
        ax.set_ylim(bottom=0)
        return ""
    top = 1.15 * max(kept)
    ax.set_ylim(0, top)
    return off_scale_note(lines, top)


def off_scale_note(lines: dict, top: float) -> str:
    """Names every strategy whose line runs above `top`, the partly hidden
    ones marked: "off scale ↑: no-purchase, vip-first (partly)"."""
    names = [s + ("" if min(v) > top else " (partly)")
             for s, v in lines.items() if max(v) > top]
    return "off scale ↑: " + ", ".join(names) if names else ""


def _x_positions(xs):
    """(positions, numeric, log scale) of an axis's values."""
    first = [x[0] for x in xs]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in first)
    pos = [float(v) for v in first] if numeric else list(range(len(xs)))
    return pos, numeric, numeric and min(pos) > 0 and max(pos) / min(pos) >= 20


def _panel(ax, view, idx, data, strategies, crossings, metric, stat, bounds=()) -> str:
    """Draw one panel; return its off-scale note ("" when none)."""
    from matplotlib.ticker import FuncFormatter, NullLocator
    xs = view["xs"]
    pos, numeric, logx = _x_positions(xs)
    for si, s in enumerate(_buyable(strategies, bounds)):
        pts = [(pos[i], data[pi][(s, metric, stat)]) for i, pi in enumerate(idx)
               if pi is not None and (s, metric, stat) in data[pi]]
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3.5, lw=1.8, color=f"C{si % 10}",
                    ls=["-", "--", "-.", ":"][(si // 10) % 4], label=s, zorder=2)
    for s in bounds:        # over the others, thin and dashed: what matches it shows beneath
        pts = [(pos[i], data[pi][(s, metric, stat)]) for i, pi in enumerate(idx)
               if pi is not None and (s, metric, stat) in data[pi]]
        if pts:
            ax.plot(*zip(*pts), color="0.1", lw=1.0, ls=(0, (4, 2.5)), label=bound_label(s),
                    zorder=3)
    for cr in crossings:
        a, b = (pos[i] for i in cr["at"])
        mid = math.sqrt(a * b) if logx else (a + b) / 2
        ax.axvline(mid, color="0.5", ls=":", lw=1)
        ax.annotate(f"→ {cr['to']}", (mid, 0), xycoords=("data", "axes fraction"),
                    xytext=(2, 4), textcoords="offset points", fontsize=7,
                    color="0.3", rotation=90, va="bottom")
    if logx:
        ax.set_xscale("log")
    note = _zoom(ax, idx, data, strategies, metric, stat, bounds)
    if not numeric or len(xs) <= 12:
        ax.set_xticks(pos, [", ".join(text_value(v) for v in x) for x in xs])
        ax.xaxis.set_minor_locator(NullLocator())
        if not numeric:
            ax.margins(x=0.12)
        if numeric and len(xs) > 5:
            ax.tick_params(axis="x", labelrotation=30)
    ax.yaxis.set_major_formatter(FuncFormatter(_yuan))
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)
    return note


NOTE_WIDTH = 58         # characters of an off-scale note on one line of a panel


def plot_axis(view, data, strategies, crossings, path: Path, title, bounds=()) -> Path:
    """P50 and P95 of total and economic cost against one axis's values, a
    line per strategy (the hindsight bounds dashed), a row of panels per
    combination of the other axes. A panel's off-scale note sits between
    its title and its plot, where no line or title can cover it."""
    from matplotlib.figure import Figure
    rows = view["rows"]
    panels = [(m, s) for m in REPORT_METRICS for s in REPORT_STATS]
    fig = Figure(figsize=(3.6 * len(panels), 2.9 * len(rows) + 1.2), layout="constrained")
    axs = fig.subplots(len(rows), len(panels), squeeze=False)
    notes = {}
    for r, (label, idx) in enumerate(rows):
        for c, (metric, stat) in enumerate(panels):
            mine = [cr for cr in crossings
                    if cr["row"] == label and cr["metric"] == metric and cr["stat"] == stat]
            notes[r, c] = textwrap.wrap(_panel(axs[r][c], view, idx, data, strategies, mine,
                                               metric, stat, bounds), NOTE_WIDTH)
    # one title height for the whole figure, so that the panels line up
    lines = max((len(n) for n in notes.values()), default=0)
    for r, (label, idx) in enumerate(rows):
        for c, (metric, stat) in enumerate(panels):
            ax = axs[r][c]
            if notes[r, c]:
                ax.annotate("\n".join(notes[r, c]), (0.5, 1), xycoords="axes fraction",
                            xytext=(0, 3), textcoords="offset points", ha="center",
                            va="bottom", fontsize=7, color="0.35")
            ax.set_title(f"{metric} {stat.upper()}" + (f"\n{label}" if label else ""),
                         fontsize=9, pad=6 + 9 * lines)
            if r == len(rows) - 1:
                ax.set_xlabel(", ".join(view["keys"]), fontsize=8)
            if c == 0:
                ax.set_ylabel("yuan", fontsize=8)
    handles, labels = axs[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 7),
               fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    return store.atomic_file(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))


# --------------------------------------------------------------------------
# Tables

def _key_columns(keys):
    return [Column(k, "left") for k in keys]


def cheapest_table(m, points, data, bounds=()) -> SweepTable:
    """The cheapest strategy per point, by P50/P95 of total and economic
    cost, among the strategies one can buy (the hindsight bounds left out)."""
    strategies, keys = _buyable(m["strategies"], bounds), m["keys"]
    stats = [(metric, stat) for metric in REPORT_METRICS for stat in REPORT_STATS]
    # economic P50 is the headline; narrower terminals lose the others first
    priority = {("economic_cost", "p50"): 0, ("economic_cost", "p95"): 1,
                ("total_cost", "p95"): 2, ("total_cost", "p50"): 3}
    columns = _key_columns(keys) + [
        Column(f"{metric.split('_')[0]} {stat.upper()}", "left", priority[(metric, stat)])
        for metric, stat in stats]
    rows = [[text_value(p["values"][k]) for k in keys]
            + [_cheapest_of(data[p["index"]], strategies, metric, stat) for metric, stat in stats]
            for p in points]
    changes = "".join(f", {c}" for c in m.get("command_line") or ())
    return SweepTable(f"Cheapest strategy per point ({m['name']}{changes}{_bound_note(bounds)})",
                      columns, rows)


def costs_table(m, points, data, bounds=()) -> SweepTable:
    """P50/P95 of total and economic cost by point and strategy; `*` marks
    the cheapest economic cost among the strategies one can buy; the
    hindsight bounds come last in each point, labelled so."""
    keys = m["keys"]
    buyable = _buyable(m["strategies"], bounds)
    strategies = buyable + [s for s in m["strategies"] if s in bounds]
    columns = _key_columns(keys) + [Column("strategy", "left")] + [
        Column(f"{metric.split('_')[0]} {stat.upper()}", "right", int(metric == "total_cost"))
        for metric in REPORT_METRICS for stat in REPORT_STATS]
    rows = []
    for p in points:
        d = data[p["index"]]
        best = {stat: _cheapest_of(d, buyable, "economic_cost", stat) for stat in REPORT_STATS}
        for s in strategies:
            cells = [text_value(p["values"][k]) for k in keys] + [
                bound_label(s) if s in bounds else s]
            for metric in REPORT_METRICS:
                for stat in REPORT_STATS:
                    v = _money(d.get((s, metric, stat)))
                    cells.append(v + " *" if metric == "economic_cost" and best[stat] == s else v)
            rows.append(cells)
        rows.append(SECTION)
    return SweepTable("P50 / P95 by point and strategy (yuan; * cheapest economic cost)",
                      columns, rows[:-1])


def result_table(sweep, run) -> SweepTable:
    """The table `simengine sweep` prints: the cheapest strategy per point by
    P50 and P95 of economic cost (blank for a point not finished), among
    the strategies one can buy (an oracle is the hindsight bound)."""
    data = report_data(read_sweep_summary(run.directory))
    bounds = {st.name for p in sweep.points for st in p.scenario.strategies
              if st.renewal == "oracle"}
    buyable = _buyable(sweep.strategies, bounds)
    columns = _key_columns(sweep.keys) + [Column("P50", "left"), Column("P95", "left")]
    rows = [[text_value(p.values[k]) for k in sweep.keys]
            + [_cheapest_of(data.get(p.index, {}), buyable, "economic_cost", stat)
               for stat in REPORT_STATS]
            for p in sweep.points]
    left_out = _bound_note([s for s in sweep.strategies if s in bounds])
    return SweepTable(f"Sweep {sweep.name}: cheapest strategy by economic cost{left_out}",
                      columns, rows)


# --------------------------------------------------------------------------
# The report

@dataclass
class SweepReport:
    """What `report_sweep` found and wrote."""
    directory: Path
    tables: list                                    # SweepTable: costs, cheapest
    crossovers: list                                # lines of text
    notes: list = field(default_factory=list)       # lines of text
    written: list = field(default_factory=list)     # plots, then report.md

    def print(self, file=None):
        """The tables, the crossovers, the notes and the files written."""
        file = sys.stdout if file is None else file
        for t in self.tables:
            print_table(*t, file=file)
            print(file=file)
        if self.crossovers:
            print("Crossovers (where the cheapest strategy changes):", file=file)
            for line in self.crossovers:
                print(f"  {line}", file=file)
        for line in self.notes:
            print(line, file=file)
        for path in self.written:
            print(f"wrote {path}", file=file)


def _crossover_text(m, cr, code=str) -> str:
    where = f" ({cr['row']})" if cr["row"] else ""
    return (f"{code(', '.join(m['axes'][cr['axis']]))}{where}, {cr['metric']} "
            f"{cr['stat'].upper()}: cheapest changes from {cr['from']} to {cr['to']} "
            f"between {cr['between'][0]} and {cr['between'][1]}")


def _write_plots(root, m, views, data, crossings, bounds=()) -> tuple[list, list]:
    """(files written, report.md lines of the plots section)."""
    written, md = [], ["## Plots", ""]
    for v in views:
        if len(v["xs"]) < 2:
            md.append(f"- `{', '.join(v['keys'])}`: one value only, no plot")
            continue
        name = v["keys"][0]
        note = ""
        if len(m["axes"]) > 1:
            note = ("other keys held at their first values" if v["held"]
                    else "one row per combination of the other keys")
        title = (f"Sweep {m['name']}: P50/P95 cost against {', '.join(v['keys'])}"
                 + (f" ({note})" if note else ""))
        written.append(plot_axis(v, data, m["strategies"],
                                 [c for c in crossings if c["axis"] == v["axis"]],
                                 root / "plots" / f"{name}.png", title, bounds))
        md += [f"### {', '.join(v['keys'])}", ""]
        if note:
            md += [note[0].upper() + note[1:] + "; dotted lines mark where the cheapest "
                   "strategy changes.", ""]
        md += [f"![P50/P95 against {name}](plots/{name}.png)", ""]
    return written, md


def report_sweep(directory) -> SweepReport:
    """Write `plots/<key>.png` (one per swept axis) and `report.md` into a
    sweep folder; return the tables, crossovers and files (print them with
    `.print()`). Raises SweepError when the folder is not a sweep or has no
    finished point."""
    root = Path(directory)
    m = read_manifest(root)
    data = report_data(read_sweep_summary(root))
    points = [p for p in m["points"] if p["index"] in data]
    if not points:
        raise SweepError(f"{root}: no finished points to report; run the sweep first")
    views = axis_views(m, data)
    bounds = sweep_bounds(root, m)
    crossings = [c for v in views for c in crossovers(v, data, _buyable(m["strategies"], bounds))]
    cheap, costs = cheapest_table(m, points, data, bounds), costs_table(m, points, data, bounds)
    n_all = len(m["points"])
    md = [f"# Sweep `{m['name']}`", ""] + ([m["description"], ""] if m.get("description") else [])
    md += [f"{len(points)} of {n_all} points finished; swept keys: "
           + ", ".join(f"`{k}`" for k in m["keys"]) + f"; base `{m['base']}`; "
           f"engine {m['engine_version']}."
           + (f" Command-line changes to every point: {', '.join(m['command_line'])}."
              if m.get("command_line") else ""),
           "Costs in yuan per horizon; P50/P95 across paths. Economic cost = total cost + "
           "lost value."
           + (f" {', '.join(f'`{b}`' for b in bounds)}: the {BOUND} (the cheapest plan that "
              "blocks nobody, chosen knowing each path's future), not a strategy one can "
              "buy: never counted as cheapest." if bounds else ""), "",
           "## Cheapest strategy per point", "", markdown_table(cheap.columns, cheap.rows),
           "", "## Crossovers", ""]
    md += ([f"- {_crossover_text(m, c, lambda k: f'`{k}`')}" for c in crossings] or
           ["- none: the cheapest strategy is the same at every point of each line"])
    md += ["", "## P50 / P95 by point and strategy", "", "`*` marks the cheapest economic cost.",
           "", markdown_table(costs.columns, costs.rows), ""]
    written, plots_md = _write_plots(root, m, views, data, crossings, bounds)
    written.append(store.write_text(root / "report.md", "\n".join(md + plots_md) + "\n"))
    notes = [] if m.get("complete", True) else [
        f"{n_all - len(points)} point(s) not finished: rerun the sweep to complete it"]
    return SweepReport(root, [costs, cheap], [_crossover_text(m, c) for c in crossings],
                       notes, written)
