"""The files a calibration writes: the calibrated scenario (TOML written
with tomlkit, standard errors and the log's facts as comments), the check
plot and the fit record beside it. Nothing is overwritten unless asked:
`check_output` refuses before any fitting work.
"""
from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import tomlkit

from .. import store
from ..scenario import NAME_RE, scenario_from_dict
from .events import date_text
from .files import CalibrationError
from .fit import PARAMS
from .report import fit_record, sig_text

CHECK_SUFFIX, FIT_SUFFIX = "-check.png", "-fit.json"


def _round(x):
    return float(f"{x:.6g}") if math.isfinite(x) else x


# standard error -> [uncertainty] (docs/model.md section 12): a positive quantity theta
# (rate, delay, gamma shape) varies as a lognormal of sigma = se / theta, a
# probability p as a logitnormal of sigma = se / (p (1 - p)) (delta method)
LOGIT_SCALE = ("readd_prob",)


def uncertainty_table(cal, values=None) -> dict:
    """{"segment.<name>.<param>": {dist, sigma}} from the fit's standard
    errors, for every fitted value with a finite, positive SE that the
    distribution can have as its median (a probability strictly between 0
    and 1, a positive rate). `values` (segment dicts as written) gives the
    medians; default: the estimates."""
    out = {}
    for i, sf in enumerate(cal.segments):
        for k in PARAMS:
            est = sf.estimates[k]
            value = values[i][k] if values is not None else est.value
            if not isinstance(value, float) or not math.isfinite(value) \
                    or not (math.isfinite(est.se) and est.se > 0):
                continue
            if k in LOGIT_SCALE:
                if not 0 < value < 1:
                    continue
                sigma, dist = est.se / (value * (1 - value)), "logitnormal"
            else:
                if value <= 0:
                    continue
                sigma, dist = est.se / value, "lognormal"
            out[f"segment.{sf.name}.{k}"] = {"dist": dist, "sigma": float(f"{sigma:.4g}")}
    return out


def scenario_dict(cal, name="calibrated", uncertainty=True) -> dict:
    """The fitted scenario as a raw dict (scenario_from_dict input), with an
    [uncertainty] table from the standard errors unless `uncertainty` is
    false."""
    N = cal.population
    segs = []
    for sf in cal.segments:
        e = sf.estimates
        shape = e["churn_shape"].value
        segs.append({
            "name": sf.name, "share": sf.population / N if len(cal.segments) > 1 else 1.0,
            "initial_contacts": sf.initial,
            "adoption_rate": _round(e["adoption_rate"].value),
            "churn_rate": _round(e["churn_rate"].value),
            "churn_shape": "inf" if math.isinf(shape) else _round(shape),
            "readd_prob": min(1.0, _round(e["readd_prob"].value)),
            "readd_delay_days": _round(e["readd_delay_days"].value),
            "lost_value": 0.0}
            | ({"initial_age_days": sf.initial_age_days, "initial_ages": sf.initial_ages}
               if sf.initial_age_days > 0 else {}))
    out = {
        "scenario": {"name": name, "horizon_years": cal.horizon_years, "paths": 1024, "seed": 0},
        "population": {"size": N},
        "segment": segs,
        "growth": {"season": [round(s.value, 4) for s in cal.season], "sigma": 0.0,
                   "churn_sigma": 0.0},
        "strategy": [{"name": "fit-next", "renewal": "fit", "upgrade": "next"},
                     {"name": "oracle", "renewal": "oracle"}],
    }
    table = uncertainty_table(cal, segs) if uncertainty else {}
    if table:
        out["uncertainty"] = table
    return out


def _commented(value, comment):
    item = tomlkit.item(value)
    item.comment(comment)
    item.trivia.comment_ws = "  "
    return item


def _table(values: dict, comments: dict | None = None):
    """A TOML table of `values`, with a trailing comment on the keys of `comments`."""
    comments = comments or {}
    t = tomlkit.table()
    for k, v in values.items():
        t.add(k, _commented(v, comments[k]) if k in comments else v)
    return t


def _header(cal) -> list:
    log, sp, served = cal.log, cal.spells, cal.served
    peak_day = int(np.argmax(served)) if served.size else 0
    of_paths = (f" (path {log.path} of {log.paths})" if log.path is not None and log.paths > 1
                else "")
    return [
        f"Calibrated by `simengine calibrate` from {log.source}{of_paths}",
        f"Log: {log.start_date} .. {date_text(log.day0, log.last_day)} ({log.last_day + 1:,} days), "
        f"{len(log.sec):,} link events, {sp.n_customers:,} customers, {len(sp.start):,} spells.",
        f"Served count (customers holding any link, end of day): {int(served[0]):,} on day 0, "
        f"peak {int(served[peak_day]):,} on {date_text(log.day0, peak_day)} (day {peak_day}), "
        f"{int(served[-1]):,} at the end.",
        "Day 0 is the log's first day; months and season follow docs/model.md section 2 from it.",
        "Fitted by maximum likelihood; '# SE' comments are standard errors from the",
        "observed information (95% intervals: see the fit report, docs/calibration.md).",
        "To price the years after the log, set initial_contacts to the contacts at the end.",
    ]


