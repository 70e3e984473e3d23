"""What `optimize` writes (docs/model.md section 13), in one directory renamed into
place when complete:

- `candidates.arrow`: a row per distinct candidate (CANDIDATE_COLUMNS, then
  `reserve.<segment>` per segment);
- `best.toml`: the validation scenario (top candidates, the scenario's own
  strategies, an oracle), checked to load back to the same scenario;
- `validation/`: its run directory (docs/model.md section 7);
- `frontier.png`: every candidate's mean against its objective statistic,
  the efficient frontier, the scenario's own strategies and the winner;
- `manifest.json`.

matplotlib is imported inside the functions that draw (as in
`report/plots.py`: about 0.3 s that only a written directory should cost).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa

from .. import store
from ..report.plots import pyplot, save_figure, thousands
from ..scenario import load_scenario, to_toml
from ..version import __version__
from .objective import in_cents

PLOT = "frontier.png"
# (name, arrow type, meaning): the fixed columns of candidates.arrow
CANDIDATE_COLUMNS = (
    ("candidate", pa.string(), "the strategy's name (the scenario's own keep theirs)"),
    ("source", pa.string(), '"scenario" (one of its own strategies) or "space"'),
    ("renewal", pa.string(), "renewal rule"),
    ("tier", pa.int64(), "tier size bought by fixed (null otherwise)"),
    ("upgrade", pa.string(), "upgrade rule"),
    ("upgrade_at", pa.float64(), "orders an upgrade at this fraction of the capacity (1 where "
     "it never upgrades)"),
    ("review_days", pa.int64(), "looks at usage every this many days, 0 = all the time (0 "
     "where it never upgrades)"),
    ("headroom", pa.float64(), "headroom (0 where no rule reads it)"),
    ("on_blocked", pa.string(), "blocked rule"),
    ("retry_days", pa.float64(), "mean days to a retry (retry only)"),
    ("max_retries", pa.int64(), "retries per chain (retry only)"),
    ("admit", pa.string(), "segments admitted, comma-separated"),
    ("others", pa.string(), "what becomes of the segments not admitted"),
    ("objective", pa.float64(), "the objective on the search paths it saw"),
    ("objective_lo", pa.float64(), "its 95% interval, low (null: too few paths)"),
    ("objective_hi", pa.float64(), "its 95% interval, high"),
    ("mean", pa.float64(), "mean of the objective's metric on those paths"),
    ("paths", pa.int64(), "search paths it saw (fewer: dropped by pruning)"),
    ("rank", pa.int64(), "1 = best of the search"),
    ("validated", pa.bool_(), "whether it ran on the validation paths"),
    ("validated_objective", pa.float64(), "the objective on the validation paths"),
    ("validated_lo", pa.float64(), "its 95% interval, low"),
    ("validated_hi", pa.float64(), "its 95% interval, high"),
    ("validated_mean", pa.float64(), "mean of the metric on the validation paths"),
)


def _null(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def candidates_table(res) -> pa.Table:
    """candidates.arrow of an OptimizeResult, rows in rank order."""
    scn, found, out, val = res.scenario, res.candidates, res.search, res.validation
    seg_names = [s.name for s in scn.segments]
    names_in_validation = {}
    for st, vname in zip(res.finalists, val.finalists):
        names_in_validation[st.name] = vname
    own = {st.name for st in found.strategies[:found.own]}
    rows = []
    for i in out.order():
        st = found.strategies[i]
        e = out.estimates[i]
        vname = names_in_validation.get(st.name, st.name if st.name in own else None)
        ve = val.estimates.get(vname) if vname else None
        reserve = dict(st.reserve)
        rows.append({
            "candidate": st.name, "source": "scenario" if st.name in own else "space",
            "renewal": st.renewal, "tier": st.tier, "upgrade": st.upgrade,
            "upgrade_at": st.upgrade_at, "review_days": st.review_days,
            "headroom": st.headroom, "on_blocked": st.on_blocked,
            "retry_days": st.retry_days, "max_retries": st.max_retries,
            "admit": ",".join(st.admit), "others": st.others,
            "objective": _null(e.value), "objective_lo": _null(e.lo),
            "objective_hi": _null(e.hi), "mean": out.means[i],
            "paths": int(out.paths_seen[i]), "rank": int(out.rank[i]),
            "validated": ve is not None,
            "validated_objective": _null(ve.value) if ve else None,
            "validated_lo": _null(ve.lo) if ve else None,
            "validated_hi": _null(ve.hi) if ve else None,
            "validated_mean": val.means[vname] if ve else None,
        } | {f"reserve.{s}": reserve.get(s, 0) for s in seg_names})
    fields = [pa.field(n, t) for n, t, _ in CANDIDATE_COLUMNS] + [
        pa.field(f"reserve.{s}", pa.int64()) for s in seg_names]
    schema = pa.schema(fields).with_metadata({
        b"scenario_sha256": scn.sha256.encode(), b"engine_version": __version__.encode(),
        b"scenario_name": scn.name.encode(), b"table": b"candidates",
        b"objective": str(res.objective).encode()})
    return pa.Table.from_pylist(rows, schema=schema)


def best_toml(res) -> str:
    """The validation scenario as TOML, with a header saying what it is.
    Its values are those simulated: a --scale or --set given to optimize is
    written in (the header says which), so `simengine run` on the file needs
    neither."""
    val, obj = res.validation, res.objective
    bounds = [s.name for s in val.scenario.strategies if s.renewal == "oracle"]
    ranked = sorted((n for n in val.estimates if n not in bounds),
                    key=lambda n: (in_cents(val.estimates[n].value), in_cents(val.means[n])))
    changes = getattr(res, "changes", [])
    lines = [f"# best.toml: written by `simengine optimize` (engine {__version__}) from "
             f"{res.scenario.source}" + (f" with {' '.join(changes)}" if changes else "")]
    if changes:
        scn = val.scenario
        scaled = (f" (population.size {scn.population:,} and "
                  f"{sum(seg.initial_contacts for seg in scn.segments):,} initial contacts in "
                  "all: the scaled values)" if getattr(res, "scale", None) else "")
        lines.append(f"# {' '.join(changes)} is written into the values below{scaled}, so "
                     "`simengine run` on this file needs neither again.")
    lines += [f"# objective {obj}: the lowest {obj.label} of {obj.metric} per path, on "
              f"{val.scenario.paths:,} validation paths (the seed below; the search used "
              f"seed {res.scenario.seed} and {res.search.rungs[-1].paths:,} paths).",
              "# `simengine run` on this file gives the validation run again. Validated "
              f"{obj.label}, best first:"]
    for n in ranked:
        e = val.estimates[n]
        tag = "  <- winner" if n == val.winner else ""
        lines.append(f"#   {n}: {e.value:,.0f}{tag}")
    for n in bounds:
        lines.append(f"#   {n} (hindsight bound): {val.estimates[n].value:,.0f}")
    return "\n".join(lines) + "\n\n" + to_toml(val.scenario.resolved)


def efficient_frontier(risk, mean) -> list:
    """Indices of the candidates no other beats on both risk and mean,
    by increasing risk (decreasing mean)."""
    risk, mean = np.asarray(risk, float), np.asarray(mean, float)
    ok = np.flatnonzero(np.isfinite(risk) & np.isfinite(mean))
    order = ok[np.lexsort((mean[ok], risk[ok]))]
    out, best = [], math.inf
    for i in order:
        if mean[i] < best:
            out.append(int(i))
            best = mean[i]
    return out


def write(res, directory) -> Path:
    """The output directory, atomically: nothing is left behind on failure,
    and an existing directory is refused."""
    directory = Path(directory)
    with store.atomic_directory(directory) as tmp:
        tmp = Path(tmp)
        store.write_table(tmp / "candidates.arrow", res.candidates_table())
        text = best_toml(res)
        store.write_text(tmp / "best.toml", text)
        back = load_scenario(str(tmp / "best.toml"))
        if back.sha256 != res.validation.scenario.sha256:
            raise RuntimeError("best.toml does not load back to the validation scenario")
        res.validation.result.write(tmp / "validation")
        plot_frontier(res, tmp / PLOT)
        store.write_json(tmp / "manifest.json", res.manifest)
    return directory


# --------------------------------------------------------------------------
# the plot

RENEWAL_COLORS = {"none": "tab:gray", "fixed": "tab:blue", "fit": "tab:green",
                  "forecast": "tab:orange"}


def _risk_label(obj):
    if obj.stat == "mean":
        return "P95"
    return obj.label


def plot_frontier(res, path) -> Path:
    """Write `frontier_figure(res)` as a PNG at `path`."""
    return save_figure(frontier_figure(res), Path(path))


def frontier_figure(res):
    """Every candidate's mean against its objective statistic (P95 when
    the objective is the mean) on the search paths: all of them on the
    left (log axes when they span more than 30x), the neighbourhood of the
    efficient frontier on the right (linear axes, the validated top
    candidates named); the frontier drawn, the scenario's own strategies,
    the winner and the hindsight bound marked. No label covers another, a
    marker or the frontier; each stays inside its panel (`_place_labels`)."""
    plt = pyplot()
    out, found, obj = res.search, res.candidates, res.objective
    risk, mean = np.asarray(res.risk, float), np.asarray(out.means, float)
    front = efficient_frontier(risk, mean)
    stat = _risk_label(obj)
    fig, (wide, near) = plt.subplots(1, 2, figsize=(16, 7.5),
                                     gridspec_kw={"width_ratios": [1, 1.15]})
    labels = [(wide, *_candidates_panel(wide, res, risk, mean, front, labels="own"))]
    zoom = _near_frontier(res, risk, mean, front)
    labels.append((near, *_candidates_panel(near, res, risk, mean, front, labels="finalists",
                                            limits=zoom)))
    wide.set_title("every candidate", fontsize=10)
    near.set_title(f"near the top: the {NEAR} best of the search and the frontier "
                   "(the validated candidates named)", fontsize=10)
    years = res.scenario.horizon_years
    for ax in (wide, near):
        ax.set_xlabel(f"{stat} of {obj.metric} per path, yuan over {years} years"
                      + (" (a bad year: 1 path in 20 costs more)" if stat == "P95" else ""))
    wide.set_ylabel(f"mean {obj.metric} per path, yuan (the typical cost)")
    handles, names = wide.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8.5, frameon=False)
    P = out.rungs[-1].paths
    w = res.winner_index
    if len(front) == 1 and w is not None and risk[w] <= risk[front[0]] and \
            mean[w] <= mean[front[0]] * 1.001:
        story = (f"the winner, {found.strategies[w].name}, is best on both: no candidate has a "
                 f"lower {stat} or a lower mean, so no safety is for sale")
    elif len(front) == 1:
        story = (f"{found.strategies[front[0]].name} is best on both: no candidate has a lower "
                 f"{stat} or a lower mean, so no safety is for sale")
    else:
        story = (f"along the frontier ({len(front)} candidates), each step to the left buys a "
                 f"lower {stat} for a higher mean")
    fig.suptitle(f"{res.scenario.name}: {len(found.strategies):,} candidate strategies on "
                 f"{P:,} search paths (lower-left is better)\n{story}", fontsize=11.5)
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    for ax, texts, marks, segments in labels:     # once the axes are where they stay
        _place_labels(ax, texts, marks, segments)
    return fig


NEAR = 20     # the best-ranked candidates the right panel shows, at least


def _near_frontier(res, risk, mean, front):
    """(x limits, y limits) around the frontier, the best-ranked candidates,
    the validated ones, the scenario's own strategies near them and the
    hindsight plan: at least 2% of the lowest values wide."""
    best = list(res.search.order()[:NEAR])
    # and the scenario's own strategies within half as much again of the best
    # risk and mean: how far what the team runs is from the top
    lo_x, lo_y = np.nanmin(risk[best]), np.nanmin(mean[best])
    own = [i for i in range(res.candidates.own)
           if risk[i] <= 1.5 * lo_x and mean[i] <= 1.5 * lo_y]
    keep = set(front) | set(best) | set(own) | set(res.finalist_indices) | {res.winner_index}
    keep.discard(None)
    keep = sorted(keep)
    xs = np.append(risk[keep], res.oracle_risk)
    ys = np.append(mean[keep], res.search.oracle_mean)
    xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
    x0, x1 = xs.min(), max(xs.max(), 1.02 * xs.min())
    y0, y1 = ys.min(), max(ys.max(), 1.02 * ys.min())
    pad_x, pad_y = 0.08 * (x1 - x0), 0.08 * (y1 - y0)
    return (x0 - pad_x, x1 + pad_x), (y0 - pad_y, y1 + pad_y)


def _candidates_panel(ax, res, risk, mean, front, labels, limits=None):
    """Draw one panel; return (labels to place, markers they must avoid)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    out, found = res.search, res.candidates
    P = out.rungs[-1].paths
    full = out.paths_seen == P
    marks = []                        # (x, y, marker area in points^2): what labels avoid
    segments = []                     # ((x0, y0), (x1, y1)): lines labels avoid too

    def scatter(x, y, s, **kw):
        ax.scatter(x, y, s=s, **kw)
        marks.extend((a, b, s) for a, b in zip(np.atleast_1d(x), np.atleast_1d(y)))

    for renewal, color in RENEWAL_COLORS.items():
        sel = np.array([st.renewal == renewal for st in found.strategies])
        scatter(risk[sel & full], mean[sel & full], 24, color=color, alpha=0.8, lw=0,
                label=f"renewal = {renewal}", zorder=2)
        scatter(risk[sel & ~full], mean[sel & ~full], 24, facecolor="none",
                edgecolor=color, alpha=0.6, lw=0.8, zorder=2)
    ax.scatter([], [], s=24, facecolor="none", edgecolor="gray",
               label=f"hollow: dropped by the search on fewer than {P:,} paths")
    if front:
        fx, fy = risk[front], mean[front]
        ax.step(fx, fy, where="post", color="black", lw=1.4, zorder=3)
        for i in range(len(front) - 1):           # the steps: across, then down
            segments += [((fx[i], fy[i]), (fx[i + 1], fy[i])),
                         ((fx[i + 1], fy[i]), (fx[i + 1], fy[i + 1]))]
        scatter(fx, fy, 60, facecolor="none", edgecolor="black", lw=1.2, zorder=3,
                label="efficient frontier: no candidate is lower on both")
    texts = []
    own = range(found.own)
    if found.own:                     # a scenario may have none: nothing to mark
        scatter(risk[list(own)], mean[list(own)], 80, facecolor="none", edgecolor="purple",
                marker="s", lw=1.3, zorder=4, label="the scenario's own strategies")
    named = list(own) if labels == "own" else [i for i in res.finalist_indices] + list(own)
    w = res.winner_index
    for i in dict.fromkeys(named):
        if i != w:
            texts.append((risk[i], mean[i], found.strategies[i].name, "normal"))
    if w is not None:
        scatter([risk[w]], [mean[w]], 300, marker="*", color="gold", edgecolor="black",
                lw=1, zorder=5, label=f"winner (validated): {found.strategies[w].name}")
        texts.append((risk[w], mean[w], f"winner: {found.strategies[w].name}", "bold"))
    ox, oy = res.oracle_risk, out.oracle_mean
    scatter([ox], [oy], 70, marker="D", color="black", zorder=6,
            label="hindsight plan: the cheapest that blocks nobody (knows the future)")
    if limits is not None:
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
        texts = [t for t in texts if limits[0][0] <= t[0] <= limits[0][1]
                 and limits[1][0] <= t[1] <= limits[1][1]]
    else:
        xs = np.append(risk[np.isfinite(risk)], ox)
        ys = np.append(mean[np.isfinite(mean)], oy)
        for axis, v, setter in ((ax.xaxis, xs, ax.set_xscale), (ax.yaxis, ys, ax.set_yscale)):
            if v.min() > 0 and v.max() / v.min() > 30:
                setter("log")
                axis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
                axis.set_minor_formatter(NullFormatter())
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(thousands))
    ax.grid(alpha=0.3, which="major")
    return texts, marks, segments


