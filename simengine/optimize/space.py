"""The `[optimize]` table (docs/model.md section 13): its settings, the space of
strategies to search and the distinct candidates it holds.

    settings = read_settings(raw_optimize_table, scn, source)
    space = settings.space or default_space(scn)
    found = space.candidates(scn)       # Candidates: distinct strategies, named

A space lists values per strategy key (docs/model.md section 5's keys, and
`reserve.<segment>` for one segment's reserve); the candidates are the
product of the lists (an `[optimize.space]` table), or the union of several
products (`[[optimize.space]]` tables: a key that should multiply only some
of the others), each written in its canonical form so that the
combinations that are the same strategy are evaluated once:

- `tier` only under `renewal = "fixed"`; a fixed largest tier never
  upgrades (no upgrade can raise its capacity);
- `upgrade_at` and `review_days` (when to order an upgrade) only where the
  strategy upgrades: under `upgrade = "none"`, or a fixed largest tier,
  nothing is ever ordered;
- `headroom` only where a rule reads it (`fit` or `forecast` renewal, `fit`
  upgrade);
- `others` only when `admit` leaves a segment out; `admit` in segment order;
- `retry_days` and `max_retries` only under `on_blocked = "retry"`, and a
  retry with `max_retries = 0` is `lost`;
- a reserve only for an admitted segment, and a reserve of 0 is none.

The default space (`default_space`) is such a union: the rules, each
ordering when full, and when to order for the upgrading rules alone (its
docstring says why there and not everywhere).

Every value is checked against the scenario (tier sizes, segment names,
`billing.certified`, `upgrade_at` in (0, 1], `review_days` >= 0) before any
work: a bad space is a ScenarioError naming the file, the key and what is
expected.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

from ..scenario import (NAME_RE, ScenarioError, Strategy, format_value,
                        load_scenario_with_tables, read_toml)
from .objective import DEFAULT as DEFAULT_OBJECTIVE
from .objective import Objective

RENEWALS = ("none", "fixed", "fit", "forecast")      # oracle is the bound, not a candidate
UPGRADES = ("none", "next", "fit")
ON_BLOCKED = ("lost", "retry", "overflow")
OTHERS = ("overflow", "lost")
KEYS = ("renewal", "tier", "upgrade", "upgrade_at", "review_days", "headroom", "on_blocked",
        "retry_days", "max_retries", "admit", "others")       # then reserve.<segment>
SETTINGS = ("objective", "paths", "validate_paths", "top", "space")
DEFAULTS = {"objective": DEFAULT_OBJECTIVE, "paths": 256, "validate_paths": 1024, "top": 5}
MAX_COMBINATIONS = 200_000     # the product of the lists, before duplicates go
MAX_CANDIDATES = 20_000        # distinct strategies


def _isint(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _isnum(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class Settings:
    """The `[optimize]` table, resolved: every setting has a value."""
    objective: Objective
    paths: int
    validate_paths: int
    top: int
    space: "SearchSpace | None"      # None: the default space
    source: str


@dataclass(frozen=True)
class SearchSpace:
    """The union of one or more products. A product lists values per key,
    in KEYS order then reserve.<segment> in segment order; keys it leaves
    out take docs/model.md section 6's strategy defaults. An
    `[optimize.space]` table is one product, `[[optimize.space]]` tables
    a union (the default space is one: see `default_space`)."""
    products: tuple                   # (((key, (value, ...)), ...), ...)
    source: str = "<default space>"

    def as_data(self):
        """The space as a file writes it: a table of lists for one product,
        a list of such tables for a union (the manifest records this);
        `check_space` reads it back to the same space."""
        tables = [{k: [list(x) if isinstance(x, tuple) else x for x in v]
                   for k, v in product} for product in self.products]
        return tables[0] if len(tables) == 1 else tables

    def combinations(self) -> int:
        return sum(math.prod(len(v) for _, v in product) for product in self.products)

    def combos(self):
        """Every combination, as {key: value}, product by product."""
        for product in self.products:
            keys = [k for k, _ in product]
            for combo in itertools.product(*(v for _, v in product)):
                yield dict(zip(keys, combo))

    def candidates(self, scn) -> "Candidates":
        """The distinct strategies of the union, canonical and named, the
        scenario's own (non-oracle) strategies first under their own names
        (the space always contains them, so a search never does worse)."""
        seen = {}                      # rules (nameless canonical form) -> strategy
        for st in scn.strategies:
            if st.renewal != "oracle":
                seen.setdefault(rules(st, scn), st)
        own_count = len(seen)
        for combo in self.combos():
            key = rules(_strategy(combo), scn)
            if key not in seen:
                seen[key] = key
                if len(seen) > MAX_CANDIDATES + own_count:
                    raise ScenarioError(
                        f"{self.source}: optimize.space: more than {MAX_CANDIDATES:,} distinct "
                        "strategies; shorten some lists (each key multiplies the rest)")
        found = list(seen.values())
        out = found[:own_count]
        names = {st.name for st in scn.strategies}
        for st in found[own_count:]:
            name = unique_name(candidate_name(st, scn), names)
            names.add(name)
            out.append(dataclasses.replace(st, name=name))
        return Candidates(tuple(out), own_count, self.combinations())


@dataclass(frozen=True)
class Candidates:
    strategies: tuple      # the scenario's own first, then the space's new ones
    own: int               # how many of them are the scenario's own
    combinations: int      # the product's size, duplicates included

    @property
    def duplicates(self) -> int:
        """Combinations of the product that were another's strategy."""
        return self.combinations - (len(self.strategies) - self.own)


