"""Churn from a cohort retention table (`simengine calibrate --cohorts`,
docs/model.md section 12a): the share of each cohort still active at the
start of period 0, 1, 2 ..., the form in which CRMs, BI tools and papers
give retention.

The engine's churn model (a customer's propensity `lam ~ Gamma(k, scale =
rate / k)`, exponential lifetimes given `lam`) has the survival
`S(t) = (1 + theta t)^(-k)`, `theta = rate / k` (a Lomax distribution, the
continuous twin of Fader and Hardie's shifted-beta-geometric model). A
cohort table says how many customers churned between two period
boundaries, never when: each churn between `t_{j-1}` and `t_j` contributes
`log(S(t_{j-1}) - S(t_j))` and each survivor of the last period used
`log S(t_P)` (interval censoring). Forcing such a table into the event-time
fit (churns at period ends) biases `churn_shape` badly, which is why it has
its own fit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import tomlkit
from scipy.optimize import minimize

from .. import store
from ..scenario import read_toml, scenario_from_dict
from .files import CalibrationError, integer_column, read_input_table, text_column
from .fit import SHAPE_INF, Estimate, _covariance, _hessian, _log_scale

PERIOD_DAYS = 365
PROJECT_BEYOND = 5            # periods projected past the table's last one
CHURN_KEYS = ("churn_rate", "churn_shape")


@dataclass
class Cohort:
    """One cohort of the table: its name (a segment of the base scenario),
    the periods it reports (sorted, 0 first) and how many were alive at the
    start of each."""
    name: str
    periods: np.ndarray
    alive: np.ndarray

    @property
    def size(self) -> int:
        return int(self.alive[0])


@dataclass
class CohortFit:
    """A cohort's fitted churn: estimates with 95% intervals, the
    log-likelihood, and the periods the fit used."""
    cohort: Cohort
    churn_rate: Estimate
    churn_shape: Estimate
    loglik: float
    period_days: int
    fit_through: int
    notes: list = field(default_factory=list)

    def survival(self, periods) -> np.ndarray:
        """Projected share alive at the start of each period."""
        return survival(np.asarray(periods, dtype=np.float64) * self.period_days,
                        self.churn_rate.value, self.churn_shape.value)


# --------------------------------------------------------------------------
# The model


def survival(t, rate, shape) -> np.ndarray:
    """S(t) of the churn model of section 3: (1 + theta t)^-k, exp(-rate t)
    without heterogeneity (shape = inf)."""
    t = np.asarray(t, dtype=np.float64)
    if math.isinf(shape):
        return np.exp(-rate * t)
    return np.exp(-shape * np.log1p(rate / shape * t))


def cohort_loglik(rate, shape, periods, alive, period_days=PERIOD_DAYS) -> float:
    """Interval-censored log-likelihood of one cohort (periods sorted, 0 first)."""
    S = survival(np.asarray(periods, dtype=np.float64) * period_days, rate, shape)
    churned = alive[:-1] - alive[1:]
    gap = S[:-1] - S[1:]
    with np.errstate(divide="ignore"):
        terms = np.where(churned > 0, churned * np.log(gap), 0.0)
        last = alive[-1] * math.log(S[-1]) if alive[-1] > 0 else 0.0
    return float(terms.sum() + last)


def fit_cohort(cohort: Cohort, period_days=PERIOD_DAYS, fit_through=None,
               heterogeneity=True) -> CohortFit:
    """Maximum likelihood of (churn_rate, churn_shape) on the cohort's
    periods up to `fit_through` (default all); standard errors from the
    observed information on the log scale. `heterogeneity=False` fits
    churn_shape = inf (geometric retention), for comparison."""
    use = cohort.periods <= (cohort.periods[-1] if fit_through is None else fit_through)
    periods, alive = cohort.periods[use], cohort.alive[use]
    through = int(periods[-1])
    notes = []
    if len(periods) < 2:
        raise CalibrationError(f"cohort {cohort.name}: periods up to {through} hold no "
                               "period after 0: nothing to fit")
    if alive[-1] == alive[0]:
        zero = Estimate(0.0, 0.0, 0.0, 0.0, "no churn in the periods used")
        return CohortFit(cohort, zero, Estimate(math.inf, note="no churn"), 0.0, period_days,
                         through, ["no customer churned: churn_rate 0"])
    t_last = periods[-1] * period_days
    rate0 = -math.log(max(alive[-1], 0.5) / alive[0]) / t_last

    def nll(x):
        shape = math.exp(x[1]) if heterogeneity else math.inf
        return -cohort_loglik(math.exp(x[0]), shape, periods, alive, period_days)

    if not heterogeneity:
        r = minimize(lambda x: nll([x[0], 0.0]), [math.log(rate0)], method="Nelder-Mead",
                     options={"xatol": 1e-10, "fatol": 1e-12})
        info = _hessian(lambda x: -nll([x[0], 0.0]), r.x, 1e-4)
        se = math.sqrt(_covariance(info)[0, 0])
        return CohortFit(cohort, _log_scale(math.exp(r.x[0]), se),
                         Estimate(math.inf, note="fitted without heterogeneity"), -r.fun,
                         period_days, through, notes)
    best = None
    for k0 in (0.3, 1.0, 5.0):
        r = minimize(nll, [math.log(rate0), math.log(k0)], method="Nelder-Mead",
                     options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
        if best is None or r.fun < best.fun:
            best = r
    rate, shape = math.exp(best.x[0]), math.exp(best.x[1])
    if shape > SHAPE_INF or len(periods) < 3:
        why = ("two boundaries cannot show heterogeneity" if len(periods) < 3
               else f"the shape estimate is above {SHAPE_INF:g}")
        fit = fit_cohort(cohort, period_days, fit_through, heterogeneity=False)
        fit.notes.append(f"cohort {cohort.name}: churn_shape = inf ({why})")
        return fit
    cov = _covariance(-_hessian(nll, best.x, 1e-4))
    se = np.sqrt(np.where(np.diag(cov) >= 0, np.diag(cov), math.nan))
    return CohortFit(cohort, _log_scale(rate, float(se[0])), _log_scale(shape, float(se[1])),
                     -best.fun, period_days, through, notes)


# --------------------------------------------------------------------------
# The table


def read_cohorts(path) -> list[Cohort]:
    """The cohorts of a CSV / Parquet / Arrow table with columns `cohort`,
    `period` and `alive` (or `share` with `n`, the cohort's size). Raises
    CalibrationError naming the file, the row and what is expected."""
    t = read_input_table(path, "cohort table")
    src = t.source
    cols = {c.lower(): c for c in t.columns}
    missing = [c for c in ("cohort", "period") if c not in cols]
    if missing or not ("alive" in cols or ("share" in cols and "n" in cols)):
        raise CalibrationError(
            f"{src}: expected columns cohort, period and alive (or share with n, the cohort's "
            f"size); found {', '.join(t.columns) or 'none'}")
    if len(t) == 0:
        raise CalibrationError(f"{src}: the cohort table has no rows")
    name = text_column(t.table[cols["cohort"]])
    period = integer_column(t.table[cols["period"]], src, "period", t.where)
    if "alive" in cols:
        alive = _whole_numbers(t, cols["alive"], "alive")
    else:
        share = _floats(t, cols["share"], "share")
        n = _whole_numbers(t, cols["n"], "n")
        bad = np.flatnonzero((share < 0) | (share > 1))
        if bad.size:
            i = int(bad[0])
            raise CalibrationError(f"{src}: {t.where(i)}: share: expected a share in [0, 1], "
                                   f"got {share[i]:g}")
        alive = np.rint(share * n).astype(np.int64)
    for i in range(len(t)):
        if not name[i]:
            raise CalibrationError(f"{src}: {t.where(i)}: cohort: expected a name, got ''")
        if period[i] < 0:
            raise CalibrationError(f"{src}: {t.where(i)}: period: expected 0, 1, 2 ..., "
                                   f"got {period[i]}")
        if alive[i] < 0:
            raise CalibrationError(f"{src}: {t.where(i)}: alive: expected a count >= 0, "
                                   f"got {alive[i]}")
    return [_cohort(src, t, c, name, period, alive) for c in dict.fromkeys(name)]


def _cohort(src, t, c, name, period, alive) -> Cohort:
    rows = np.flatnonzero(name == c)
    order = rows[np.argsort(period[rows], kind="stable")]
    p, a = period[order], alive[order]
    dup = np.flatnonzero(np.diff(p) == 0)
    if dup.size:
        raise CalibrationError(f"{src}: {t.where(int(order[dup[0] + 1]))}: cohort {c} lists "
                               f"period {p[dup[0]]} twice")
    if p[0] != 0:
        raise CalibrationError(f"{src}: cohort {c}: no period 0 (its size, the customers "
                               "alive at the start)")
    over = np.flatnonzero(a > a[0])
    if over.size:
        i = int(order[over[0]])
        raise CalibrationError(f"{src}: {t.where(i)}: alive: {a[over[0]]:,} is above cohort "
                               f"{c}'s size ({a[0]:,} in period 0)")
    up = np.flatnonzero(np.diff(a) > 0)
    if up.size:
        j = int(up[0])
        raise CalibrationError(
            f"{src}: {t.where(int(order[j + 1]))}: alive: cohort {c} is not monotone: "
            f"{a[j]:,} alive in period {p[j]}, {a[j + 1]:,} in period {p[j + 1]} (a cohort only "
            "loses customers; a table of active customers that returns is not a retention table)")
    return Cohort(c, p, a)


def _floats(t, column, what) -> np.ndarray:
    col = t.table[column]
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        v = col.cast(pa.float64()).fill_null(np.nan).to_numpy()
    else:
        v = np.array([_number(s) for s in text_column(col)], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        i = int(bad[0])
        raise CalibrationError(f"{t.source}: {t.where(i)}: {what}: expected a number, "
                               f"got {col[i].as_py()!r}")
    return v


def _whole_numbers(t, column, what) -> np.ndarray:
    v = _floats(t, column, what)
    bad = np.flatnonzero(v != np.round(v))
    if bad.size:
        i = int(bad[0])
        raise CalibrationError(f"{t.source}: {t.where(i)}: {what}: expected a whole number "
                               f"of customers, got {v[i]:g}")
    return v.astype(np.int64)


def _number(s):
    try:
        return float(s)
    except ValueError:
        return math.nan


# --------------------------------------------------------------------------
# The printout


def _interval(e: Estimate, fmt) -> str:
    if not math.isfinite(e.lo):
        return ""
    return f"[{fmt(e.lo)}, {fmt(e.hi)}]"


def cohort_report(fits, beyond=PROJECT_BEYOND) -> str:
    """Per cohort: the estimates with their 95% intervals, the
    log-likelihood, and the observed against the projected share alive for
    every period in the table and `beyond` more (periods the fit did not
    use are marked held out, so the fit's error on them shows)."""
    out = []
    for f in fits:
        c = f.cohort
        rate, shape = f.churn_rate, f.churn_shape
        out.append(f"cohort {c.name}: {c.size:,} customers, periods of {f.period_days} days, "
                   f"fitted on periods 0..{f.fit_through}")
        rate_txt = f"{rate.value:.6g}"
        per_period = ""
        if math.isfinite(shape.value) and rate.value > 0:
            per_period = f"  (theta = {rate.value / shape.value * f.period_days:.4g} a period)"
        out.append(f"  churn_rate   {rate_txt:>10} a day  {_interval(rate, '{:.6g}'.format)}"
                   f"{per_period}")
        shape_txt = "inf" if math.isinf(shape.value) else f"{shape.value:.4g}"
        out.append(f"  churn_shape  {shape_txt:>10}        {_interval(shape, '{:.4g}'.format)}")
        out.append(f"  log-likelihood {f.loglik:,.2f}")
        out += [f"  {n}" for n in f.notes]
        last = int(c.periods[-1]) + beyond
        observed = dict(zip(c.periods.tolist(), observed_share(c, c.periods.tolist()).tolist()))
        projected = f.survival(np.arange(last + 1))
        out.append("  period  observed  projected  difference")
        for j in range(last + 1):
            obs = observed.get(j)
            mark = "" if j <= f.fit_through else ("  held out" if obs is not None else "")
            o = f"{100 * obs:7.1f}%" if obs is not None else "       -"
            d = f"{100 * (projected[j] - obs):+9.1f}" if obs is not None else ""
            out.append(f"  {j:>6}  {o}  {100 * projected[j]:8.1f}%  {d:>10}{mark}".rstrip())
        held = [j for j in c.periods.tolist() if j > f.fit_through]
        if held:
            err = np.abs(projected[held] - observed_share(c, held))
            out.append(f"  held-out periods {held[0]}..{held[-1]}: the projection is off by "
                       f"{100 * err.mean():.1f} points on average, {100 * err.max():.1f} at most")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def observed_share(c: Cohort, periods) -> np.ndarray:
    """The table's share alive at the start of each of `periods` (listed ones)."""
    at = dict(zip(c.periods.tolist(), c.alive.tolist()))
    return np.array([at[j] for j in periods], dtype=np.float64) / c.size


# --------------------------------------------------------------------------
# The scenario written


def check_cohort_names(cohorts, base_data: dict, base_source: str):
    """Every cohort must name a segment of the base scenario."""
    segs = [s.get("name") for s in base_data.get("segment", []) if isinstance(s, dict)]
    unknown = [c.name for c in cohorts if c.name not in segs]
    if unknown:
        raise CalibrationError(
            f"cohort{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} name"
            f"{'' if len(unknown) > 1 else 's'} no segment of {base_source} (its segments: "
            f"{', '.join(map(str, segs))}); a cohort's name is the segment whose churn it sets")


def _round(x):
    return float(f"{x:.6g}")


def cohort_scenario_toml(fits, base=None, table_source="") -> str:
    """The base scenario's TOML (comments kept) with each cohort's segment's
    churn_rate and churn_shape replaced by the fit and its [uncertainty]
    entries for those keys replaced by lognormals of sigma = se / value."""
    data, source = read_toml(base)
    check_cohort_names([f.cohort for f in fits], data, source)
    if source.startswith("<bundled>/"):
        from importlib import resources
        text = (resources.files("simengine") / "scenarios" / source.split("/", 1)[1]).read_text(
            encoding="utf-8")
    else:
        with open(source, encoding="utf-8") as fh:
            text = fh.read()
    doc = tomlkit.parse(text)
    unc = doc.get("uncertainty")
    for f in fits:
        seg = next(s for s in doc["segment"] if s.get("name") == f.cohort.name)
        for key, est in (("churn_rate", f.churn_rate), ("churn_shape", f.churn_shape)):
            value = math.inf if math.isinf(est.value) else _round(est.value)
            item = tomlkit.item(value)
            se = f"SE {est.se:.3g}, " if math.isfinite(est.se) else ""
            item.comment(f"{se}from cohort table {table_source} (periods 0..{f.fit_through})")
            item.trivia.comment_ws = "  "
            seg[key] = item
            dotted = f"segment.{f.cohort.name}.{key}"
            if unc is not None and dotted in unc:
                del unc[dotted]
            if math.isfinite(est.value) and est.value > 0 and math.isfinite(est.se) and est.se > 0:
                if unc is None:
                    unc = tomlkit.table()
                    doc["uncertainty"] = unc
                spec = tomlkit.inline_table()
                spec.update({"dist": "lognormal", "sigma": float(f"{est.se / est.value:.4g}")})
                unc[dotted] = spec
    names = ", ".join(f.cohort.name for f in fits)
    header = (f"# churn_rate and churn_shape of segment{'s' if len(fits) > 1 else ''} {names}: "
              f"fitted by `simengine calibrate --cohorts` to {table_source}\n"
              f"# (interval-censored maximum likelihood, docs/model.md section 12a); the rest "
              f"is {source}.\n\n")
    out = header + tomlkit.dumps(doc)
    scenario_from_dict(tomlkit.parse(out).unwrap(), source)     # the result must load
    return out


def check_cohort_output(output, force=False):
    """Refuse, before any work, an output that exists (unless `force`) or
    cannot be created."""
    p = Path(output)
    if p.is_dir():
        raise CalibrationError(f"{output}: is a directory; expected a .toml file to write")
    if p.exists():
        if not force:
            raise CalibrationError(f"{output} already exists; nothing is overwritten: choose "
                                   "another -o name, or pass --force to replace it")
        return
    try:
        store.check_creatable(p)
    except OSError as e:
        raise CalibrationError(str(e)) from None


def write_cohort_scenario(fits, output, base=None, table_source="", force=False) -> Path:
    check_cohort_output(output, force)
    return store.write_text(output, cohort_scenario_toml(fits, base, table_source))


def calibrate_cohorts(table, output, base=None, period_days=PERIOD_DAYS, fit_through=None,
                      force=False):
    """`simengine calibrate --cohorts`: read and check the table, the base
    and the output (before any fitting), fit every cohort, write OUT.toml.
    Returns (fits, the path written)."""
    if not (isinstance(period_days, int) and period_days >= 1):
        raise CalibrationError(f"--period-days: expected a whole number of days >= 1, "
                               f"got {period_days!r}")
    if fit_through is not None and not (isinstance(fit_through, int) and fit_through >= 1):
        raise CalibrationError(f"--fit-through: expected a period >= 1, got {fit_through!r}")
    cohorts = read_cohorts(table)
    data, source = read_toml(base)
    check_cohort_names(cohorts, data, source)
    check_cohort_output(output, force)
    fits = [fit_cohort(c, period_days, fit_through) for c in cohorts]
    name = Path(str(table)).name
    return fits, write_cohort_scenario(fits, output, base, name, force)