def _segment_table(seg: dict, sf):
    comments = {"share": f"{sf.population:,} customers",
                "initial_contacts": "customers holding a link on day 0",
                "initial_age_days": ("the oldest starting contact's age when the window opened"
                                     if sf.initial_ages == "stock" else
                                     "every starting contact's age when the window opened"),
                "lost_value": "not in the log: set it"}
    for k in PARAMS:
        est = sf.estimates[k]
        comments[k] = (f"SE {sig_text(est.se)}" if math.isfinite(est.se) else "SE n/a") + (
            f"; {est.note}" if est.note else "")
    return _table(seg, comments)


def scenario_toml(cal, name="calibrated", uncertainty=True) -> str:
    """TOML text of the fitted scenario, standard errors as comments and (unless
    `uncertainty` is false) as an [uncertainty] table; checked to be a valid
    scenario."""
    d = scenario_dict(cal, name, uncertainty)
    doc = tomlkit.document()
    for line in _header(cal):
        doc.add(tomlkit.comment(line))
    doc.add(tomlkit.nl())
    doc.add("scenario", _table(d["scenario"]).add(tomlkit.nl()))
    pe = cal.population_estimate
    size_note = (f"estimated from the saturation of first adds, SE {sig_text(pe.se)}"
                 if pe is not None else
                 cal.segments[0].population_source if cal.segments else "given")
    doc.add("population", _table(d["population"], {"size": size_note}).add(tomlkit.nl()))
    growth = tomlkit.table()
    growth.add("season", d["growth"]["season"])
    growth.add(tomlkit.comment(
        "season: not fitted (see the fit report's notes)"
        if all(s.note == "not fitted" for s in cal.season) else
        "season SE: [" + ", ".join(sig_text(s.se, 2) for s in cal.season) + "]"))
    for k in ("sigma", "churn_sigma"):
        growth.add(k, _commented(d["growth"][k], "not identifiable from one history: "
                                                 "set by judgement"))
    growth.add(tomlkit.nl())
    growth.add(tomlkit.comment("[billing], [overflow], [staff]: defaults (docs/model.md section 6); "
                               "set them for your enterprise."))
    growth.add(tomlkit.nl())
    doc.add("growth", growth)
    segments = tomlkit.aot()
    for seg, sf in zip(d["segment"], cal.segments):
        segments.append(_segment_table(seg, sf))
    doc.add("segment", segments)
    strategies = tomlkit.aot()
    for st in d["strategy"]:
        strategies.append(_table(st))
    doc.add("strategy", strategies)
    if "uncertainty" in d:
        doc.add(tomlkit.nl())
        doc.add(tomlkit.comment("What the log could not pin down (docs/model.md section 12): each fitted "
                                "value varies by path around"))
        doc.add(tomlkit.comment("its estimate, sigma from its standard error (lognormal: se / "
                                "value; logitnormal: se / (p (1 - p)))."))
        doc.add(tomlkit.comment("Leave it out (calibrate's flag, or delete the table) to price "
                                "the estimates as if exact."))
        table = tomlkit.table()
        for key, spec in d["uncertainty"].items():
            inline = tomlkit.inline_table()
            inline.update(spec)
            table.add(key, inline)
        doc.add("uncertainty", table)
    text = tomlkit.dumps(doc)
    scenario_from_dict(tomllib.loads(text), "<calibrated>")   # must be valid
    return text


# --------------------------------------------------------------------------
# Files


def companion(output, suffix) -> Path:
    """SCENARIO.toml -> SCENARIO-check.png / SCENARIO-fit.json beside it."""
    p = Path(output)
    return p.with_name(p.stem + suffix)


def output_paths(output, check=True) -> list:
    """The files a calibration writes for `-o output`."""
    return [Path(output)] + ([companion(output, CHECK_SUFFIX)] if check else []) + [
        companion(output, FIT_SUFFIX)]


def check_output(output, force=False, check=True):
    """Refuse, before any work, an output that would overwrite a file
    (unless `force`) or cannot be created."""
    paths = output_paths(output, check)
    for p in paths:
        if p.is_dir():
            raise CalibrationError(f"{output}: {p} is a directory")
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise CalibrationError(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
            "nothing is overwritten: choose another -o name, or pass --force to replace "
            f"{'it' if len(existing) == 1 else 'them'}")
    for p in paths:
        if not p.exists():
            try:
                store.check_creatable(p)
            except OSError as e:
                raise CalibrationError(str(e)) from None


def scenario_name(output) -> str:
    """The calibrated scenario's name: the output's stem if it is a valid name."""
    name = Path(output).stem
    return name if NAME_RE.match(name) else "calibrated"


def write_calibration(cal, output, force=False, uncertainty=True) -> list:
    """Write the calibrated scenario to `output`, and beside it the check plot
    (if the check ran) and the fit record; returns the paths written. Refuses
    to overwrite an existing file unless `force`. The scenario carries an
    [uncertainty] table from the standard errors unless `uncertainty` is
    false."""
    check_output(output, force, check=cal.check is not None)
    text = scenario_toml(cal, scenario_name(output), uncertainty)
    written = [store.write_text(output, text)]
    if cal.check is not None:
        written.append(cal.plot(companion(output, CHECK_SUFFIX)))
    written.append(store.write_json(companion(output, FIT_SUFFIX),
                                    store.manifest("calibration", **fit_record(cal))))
    return written