def _strategy(values: dict) -> Strategy:
    values = dict(values)
    reserve = tuple((k[len("reserve."):], values.pop(k)) for k in list(values)
                    if k.startswith("reserve."))
    if "admit" in values:
        values["admit"] = tuple(values["admit"])
    return Strategy(name="", reserve=reserve, **values)


def rules(st: Strategy, scn) -> Strategy:
    """The canonical form without the name: equal for the same strategy."""
    return canonical(dataclasses.replace(st, name=""), scn)


def canonical(st: Strategy, scn) -> Strategy:
    """The same strategy written one way (see the module docstring); its
    name is kept. Two strategies are the same iff their canonical forms
    are equal (names aside)."""
    segs = [s.name for s in scn.segments]
    sizes = [size for size, _ in scn.billing.tiers]
    admit = tuple(s for s in segs if not st.admit or s in st.admit)
    everyone = admit == tuple(segs)
    fixed = st.renewal == "fixed"
    upgrade = st.upgrade
    if fixed and st.tier == sizes[-1]:
        upgrade = "none"
    orders = upgrade != "none"        # when to order means nothing if it never does
    reads_headroom = st.renewal in ("fit", "forecast") or upgrade == "fit"
    on_blocked = st.on_blocked
    if on_blocked == "retry" and st.max_retries == 0:
        on_blocked = "lost"
    retry = on_blocked == "retry"
    reserve = dict(st.reserve)
    return Strategy(
        name=st.name, renewal=st.renewal, tier=st.tier if fixed else None, upgrade=upgrade,
        upgrade_at=float(st.upgrade_at) if orders else Strategy.upgrade_at,
        review_days=int(st.review_days) if orders else Strategy.review_days,
        headroom=float(st.headroom) if reads_headroom else 0.0, admit=admit,
        others="lost" if everyone else st.others, on_blocked=on_blocked,
        retry_days=float(st.retry_days) if retry else Strategy.retry_days,
        max_retries=int(st.max_retries) if retry else Strategy.max_retries,
        reserve=tuple((s, int(reserve[s])) for s in segs if s in admit and reserve.get(s, 0) > 0))


def _size(n) -> str:
    """200000 -> 200k, 1000000 -> 1m, 2500 -> 2.5k."""
    for div, unit in ((1_000_000, "m"), (1_000, "k")):
        if n >= div:
            return f"{n / div:g}{unit}"
    return str(n)