# where a label may go, around its point: right, left, then the diagonals,
# above and below; each tried at growing distances (pixels)
DIRECTIONS = ((1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1), (0, 1), (0, -1))
DISTANCES = (6, 14, 26, 42, 64, 95, 140, 200)


def _place_labels(ax, labels, marks=(), segments=()):
    """Labels near their points, where none covers another label, any
    marker (`marks`: (x, y, area in points^2)) or line (`segments`: ((x0,
    y0), (x1, y1)), horizontal or vertical) and each stays inside the
    axes; a label away from its point gets a leader line. Labels of points
    that fall on one another are joined into one (a line each). Placed
    greedily, the winner first; where no free place exists near a point,
    the place that covers the least."""
    if not labels:
        return
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    trans = ax.transData
    px_per_pt = fig.dpi / 72
    groups = []                       # [(px, py), [(x, y, text, weight)]]
    for x, y, text, weight in labels:
        px, py = trans.transform((x, y))
        for (gx, gy), items in groups:
            if abs(gx - px) < 3 and abs(gy - py) < 3:
                items.append((x, y, text, weight))
                break
        else:
            groups.append(((px, py), [(x, y, text, weight)]))
    groups.sort(key=lambda g: (not any(w == "bold" for *_, w in g[1]), -g[0][1]))
    area = ax.get_window_extent(renderer)
    obstacles = []
    for x, y, size in marks:
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        mx, my = trans.transform((x, y))
        r = math.sqrt(size) / 2 * px_per_pt + 1
        obstacles.append((mx - r, my - r, mx + r, my + r))
    for a, b in segments:
        (ax_, ay), (bx, by) = trans.transform(a), trans.transform(b)
        if np.isfinite([ax_, ay, bx, by]).all():
            obstacles.append((min(ax_, bx) - 2, min(ay, by) - 2, max(ax_, bx) + 2,
                              max(ay, by) + 2))
    obstacles = np.array(obstacles).reshape(-1, 4)
    placed = np.zeros((0, 4))

    def cover(box, boxes):
        if not len(boxes):
            return 0.0
        w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
        h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
        return float((w * h).sum())

    for (px, py), items in groups:
        lines = sorted(((t, w) for _, _, t, w in items), key=lambda tw: tw[1] != "bold")
        sizes = []
        for text, weight in lines:
            probe = ax.text(0, 0, text, fontsize=8, fontweight=weight, transform=None)
            ext = probe.get_window_extent(renderer)
            probe.remove()
            sizes.append((ext.width, ext.height))
        tw, th = max(w for w, _ in sizes), sum(h for _, h in sizes)
        best = None
        for d in DISTANCES:
            for cx, cy in DIRECTIONS:
                x0 = px + d * cx if cx > 0 else px + d * cx - tw if cx < 0 else px - tw / 2
                y0 = py + d * cy if cy > 0 else py + d * cy - th if cy < 0 else py - th / 2
                box = (x0, y0, x0 + tw, y0 + th)
                inside = (box[0] >= area.x0 + 2 and box[2] <= area.x1 - 2
                          and box[1] >= area.y0 + 2 and box[3] <= area.y1 - 2)
                if not inside:
                    continue
                # labels must not meet; markers should not be covered
                cost = 1e6 * cover(box, placed) + cover(box, obstacles) + 0.5 * d
                if best is None or cost < best[0]:
                    best = (cost, box)
            if best is not None and best[0] < 0.5 * d + 1:    # a free place: take it
                break
        if best is None:                  # larger than the axes: beside the point
            best = (0, (px + 6, py - th / 2, px + 6 + tw, py + th / 2))
        box = best[1]
        placed = np.vstack([placed, box])
        x, y = trans.inverted().transform((px, py))
        top = box[3]
        for (text, weight), (_, h) in zip(lines, sizes):     # a line each, top down
            top -= h
            ax.annotate(text, xy=(x, y), xytext=((box[0] - px) / px_per_pt,
                                                 (top - py) / px_per_pt),
                        textcoords="offset points", fontsize=8, fontweight=weight,
                        ha="left", va="bottom", zorder=7, annotation_clip=False)
        near = (min(max(px, box[0]), box[2]), min(max(py, box[1]), box[3]))
        if math.hypot(near[0] - px, near[1] - py) > 10:     # away from its point: a leader
            ax.annotate("", xy=(x, y), xytext=((near[0] - px) / px_per_pt,
                                               (near[1] - py) / px_per_pt),
                        textcoords="offset points", zorder=7, annotation_clip=False,
                        arrowprops=dict(arrowstyle="-", color="gray", lw=0.6, shrinkA=1,
                                        shrinkB=3))
