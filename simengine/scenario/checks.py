"""Validation: every key of docs/model.md section 6 with its check and default;
problems are collected, each naming the file, the key and what is
expected, and raised together. Making a Scenario (`scenario_from_dict`)
or changing one (`replace_run`) goes through here."""
from __future__ import annotations

import dataclasses
import json
import math
import re
from fractions import Fraction

from .model import (Billing, Campaign, Growth, Overflow, Scenario, ScenarioError, Segment, Staff,
                    Strategy, Uncertainty)


# Value checks. Each takes the raw TOML value and returns the resolved value,
# or raises _Bad(what is expected). Every check fails on MISSING (a key not
# given, or `--set KEY` without `=VALUE`), which is how the "required"
# message learns what is expected.

class _Bad(Exception):
    pass


MISSING = object()
_REQUIRED = object()
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_SEGMENTS, MAX_STRATEGIES = 63, 64   # the engine packs them into bit masks


def _isint(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _isnum(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(lo, hi=None):
    what = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"

    def check(v):
        if _isint(v) and v >= lo and (hi is None or v <= hi):
            return v
        raise _Bad(what)
    return check


def _num(lo=0.0, hi=None, what=None):
    what = what or (f"a number >= {lo:g}" if hi is None else f"a number in [{lo:g}, {hi:g}]")

    def check(v):
        if _isnum(v) and math.isfinite(v) and v >= lo and (hi is None or v <= hi):
            return float(v)
        raise _Bad(what)
    return check


def _enum(*choices):
    what = "one of " + ", ".join(f'"{c}"' for c in choices)

    def check(v):
        if isinstance(v, str) and v in choices:
            return v
        raise _Bad(what)
    return check


def _bool(v):
    if isinstance(v, bool):
        return v
    raise _Bad("true or false")


def _text(v):
    if isinstance(v, str) and v.strip():
        return v
    raise _Bad("a non-empty string")


def _name(v):
    # Names appear in `--set segment.<name>.<key>=...` and sweep partition keys.
    if isinstance(v, str) and NAME_RE.match(v):
        return v
    raise _Bad("a name made of letters, digits, '_', '.' and '-' (no spaces or '=')")


def _shape(v):
    if v == "inf" or (_isnum(v) and v == math.inf):
        return math.inf
    if _isnum(v) and math.isfinite(v) and v > 0:
        return float(v)
    raise _Bad('a number > 0, or inf (or "inf") for homogeneous churn')


def _season(v):
    if (isinstance(v, list) and len(v) == 12
            and all(_isnum(x) and math.isfinite(x) and x >= 0 for x in v)):
        return tuple(float(x) for x in v)
    raise _Bad("a list of 12 non-negative numbers (one multiplier per month)")


def _tiers(v):
    if not isinstance(v, list) or not v:
        raise _Bad("a non-empty list of [size, price] pairs")
    out = []
    for pair in v:
        if not (isinstance(pair, list) and len(pair) == 2 and _isint(pair[0])
                and pair[0] > 0 and _isnum(pair[1]) and math.isfinite(pair[1])
                and pair[1] >= 0):
            raise _Bad("[size, price] pairs, each size a positive integer and "
                       "each price a non-negative number")
        if out and pair[0] <= out[-1][0]:
            raise _Bad("tier sizes in strictly increasing order")
        out.append((pair[0], float(pair[1])))
    return tuple(out)


def _names(v):
    if (isinstance(v, list) and v and all(isinstance(x, str) for x in v)
            and len(set(v)) == len(v)):
        return tuple(v)
    raise _Bad("a non-empty list of distinct segment names")


def _reserve(v):
    # segment names are checked against the scenario's segments later
    what = ("a table {segment = contacts} of non-negative integers "
            "(e.g. reserve = { prospect = 20_000 })")
    if not isinstance(v, dict):
        raise _Bad(what)
    return tuple(v.items())


def _fraction_of_capacity(v):
    if _isnum(v) and math.isfinite(v) and 0 < v <= 1:
        return float(v)
    raise _Bad("a fraction of the capacity in (0, 1] (1 = order when the scale is full)")


def _positive(hi=None, what="a number > 0"):
    def check(v):
        if _isnum(v) and math.isfinite(v) and v > 0 and (hi is None or v <= hi):
            return float(v)
        raise _Bad(what)
    return check


def _opt_int(v):
    if _isint(v) and v >= 1:
        return v
    raise _Bad("a tier size (a positive integer)")


# Table -> key -> (check, default). Order is the order of the resolved dict
# and of to_toml.
SCHEMA = {
    "scenario": {
        "name": (_text, _REQUIRED),
        "horizon_years": (_int(1, 100), 1),
        "paths": (_int(1), 1024),
        "seed": (_int(0, 2**64 - 1), 0),
        "sampling": (_enum("sobol", "mc"), "sobol"),
        "replicates": (_int(1, 4096), 8),
    },
    "population": {"size": (_int(1), _REQUIRED)},
    "segment": {
        "name": (_name, _REQUIRED),
        "share": (_num(0, 1, "a share in [0, 1]"), 1.0),  # required if several
        "initial_contacts": (_int(0), 0),
        "adoption_rate": (_num(what="a non-negative rate per day"), _REQUIRED),
        "churn_rate": (_num(what="a non-negative rate per day"), _REQUIRED),
        "churn_shape": (_shape, math.inf),
        "readd_prob": (_num(0, 1, "a probability in [0, 1]"), 0.0),
        "readd_delay_days": (_num(what="a non-negative number of days"), 30.0),
        "lost_value": (_num(what="a non-negative value in yuan"), 0.0),
        "initial_age_days": (_num(what="a non-negative age in days"), 0.0),
        "initial_ages": (_enum("equal", "stock"), "equal"),
    },
    "growth": {
        "season": (_season, (1.0,) * 12),
        "sigma": (_num(what="a non-negative volatility"), 0.0),
        "churn_sigma": (_num(what="a non-negative volatility"), 0.0),
    },
    # exactly one of day_of_year and per_year (checked with the scenario);
    # per_year is bounded for sense (a start a day), the engine draws any mean
    "campaign": {
        "name": (_name, _REQUIRED),
        "day_of_year": (_int(0, 364), None),
        "per_year": (_positive(365, "a number of runs a year in (0, 365]"), None),
        "duration_days": (_int(1), 1),
        "lift": (_positive(what="a lift > 0 (a multiplier of the first-add hazard)"), _REQUIRED),
        "lift_sigma": (_num(what="a non-negative volatility"), 0.0),
        "segments": (_names, None),
    },
    "billing": {
        "rule": (_enum("concurrent", "cumulative"), "concurrent"),
        "certified": (_bool, True),
        "period_days": (_int(1), 365),
        "upgrade_pricing": (_enum("prorated", "difference", "full"), "prorated"),
        "tier_covers": (_enum("total", "excess"), "total"),
        "certification_fee": (_num(what="a non-negative fee in yuan"), 0.0),
        "tiers": (_tiers, Billing.tiers),
        "lead_days": (_int(0), 0),
    },
    "overflow": {
        "account_capacity": (_int(1), 5000),
        "account_cost": (_num(what="a non-negative cost in yuan"), 0.0),
    },
    "staff": {
        "members": (_int(1), None),
        "friend_cap": (_int(1), 50_000),
    },
    "strategy": {
        "name": (_name, _REQUIRED),
        "renewal": (_enum("none", "fixed", "fit", "forecast", "oracle"), "fit"),
        "tier": (_opt_int, None),
        "upgrade": (_enum("none", "next", "fit"), "next"),
        "headroom": (_num(what="a non-negative fraction"), 0.0),
        "admit": (_names, None),
        "others": (_enum("overflow", "lost"), "lost"),
        "on_blocked": (_enum("lost", "retry", "overflow"), "lost"),
        "retry_days": (_num(what="a non-negative number of days"), 14.0),
        "max_retries": (_int(0, 255), 3),
        "reserve": (_reserve, ()),
        "upgrade_at": (_fraction_of_capacity, 1.0),
        "review_days": (_int(0), 0),
    },
}
ARRAY_TABLES = ("segment", "campaign", "strategy")     # [[segment]], [[campaign]], ...

# [uncertainty] (docs/model.md section 12): `"dotted.key" = { dist = ..., params }`.
UNCERTAINTY = "uncertainty"
DISTRIBUTIONS = {"lognormal": ("sigma",), "logitnormal": ("sigma",), "uniform": ("low", "high")}
UNCERTAINTY_PARAMS = ("dist", "sigma", "low", "high")
# The keys that may vary by path: every real-valued scalar the kernel reads
# per path. Counts and sizes (population, shares, initial contacts, period
# days, tier sizes, reserves, member caps, retries) fix the run's shape or
# its customers and stay as the file says.
UNCERTAIN_KEYS = {
    "growth": ("sigma", "churn_sigma"),
    "billing": ("certification_fee",),
    "overflow": ("account_cost",),
    "segment": ("adoption_rate", "churn_rate", "churn_shape", "readd_prob", "readd_delay_days",
                "lost_value", "initial_age_days"),
    "strategy": ("headroom", "retry_days"),
    "campaign": ("lift", "lift_sigma", "per_year"),
}
PROBABILITY_KEYS = {("segment", "readd_prob")}


def format_value(v):
    """A value as the user would write it in TOML (MISSING: "nothing"), for
    the `got ...` of a problem."""
    if v is MISSING:
        return "nothing"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "a table {" + ", ".join(f"{k} = {format_value(x)}" for k, x in v.items()) + "}"
    return repr(v)


class _Checker:
    """Collects problems while reading one scenario dict."""

    def __init__(self, source, overridden):
        self.source, self.overridden, self.problems = source, set(overridden), []
        self.file_population = None

    def bad(self, key, msg):
        tag = " (from --set)" if key in self.overridden else ""
        self.problems.append(f"{self.source}: {key}{tag}: {msg}")

    def table(self, raw, prefix, kind):
        """Check the keys of one table; return {key: resolved value or None if bad}."""
        schema = SCHEMA[kind]
        if not isinstance(raw, dict):
            self.bad(prefix, f"expected a table, got {format_value(raw)}")
            return dict.fromkeys(schema)
        for key in raw:
            if key not in schema:
                self.bad(f"{prefix}.{key}",
                         f"unknown key; allowed keys: {', '.join(schema)}")
        out = {}
        for key, (check, default) in schema.items():
            value = raw.get(key, MISSING)
            if value is MISSING and default is not _REQUIRED:
                out[key] = default
                continue
            try:
                out[key] = check(value)
            except _Bad as e:
                if value is MISSING:
                    self.bad(f"{prefix}.{key}", f"required: expected {e}, got nothing")
                else:
                    self.bad(f"{prefix}.{key}", f"expected {e}, got {format_value(value)}")
                out[key] = None
        return out

    def array(self, data, kind):
        """Read [[segment]] / [[campaign]] / [[strategy]] entries, keyed by
        name where possible."""
        raw = data.get(kind, [])
        if not isinstance(raw, list):
            self.bad(kind, f"expected an array of tables [[{kind}]], got {format_value(raw)}")
            raw = []
        entries = []
        for i, item in enumerate(raw):
            name = item.get("name") if isinstance(item, dict) else None
            ok = isinstance(name, str) and NAME_RE.match(name)
            prefix = f"{kind}.{name}" if ok else f"{kind} #{i + 1}"
            entries.append((prefix, item, self.table(item, prefix, kind)))
        return entries


def largest_remainder(shares, total):
    """Integer sizes summing to `total`, ties to the earlier entry. Shares are
    taken as the decimals written (repr of the float) so that 0.3/0.7 of 5 is
    an exact tie, not decided by binary rounding."""
    exact = [Fraction(repr(s)) for s in shares]
    norm = sum(exact)
    quotas = [q * total / norm for q in exact]
    sizes = [math.floor(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - sizes[i]), i))
    for i in order[:total - sum(sizes)]:
        sizes[i] += 1
    return sizes


def smallest_population(shares, initial) -> int:
    """The smallest population whose segments (by largest remainder) each
    hold their initial contacts."""
    # largest remainder gives a segment at most floor(quota) + 1, so no
    # population below (initial - 1) / share can hold it: search up from there
    # (in exact fractions: a float start can lie millions below a huge count)
    exact = [Fraction(repr(s)) for s in shares]
    norm = sum(exact)
    n = max(1, max(math.floor((i - 1) * norm / q) if q > 0 else (0 if i == 0 else math.inf)
                   for q, i in zip(exact, initial)))
    if math.isinf(n):
        return n
    while any(i > size for i, size in zip(initial, largest_remainder(shares, n))):
        n += 1
    return n


def _check_initial_contacts(c, segs, sizes, population):
    """Each segment's initial contacts must fit in it. When the population
    came from --set, the population is what is wrong: say so once, with the
    smallest population that fits and how to shrink everything together."""
    over = [(prefix, v["initial_contacts"], size) for (prefix, _, v), size in zip(segs, sizes)
            if size is not None and v["initial_contacts"] is not None
            and v["initial_contacts"] > size]
    if not over:
        return
    need = smallest_population([v["share"] for _, _, v in segs],
                               [v["initial_contacts"] or 0 for _, _, v in segs])
    fits = (f"the smallest population that holds every segment's initial contacts is {need:,}"
            if not math.isinf(need) else "no population holds them (a segment has share 0)")
    if "population.size" in c.overridden:
        detail = "; ".join(f"{p}: {i:,} > {size:,}" for p, i, size in over)
        base = c.file_population
        hint = (f"--scale {population / base:.3g} gives {population:,} customers by "
                "multiplying the population and every segment's initial_contacts"
                if isinstance(base, int) and base > 0 else
                "--scale F multiplies the population and every segment's initial_contacts")
        c.bad("population.size", f"expected at least {need:,} customers, got {population:,}: "
              f"initial contacts do not fit ({detail}). To make a small version of the "
              f"scenario on purpose, scale it instead: {hint} (which tiers bind changes)")
        return
    for prefix, initial, size in over:
        c.bad(f"{prefix}.initial_contacts", f"expected at most the segment's size {size:,} "
              f"(share * population.size {population:,}), got {initial:,}; {fits}")


# Tables of a scenario file that belong to other commands: [optimize]
# (docs/model.md section 13) is `simengine optimize`'s, which checks it.
OTHER_TABLES = ("optimize",)


def scenario_from_dict(data: dict, source="<dict>", *, overridden=(),
                       file_population=None, allow_no_strategies=False) -> Scenario:
    """Validate a raw scenario dict (as tomllib returns it), fill defaults and
    resolve. Raises ScenarioError listing every problem. `overridden` names the
    dotted keys that came from `--set`, so their messages say so.
    `allow_no_strategies`: zero [[strategy]] tables are accepted (`simengine
    optimize` searches for a strategy; a run needs at least one)."""
    c = _Checker(source, overridden)
    c.file_population = file_population     # before --set and --scale, for hints
    if not isinstance(data, dict):
        raise ScenarioError([f"{source}: expected a TOML table at top level"], source)
    for key in data:
        if key not in SCHEMA and key != UNCERTAINTY and key not in OTHER_TABLES:
            c.bad(key, "unknown table; allowed tables: "
                  + ", ".join([*SCHEMA, UNCERTAINTY, *OTHER_TABLES]))

    tables = {k: c.table(data.get(k, {}), k, k) for k in SCHEMA if k not in ARRAY_TABLES}
    segs = c.array(data, "segment")
    strats = c.array(data, "strategy")
    camps = c.array(data, "campaign")
    sc, pop, bill = tables["scenario"], tables["population"], tables["billing"]

    # Segments: count, names, shares, sizes.
    if not 1 <= len(segs) <= MAX_SEGMENTS:
        c.bad("segment", f"expected 1 to {MAX_SEGMENTS} [[segment]] tables, got {len(segs)}")
    if len(segs) > 1:
        for prefix, raw, vals in segs:
            if isinstance(raw, dict) and "share" not in raw:
                c.bad(f"{prefix}.share",
                      "required when there are several segments: expected a share in [0, 1], got nothing")
                vals["share"] = None
    _unique(c, segs, "segment")
    shares = [v["share"] for _, _, v in segs]
    sizes = [None] * len(segs)
    if segs and None not in shares:
        if abs(math.fsum(shares) - 1.0) > 1e-9:
            # blame a share set with --set when there is one, else them all
            set_here = [f"{p}.share" for p, _, _ in segs if f"{p}.share" in c.overridden]
            c.bad(set_here[0] if set_here else "segment.*.share",
                  f"expected shares summing to 1, got "
                  f"{' + '.join(format_value(s) for s in shares)} = {math.fsum(shares):.12g}")
        elif pop["size"] is not None:
            sizes = largest_remainder(shares, pop["size"])
    _check_initial_contacts(c, segs, sizes, pop["size"])

    # Strategies: count, names, tier, admit, certification.
    if not strats and not allow_no_strategies:
        c.bad("strategy", f"expected 1 to {MAX_STRATEGIES} [[strategy]] tables, got 0 "
              "(`simengine optimize` accepts a scenario without strategies: it searches "
              "for one)")
    elif len(strats) > MAX_STRATEGIES:
        c.bad("strategy", f"expected 1 to {MAX_STRATEGIES} [[strategy]] tables, got {len(strats)}")
    _unique(c, strats, "strategy")
    seg_names = [v["name"] for _, _, v in segs if v["name"] is not None]
    tier_sizes = [s for s, _ in bill["tiers"]] if bill["tiers"] is not None else None
    for prefix, raw, v in strats:
        raw = raw if isinstance(raw, dict) else {}
        if v["renewal"] == "fixed":
            sizes_txt = ", ".join(map(str, tier_sizes or []))
            if "tier" not in raw:
                c.bad(f"{prefix}.tier", f'required with renewal = "fixed": expected one '
                      f"of the tier sizes {sizes_txt}, got nothing")
            elif v["tier"] is not None and tier_sizes is not None and v["tier"] not in tier_sizes:
                c.bad(f"{prefix}.tier", f"expected one of the tier sizes {sizes_txt}, got {v['tier']}")
        elif "tier" in raw and v["renewal"] is not None:
            c.bad(f"{prefix}.tier", f'expected no tier unless renewal = "fixed" '
                  f'(renewal is "{v["renewal"]}"), got {format_value(raw["tier"])}')
        _segment_list(c, prefix, "admit", raw, v, seg_names)
        if v["reserve"]:
            reserve = dict(v["reserve"])
            for name, contacts in reserve.items():
                if name not in seg_names:
                    c.bad(f"{prefix}.reserve.{name}", f"expected the name of a segment "
                          f"({', '.join(seg_names)}), got unknown {format_value(name)}")
                elif not (_isint(contacts) and contacts >= 0):
                    c.bad(f"{prefix}.reserve.{name}", f"expected a non-negative integer "
                          f"number of contacts, got {format_value(contacts)}")
            # in segment order, so that equal reserves compare equal
            v["reserve"] = tuple((n, reserve[n]) for n in seg_names if n in reserve)
        if bill["certified"] is False:
            for key in ("renewal", "upgrade"):
                if v[key] not in (None, "none"):
                    c.bad(f"{prefix}.{key}", f'expected "none" because billing.certified = '
                          f'false (an uncertified enterprise cannot buy tiers), got "{v[key]}"')

    uncertainty = _check_uncertainty(c, data.get(UNCERTAINTY, {}), tables,
                                     {"segment": segs, "strategy": strats, "campaign": camps})
    _check_campaigns(c, camps, seg_names)
    note = None
    if sc["paths"] is not None and sc["sampling"] is not None and sc["replicates"] is not None:
        sc["paths"], note = rounded_paths(sc["paths"], sc["sampling"], sc["replicates"])
    if c.problems:
        raise ScenarioError(c.problems, source)

    segments = tuple(Segment(size=size, **v) for (_, _, v), size in zip(segs, sizes))
    strategies = tuple(Strategy(**v) for _, _, v in strats)
    scn = Scenario(
        name=sc["name"], horizon_years=sc["horizon_years"], paths=sc["paths"],
        seed=sc["seed"], population=pop["size"], segments=segments,
        growth=Growth(**tables["growth"]), billing=Billing(**bill),
        overflow=Overflow(**tables["overflow"]), staff=Staff(**tables["staff"]),
        strategies=strategies, source=str(source), sampling=sc["sampling"],
        replicates=sc["replicates"], uncertainty=uncertainty, notes=(note,) if note else (),
        campaigns=tuple(Campaign(**v) for _, _, v in camps))
    return scn


def replace_run(scn: Scenario, paths=None, seed=None) -> Scenario:
    """The same scenario with `scenario.paths` / `scenario.seed` changed
    (the `run(paths=, seed=)` keywords). Only the changed keys are checked;
    the rest was validated when the scenario was loaded. Under "sobol",
    paths are rounded up to a multiple of the replicates (a note says so)."""
    changes = {k: v for k, v in (("paths", paths), ("seed", seed)) if v is not None}
    if not changes:
        return scn
    c = _Checker(scn.source, ())
    for key, value in changes.items():
        check = SCHEMA["scenario"][key][0]
        try:
            changes[key] = check(value)
        except _Bad as e:
            c.bad(f"scenario.{key}", f"expected {e}, got {format_value(value)}")
    if c.problems:
        raise ScenarioError(c.problems, scn.source)
    if "paths" in changes:
        changes["paths"], note = rounded_paths(changes["paths"], scn.sampling, scn.replicates)
        changes["notes"] = (note,) if note else ()
    return dataclasses.replace(scn, **changes)


def rounded_paths(paths, sampling, replicates):
    """(paths, note): under "sobol", paths rounded up to a multiple of the
    replicates (docs/model.md section 12), with a note saying so (else None)."""
    if sampling != "sobol" or paths % replicates == 0:
        return paths, None
    up = -(-paths // replicates) * replicates
    return up, (f"scenario.paths: {paths:,} is not a multiple of scenario.replicates = "
                f"{replicates}: rounded up to {up:,} paths ({up // replicates:,} per replicate)")


def sampling_warnings(scn: Scenario) -> list[str]:
    """What the sampling settings cost in precision (`validate`, the run)."""
    out = [f"{scn.source}: {n}" for n in scn.notes]
    if scn.sampling != "sobol":
        return out
    m = scn.paths // scn.replicates
    if scn.replicates < 2:
        out.append(f"{scn.source}: scenario.replicates = 1: no confidence intervals under "
                   'sampling = "sobol" (sectioning needs at least 2 replicates)')
    if m & (m - 1):
        power = 1 << max(0, round(math.log2(m)))
        out.append(f"{scn.source}: scenario.paths: {m:,} points per replicate ({scn.paths:,} "
                   f"paths / {scn.replicates} replicates) is not a power of two; Sobol' points "
                   f"are balanced at powers of two (e.g. paths = {power * scn.replicates:,}): the "
                   "intervals stay valid, the estimates are a little less precise")
    return out


def _check_campaigns(c, camps, seg_names):
    """The [[campaign]] entries (docs/model.md section 3): exactly one of
    day_of_year and per_year; names unique; segments of the scenario (all
    when unset)."""
    _unique(c, camps, "campaign")
    for prefix, raw, v in camps:
        raw = raw if isinstance(raw, dict) else {}
        when = [k for k in ("day_of_year", "per_year") if k in raw]
        if len(when) != 1:
            # both: blame the one a --set gave, if one did
            key = next((f"{prefix}.{k}" for k in when if f"{prefix}.{k}" in c.overridden), prefix)
            c.bad(key, "expected exactly one of day_of_year (the same days every year) and "
                  "per_year (random days: a Poisson count a year), got "
                  + ("both" if when else "neither"))
        _segment_list(c, prefix, "segments", raw, v, seg_names)


def _segment_list(c, prefix, key, raw, v, seg_names):
    """A list of segment names (a strategy's `admit`, a campaign's
    `segments`): every segment when not given; names the scenario has."""
    if v[key] is None and key not in raw:
        v[key] = tuple(seg_names)
    elif v[key] is not None:
        unknown = [n for n in v[key] if n not in seg_names]
        if unknown:
            c.bad(f"{prefix}.{key}", f"expected names of segments ({', '.join(seg_names)}), "
                  f"got unknown {', '.join(map(format_value, unknown))}")


def _uncertain_target(key, tables, arrays):
    """(table, leaf, resolved value) of a dotted key, or raise _Bad(why).
    `arrays`: the entries of each array table, {table: [(prefix, raw, values)]}."""
    table, _, rest = key.partition(".")
    if table == "scenario" or key == "population.size" or key.endswith(".initial_contacts"):
        raise _Bad("a key that can vary by path (scenario.*, population.size and "
                   "initial_contacts cannot)")
    if table in ARRAY_TABLES:
        name, _, leaf = rest.rpartition(".")
        entries = {v["name"]: (raw, v) for _, raw, v in arrays[table]}
        if leaf not in SCHEMA[table] or name not in entries:
            raise _Bad(f"{table}.<name>.<key> naming one of the {table}s "
                       f"({', '.join(n for n in entries if n is not None)}) and a key")
        raw, values = entries[name]
        if (table == "campaign" and leaf == "per_year" and isinstance(raw, dict)
                and "per_year" not in raw):
            raise _Bad(f"the per_year of a random campaign (campaign {name} has fixed days: "
                       "day_of_year)")
    elif table in SCHEMA and table not in ARRAY_TABLES and rest in SCHEMA[table]:
        leaf, values = rest, tables[table]
    else:
        raise _Bad("the dotted path of a scenario key, as for --set "
                   "(e.g. segment.vip.churn_rate)")
    if leaf not in UNCERTAIN_KEYS.get(table, ()):
        allowed = ", ".join(f"{t}.{'<name>.' if t in ARRAY_TABLES else ''}{k}"
                            for t, keys in UNCERTAIN_KEYS.items() for k in keys)
        raise _Bad(f"a real-valued key that can vary by path ({allowed}); counts, sizes, "
                   "shares and words stay fixed for the run")
    return table, leaf, values[leaf]


def _check_uncertainty(c, raw, tables, arrays) -> tuple:
    """The [uncertainty] entries (docs/model.md section 12), in file order."""
    if not isinstance(raw, dict):
        c.bad(UNCERTAINTY, 'expected a table of "dotted.key" = { dist = ..., ... }, '
                           f"got {format_value(raw)}")
        return ()
    out = []
    for key, spec in raw.items():
        where = f"{UNCERTAINTY}.{key}"
        try:
            table, leaf, value = _uncertain_target(key, tables, arrays)
        except _Bad as e:
            c.bad(where, f"expected {e}, got {format_value(key)}")
            continue
        dist = spec.get("dist") if isinstance(spec, dict) else None
        if not isinstance(dist, str) or dist not in DISTRIBUTIONS:
            got = spec.get("dist", MISSING) if isinstance(spec, dict) else spec
            c.bad(where if not isinstance(spec, dict) else f"{where}.dist",
                  "expected a table { dist = ..., ... } with dist one of "
                  + ", ".join(f'"{d}"' for d in DISTRIBUTIONS) + f", got {format_value(got)}")
            continue
        dist = spec["dist"]
        params = DISTRIBUTIONS[dist]
        entry = {"key": key, "dist": dist}
        for p in spec:
            if p != "dist" and p not in params:
                c.bad(f"{where}.{p}", f'unknown parameter for dist = "{dist}"; expected '
                      + ", ".join(params))
        check = SCHEMA[table][leaf][0]
        for p in params:
            v = spec.get(p, MISSING)
            try:
                if p == "sigma":
                    entry[p] = _num(what="a non-negative number")(v)
                else:       # low, high: values the key itself may take
                    entry[p] = check(v)
                    if math.isinf(entry[p]):
                        raise _Bad("a finite number")
            except _Bad as e:
                c.bad(f"{where}.{p}", f"expected {e}, got {format_value(v)}")
                entry[p] = None
        if value is None or None in (entry.get(p, 0) for p in params):
            continue
        _check_median(c, where, (table, leaf), value, entry)
        out.append(Uncertainty(**entry))
    return tuple(out)


def _check_median(c, where, key, value, entry):
    """The scenario's value must be a median the distribution can have."""
    dist = entry["dist"]
    if dist == "lognormal":
        if key in PROBABILITY_KEYS:
            c.bad(f"{where}.dist", 'expected "logitnormal" or "uniform" for a probability '
                  '(a lognormal value can exceed 1), got "lognormal"')
        elif not value > 0:
            c.bad(where, f"expected a key whose value (the median) is > 0 for a lognormal, "
                  f"got {format_value(value)}")
    elif dist == "logitnormal":
        if not 0 < value < 1:
            c.bad(where, f"expected a key whose value (the median) is in (0, 1) for a "
                  f"logitnormal, got {format_value(value)}")
    elif entry["low"] > entry["high"]:
        c.bad(f"{where}.low", f"expected low <= high, got low = {format_value(entry['low'])} > "
              f"high = {format_value(entry['high'])}")
    elif not entry["low"] <= value <= entry["high"]:
        c.bad(where, f"expected the key's value between low and high (uniform), got "
              f"{format_value(value)} outside [{format_value(entry['low'])}, "
              f"{format_value(entry['high'])}]")


def scenario_warnings(scn: Scenario) -> list[str]:
    """Settings that are valid but have no effect or cost precision, and
    what validation changed (`validate` prints them)."""
    out = sampling_warnings(scn)
    oracles = {st.name for st in scn.strategies if st.renewal == "oracle"}
    for u in scn.uncertainty:
        if u.key == "billing.certification_fee" and not scn.billing.certified:
            why = "the enterprise is not certified"
        elif u.key in {f"strategy.{name}.headroom" for name in oracles}:
            why = "the hindsight plan ignores headroom"
        else:
            continue
        out.append(f"{scn.source}: {UNCERTAINTY}.{u.key}: has no effect ({why}); its drawn "
                   "values are still written to paths.arrow")
    for seg in scn.segments:
        if seg.churn_rate > 0 and math.isinf(seg.churn_shape):
            out.append(f"{scn.source}: segment.{seg.name}.churn_shape: inf (no heterogeneity) "
                       "gives geometric retention, which real cohorts rarely follow (their "
                       "retention rises with tenure, and a base of survivors churns less than new "
                       "contacts); set churn_shape, or fit it: simengine calibrate --cohorts")
    for st in scn.strategies:
        if st.renewal != "oracle":
            continue
        # each compared with its default: a value set in the file is ignored
        ignored = [k for k, default in (("upgrade", "next"), ("headroom", 0.0), ("reserve", ()),
                                        ("upgrade_at", 1.0), ("review_days", 0))
                   if getattr(st, k) != default]
        if ignored:
            out.append(f"{scn.source}: strategy.{st.name}: "
                       f"{', '.join(ignored)} {'has' if len(ignored) == 1 else 'have'} no effect "
                       'with renewal = "oracle" (the hindsight plan chooses every tier and upgrade)')
    return out


def _unique(c, entries, kind):
    seen = set()
    for prefix, _, v in entries:
        name = v["name"]
        if name is not None and name in seen:
            c.bad(f"{prefix}.name",
                  f"expected a unique {kind} name, got {format_value(name)} more than once")
        seen.add(name)