def candidate_name(st: Strategy, scn) -> str:
    """A name that says the rules: renewal (tier, headroom), upgrade (and
    when it orders, where not the default: `-at90` at 90% of the capacity,
    `-look7` looking every 7 days), blocked rule, admission and reserves,
    e.g. `fixed-200k_up-none_retry_keep-new5k.prospect20k`,
    `fit_up-next-at90-look7_retry`."""
    renewal = st.renewal + (f"-{_size(st.tier)}" if st.renewal == "fixed" else "")
    if st.headroom > 0:
        renewal += f"-h{st.headroom * 100:g}"
    blocked = st.on_blocked
    if blocked == "retry" and (st.retry_days, st.max_retries) != (Strategy.retry_days,
                                                                   Strategy.max_retries):
        blocked += f"{st.retry_days:g}dx{st.max_retries}"
    upgrade = f"up-{st.upgrade}"
    if st.upgrade_at != Strategy.upgrade_at:
        upgrade += f"-at{st.upgrade_at * 100:g}"
    if st.review_days != Strategy.review_days:
        upgrade += f"-look{st.review_days}"
    parts = [renewal, upgrade, blocked]
    if tuple(st.admit) != tuple(s.name for s in scn.segments):
        parts.append("only-" + ".".join(st.admit) + f"-rest-{st.others}")
    if st.reserve:
        parts.append("keep-" + ".".join(f"{s}{_size(v)}" for s, v in st.reserve))
    name = "_".join(parts)
    return name if NAME_RE.match(name) else "candidate"


def unique_name(name, taken) -> str:
    if name not in taken:
        return name
    i = 2
    while f"{name}-{i}" in taken:
        i += 1
    return f"{name}-{i}"


# --------------------------------------------------------------------------
# reading and checking

class _Problems:
    def __init__(self, source, prefix):
        self.source, self.prefix, self.items = source, prefix, []

    def bad(self, key, msg):
        self.items.append(f"{self.source}: {self.prefix}{key}: {msg}")

    def raise_any(self):
        if self.items:
            raise ScenarioError(self.items, self.source)


def _value_check(key, scn):
    """(check(value) -> resolved or None, what is expected) for one key."""
    segs = [s.name for s in scn.segments]
    sizes = [size for size, _ in scn.billing.tiers]

    def enum(choices):
        return (lambda v: v if isinstance(v, str) and v in choices else None,
                "one of " + ", ".join(f'"{c}"' for c in choices))

    if key == "renewal":
        return enum(RENEWALS)
    if key == "upgrade":
        return enum(UPGRADES)
    if key == "on_blocked":
        return enum(ON_BLOCKED)
    if key == "others":
        return enum(OTHERS)
    if key == "tier":
        return (lambda v: v if _isint(v) and v in sizes else None,
                "a tier size of billing.tiers (" + ", ".join(map(str, sizes)) + ")")
    if key == "headroom":
        return (lambda v: float(v) if _isnum(v) and v >= 0 else None, "a non-negative fraction")
    if key == "upgrade_at":
        return (lambda v: float(v) if _isnum(v) and 0 < v <= 1 else None,
                "a fraction of the capacity in (0, 1] (1 = order when the scale is full)")
    if key == "review_days":
        return (lambda v: v if _isint(v) and v >= 0 else None,
                "an integer number of days >= 0 (0 = watching all the time)")
    if key == "retry_days":
        return (lambda v: float(v) if _isnum(v) and v >= 0 else None,
                "a non-negative number of days")
    if key == "max_retries":
        return (lambda v: v if _isint(v) and 0 <= v <= 255 else None, "an integer in [0, 255]")
    if key == "admit":
        return (lambda v: tuple(v) if isinstance(v, list) and v and all(
                    isinstance(x, str) and x in segs for x in v) and len(set(v)) == len(v)
                else None,
                "a non-empty list of distinct segment names (" + ", ".join(segs) + ")")
    # reserve.<segment>
    return (lambda v: v if _isint(v) and v >= 0 else None,
            "a non-negative integer number of contacts")


