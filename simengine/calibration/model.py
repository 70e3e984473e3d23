"""The calibrated model and how it is built: `calibrate()` reads a log,
rebuilds the spells, assigns customers to segments, fits adoption (shared
season, population), then churn and re-adds per segment, and returns a
`Calibration` (which writes itself as a scenario, a report, a fit record and
a check plot).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import check as _check
from . import report as _report
from . import writer as _writer
from .events import EventLog, read_events
from .files import CalibrationError, read_segments
from .fit import PARAMS, Estimate, fit_adoption, fit_churn, fit_readd, month_of_year  # noqa: F401
from .spells import SpellFacts, Spells, reconstruct_spells, spell_facts



@dataclass
class SegmentFit:
    name: str
    population: int
    initial: int
    seen: int
    first_adds: int
    spells: int
    closed_spells: int
    readds: int
    estimates: dict            # PARAMS -> Estimate
    population_source: str = "given"
    # the starting contacts' ages when the window opened (0: none known)
    initial_age_days: float = 0.0
    initial_ages: str = "equal"


@dataclass
class Calibration:
    log: EventLog
    spells: Spells
    segments: list             # SegmentFit per segment
    season: list               # Estimate per month of the year
    population: int
    population_estimate: Estimate | None
    served: np.ndarray         # customers holding a link at the end of each day
    notes: list
    check: _check.Check | None = None

    @property
    def horizon_years(self) -> int:
        return max(1, -(-(self.log.last_day + 1) // 365))

    def scenario_dict(self, name="calibrated", uncertainty=True) -> dict:
        """The fitted scenario as a raw dict (scenario_from_dict input), with
        an [uncertainty] table from the standard errors unless told not to."""
        return _writer.scenario_dict(self, name, uncertainty)

    def scenario_toml(self, name="calibrated", uncertainty=True) -> str:
        """TOML text of the fitted scenario, standard errors as comments (and
        as an [uncertainty] table unless told not to)."""
        return _writer.scenario_toml(self, name, uncertainty)

    def report(self) -> str:
        """The fit report: every parameter with its SE and 95% interval."""
        return _report.report_text(self)

    def as_json(self) -> dict:
        return _report.fit_record(self)

    def run_check(self, paths=_check.CHECK_PATHS, seed=0) -> _check.Check:
        """Simulate the fitted scenario and compare it with the served count."""
        self.check = _check.run_check(self, paths, seed)
        return self.check

    def plot(self, path) -> Path:
        """PNG of the observed served count against the simulated band."""
        return _check.plot_check(self, path)


@dataclass
class _Segments:
    """Which segment each customer is in, and the segments' populations
    (None: to be estimated)."""
    names: list
    of_customer: np.ndarray
    populations: np.ndarray | None
    source: str


def calibrate(events, population=None, segments=None, path=None,
              check_paths=_check.CHECK_PATHS, seed=0, observed_from=None,
              left_truncation=True) -> Calibration:
    """Fit the model of docs/model.md section 3 to a contact event log (the method is
    docs/calibration.md). `population`: the addressable customers (all
    segments); `segments`: a file mapping external_user_id to segment (its
    customers are the addressable population unless `population` is given);
    `path`: the path of a simulated log (default 0); `check_paths`: paths of
    the fitted scenario simulated for the check band (0: no check); `seed`:
    their seed; `observed_from`: the start of the window the log observes
    (rows before it: the contacts held then, with their add times);
    `left_truncation=False` treats those contacts as new (biased: for
    comparison only)."""
    log = read_events(events, path, observed_from)
    sp = reconstruct_spells(log)
    notes = _log_notes(log, sp)
    seg = _assign_segments(log, segments, population)
    C = sp.n_customers
    if population is not None and int(population) < C:
        # the (population+1)-th distinct customer, in file order
        ci = int(population)
        r = int(log.row[np.argmax(log.customer == ci)])
        raise CalibrationError(f"{log.source}: --population {int(population):,} is smaller than the "
                               f"{C:,} customers in the log (customer #{ci + 1}, "
                               f"{log.customers[ci]!r}, first appears at {log.where(r)})")
    facts = spell_facts(sp)
    notes += facts.notes
    adoption = _AdoptionData.of(facts, seg, sp.last_day, log.source)
    estimate_never = seg.populations is None
    a_est, season, never_est, anotes = fit_adoption(adoption.A, adoption.S0, adoption.E,
                                                    adoption.never, True, estimate_never)
    notes += anotes
    population_estimate = None
    if estimate_never:
        X = int(round(never_est.value))
        seg.populations, seg.source = np.array([C + X]), "estimated"
        population_estimate = Estimate(float(C + X), never_est.se, C + never_est.lo,
                                       C + never_est.hi, "customers seen + never-adopters")
    fits = _segment_fits(sp, facts, seg, adoption, a_est, notes, left_truncation)
    notes.append("initial contacts (spells open on day 0) are left out of adoption; in churn "
                 "those whose add time the log shows enter conditioned on having lasted until "
                 "the window opened (left truncation), the others as new contacts")
    cal = Calibration(log=log, spells=sp, segments=fits, season=season,
                      population=int(seg.populations.sum()),
                      population_estimate=population_estimate, served=sp.served(), notes=notes)
    if check_paths:
        cal.run_check(check_paths, seed)
    return cal


def _log_notes(log: EventLog, sp: Spells) -> list:
    notes = []
    if log.path is not None and log.paths > 1:
        notes.append(f"the log holds {log.paths} simulated paths; only path {log.path} is used (--path)")
    if sp.duplicate_adds:
        notes.append(f"{sp.duplicate_adds:,} adds of links already open were ignored (repeated callbacks)")
    if sp.stray_deletes:
        notes.append(f"{sp.stray_deletes:,} deletes of links already closed were ignored")
    if sp.closed_before_window:
        notes.append(f"{sp.closed_before_window:,} spells ended before the window opened: "
                     "left out (they were not held when it opened)")
    if sp.before.any():
        notes.append(f"{int(sp.before.sum()):,} customers' first event is a delete: "
                     "taken as contacts since before the log (initial contacts)")
    for e, k in sorted(log.ignored.items()):
        notes.append(f"{k:,} rows with event {e!r} change no link and were ignored")
    return notes


def _assign_segments(log: EventLog, segments, population) -> _Segments:
    C = len(log.customers)
    if segments is None:
        pops = None if population is None else np.array([int(population)])
        return _Segments(["all"], np.zeros(C, dtype=np.int64), pops, "from --population")
    mapping, names = read_segments(segments)
    name_idx = {n: i for i, n in enumerate(names)}
    seg_of = np.empty(C, dtype=np.int64)
    for ci, cu in enumerate(log.customers):
        s = mapping.get(cu)
        if s is None:
            r = int(log.row[np.argmax(log.customer == ci)])
            raise CalibrationError(f"{log.source}: {log.where(r)}: customer {cu!r} is not in "
                                   f"the segments file {segments}")
        seg_of[ci] = name_idx[s]
    listed = np.bincount(np.fromiter((name_idx[s] for s in mapping.values()), np.int64,
                                     len(mapping)), minlength=len(names))
    if population is not None:
        return _Segments(names, seg_of, largest_remainder(listed, int(population)),
                         f"--population {int(population):,} split as the segments file")
    return _Segments(names, seg_of, listed, f"customers listed in {Path(str(segments)).name}")


def largest_remainder(weights, total) -> np.ndarray:
    """Integers proportional to `weights` summing to `total`."""
    w = np.asarray(weights, dtype=np.float64)
    q = w / w.sum() * total
    base = np.floor(q).astype(np.int64)
    order = np.argsort(-(q - base), kind="stable")
    base[order[:total - base.sum()]] += 1
    return base


@dataclass
class _AdoptionData:
    """First adds after day 0 by segment and month of the year (fit_adoption's
    inputs), and the segments' head counts."""
    A: np.ndarray              # first adds [segment, month]
    S0: np.ndarray             # adopters' person-days at risk before their add
    E: np.ndarray              # days of each month in days 1..end
    never: np.ndarray          # pool customers never seen, per segment
    initial: np.ndarray        # initial contacts per segment
    seen: np.ndarray           # customers in the log per segment

    @classmethod
    def of(cls, facts: SpellFacts, seg: _Segments, last_day: int, source: str):
        nseg = len(seg.names)
        D = last_day
        moy = month_of_year(np.arange(1, D + 1))
        A, S0, never = np.zeros((nseg, 12)), np.zeros((nseg, 12)), np.zeros(nseg)
        seen = np.bincount(seg.of_customer, minlength=nseg)
        adopters = ~facts.initial
        for s in range(nseg):
            f = facts.first_start[adopters & (seg.of_customer == s)]
            cnt = np.bincount(f, minlength=D + 1)[1:D + 1].astype(np.float64)   # adds on days 1..D
            later = cnt[::-1].cumsum()[::-1] - cnt        # adopters adding after day t
            A[s] = np.bincount(moy, weights=cnt, minlength=12)
            S0[s] = np.bincount(moy, weights=later, minlength=12)
            if seg.populations is not None:
                pops = seg.populations
                if pops[s] < seen[s]:
                    raise CalibrationError(f"{source}: segment {seg.names[s]!r}: population "
                                           f"{pops[s]:,} is smaller than its {seen[s]:,} "
                                           "customers in the log")
                never[s] = pops[s] - seen[s]
        return cls(A, S0, np.bincount(moy, minlength=12).astype(np.float64), never,
                   np.bincount(seg.of_customer[facts.initial], minlength=nseg), seen)


