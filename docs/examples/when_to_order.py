"""The picture of the bundled sweep `when-to-order`: when to order the next
tier, for each time from order to use.

    simengine sweep when-to-order                        # writes results/when-to-order
    python docs/examples/when_to_order.py results/when-to-order [-o when-to-order.png]

Two panels over the fill level at which `fit` orders the next tier
(`upgrade_at`, from 60% to 100% of the scale), one line per purchase lead
time (`billing.lead_days`): the mean fees a path pays over the horizon, and
the P95 of the economic cost (fees plus the value of the customers lost to
blocks), with the hindsight bound (knowing each path's future, it never
waits for an order) as a dashed line. Reads only the sweep's
`sweep_summary.arrow`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow.ipc as ipc

from simengine.report.plots import pyplot, save_figure, thousands

LEAD, LEVEL = "billing.lead_days", "strategy.fit.upgrade_at"


def read_summary(folder: Path):
    with ipc.open_file(Path(folder) / "sweep_summary.arrow") as f:
        return f.read_all().to_pandas()


def plot(summary, path: Path, horizon_years=3) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.6))
    panels = [("total_cost", "mean", "Mean fees paid"),
              ("economic_cost", "p95", "A bad year: P95 of fees + value of customers lost")]
    colors = plt.get_cmap("viridis")
    leads = sorted(summary[LEAD].unique())
    for ax, (metric, stat, title) in zip(axes, panels):
        fit = summary[(summary.strategy == "fit") & (summary.metric == metric)]
        for i, lead in enumerate(leads):
            line = fit[fit[LEAD] == lead].sort_values(LEVEL)
            days = ("at once" if lead == 0 else
                    f"{lead:.0f} day{'s' if lead != 1 else ''} after the order")
            ax.plot(100 * line[LEVEL], line[stat], marker="o",
                    color=colors(i / max(1, len(leads) - 1) * 0.85),
                    label=f"upgrade in force {days}")
        bound = summary[(summary.strategy == "oracle") & (summary.metric == metric)][stat]
        ax.axhline(bound.median(), color="0.35", ls="--", lw=1.2,
                   label="hindsight bound (knows the future, never waits)")
        # differences of a fraction of a percent must not fill the panel
        values = list(fit[stat]) + [bound.median()]
        lo, hi = min(values), max(values)
        level = (lo + hi) / 2
        if level > 0 and hi - lo < 0.04 * level:
            ax.set_ylim(level * 0.97, level * 1.03)
            ax.text(0.02, 0.04, f"every point within {100 * (hi - lo) / level:.1f}% of "
                    "the others", transform=ax.transAxes, fontsize=8, color="0.3")
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("order the next tier when usage reaches this % of the scale")
        ax.set_ylabel(f"yuan per path over {horizon_years} years")
        ax.yaxis.set_major_formatter(thousands)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="best")
    fig.suptitle("When to order the next tier: the fit strategy, by time from order to use",
                 fontsize=12)
    fig.tight_layout()
    return save_figure(fig, Path(path))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep", nargs="?", default="results/when-to-order",
                   help="the folder `simengine sweep when-to-order` wrote")
    p.add_argument("-o", "--output", default=None,
                   help="the PNG to write (default: when-to-order.png in the sweep folder)")
    args = p.parse_args(argv)
    folder = Path(args.sweep)
    if not (folder / "sweep_summary.arrow").is_file():
        print(f"{folder}: no sweep_summary.arrow; run `simengine sweep when-to-order` first",
              file=sys.stderr)
        return 2
    out = plot(read_summary(folder), Path(args.output or folder / "when-to-order.png"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