def check_space(raw, scn, source, prefix="optimize.space.") -> SearchSpace:
    """A SearchSpace from the space as a file holds it: an `[optimize.space]`
    table (a dict of lists: one product) or `[[optimize.space]]` tables (a
    list of them: their union), checked against the scenario; ScenarioError
    naming every problem."""
    name = prefix.rstrip(".")
    if isinstance(raw, dict):
        tables = [(prefix, raw)]
    elif isinstance(raw, list) and raw and all(isinstance(t, dict) for t in raw):
        tables = [(f"{name} #{i + 1}.", t) for i, t in enumerate(raw)]
    else:
        raise ScenarioError(f"{source}: {name}: expected a table of lists ([optimize.space]) "
                            f"or a list of them ([[optimize.space]], their union), got "
                            f"{format_value(raw)}", source)
    problems, products = [], []
    for table_prefix, table in tables:
        try:
            products.append(_check_product(table, scn, source, table_prefix))
        except ScenarioError as e:
            problems.extend(e.problems)
    if problems:
        raise ScenarioError(problems, source)
    space = SearchSpace(tuple(products), source)
    if space.combinations() > MAX_COMBINATIONS:
        raise ScenarioError(
            f"{source}: {name}: {space.combinations():,} combinations, more "
            f"than the {MAX_COMBINATIONS:,} a search takes; shorten some lists", source)
    return space


def _check_product(raw, scn, source, prefix) -> tuple:
    """One product's ((key, (value, ...)), ...) from a table of lists."""
    p = _Problems(source, prefix)
    if not raw:
        p.bad("*", "expected at least one key (" + ", ".join(KEYS) + ", reserve.<segment>)")
    segs = [s.name for s in scn.segments]
    values = {}
    for key, value in raw.items():
        if key.startswith("reserve."):
            seg = key[len("reserve."):]
            if seg not in segs:
                p.bad(key, f"expected reserve.<segment> with a segment of the scenario "
                      f"({', '.join(segs)}), got unknown segment {format_value(seg)}")
                continue
        elif key not in KEYS:
            p.bad(key, "unknown key; allowed keys: " + ", ".join(KEYS)
                  + ", reserve.<segment> (" + ", ".join(f"reserve.{s}" for s in segs) + ")")
            continue
        check, what = _value_check(key, scn)
        if not isinstance(value, list) or not value:
            p.bad(key, f"expected a non-empty list of values, each {what}, "
                  f"got {format_value(value)}")
            continue
        resolved = []
        for v in value:
            r = check(v)
            if r is None:
                p.bad(key, f"expected each value {what}, got {format_value(v)}")
            elif r not in resolved:
                resolved.append(r)
        values[key] = resolved
    if not scn.billing.certified:
        for key in ("renewal", "upgrade"):
            buys = [v for v in values.get(key, ()) if v != "none"]
            if buys:
                p.bad(key, 'expected only "none" because billing.certified = false (an '
                      f"uncertified enterprise cannot buy tiers), got {format_value(buys[0])}")
        if "renewal" not in values or "upgrade" not in values:
            p.bad("renewal" if "renewal" not in values else "upgrade",
                  'required with billing.certified = false: expected ["none"] (the default '
                  "buys tiers)")
    if "fixed" in values.get("renewal", ()) and "tier" not in values:
        p.bad("tier", 'required when renewal lists "fixed": expected a list of tier sizes of '
              "billing.tiers (" + ", ".join(str(s) for s, _ in scn.billing.tiers) + ")")
    p.raise_any()
    order = [k for k in KEYS if k in values] + [f"reserve.{s}" for s in segs
                                                 if f"reserve.{s}" in values]
    return tuple((k, tuple(values[k])) for k in order)


def _setting(p, raw, key, scn):
    v = raw[key]
    if key == "objective":
        try:
            return Objective.parse(v, f"{p.source}: {p.prefix}objective")
        except ScenarioError as e:
            p.items.extend(e.problems)
            return None
    if _isint(v) and v >= 1:
        return v
    p.bad(key, f"expected an integer >= 1, got {format_value(v)}")
    return None


