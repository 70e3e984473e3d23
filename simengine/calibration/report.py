"""What a calibration tells the user: the printed fit report (the log, each
segment's parameters and the season as tables with standard errors and 95%
intervals, the check, the notes) and the fit record written as JSON.
"""
from __future__ import annotations

import math

import numpy as np

from ..tables import Column, compact_interval, format_table, interval, terminal_width
from .events import date_text
from .fit import PARAMS

ESTIMATE_COLUMNS = (Column("parameter", "left"), Column("estimate"), Column("std.err"),
                    Column("95% interval", "left", compact=compact_interval),
                    Column("note", "left", priority=1))


def sig_text(x, digits=3) -> str:
    """`x` to `digits` significant digits; 'n/a' when missing or not finite."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}g}"


def _estimate_row(name, e) -> list:
    iv = (interval(sig_text(e.lo, 4), sig_text(e.hi, 4))
          if math.isfinite(e.lo) and math.isfinite(e.hi) else "n/a")
    value = "inf" if math.isinf(e.value) else sig_text(e.value, 5)
    return [name, value, sig_text(e.se, 3), iv, e.note]


def _estimate_table(rows, width) -> list:
    """An estimates table, indented; the note column only when a row has one."""
    columns = ESTIMATE_COLUMNS if any(r[-1] for r in rows) else ESTIMATE_COLUMNS[:-1]
    rows = [r[:len(columns)] for r in rows]
    return ["  " + line if line else line
            for line in format_table(None, columns, rows, width).split("\n")]


def _summary(cal) -> list:
    log, sp, served = cal.log, cal.spells, cal.served
    where = f"{log.source}" + (f" (path {log.path} of the {log.paths} simulated paths)"
                               if log.path is not None and log.paths > 1 else "")
    pk = int(np.argmax(served))
    out = [f"Calibrated from {where}",
           f"  {log.start_date} .. {date_text(log.day0, log.last_day)} ({log.last_day + 1:,} days), "
           f"{len(log.sec):,} link events, {sp.n_customers:,} customers, "
           f"{len(sp.start):,} spells ({int((sp.start == 0).sum()):,} open on day 0, "
           f"{int((~sp.closed).sum()):,} open at the end)",
           f"  served count: {int(served[0]):,} on day 0, peak {int(served[pk]):,} on "
           f"{date_text(log.day0, pk)}, {int(served[-1]):,} at the end"]
    if cal.population_estimate is not None:
        pe = cal.population_estimate
        iv = (f"95% [{pe.lo:,.0f}, {pe.hi:,.0f}]" if math.isfinite(pe.hi)
              else "no interval: at the boundary")
        out.append(f"  population estimated: {cal.population:,} (customers seen "
                   f"{sp.n_customers:,} + never-adopters; {iv})")
    return out


def report_text(cal, width="terminal") -> str:
    """The fit report. `width`: the columns its tables fit (default: the
    terminal's; None: no limit)."""
    if width == "terminal":
        width = terminal_width()
    inner = None if width is None else max(width - 2, 20)
    out = _summary(cal) + [""]
    for sf in cal.segments:
        title = (f"Segment {sf.name!r}: population {sf.population:,} ({sf.population_source}), "
                 f"{sf.initial:,} initial, {sf.seen:,} seen, {sf.first_adds:,} first adds, "
                 f"{sf.closed_spells:,} churns, {sf.readds:,} re-adds")
        out.append(title)
        out += _estimate_table([_estimate_row(k, sf.estimates[k]) for k in PARAMS], inner)
        out.append("")
    out.append("Season (shared, mean 1)")
    out += _estimate_table([_estimate_row(f"month {m + 1:>2}", s)
                            for m, s in enumerate(cal.season)], inner)
    if cal.check is not None:
        c = cal.check
        out += ["", f"Check: observed served count at month ends inside the simulated P5-P95 "
                    f"band in {c.inside} of {len(c.observed)} months ({c.paths} paths of the "
                    "fitted scenario)"]
    if cal.notes:
        out += ["", "Notes:"] + [f"  - {n}" for n in cal.notes]
    return "\n".join(out)


def fit_record(cal) -> dict:
    """Every estimate with its SE and 95% interval, the log's facts and the
    check, as plain JSON values."""
    log, sp = cal.log, cal.spells
    pe = cal.population_estimate
    return {
        "source": log.source, "path": log.path, "start": log.start_date,
        "days": log.last_day + 1, "customers": sp.n_customers,
        "spells": int(len(sp.start)), "population": cal.population,
        "population_estimate": pe.as_dict() if pe else None,
        "served_peak": int(cal.served.max()), "served_peak_day": int(np.argmax(cal.served)),
        "segments": [{"name": s.name, "population": s.population, "initial": s.initial,
                      "seen": s.seen, "first_adds": s.first_adds, "spells": s.spells,
                      "churns": s.closed_spells, "readds": s.readds,
                      "initial_age_days": s.initial_age_days, "initial_ages": s.initial_ages,
                      "estimates": {k: v.as_dict() for k, v in s.estimates.items()}}
                     for s in cal.segments],
        "season": [s.as_dict() for s in cal.season],
        "check": None if cal.check is None else {
            "paths": cal.check.paths, "inside": cal.check.inside,
            "months": len(cal.check.observed)},
        "notes": cal.notes,
    }