def _segment_fits(sp: Spells, facts: SpellFacts, seg: _Segments, adoption: _AdoptionData,
                  a_est, notes, left_truncation=True) -> list:
    """Churn and re-adds fitted per segment, with the adoption rates."""
    fits = []
    closed, readded = facts.closed, facts.readded
    for s, name in enumerate(seg.names):
        cm = seg.of_customer == s
        ages = facts.entry_age[cm] if left_truncation else None
        rate, shape, cn = fit_churn(facts.n_closed[cm], facts.exposure[cm], ages)
        smask = cm[sp.customer]
        p, mu, rn = fit_readd(facts.delay[smask & readded],
                              facts.window[smask & closed & ~readded])
        notes += [f"segment {name!r}: {x}" for x in cn + rn]
        age_days, ages, age_note = _starting_ages(facts.entry_age[cm & facts.initial])
        if age_note:
            notes.append(f"segment {name!r}: {age_note}")
        fits.append(SegmentFit(
            name=name, population=int(seg.populations[s]), initial=int(adoption.initial[s]),
            seen=int(adoption.seen[s]), first_adds=int(adoption.A[s].sum()),
            spells=int(smask.sum()), closed_spells=int((smask & closed).sum()),
            readds=int((smask & readded).sum()),
            estimates={"adoption_rate": a_est[s], "churn_rate": rate, "churn_shape": shape,
                       "readd_prob": p, "readd_delay_days": mu},
            population_source=seg.source, initial_age_days=age_days, initial_ages=ages))
    return fits


def _starting_ages(ages) -> tuple:
    """(initial_age_days, initial_ages, note) from the ages of the contacts
    held when the window opened (0 where the log shows no add time). One age
    for all: "equal"; several: a stock (constant inflow) whose span is the
    oldest age seen, the span's maximum-likelihood estimate (the survivors'
    ages have a density proportional to the survival on [0, span])."""
    known = ages[ages > 0]
    if not known.size:
        return 0.0, "equal", ""
    oldest = float(known.max())
    if known.min() == known.max():
        return oldest, "equal", (f"{known.size:,} starting contacts, all {oldest:,.0f} days old "
                                 "when the window opened: initial_ages = \"equal\"")
    return oldest, "stock", (
        f"{known.size:,} starting contacts aged {int(known.min()):,} to {oldest:,.0f} days "
        f"(median {float(np.median(known)):,.0f}) when the window opened: a stock, "
        f"initial_ages = \"stock\" over initial_age_days = {oldest:,.0f} (the oldest seen)")