def read_settings(raw, scn, source, fallback: "Settings | None" = None) -> Settings:
    """Settings from an `[optimize]` table (a dict; None: absent). Keys it
    leaves out come from `fallback` (the scenario file's table, when this
    is a --space file), else DEFAULTS; ScenarioError naming every problem."""
    raw = {} if raw is None else raw
    p = _Problems(source, "optimize.")
    if not isinstance(raw, dict):
        raise ScenarioError(f"{source}: optimize: expected a table, got {format_value(raw)}",
                            source)
    out = {}
    for key in raw:
        if key not in SETTINGS:
            p.bad(key, "unknown key; allowed keys: " + ", ".join(SETTINGS)
                  + " (the space's keys go in [optimize.space])")
    for key in SETTINGS[:-1]:
        if key in raw:
            out[key] = _setting(p, raw, key, scn)
        elif fallback is not None:
            out[key] = getattr(fallback, key)
        else:
            out[key] = (Objective.parse(DEFAULTS[key]) if key == "objective"
                        else DEFAULTS[key])
    space = None
    if "space" in raw:
        try:
            space = check_space(raw["space"], scn, source)
        except ScenarioError as e:
            p.items.extend(e.problems)
    elif fallback is not None:
        space = fallback.space
    p.raise_any()
    return Settings(space=space, source=source, **out)


def read_space_file(path, scn, fallback=None) -> Settings:
    """Settings from a --space file: a TOML file holding an `[optimize]`
    table (and nothing else)."""
    if not Path(path).is_file():
        raise ScenarioError(f"{path}: --space: no such file (expected a TOML file with an "
                            "[optimize] table)", str(path))
    data, source = read_toml(str(path))
    others = [k for k in data if k != "optimize"]
    if others:
        raise ScenarioError(f"{source}: {others[0]}: unknown table in a space file; expected "
                            "only [optimize] (and [optimize.space])", source)
    if "optimize" not in data:
        raise ScenarioError(f"{source}: optimize: required: expected an [optimize] table "
                            "(with [optimize.space])", source)
    return read_settings(data["optimize"], scn, source, fallback)


def load_scenario_with_settings(path=None, overrides=(), scale=None):
    """(Scenario, its file's `[optimize]` table or None, unchecked) for a
    scenario file or bundled name. The file may have no [[strategy]] of its
    own: the search finds one (the validation then compares with the
    hindsight bound alone)."""
    scn, tables = load_scenario_with_tables(path, overrides, scale, allow_no_strategies=True)
    return scn, tables.get("optimize")


# --------------------------------------------------------------------------
# the default space

DEFAULT_HEADROOMS = (0.0, 0.1, 0.2)
# a reserve against the least valuable segment, and against the others of
# the lower-value half, as a share of the initial contacts
RESERVE_LEAST, RESERVE_LOWER = 0.2, 0.05


def _round2(x) -> int:
    """Two significant digits: 19,871 -> 20,000."""
    if x <= 0:
        return 0
    digits = int(math.floor(math.log10(x))) - 1
    return int(round(x / 10 ** digits) * 10 ** digits)


def segments_by_value(scn) -> list:
    """Segment names, the highest `lost_value` first (file order on ties)."""
    order = sorted(range(len(scn.segments)), key=lambda i: (-scn.segments[i].lost_value, i))
    return [scn.segments[i].name for i in order]


def default_tiers(scn) -> list:
    """The ladder's tiers worth buying for ever: from the smallest that
    holds today's contacts (a smaller one blocks every add from day one) to
    the smallest that holds the whole population (a larger one costs more
    for nothing); every tier when none qualifies."""
    sizes = [size for size, _ in scn.billing.tiers]
    initial = sum(s.initial_contacts for s in scn.segments)
    lo = next((i for i, size in enumerate(sizes) if size >= initial), len(sizes) - 1)
    hi = next((i for i, size in enumerate(sizes) if size >= scn.population), len(sizes) - 1)
    return sizes[lo:max(lo, hi) + 1]


