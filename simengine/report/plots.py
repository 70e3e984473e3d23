"""The three plots of a run (PNG, written atomically with the user's umask):
cost_distribution.png, contacts_vs_capacity.png, yearly_cost.png.

matplotlib runs headless (Agg), so plotting works with the core
dependencies and without a display. It is imported inside the functions
that draw: it takes about 0.3 s, which a command that draws nothing should
not pay. `pyplot`, `thousands` and `save_figure` are the helpers other plots
(optimize's frontier) share.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa

from .. import store
from ..percentiles import bound_label
from .runs import Run, load_run

PLOTS = ("cost_distribution.png", "contacts_vs_capacity.png", "yearly_cost.png")


def pyplot():
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _horizontal() -> dict:
    """violinplot's horizontal switch: `orientation` since matplotlib 3.10,
    `vert=False` before (deprecated since)."""
    import matplotlib
    major, minor = (int(x) for x in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def thousands(x, _pos=None):
    """An axis tick in yuan: thousands separators, no decimals (a
    matplotlib FuncFormatter)."""
    return f"{x:,.0f}"


def _yuan_axis(axis):
    from matplotlib.ticker import FuncFormatter
    axis.set_major_formatter(FuncFormatter(thousands))


def save_figure(fig, path: Path):
    """Write `fig` as a PNG at `path` atomically (a temporary name in the
    same directory, then renamed) and close it; returns `path`."""
    try:
        store.atomic_file(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        pyplot().close(fig)
    return path


def _strategies(run: Run) -> list:
    """The run's strategies, the hindsight bounds (oracles) last, as in the
    tables."""
    return ([s for s in run.strategies if s not in run.oracles]
            + [s for s in run.strategies if s in run.oracles])


def _name(run: Run, strategy: str) -> str:
    """A strategy as a plot names it: an oracle as the hindsight bound."""
    return bound_label(strategy) if strategy in run.oracles else strategy


def _colors(strategies):
    plt = pyplot()
    cmap = plt.get_cmap("tab10")
    return {s: cmap(i % 10) for i, s in enumerate(strategies)}


def _by_strategy(table: pa.Table, column: str, strategies) -> dict:
    """{strategy: values of `column`} (numpy float64)."""
    strat = np.asarray(table.column("strategy").to_numpy(zero_copy_only=False), dtype=object)
    vals = table.column(column).to_numpy().astype(np.float64)
    return {s: vals[strat == s] for s in strategies}


def _matrix(table: pa.Table, column: str, strategy, key: str) -> np.ndarray:
    """(paths, key values) matrix of `column` for one strategy; key = month/period."""
    strat = np.asarray(table.column("strategy").to_numpy(zero_copy_only=False), dtype=object)
    sel = strat == strategy
    path = table.column("path").to_numpy()[sel]
    k = table.column(key).to_numpy()[sel]
    v = table.column(column).to_numpy().astype(np.float64)[sel]
    paths, pi = np.unique(path, return_inverse=True)
    ks, ki = np.unique(k, return_inverse=True)
    out = np.full((len(paths), len(ks)), np.nan)
    out[pi, ki] = v
    return out


def _log_ticks(ax, lo, hi):
    """Tick a log10-valued x axis at 1, 2, 5 x 10^k, labelled in plain yuan."""
    mults = (1, 2, 5) if hi - lo <= 2 else (1, 3) if hi - lo <= 3 else (1,)
    ticks = [m * 10.0 ** k for k in range(int(math.floor(lo)) - 1, int(math.ceil(hi)) + 2)
             for m in mults]
    ticks = [t for t in ticks if lo - 0.05 <= math.log10(t) <= hi + 0.05]
    ax.set_xticks([math.log10(t) for t in ticks])
    ax.set_xticklabels([thousands(t) for t in ticks])


def plot_cost_distribution(run: Run, path=None) -> Path:
    """Per strategy: the distribution over paths of the total cost (fees) and
    of the economic cost (fees + lost customer value), as horizontal violins
    with P50 and P95 marked. An axis spanning more than 30x is logarithmic."""
    plt = pyplot()
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    strategies = _strategies(run)
    colors = _colors(strategies)
    panels = [("total_cost", "Fees paid (total_cost)"),
              ("economic_cost", "Fees + lost customer value (economic_cost)")]
    S = len(strategies)
    fig, axes = plt.subplots(1, 2, figsize=(15, 2.6 + 0.62 * S), sharey=True)
    y = np.arange(S)[::-1]            # first strategy on top
    for ax, (col, title) in zip(axes, panels):
        data = {s: v[np.isfinite(v)] for s, v in _by_strategy(run.paths, col, strategies).items()}
        allv = np.concatenate([v for v in data.values()]) if data else np.zeros(0)
        raw_lo, raw_hi = (allv.min(), allv.max()) if len(allv) else (0.0, 1.0)
        log = raw_lo > 0 and raw_hi / raw_lo > 30
        tf = np.log10 if log else (lambda a: np.asarray(a, dtype=np.float64))
        lo, hi = float(tf(raw_lo)), float(tf(raw_hi))
        span = (hi - lo) or max(abs(hi), 1.0)
        for yi, s in zip(y, strategies):
            v = data[s]
            if not len(v):
                continue
            c, tv = colors[s], tf(v)
            if np.ptp(tv) > 1e-9 * max(1.0, np.abs(tv).max()) and len(v) > 2:
                parts = ax.violinplot(tv, positions=[yi], widths=0.8, showextrema=False,
                                      **_horizontal())
                for b in parts["bodies"]:
                    b.set_facecolor(c)
                    b.set_edgecolor(c)
                    b.set_alpha(0.45)
                ax.hlines(yi, *tf(np.percentile(v, [5, 95])), color=c, lw=2)
            else:
                ax.hlines(yi, tv[0] - 0.004 * span, tv[0] + 0.004 * span, color=c, lw=8)
            p50, p95 = np.percentile(v, [50, 95])
            ax.plot([tf(p50)], [yi], "o", color="white", mec="black", ms=7, zorder=5)
            ax.plot([tf(p95)], [yi], "|", color="black", ms=18, mew=2.5, zorder=5)
            ax.annotate(f"P50 {p50:,.0f}\nP95 {p95:,.0f}", (hi + 0.03 * span, yi),
                        va="center", ha="left", fontsize=8, annotation_clip=False)
        ax.set_xlim(lo - 0.03 * span, hi + 0.25 * span)
        ax.set_title(title)
        if log:
            _log_ticks(ax, lo, hi)
            ax.set_xlabel("yuan per path over the whole horizon (log scale)")
        else:
            ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
            ax.xaxis.set_major_formatter(FuncFormatter(thousands))
            ax.set_xlabel("yuan per path over the whole horizon")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels([_name(run, s) for s in strategies])
    axes[0].set_ylim(-0.7, S - 0.3)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], marker="o", ls="", color="white", mec="black", ms=7,
                      label="P50 (median path)"),
               Line2D([], [], marker="|", ls="", color="black", ms=14, mew=2.5,
                      label="P95 (1 path in 20 costs more)"),
               Line2D([], [], color="grey", lw=2, label="P5 to P95"),
               Line2D([], [], color="grey", lw=8, alpha=0.45,
                      label="shape: where the paths fall")]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False)
    n = run.paths.num_rows // max(1, S)
    years = run.horizon_years
    fig.suptitle(f"{run.scenario_name}: cost of each strategy over {years} "
                 f"year{'s' * (years != 1)}, spread over {n:,} simulated paths (lower is better)")
    oracles = [s for s in run.oracles if s in strategies]
    top = 0.97
    if oracles:
        fig.text(0.5, 0.955, REGRET_NOTE.format(oracle=oracles[0]), ha="center", va="top",
                 fontsize=9, color="0.3")
        top = 0.93
    fig.tight_layout(rect=(0, 0.05, 1, top))
    return save_figure(fig, path or run.directory / "cost_distribution.png")


REGRET_NOTE = ("\"{oracle}\" is the hindsight benchmark: the cheapest tiers and upgrades "
               "that block nobody, chosen knowing each path's future. A strategy's regret is "
               "what it costs above it on the same path (simengine report RUN --metric regret).")

CAPACITY_NOTE = ("New adds are blocked while usage is at or above capacity. Contacts held "
                 "before are kept when capacity is lower (no tier bought, or a smaller one), "
                 "so blue above red is not an error:\nit means every new add is blocked until "
                 "churn brings usage below capacity.")


def plot_contacts_vs_capacity(run: Run, path=None) -> Path:
    """One panel per strategy: WeCom contacts over time (P5-P95 band, median)
    against the capacity bought (median, P5-P95 range)."""
    plt = pyplot()
    strategies = _strategies(run)
    S = len(strategies)
    ncols = min(4, S)
    nrows = math.ceil(S / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(4.2 * ncols, 10), 3.3 * nrows + 1.0),
                             sharex=True, sharey=True, squeeze=False)
    for ax in axes.flat[S:]:
        ax.set_visible(False)
    for ax, s in zip(axes.flat, strategies):
        contacts = _matrix(run.monthly, "contacts", s, "month")
        usage = _matrix(run.monthly, "usage", s, "month")
        cap = _matrix(run.monthly, "capacity", s, "month")
        months = np.arange(1, contacts.shape[1] + 1) / 12.0      # end of month, in years
        c5, c50, c95 = np.nanpercentile(contacts, [5, 50, 95], axis=0)
        # capacities are tiers: the median is a tier some path holds, never a
        # value between two tiers
        k5, k50, k95 = np.nanpercentile(cap, [5, 50, 95], axis=0, method="lower")
        ax.fill_between(months, c5, c95, color="tab:blue", alpha=0.3, lw=0)
        ax.plot(months, c50, color="tab:blue", lw=2)
        if not np.array_equal(usage, contacts, equal_nan=True):
            ax.plot(months, np.nanpercentile(usage, 50, axis=0), color="tab:purple",
                    lw=1.5, ls="--")
        ax.fill_between(months, k5, k95, step="pre", color="tab:red", alpha=0.12, lw=0)
        ax.step(months, k50, where="pre", color="tab:red", lw=2)
        ax.set_title(_name(run, s), fontsize=11)
        ax.grid(alpha=0.3)
        _yuan_axis(ax.yaxis)
    for ax in axes[-1]:
        ax.set_xlabel("years from start")
    for row in axes:
        row[0].set_ylabel("contacts")
    for ax in axes.flat[:S]:
        ax.tick_params(labelbottom=True)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles = [Line2D([], [], color="tab:blue", lw=2, label="contacts, median path"),
               Patch(color="tab:blue", alpha=0.3, label="contacts, P5 to P95 of paths"),
               Line2D([], [], color="tab:red", lw=2, label="capacity bought, median"),
               Patch(color="tab:red", alpha=0.12, label="capacity, P5 to P95")]
    if run.manifest.get("scenario", {}).get("billing", {}).get("rule") == "cumulative":
        handles.insert(1, Line2D([], [], color="tab:purple", lw=1.5, ls="--",
                                 label="billed usage (cumulative rule), median"))
    spare = list(axes.flat[S:])
    if spare:                       # the legend goes into the first empty panel
        spare[0].set_visible(True)
        spare[0].axis("off")
        spare[0].legend(handles=handles, loc="center", frameon=False, fontsize=10)
        bottom = 0.0
    else:
        ncol = len(handles) if ncols >= 3 else 2
        fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False)
        bottom = 0.05 if ncol == len(handles) else 0.12
    fig.suptitle(f"{run.scenario_name}: WeCom contacts against the capacity bought, month "
                 "by month")
    fig.text(0.5, 0.945, CAPACITY_NOTE, ha="center", va="top", fontsize=9, color="0.3")
    fig.tight_layout(rect=(0, bottom, 1, 0.915))
    return save_figure(fig, path or run.directory / "contacts_vs_capacity.png")


COMPONENTS = (("tier_cost", "tier (renewal)", "tab:blue"),
              ("upgrade_cost", "upgrades", "tab:orange"),
              ("certification_cost", "certification", "tab:gray"),
              ("overflow_cost", "overflow (personal WeChat)", "tab:green"))


def plot_yearly_cost(run: Run, path=None) -> Path:
    """Per strategy and billing year: mean fees stacked by component, with the
    P5-P95 range of that year's total as a whisker."""
    plt = pyplot()
    strategies = _strategies(run)
    S = len(strategies)
    periods = np.unique(run.periods.column("period").to_numpy())
    K = len(periods)
    width = 0.8 / K
    fig, ax = plt.subplots(figsize=(max(9, 1.7 * S + 2), 5.8))
    for si, s in enumerate(strategies):
        comps = {c: _matrix(run.periods, c, s, "period") for c, _, _ in COMPONENTS}
        total = sum(comps.values())
        for ki in range(K):
            x = si - 0.4 + width * (ki + 0.5)
            bottom = 0.0
            for c, _, color in COMPONENTS:
                h = float(np.nanmean(comps[c][:, ki]))
                if h > 0:
                    ax.bar(x, h, width * 0.92, bottom=bottom, color=color,
                           edgecolor="white", lw=0.5)
                    bottom += h
            lo, hi = np.nanpercentile(total[:, ki], [5, 95])
            ax.plot([x, x], [lo, hi], color="black", lw=1.2)
            ax.plot([x - width * 0.2, x + width * 0.2], [hi, hi], color="black", lw=1.2)
            ax.plot([x - width * 0.2, x + width * 0.2], [lo, lo], color="black", lw=1.2)
            if K <= 6:
                ax.annotate(f"Y{ki + 1}", (x, 0), xycoords=ax.get_xaxis_transform(),
                            xytext=(0, -4), textcoords="offset points", ha="center",
                            va="top", fontsize=7, color="dimgray")
    ax.set_xticks(np.arange(S))
    ax.set_xticklabels([_name(run, s).replace(" (", "\n(") for s in strategies])
    ax.tick_params(axis="x", pad=14 if K <= 6 else 4, length=0)
    ax.set_xlim(-0.6, S - 0.4)
    ax.set_ylabel("yuan per billing year")
    _yuan_axis(ax.yaxis)
    ax.grid(axis="y", alpha=0.3)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    handles = [Patch(color=col, label=f"{lab}, mean") for _, lab, col in COMPONENTS]
    handles.append(Line2D([], [], color="black", lw=1.2, label="P5 to P95 of the year's total"))
    # under the plot, not over the bars
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9,
               frameon=False)
    period_days = run.manifest.get("scenario", {}).get("billing", {}).get("period_days", 365)
    ax.set_title(f"{run.scenario_name}: fees per strategy and billing year "
                 f"(Y1..Y{K}, {period_days}-day periods)")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return save_figure(fig, path or run.directory / "yearly_cost.png")


def write_plots(run, directory=None) -> list[Path]:
    """Write the three PNGs (PLOTS) into the run directory (or `directory`)."""
    if not isinstance(run, Run):
        run = load_run(run)
    out = Path(directory) if directory is not None else run.directory
    return [plot_cost_distribution(run, out / PLOTS[0]),
            plot_contacts_vs_capacity(run, out / PLOTS[1]),
            plot_yearly_cost(run, out / PLOTS[2])]
