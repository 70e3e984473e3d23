"""The calibration check: the fitted scenario simulated over the log's span
(one never-blocking strategy), its P5/P50/P95 contact count at month ends
against the observed served count, and the plot of both.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import store
from ..engine import run
from ..packing import month_bounds
from ..scenario import scenario_from_dict
from .writer import scenario_dict

CHECK_PATHS = 200        # paths simulated for the check band unless told


@dataclass
class Check:
    """Observed served count at month ends against the simulated band."""
    month_end_day: np.ndarray
    observed: np.ndarray
    p5: np.ndarray
    p50: np.ndarray
    p95: np.ndarray
    paths: int

    @property
    def inside(self) -> int:
        return int(((self.observed >= self.p5) & (self.observed <= self.p95)).sum())


def run_check(cal, paths=CHECK_PATHS, seed=0) -> Check:
    """Simulate the fitted scenario (never blocking: one free tier as large
    as the population) and take P5/P50/P95 of contacts at month ends."""
    # the band of the fitted values themselves: the log was fitted by them
    d = scenario_dict(cal, "calibration-check", uncertainty=False)
    big = max(cal.population, 2001)
    d["billing"] = {"tiers": [[big, 0.0]]}
    d["strategy"] = [{"name": "never-block", "renewal": "fixed", "tier": big, "upgrade": "none"}]
    d["scenario"].update(paths=int(paths), seed=int(seed))
    scn = scenario_from_dict(d, "<calibration check>")
    res = run(scn)
    contacts = (res.monthly.column("contacts").to_numpy().astype(np.float64)
                .reshape(scn.paths, scn.months))
    ends = month_bounds(scn.horizon_years)[1:] - 1
    keep = ends <= cal.log.last_day
    ends = ends[keep]
    contacts = contacts[:, keep]
    p5, p50, p95 = np.percentile(contacts, [5, 50, 95], axis=0)
    return Check(ends, cal.served[ends].astype(np.float64), p5, p50, p95, scn.paths)


def plot_check(cal, path) -> Path:
    """PNG of the observed served count against the simulated band."""
    import matplotlib.pyplot as plt
    fig = check_figure(cal)
    try:
        return store.atomic_file(path, lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)


def check_figure(cal):
    """The figure of `plot_check` (matplotlib, Agg): counts with thousands
    separators, as every table writes them."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import StrMethodFormatter
    c = cal.check
    base = np.datetime64(cal.log.start_date)
    days = base + np.arange(cal.served.size).astype("timedelta64[D]")
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    if c is not None:
        x = base + c.month_end_day.astype("timedelta64[D]")
        ax.fill_between(x, c.p5, c.p95, color="tab:blue", alpha=0.25,
                        label=f"simulated P5-P95 ({c.paths} paths)")
        ax.plot(x, c.p50, color="tab:blue", lw=1, ls="--", label="simulated median")
    ax.plot(days, cal.served, color="black", lw=1.2, label="observed (event log)")
    if c is not None:
        ax.plot(base + c.month_end_day.astype("timedelta64[D]"), c.observed, "o",
                color="black", ms=3)
    ax.set_ylabel("served customers (deduplicated contacts)")
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_title(f"Calibration check: {Path(cal.log.source).name}"
                 + (f" (path {cal.log.path})" if cal.log.path is not None else ""))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