# when the upgrading rules order: at the full scale or before it, watching
# all the time, weekly or monthly (docs/model.md section 5)
DEFAULT_UPGRADE_AT = (1.0, 0.9, 0.8, 0.7)
DEFAULT_REVIEW_DAYS = (0, 7, 30)


def default_space(scn) -> SearchSpace:
    """The documented default space (docs/optimize.md), a union of products:

    1. the rules: every renewal rule; for `fixed`, the tiers of
       `default_tiers`; headroom 0, 10% and 20%; every upgrade rule; retry
       or overflow when blocked; every segment admitted, or the most
       valuable ones (by `lost_value`), leaving out the least valuable one
       at a time down to the more valuable half, the rest on personal
       WeChat or lost; and reserves against the lower-value half: none, or
       20% of the initial contacts against the least valuable segment and
       5% against the others. Each orders when full, watching all the time;
    2. when to order (`upgrade_at` 1, 0.9, 0.8, 0.7 times `review_days` 0,
       7, 30), for the plain upgrading rules: every renewal rule (and
       `fixed` tier) with the `next` upgrade, retry or overflow when
       blocked, everyone admitted, no headroom, no reserve;
    3. when to order, for each of the scenario's own strategies that
       upgrades: its rules as they are.

    When to order multiplies only those: it is a question about buying
    capacity, which every upgrading rule asks alike, while admission and
    reserves share out the capacity there is. Multiplied with the whole of
    (1) it would multiply every upgrading candidate by 12 (6,922 candidates
    on the bundled default in place of 762, over 20 minutes of search on 2
    cores); (2) and (3) add 142 on the bundled default. Uncertified: no renewal, no upgrade, and so
    (1) alone."""
    ranked = segments_by_value(scn)
    order = [s.name for s in scn.segments]
    half = (len(ranked) + 1) // 2
    admits = [sorted(ranked[:k], key=order.index) for k in range(len(ranked), half - 1, -1)]
    certified = scn.billing.certified
    initial = sum(s.initial_contacts for s in scn.segments) or scn.population
    lower = ranked[(len(ranked) + 1) // 2:]
    raw = {
        "renewal": list(RENEWALS) if certified else ["none"],
        "upgrade": list(UPGRADES) if certified else ["none"],
        "headroom": list(DEFAULT_HEADROOMS),
        "on_blocked": ["retry", "overflow"],
        "admit": admits,
        "others": list(OTHERS),
    }
    if certified:
        raw["tier"] = default_tiers(scn)
    for seg in sorted(lower, key=order.index):
        share = RESERVE_LEAST if seg == ranked[-1] else RESERVE_LOWER
        raw[f"reserve.{seg}"] = sorted({0, _round2(share * initial)})
    products = [raw]
    if certified:
        timing = {"upgrade_at": list(DEFAULT_UPGRADE_AT),
                  "review_days": list(DEFAULT_REVIEW_DAYS)}
        products.append({"renewal": list(RENEWALS), "tier": default_tiers(scn),
                         "upgrade": ["next"], "on_blocked": ["retry", "overflow"]} | timing)
        for st in scn.strategies:
            own = rules(st, scn) if st.renewal != "oracle" else None
            if own is not None and own.upgrade != "none":
                products.append(as_product(own) | timing)
    return check_space(products, scn, "<default space>")


def as_product(st: Strategy) -> dict:
    """A strategy as a product of one combination: {key: [value]}."""
    out = {"renewal": [st.renewal], "upgrade": [st.upgrade], "headroom": [st.headroom],
           "on_blocked": [st.on_blocked], "retry_days": [st.retry_days],
           "max_retries": [st.max_retries], "admit": [list(st.admit)], "others": [st.others],
           "upgrade_at": [st.upgrade_at], "review_days": [st.review_days]}
    if st.tier is not None:
        out["tier"] = [st.tier]
    return out | {f"reserve.{seg}": [v] for seg, v in st.reserve}
